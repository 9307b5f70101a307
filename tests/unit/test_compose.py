"""The production compose file cannot run here (no Docker engine), so check what can be:
its schema, that every FitStream service runs a real command with real settings, and the
invariants a stack needs to start and keep its data (security review, issue 9 findings
4 and 5): a valid KRaft cluster id, a volume on every stateful service, health-gated
start order, no host port shared by replicas, only the API published, no default secret."""

from __future__ import annotations

import base64
import fnmatch
import json
import os
import posixpath
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
import typer.main
import yaml

from cli.main import app
from fitstream.settings import REPO_ROOT, FitStreamSettings

COMPOSE = REPO_ROOT / "docker-compose.yml"
SERVICES = yaml.safe_load(COMPOSE.read_text())["services"]
FITSTREAM_SERVICES = {name: s for name, s in SERVICES.items() if s.get("build") == "."}
VOLUMES = yaml.safe_load(COMPOSE.read_text()).get("volumes") or {}
# Variables the file requires (``${VAR:?message}``): the stack refuses to start without them.
REQUIRED_VARIABLES = sorted(set(re.findall(r"\$\{(\w+):\?", COMPOSE.read_text())))


# What an operator puts in a required variable, long enough for every secret's minimum
# (token secrets need 32 characters).
ENVIRONMENT_VALUE = "a-value-an-operator-sets-in-the-environment"


def test_the_stack_has_the_production_roles():
    assert {"kafka-1", "schema-registry", "clickhouse", "processor", "sink", "api",
            "delivery", "topics", "lakehouse", "minio", "redis", "spark-master",
            "spark-worker", "mlflow", "mlflow-db"} <= set(SERVICES)
    assert SERVICES["processor"]["deploy"]["replicas"] > 1
    assert SERVICES["kafka-1"]["image"].startswith("apache/kafka:")
    assert SERVICES["clickhouse"]["image"].startswith("clickhouse/clickhouse-server:")


@pytest.mark.skipif(shutil.which("docker-compose") is None,
                    reason="docker-compose (Debian package) is not installed")
def test_compose_validates_against_the_compose_schema():
    result = subprocess.run(["docker-compose", "-f", str(COMPOSE), "config", "--quiet"],
                            capture_output=True, text=True, check=False,
                            env={**os.environ, **dict.fromkeys(REQUIRED_VARIABLES, "test")})
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("name", sorted(FITSTREAM_SERVICES))
def test_each_service_command_is_a_real_cli_command(name):
    command = typer.main.get_command(app)
    args = list(FITSTREAM_SERVICES[name]["command"])
    path = ["fitstream"]
    context = command.make_context("fitstream", [], resilient_parsing=True)
    # typer vendors its own click, so test for a group by what it can do.
    while hasattr(command, "get_command"):
        assert args, f"{name}: {' '.join(path)} needs a subcommand"
        command = command.get_command(context, args[0])
        assert command is not None, f"{name}: no command {' '.join([*path, args[0]])}"
        path.append(args.pop(0))
    # Strict parsing: an unknown option or a stray argument raises here.
    command.make_context(" ".join(path), args)


@pytest.mark.parametrize("name", sorted(FITSTREAM_SERVICES))
def test_each_service_environment_is_a_valid_settings_object(name, monkeypatch):
    env = FITSTREAM_SERVICES[name]["environment"]
    for key in list(os.environ):
        if key.startswith("FITSTREAM_"):
            monkeypatch.delenv(key)
    for key, value in env.items():
        path = key.removeprefix("FITSTREAM_").lower().split("__")
        model = FitStreamSettings
        for part in path:
            assert part in model.model_fields, f"{name}: {key} is not a setting"
            model = model.model_fields[part].annotation
        monkeypatch.setenv(key, re.sub(r"\$\{[^}]*\}", ENVIRONMENT_VALUE, str(value)))
    settings = FitStreamSettings()
    assert settings.kafka.emulate_long_poll_ms == 0  # real Kafka long-polls by itself
    assert settings.clickhouse.backend == "server"


def test_the_image_copies_only_what_exists():
    dockerfile = (REPO_ROOT / "Dockerfile").read_text()
    ignored = [line.strip() for line in (REPO_ROOT / ".dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")]
    for sources in re.findall(r"^COPY (.+) \S+$", dockerfile, flags=re.MULTILINE):
        for source in sources.split():
            assert (REPO_ROOT / source).exists(), source
            # .dockerignore keeps the venvs and state out of the build context, not these.
            assert not any(fnmatch.fnmatch(source, pattern) for pattern in ignored), source
    assert Path(REPO_ROOT / "schemas" / "registry.json").exists()


# --- Invariants of a stack that starts and keeps its data (issue 9, findings 4 and 5) ---

KAFKA_NODES = sorted(name for name, s in SERVICES.items()
                     if str(s.get("image", "")).startswith("apache/kafka:"))
# Where each stateful service keeps what must survive a container's replacement.
STATEFUL_DATA = {
    **{name: SERVICES[name]["environment"].get("KAFKA_LOG_DIRS", "/tmp/kraft-combined-logs")
       for name in KAFKA_NODES},  # the image's default log dir is in /tmp
    "clickhouse": "/var/lib/clickhouse",
    "minio": SERVICES["minio"]["command"][1],  # `server <dir>`
    "mlflow-db": "/var/lib/postgresql/data",
    "keys-db": "/var/lib/postgresql/data",
    "redis": "/data",  # --appendonly: the online store survives a restart
    "lakehouse": posixpath.dirname(
        SERVICES["lakehouse"]["environment"]["FITSTREAM_FEAST__REGISTRY_PATH"]),
    # Flink's checkpoints (metadata from the JobManager, state from the TaskManagers).
    "flink-jobmanager": "/var/lib/fitstream/flink-checkpoints",
    # Metrics history, and Grafana's users and sessions.
    "prometheus": "/prometheus",
    "grafana": "/var/lib/grafana",
}
# Images that hold data: a service running one must be listed above.
STATEFUL_IMAGES = ("apache/kafka:", "clickhouse/", "minio/minio:", "postgres:", "redis:",
                   "prom/prometheus:", "grafana/grafana:")
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|AUTHORIZATION|ACCESS_KEY|ROOT_USER|AUTH\b")
PUBLISHABLE = {"api", "grafana"}


def replicas(service: dict) -> int:
    return int((service.get("deploy") or {}).get("replicas", 1))


def mounts(service: dict) -> dict[str, str]:
    """Container path -> named volume (bind mounts and anonymous volumes are left out)."""
    named = {}
    for volume in service.get("volumes", []):
        source, _, target = str(volume).partition(":")
        if target and source in VOLUMES:
            named[target.split(":")[0]] = source
    return named


def host_ports(spec: str) -> list[int]:
    """The host ports a ``ports`` entry publishes ("8080:80", "8080-8081:80", "80": none)."""
    parts = re.sub(r"\$\{\w+:?-([^}]*)\}", r"\1", str(spec)).split(":")
    if len(parts) < 2:
        return []  # container port only: Docker picks a free host port per replica
    host = parts[-2]
    first, _, last = host.partition("-")
    return list(range(int(first), int(last or first) + 1))


def test_kraft_cluster_id_is_a_base64_uuid():
    ids = {SERVICES[name]["environment"]["CLUSTER_ID"] for name in KAFKA_NODES}
    assert len(KAFKA_NODES) == 3
    assert len(ids) == 1, "every node of one cluster formats with the same id"
    cluster_id = ids.pop()
    # Kafka's Uuid.fromString: URL-safe base64 of 16 bytes, without padding (22 chars).
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", cluster_id), cluster_id
    assert len(base64.urlsafe_b64decode(cluster_id + "==")) == 16


def test_every_stateful_service_keeps_its_data_on_a_named_volume():
    for name, service in SERVICES.items():
        if str(service.get("image", "")).startswith(STATEFUL_IMAGES):
            assert name in STATEFUL_DATA, f"{name} holds data: say where (STATEFUL_DATA)"
    for name, path in STATEFUL_DATA.items():
        assert path in mounts(SERVICES[name]), f"{name}: no named volume on {path}"


def test_every_dependency_waits_for_health_or_completion():
    for name, service in SERVICES.items():
        depends_on = service.get("depends_on") or {}
        assert isinstance(depends_on, dict), f"{name}: a list waits only for a start"
        for target, rule in depends_on.items():
            condition = rule.get("condition")
            if condition == "service_healthy":
                assert SERVICES[target].get("healthcheck", {}).get("test"), (
                    f"{name} waits for {target} to be healthy, which has no healthcheck")
            elif condition == "service_completed_successfully":
                assert SERVICES[target].get("restart") == "no", f"{target} is not one-shot"
            else:
                pytest.fail(f"{name} -> {target}: condition {condition!r} waits only for start")


def test_one_shot_jobs_run_when_their_servers_answer_and_finish_first():
    healthy = {"condition": "service_healthy"}
    done = {"condition": "service_completed_successfully"}
    assert SERVICES["topics"]["depends_on"] == dict.fromkeys(KAFKA_NODES, healthy)
    assert SERVICES["minio-buckets"]["depends_on"] == {"minio": healthy}
    for name in set(FITSTREAM_SERVICES) - {"topics"}:
        assert SERVICES[name]["depends_on"]["topics"] == done, name
    assert SERVICES["lakehouse"]["depends_on"]["minio-buckets"] == done
    assert SERVICES["mlflow"]["depends_on"]["minio-buckets"] == done


def test_no_two_containers_share_a_host_port():
    taken: dict[int, str] = {}
    for name, service in SERVICES.items():
        for spec in service.get("ports", []):
            ports = host_ports(spec)
            if ports:
                assert len(ports) >= replicas(service), (
                    f"{name}: {replicas(service)} replicas on host ports {spec}")
            for port in ports:
                assert port not in taken, f"{name} and {taken[port]} both publish {port}"
                taken[port] = name


def test_only_the_api_is_published():
    published = {name for name, service in SERVICES.items() if service.get("ports")}
    assert "api" in published
    assert published <= PUBLISHABLE, f"published beyond the API: {published - PUBLISHABLE}"
    assert not any("expose" in s or s.get("network_mode") == "host" for s in SERVICES.values())


def test_every_credential_is_a_required_variable_without_default():
    text = COMPOSE.read_text()
    for variable, _operator in re.findall(r"\$\{(\w+)(:?-)", text):
        assert not SECRET_NAME.search(variable), f"${{{variable}}} has a default"
    secrets = 0
    for name, service in SERVICES.items():
        for key, value in (service.get("environment") or {}).items():
            if SECRET_NAME.search(key):
                secrets += 1
                assert re.fullmatch(r"\$\{\w+:\?[^}]+\}", str(value)), (
                    f"{name}: {key}={value!r} is not a required variable")
    assert secrets >= 10  # the check sees the stack's credentials
    # ClickHouse has a password, and every FitStream role uses it.
    assert SERVICES["clickhouse"]["environment"]["CLICKHOUSE_PASSWORD"].startswith(
        "${CLICKHOUSE_PASSWORD:?")
    for name, service in FITSTREAM_SERVICES.items():
        assert service["environment"]["FITSTREAM_CLICKHOUSE__PASSWORD"] == (
            SERVICES["clickhouse"]["environment"]["CLICKHOUSE_PASSWORD"]), name


def test_volumes_of_the_image_are_writable_by_its_user():
    dockerfile = (REPO_ROOT / "Dockerfile").read_text()
    user = re.findall(r"^USER (\S+)", dockerfile, flags=re.MULTILINE)[-1]
    run = " ".join(re.findall(r"^RUN (.*)", dockerfile.replace("\\\n", " "), flags=re.MULTILINE))
    created = {path for paths in re.findall(r"mkdir -p ((?:/\S+ ?)+)", run)
               for path in paths.split()}
    owned = re.findall(rf"chown -R {user} (/\S+)", run)
    for name, service in SERVICES.items():
        if service.get("image") != "fitstream:latest":
            continue
        for target in mounts(service):
            # A new named volume copies the mount point's owner from the image; a mount
            # point the image lacks is created by Docker, owned by root.
            assert target in created, f"{name}: the image does not create {target}"
            assert any(target == o or target.startswith(o.rstrip("/") + "/") for o in owned), (
                f"{name}: {target} is not owned by {user}")


# Roles that seal personal fields (api), open them (sink, delivery) or delete a user's
# key (`fitstream jobs gdpr-erase`, run in any FitStream container).
KEY_USERS = ("api", "sink", "delivery", "processor", "flink-job", "lakehouse")


def test_every_role_shares_one_postgres_key_store(monkeypatch):
    """Issue 9 finding 11: the default file key store lives in each container, so API
    replicas sealed with keys of their own that the sink and delivery could not open, and
    an erase deleted one container's copy. Every role reads keys from the one PostgreSQL."""
    for name, service in FITSTREAM_SERVICES.items():
        env = service["environment"]
        assert env.get("FITSTREAM_PRIVACY__KEY_STORE") == "postgres", name
    stores = {tuple(FITSTREAM_SERVICES[name]["environment"][f"FITSTREAM_PRIVACY__POSTGRES__{k}"]
                    for k in ("HOST", "PORT", "DATABASE", "USER", "PASSWORD"))
              for name in KEY_USERS}
    assert len(stores) == 1, stores
    host, port, database, user, password = stores.pop()
    server = SERVICES[host]
    assert str(server["image"]).startswith("postgres:"), host
    assert port == "5432"
    assert server["environment"]["POSTGRES_DB"] == database
    assert server["environment"]["POSTGRES_USER"] == user
    assert re.fullmatch(r"\$\{\w+:\?[^}]+\}", password), "the key store password has a default"
    assert server["environment"]["POSTGRES_PASSWORD"] == password
    for name in KEY_USERS:
        assert SERVICES[name]["depends_on"][host] == {"condition": "service_healthy"}, name
    # The settings each role builds choose that store (not the file default).
    for name in KEY_USERS:
        with monkeypatch.context() as env:
            for key in [k for k in os.environ if k.startswith("FITSTREAM_")]:
                env.delenv(key)
            for key, value in FITSTREAM_SERVICES[name]["environment"].items():
                env.setenv(key, re.sub(r"\$\{[^}]*\}", ENVIRONMENT_VALUE, str(value)))
            privacy = FitStreamSettings().privacy
        assert privacy.key_store == "postgres", name
        assert (privacy.postgres.host, privacy.postgres.database) == (host, database), name
        assert privacy.postgres.password.get_secret_value() == ENVIRONMENT_VALUE, name


# --- The Flink engine (issue 12): a session cluster from the image, and its job ---------

# Where the Dockerfile puts the Flink venv; this checkout's .venv-flink (`make flink-venv`,
# the same lock) stands for it when the layout is checked below.
IMAGE_FLINK_VENV = "/app/.venv-flink"
LOCAL_FLINK_VENV = REPO_ROOT / ".venv-flink"
PYFLINK = "lib/python3.11/site-packages/pyflink"
FLINK_SERVICES = ("flink-jobmanager", "flink-taskmanager", "flink-job")
CHECKPOINTS = "/var/lib/fitstream/flink-checkpoints"
needs_flink_venv = pytest.mark.skipif(
    not (LOCAL_FLINK_VENV / PYFLINK).is_dir(), reason=".venv-flink is missing (make flink-venv)")


def dynamic_properties(args: list[str]) -> dict[str, str]:
    """The ``-D key=value`` pairs of a jobmanager.sh/taskmanager.sh command line (the
    scripts take separate "-D" "key=value" words)."""
    assert len(args) % 2 == 0 and set(args[::2]) == {"-D"}, args
    return dict(arg.split("=", 1) for arg in args[1::2])


def local(path: str) -> Path:
    """An image path under the Flink venv, in this checkout's .venv-flink."""
    assert path.startswith(IMAGE_FLINK_VENV + "/"), path
    return LOCAL_FLINK_VENV / path.removeprefix(IMAGE_FLINK_VENV + "/")


def dockerfile_env() -> dict[str, str]:
    text = (REPO_ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    env: dict[str, str] = {}
    for line in re.findall(r"^ENV (.*)", text, flags=re.MULTILINE):
        for key, value in re.findall(r"(\w+)=(\S+)", line):
            env[key] = re.sub(r"\$(\w+)", lambda m: env[m.group(1)], value)
    return env


def test_one_profile_chooses_the_engine():
    """Faust's processor and the Flink services never start together: each engine is a
    profile, and the header says how to choose."""
    assert SERVICES["processor"]["profiles"] == ["faust"]
    for name in FLINK_SERVICES:
        assert SERVICES[name]["profiles"] == ["flink"], name
    profiled = {name for name, s in SERVICES.items() if s.get("profiles")}
    assert profiled == {"processor", "train", *FLINK_SERVICES}
    header = COMPOSE.read_text().split("\nx-", 1)[0]
    assert "--profile faust" in header and "--profile flink" in header
    job = SERVICES["flink-job"]
    assert job["command"] == ["process", "--engine", "flink"]
    assert job["environment"]["FITSTREAM_PROCESSOR__ENGINE"] == "flink"


def test_flink_slots_match_the_parallelism_and_the_events_partitions():
    env = SERVICES["flink-job"]["environment"]
    taskmanager = SERVICES["flink-taskmanager"]
    slots = int(dynamic_properties(taskmanager["command"])["taskmanager.numberOfTaskSlots"])
    assert replicas(taskmanager) * slots == int(env["FITSTREAM_PROCESSOR__FLINK__PARALLELISM"])
    assert env["FITSTREAM_PROCESSOR__FLINK__PARALLELISM"] == env[
        "FITSTREAM_KAFKA__EVENTS_PARTITIONS"] == "24"


def test_the_job_and_the_cluster_find_each_other():
    jobmanager = dynamic_properties(SERVICES["flink-jobmanager"]["command"])
    taskmanager = dynamic_properties(SERVICES["flink-taskmanager"]["command"])
    assert jobmanager["jobmanager.rpc.address"] == "flink-jobmanager"
    assert taskmanager["jobmanager.rpc.address"] == "flink-jobmanager"
    assert jobmanager["rest.address"] == "flink-jobmanager"
    # The wheel's config.yaml binds to localhost: every server listens on all interfaces.
    assert jobmanager["jobmanager.bind-host"] == jobmanager["rest.bind-address"] == "0.0.0.0"
    assert taskmanager["taskmanager.bind-host"] == "0.0.0.0"
    # Replicas cannot share a fixed taskmanager.host: each sets its own address at start.
    assert "-D taskmanager.host=" in SERVICES["flink-taskmanager"]["entrypoint"][2]
    address = SERVICES["flink-job"]["environment"]["FITSTREAM_PROCESSOR__FLINK__JOBMANAGER"]
    assert address == f"flink-jobmanager:{jobmanager['rest.port']}"
    health = " ".join(SERVICES["flink-jobmanager"]["healthcheck"]["test"])
    assert f"http://127.0.0.1:{jobmanager['rest.port']}/overview" in health
    for name in ("flink-taskmanager", "flink-job"):
        assert SERVICES[name]["depends_on"]["flink-jobmanager"] == {
            "condition": "service_healthy"}, name


def test_the_taskmanagers_python_workers_get_the_jobs_settings(monkeypatch):
    """The job's functions call get_settings() in each Python worker, on a TaskManager:
    its FITSTREAM_* must be the submitting service's, down to the key store."""
    def fitstream_env(name: str) -> dict[str, str]:
        return {k: v for k, v in SERVICES[name]["environment"].items()
                if k.startswith("FITSTREAM_")}
    assert fitstream_env("flink-taskmanager") == fitstream_env("flink-job")
    assert SERVICES["flink-taskmanager"]["depends_on"] == SERVICES["flink-job"]["depends_on"]
    for key in [k for k in os.environ if k.startswith("FITSTREAM_")]:
        monkeypatch.delenv(key)
    for key, value in fitstream_env("flink-taskmanager").items():
        monkeypatch.setenv(key, re.sub(r"\$\{[^}]*\}", ENVIRONMENT_VALUE, str(value)))
    settings = FitStreamSettings()
    assert settings.processor.engine == "flink"
    assert settings.processor.flink.parallelism == 24
    assert settings.privacy.key_store == "postgres"
    assert settings.kafka.bootstrap_servers == "kafka-1:9092,kafka-2:9092,kafka-3:9092"


def test_checkpoints_are_one_volume_at_one_path_for_the_cluster_and_the_job():
    env = SERVICES["flink-job"]["environment"]
    assert env["FITSTREAM_PROCESSOR__FLINK__CHECKPOINT_DIR"] == f"file://{CHECKPOINTS}"
    for name in FLINK_SERVICES:
        assert mounts(SERVICES[name]) == {CHECKPOINTS: "flink-checkpoints"}, name
    assert STATEFUL_DATA["flink-jobmanager"] == CHECKPOINTS


def test_the_cluster_reports_to_prometheus_on_the_processors_port():
    for name in ("flink-jobmanager", "flink-taskmanager"):
        properties = dynamic_properties(SERVICES[name]["command"])
        assert properties["metrics.reporter.prom.factory.class"] == (
            "org.apache.flink.metrics.prometheus.PrometheusReporterFactory"), name
        assert properties["metrics.reporter.prom.port"] == str(
            FitStreamSettings.model_fields["processor"].default.web_port), name


def test_the_image_has_the_flink_venv_and_the_cluster_lib():
    dockerfile = (REPO_ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    env = dockerfile_env()
    assert env["FLINK_VENV"] == IMAGE_FLINK_VENV
    assert env["FLINK_HOME"] == f"{IMAGE_FLINK_VENV}/{PYFLINK}"
    assert env["FITSTREAM_PROCESSOR__FLINK__PYTHON"] == f"{IMAGE_FLINK_VENV}/bin/python"
    assert re.search(r'python -m venv "\$FLINK_VENV"', dockerfile)
    assert re.search(r'"\$FLINK_VENV/bin/pip" install --no-cache-dir -r requirements-flink.lock',
                     dockerfile)
    assert re.search(r'"\$FLINK_VENV/bin/pip" install --no-cache-dir --no-deps \. ', dockerfile)
    assert "openjdk-17-jre-headless" in dockerfile
    for name in ("flink-jobmanager", "flink-taskmanager"):
        assert SERVICES[name]["image"] == "fitstream:latest", name
        assert SERVICES[name]["environment"]["FLINK_LIB_DIR"] == "/opt/flink-cluster-lib", name


@needs_flink_venv
def test_the_cluster_scripts_exist_where_the_services_run_them():
    jobmanager = SERVICES["flink-jobmanager"]["entrypoint"]
    assert jobmanager[1] == "start-foreground"
    assert local(jobmanager[0]) == LOCAL_FLINK_VENV / PYFLINK / "bin" / "jobmanager.sh"
    # jobmanager.sh reads a second word other than "-D" as a host name (legacy form).
    assert SERVICES["flink-jobmanager"]["command"][0] == "-D"
    script = re.search(r"exec (\S+) start-foreground ",
                       SERVICES["flink-taskmanager"]["entrypoint"][2]).group(1)
    assert local(script) == LOCAL_FLINK_VENV / PYFLINK / "bin" / "taskmanager.sh"
    for path in (local(jobmanager[0]), local(script)):
        assert os.access(path, os.X_OK), path
    assert (LOCAL_FLINK_VENV / PYFLINK / "plugins" / "metrics-prometheus").is_dir()


@needs_flink_venv
def test_the_cluster_lib_has_one_flink_and_the_jobs_jars():
    """The Dockerfile's /opt/flink-cluster-lib, resolved against this checkout's venv (same
    lock): exactly one Flink (2.0.2 with flink-dist), flink-python, the Kafka connector."""
    dockerfile = (REPO_ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    command = re.search(r'ln -s (.*?) /opt/flink-cluster-lib/', dockerfile).group(1)
    home = LOCAL_FLINK_VENV / PYFLINK
    jars = sorted(path.name for pattern in command.split()
                  for path in home.glob(pattern.replace('"', '').removeprefix("$FLINK_HOME/")))
    assert len(jars) == len(set(jars)) == 17, jars
    assert [j for j in jars if j.startswith("flink-dist")] == ["flink-dist-2.0.2.jar"]
    assert {"flink-python-2.0.2.jar", "flink-connector-kafka.jar", "kafka-clients.jar",
            "zstd-jni.jar", "flink-table-runtime-2.0.2.jar"} <= set(jars)
    # The connector package's 2.0.0 copies of classes flink-dist holds stay out.
    assert not {"flink-core.jar", "flink-runtime.jar", "flink-streaming-java.jar"} & set(jars)


@needs_flink_venv
def test_every_flink_property_is_a_flink_2_0_2_option():
    """Each -D key is a ConfigOption of this Flink (a typo would be ignored at start)."""
    home = LOCAL_FLINK_VENV / PYFLINK
    with zipfile.ZipFile(home / "lib" / "flink-dist-2.0.2.jar") as dist:
        options = b"\0".join(dist.read(name) for name in dist.namelist()
                             if name.endswith("Options.class"))
    with zipfile.ZipFile(home / "plugins" / "metrics-prometheus" /
                         "flink-metrics-prometheus-2.0.2.jar") as plugin:
        factory = plugin.read("org/apache/flink/metrics/prometheus/PrometheusReporterFactory.class")
    for name in ("flink-jobmanager", "flink-taskmanager"):
        keys = [*dynamic_properties(SERVICES[name]["command"]), "taskmanager.host"]
        for key in keys:
            if key.startswith("metrics.reporter.prom."):
                # metrics.reporter.<name>.<option>: the generic prefix and the option.
                option = key.removeprefix("metrics.reporter.prom.")
                assert b"metrics.reporter" in options, key
                assert option.encode() in (options if option == "factory.class" else factory), key
            else:
                assert key.encode() in options, f"{name}: {key} is not a Flink 2.0.2 option"


# --- Prometheus and Grafana (issue 14): every role scraped, the dashboard's metrics exist --

PROMETHEUS_CONFIG = REPO_ROOT / "deploy" / "prometheus" / "prometheus.yml"
GRAFANA = REPO_ROOT / "deploy" / "grafana"
DASHBOARD = GRAFANA / "dashboards" / "fitstream.json"


def service_settings(name: str, monkeypatch: pytest.MonkeyPatch) -> FitStreamSettings:
    """The settings a FitStream service builds from its environment."""
    with monkeypatch.context() as env:
        for key in [k for k in os.environ if k.startswith("FITSTREAM_")]:
            env.delenv(key)
        for key, value in SERVICES[name]["environment"].items():
            if key.startswith("FITSTREAM_"):
                env.setenv(key, re.sub(r"\$\{[^}]*\}", ENVIRONMENT_VALUE, str(value)))
        return FitStreamSettings()


def metrics_endpoint(name: str, settings: FitStreamSettings) -> tuple[str, int]:
    """(bound address, port) of a role service's /metrics, from its command and settings."""
    from fitstream.observability.metrics_server import role_metrics_port

    role = SERVICES[name]["command"][0]
    if role == "serve":
        return settings.api.host, settings.api.port
    if role == "process":
        return settings.processor.web_bind, settings.processor.web_port
    return settings.metrics.host, role_metrics_port(
        settings, {"deliver": "delivery"}.get(role, role))


def scrape_targets() -> dict[str, set[int]]:
    """Service name -> the ports Prometheus scrapes it on."""
    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    targets: dict[str, set[int]] = {}
    for job in config["scrape_configs"]:
        assert "static_configs" not in job, "replicas are found through Docker's DNS"
        for sd in job["dns_sd_configs"]:
            assert sd["type"] == "A", job["job_name"]
            for service in sd["names"]:
                assert service in SERVICES, f"{job['job_name']}: no service {service}"
                targets.setdefault(service, set()).add(sd["port"])
    return targets


ROLE_COMMANDS = {"serve", "process", "sink", "lakehouse", "deliver", "score"}


def test_prometheus_scrapes_every_role_at_its_port(monkeypatch):
    targets = scrape_targets()
    roles = {name for name, s in FITSTREAM_SERVICES.items()
             if s["command"][0] in ROLE_COMMANDS and "--engine" not in s["command"]}
    assert roles == {"api", "processor", "sink", "lakehouse", "delivery", "score"}
    for name in roles:
        host, port = metrics_endpoint(name, service_settings(name, monkeypatch))
        assert host == "0.0.0.0", f"{name} serves /metrics on {host} only"
        assert targets.get(name) == {port}, f"{name}: /metrics on {port}, scraped on " \
                                            f"{targets.get(name)}"
    # The Flink engine reports from its cluster, on the processor's port.
    for name in ("flink-jobmanager", "flink-taskmanager"):
        reporter = dynamic_properties(SERVICES[name]["command"])["metrics.reporter.prom.port"]
        assert targets.get(name) == {int(reporter)}, name


def test_prometheus_and_grafana_are_pinned_provisioned_and_keep_their_data():
    prometheus, grafana = SERVICES["prometheus"], SERVICES["grafana"]
    for service in (prometheus, grafana):
        image = service["image"]
        assert re.fullmatch(r"[\w./-]+:v?\d+\.\d+\.\d+", image), f"{image} is not pinned"
    assert mounts(prometheus) == {"/prometheus": "prometheus-data"}
    assert mounts(grafana) == {"/var/lib/grafana": "grafana-data"}
    assert f"./{PROMETHEUS_CONFIG.relative_to(REPO_ROOT)}:/etc/prometheus/prometheus.yml:ro" \
        in prometheus["volumes"]
    binds = {str(v).split(":")[0]: str(v).split(":")[1] for v in grafana["volumes"]
             if str(v).startswith("./")}
    assert binds == {"./deploy/grafana/provisioning": "/etc/grafana/provisioning",
                     "./deploy/grafana/dashboards": "/etc/grafana/dashboards"}
    providers = yaml.safe_load(
        (GRAFANA / "provisioning" / "dashboards" / "fitstream.yml").read_text())["providers"]
    assert [p["options"]["path"] for p in providers] == ["/etc/grafana/dashboards"]
    sources = yaml.safe_load(
        (GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text())["datasources"]
    assert [(s["uid"], s["url"]) for s in sources] == [("prometheus", "http://prometheus:9090")]
    dashboard = json.loads(DASHBOARD.read_text())
    assert {p["datasource"]["uid"] for p in dashboard["panels"] if "targets" in p} == {
        "prometheus"}
    assert grafana["depends_on"] == {"prometheus": {"condition": "service_healthy"}}
    # Grafana is reachable from this host only, behind its admin password.
    assert [str(p).split(":")[0] for p in grafana["ports"]] == ["127.0.0.1"]
    assert grafana["environment"]["GF_AUTH_ANONYMOUS_ENABLED"] == "false"


def defined_series() -> set[str]:
    """Every series name fitstream/observability/metrics.py defines (a counter's
    ``_total``, a histogram's ``_bucket``, ``_sum`` and ``_count``)."""
    from prometheus_client.metrics import MetricWrapperBase

    from fitstream.observability import metrics

    suffixes = {"counter": ["_total"], "gauge": [""], "histogram": ["_bucket", "_sum", "_count"]}
    return {f"{metric._name}{suffix}" for metric in vars(metrics).values()
            if isinstance(metric, MetricWrapperBase) for suffix in suffixes[metric._type]}


def test_every_metric_the_dashboard_queries_is_defined():
    dashboard = json.loads(DASHBOARD.read_text())
    queried = {name for panel in dashboard["panels"] for target in panel.get("targets", [])
               for name in re.findall(r"\bfitstream_[a-z0-9_]+", target["expr"])}
    assert queried - defined_series() == set()
    # It covers what the issue asks: throughput, lag, dead letters, API latency, delivery.
    for wanted in ("fitstream_events_ingested_total", "fitstream_events_processed_total",
                   "fitstream_consumer_lag_records", "fitstream_events_dead_lettered_total",
                   "fitstream_http_request_duration_seconds_bucket",
                   "fitstream_notification_deliveries_total"):
        assert wanted in queried, wanted


def test_metric_names_follow_prometheus_conventions():
    from prometheus_client.metrics import MetricWrapperBase

    from fitstream.observability import metrics

    units = ("_seconds", "_records", "_rows", "_bytes")
    for metric in vars(metrics).values():
        if not isinstance(metric, MetricWrapperBase):
            continue
        assert metric._name.startswith("fitstream_"), metric._name
        if metric._type != "counter":  # a counter counts things: its unit is _total
            assert metric._name.endswith(units), f"{metric._name} does not say its unit"


def test_the_api_trusts_forwarded_addresses_only_from_the_balancer():
    """The address rate limits key on X-Forwarded-For's caller only when the peer is the
    balancer (api.forwarded_allow_ips); trusting everyone ("*") on a published port would
    let any caller pick the address it is limited as."""
    trusted = SERVICES["api"]["environment"]["FITSTREAM_API__FORWARDED_ALLOW_IPS"]
    assert trusted.startswith("${FITSTREAM_BALANCER_IPS:?"), trusted
    assert "FITSTREAM_BALANCER_IPS" in REQUIRED_VARIABLES


def test_metrics_are_defined_only_in_the_metrics_module():
    """Defined once (fitstream/observability/metrics.py): so the naming test and the
    dashboard check see every metric a role can serve."""
    definitions = re.compile(r"\b(Counter|Gauge|Histogram|Summary|Info|Enum)\(")
    tracked = subprocess.run(["git", "ls-files", "*.py"], cwd=REPO_ROOT, check=True,
                             capture_output=True, text=True).stdout.split()
    elsewhere = [name for name in tracked
                 if not name.startswith("tests/")
                 and name != "fitstream/observability/metrics.py"
                 and "prometheus_client" in (text := (REPO_ROOT / name).read_text())
                 and definitions.search(text)]
    assert elsewhere == []
