"""The production compose file cannot run here (no Docker engine), so check what can be:
its schema, and that every FitStream service runs a real command with real settings."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import typer.main
import yaml

from fitstream.cli.main import app
from fitstream.settings import REPO_ROOT, FitStreamSettings

COMPOSE = REPO_ROOT / "docker-compose.yml"
SERVICES = yaml.safe_load(COMPOSE.read_text())["services"]
FITSTREAM_SERVICES = {name: s for name, s in SERVICES.items() if s.get("build") == "."}


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
                            env={**os.environ, "FITSTREAM_TOKEN_SECRET": "test",
                                 "MINIO_ROOT_PASSWORD": "test", "MLFLOW_DB_PASSWORD": "test"})
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
        monkeypatch.setenv(key, re.sub(r"\$\{[^}]*\}", "from-the-environment", str(value)))
    settings = FitStreamSettings()
    assert settings.kafka.emulate_long_poll_ms == 0  # real Kafka long-polls by itself
    assert settings.clickhouse.backend == "server"


def test_the_image_copies_only_what_exists():
    dockerfile = (REPO_ROOT / "Dockerfile").read_text()
    for source in re.findall(r"^COPY (\S+)", dockerfile, flags=re.MULTILINE):
        assert all((REPO_ROOT / part).exists() for part in source.split()), source
    assert Path(REPO_ROOT / "schemas" / "registry.json").exists()
