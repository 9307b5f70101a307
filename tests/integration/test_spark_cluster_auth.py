"""The production Spark cluster refuses drivers without its secret (issue 9, finding 5:
submitting to an open standalone master is remote code execution).

The master and a worker run here with docker-compose.yml's own entrypoint scripts
(only the host and ports moved to loopback and free ports), so what is checked is the
stack's configuration; the driver is `jobs.spark.spark_session` from settings, in a
child process as a job runs.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyspark
import pytest
import yaml

from fitstream.settings import REPO_ROOT
from tests.harness import free_port, wait_for_port, wait_until

pytestmark = pytest.mark.e2e

SERVICES = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())["services"]
SECRET = "the-clusters-shared-secret"
JOB = ("from fitstream.settings import get_settings\n"
       "from jobs.spark import spark_session\n"
       "session = spark_session(get_settings(), 'auth-test')\n"
       "print('SUM', session.sparkContext.parallelize(range(10)).sum())\n"
       "session.stop()\n")


def entrypoint_script(service: str) -> str:
    """The service's `sh -c` script as the container runs it ($$ is compose's escape)."""
    shell, flag, script = SERVICES[service]["entrypoint"]
    assert (shell, flag) == ("sh", "-c")
    return script.replace("$$", "$")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    root = tmp_path_factory.mktemp("spark-cluster")
    port = free_port()
    url = f"spark://127.0.0.1:{port}"
    bin_dir = Path(pyspark.__file__).parent / "bin"
    base = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}",
            "SPARK_LOCAL_IP": "127.0.0.1", "PYSPARK_PYTHON": sys.executable,
            "SPARK_AUTH_SECRET": SECRET}
    processes = []
    for service, env in (
            ("spark-master", {"SPARK_MASTER_PORT": str(port),
                              "SPARK_MASTER_WEBUI_PORT": str(free_port())}),
            ("spark-worker", {"SPARK_WORKER_WEBUI_PORT": str(free_port()),
                              "SPARK_WORKER_CORES": "1", "SPARK_WORKER_MEMORY": "1g"})):
        script = (entrypoint_script(service).replace("--host 0.0.0.0", "--host 127.0.0.1")
                  .replace("spark://spark-master:7077", url))
        log = (root / f"{service}.log").open("ab")
        processes.append(subprocess.Popen(
            ["sh", "-c", script], cwd=root, stdout=log, stderr=subprocess.STDOUT,
            env={**base, **env, "SPARK_CONF_DIR": str(root / f"{service}-conf")}))
        if service == "spark-master":
            wait_for_port("127.0.0.1", port, 120, processes[0])
    yield url, root / "spark-master.log"
    for process in processes:
        process.terminate()
    for process in processes:
        process.wait(60)


def job_env(url: str, secret: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FITSTREAM_", "SPARK_"))}
    env.update({"FITSTREAM_SPARK__MASTER": url, "FITSTREAM_SPARK__DRIVER_MEMORY": "512m",
                "PYTHONPATH": str(REPO_ROOT)})
    if secret is not None:
        env["FITSTREAM_SPARK__AUTH_SECRET"] = secret
    return env


def test_a_driver_with_the_secret_runs_its_job(cluster):
    # Generous: the JVM start and the executor launch take seconds on a loaded machine.
    result = subprocess.run([sys.executable, "-c", JOB], capture_output=True, text=True,
                            timeout=600, env=job_env(cluster[0], SECRET), cwd=REPO_ROOT,
                            check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "SUM 45" in result.stdout


# What the master logs when the driver's SASL handshake fails, for each way of lacking
# the secret: no SASL at all, or a DIGEST-MD5 answer computed from another secret.
REFUSALS = {
    None: "java.lang.IllegalStateException: Expected SaslMessage, received something else "
          "(maybe your client does not have SASL enabled?)",
    "a-guessed-secret": "javax.security.sasl.SaslException: DIGEST-MD5: digest response "
                        "format violation. Mismatched response.",
}


def group_alive(pgid: int) -> bool:
    """Whether a live (not zombie) process is left in the process group."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def stop_group(process: subprocess.Popen) -> None:
    """Stop the driver's process group: Python and its spark-submit JVM."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        deadline = time.monotonic() + 60
        while group_alive(process.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if not group_alive(process.pid):
            break
    process.wait(60)


@pytest.mark.parametrize("secret", [None, "a-guessed-secret"])
def test_a_driver_without_the_secret_is_refused(cluster, secret, tmp_path):
    """The first registration is refused by the master's SASL handshake; the client then
    retries (3 attempts 20 s apart, constants in Spark 4.3's StandaloneAppClient) with the same
    secret, so the test stops the driver once both sides have logged the refusal."""
    url, master_log = cluster
    logged = master_log.stat().st_size
    stdout, stderr = tmp_path / "driver.out", tmp_path / "driver.err"
    with stdout.open("wb") as out, stderr.open("wb") as err:
        driver = subprocess.Popen([sys.executable, "-c", JOB], stdout=out, stderr=err,
                                  env=job_env(url, secret), cwd=REPO_ROOT,
                                  start_new_session=True)

    def master_since() -> str:
        with master_log.open("rb") as log:
            log.seek(logged)
            return log.read().decode(errors="replace")

    failed = f"StandaloneAppClient$ClientEndpoint: Failed to connect to master {url[8:]}"
    try:
        wait_until(lambda: (REFUSALS[secret] in master_since()
                            and failed in stderr.read_text(errors="replace")),
                   "the master's SASL refusal and the driver's failed registration",
                   progress=lambda: (len(master_since()), stderr.stat().st_size),
                   alive=lambda: driver.poll() is None, stall_s=300, overall_s=600)
    finally:
        stop_group(driver)
    assert "SUM" not in stdout.read_text()
    # The master never accepted the application, nor logged any other way of refusing it.
    master = master_since()
    assert "Registering app" not in master
    assert REFUSALS[None if secret else "a-guessed-secret"] not in master
