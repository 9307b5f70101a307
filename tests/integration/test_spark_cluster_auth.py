"""The production Spark cluster refuses drivers without its secret (issue 9, finding 5:
submitting to an open standalone master is remote code execution).

The master and a worker run here with docker-compose.yml's own entrypoint scripts
(only the host and ports moved to loopback and free ports), so what is checked is the
stack's configuration; the driver is `jobs.spark.spark_session` from settings, in a
child process as a job runs.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pyspark
import pytest
import yaml

from fitstream.settings import REPO_ROOT
from tests.harness import free_port, wait_for_port

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


def run_job(url: str, secret: str | None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FITSTREAM_", "SPARK_"))}
    env.update({"FITSTREAM_SPARK__MASTER": url, "FITSTREAM_SPARK__DRIVER_MEMORY": "512m",
                "PYTHONPATH": str(REPO_ROOT)})
    if secret is not None:
        env["FITSTREAM_SPARK__AUTH_SECRET"] = secret
    # Generous: the JVM start and the executor launch take seconds on a loaded machine.
    return subprocess.run([sys.executable, "-c", JOB], capture_output=True, text=True,
                          timeout=600, env=env, cwd=REPO_ROOT, check=False)


def test_a_driver_with_the_secret_runs_its_job(cluster):
    result = run_job(cluster[0], SECRET)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "SUM 45" in result.stdout


@pytest.mark.parametrize("secret", [None, "a-guessed-secret"])
def test_a_driver_without_the_secret_is_refused(cluster, secret):
    url, master_log = cluster
    logged = len(master_log.read_text(errors="replace"))
    result = run_job(url, secret)
    assert result.returncode != 0
    assert "SUM" not in result.stdout
    # Refused by the authentication handshake (SASL), not by anything else.
    assert "sasl" in (result.stderr + master_log.read_text(errors="replace")[logged:]).lower()
