"""Fixtures that start the real broker and ClickHouse server for the integration tests."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from cli.dev import embedded_broker
from fitstream.kafka.topics import create_topics
from fitstream.settings import (
    ApiSettings,
    BrokerSettings,
    FitStreamSettings,
    KafkaSettings,
    MetricsSettings,
    ProcessorSettings,
)
from tests.harness import REQUIRE_CLICKHOUSE_SERVER, ClickHouseServer, free_port

# The suite runs with the public default token secret, which the API refuses anywhere
# but the embedded demo and the tests (api.app.check_token_secret). Top-level settings
# built from the environment carry it, and so do the children started with to_env().
os.environ.setdefault("FITSTREAM_ALLOW_DEFAULT_TOKEN_SECRET", "true")


@contextmanager
def running_broker(state_dir: Path) -> Iterator[FitStreamSettings]:
    """An embedded broker on a free port; yields settings that point at it."""
    port = free_port()
    settings = FitStreamSettings(
        state_dir=state_dir,
        broker=BrokerSettings(port=port),
        kafka=KafkaSettings(bootstrap_servers=f"127.0.0.1:{port}"),
    )
    embedded_broker.start(settings)
    try:
        yield settings
    finally:
        embedded_broker.stop(settings)


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FitStreamSettings]:
    """The broker most integration tests share (each module with its own topics)."""
    with running_broker(tmp_path_factory.mktemp("state")) as settings:
        yield settings


@pytest.fixture
def own_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FitStreamSettings]:
    """A broker for one test that writes a lot: the embedded broker rewrites its whole
    storage on every change, so a big log would slow every later test down."""
    with running_broker(tmp_path_factory.mktemp("own-broker")) as settings:
        yield settings


def isolated(settings: FitStreamSettings, tmp: Path, name: str) -> FitStreamSettings:
    """Settings for one test module: its own topics, state directory and ports."""
    kafka = settings.kafka.model_copy(update={
        field: f"{name}.{getattr(settings.kafka, field)}"
        for field in KafkaSettings.model_fields if field.endswith("_topic")})
    isolated_settings = settings.model_copy(update={
        "state_dir": tmp, "kafka": kafka,
        "processor": ProcessorSettings(app_id=f"fitstream-{name}", web_port=free_port(),
                                       unknown_workout_timeout_ms=10 * 60_000),
        "api": ApiSettings(port=free_port()),
        "sink": settings.sink.model_copy(update={"group_id": f"{name}-sink"}),
        # Each role serves /metrics on its own port: free ones, not the defaults.
        "metrics": MetricsSettings(sink_port=free_port(), lakehouse_port=free_port(),
                                   delivery_port=free_port()),
        "models": settings.models.model_copy(update={"score_web_port": free_port()}),
    })
    create_topics(isolated_settings)
    return isolated_settings


@pytest.fixture(scope="session")
def clickhouse_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClickHouseServer]:
    if not ClickHouseServer.available():
        message = ("Debian's clickhouse-server is not installed (make test installs it with apt;"
                   " that needs root and the Debian mirror)")
        if REQUIRE_CLICKHOUSE_SERVER:
            pytest.fail(message + "; FITSTREAM_REQUIRE_CLICKHOUSE_SERVER=1 forbids skipping")
        pytest.skip(message)
    server = ClickHouseServer(tmp_path_factory.mktemp("clickhouse"))
    server.start()
    yield server
    server.stop()
