"""A fresh local deployment for one benchmark, and CPU accounting for its processes."""

from __future__ import annotations

import os
import shutil
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from cli.dev import embedded_broker
from cli.dev.local_stack import LocalStack
from fitstream.kafka.topics import create_topics
from fitstream.settings import (
    ApiSettings,
    BrokerSettings,
    FitStreamSettings,
    KafkaSettings,
    MetricsSettings,
    ProcessorSettings,
    SinkSettings,
)

BENCH_BROKER_PORT = 19192
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time a process has used so far."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()  # noqa: SIM115
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


@dataclass
class CpuWindow:
    """CPU share (1.0 = one core) of some processes over a window of wall time."""

    pids: dict[str, int]

    def __post_init__(self) -> None:
        self.started = time.monotonic()
        self.before = {name: cpu_seconds(pid) for name, pid in self.pids.items()}

    def shares(self) -> dict[str, float]:
        wall = time.monotonic() - self.started
        return {name: round((cpu_seconds(pid) - self.before[name]) / wall, 2)
                for name, pid in self.pids.items()}


def run_settings(base: FitStreamSettings, run: str) -> FitStreamSettings:
    """Settings for one run on a shared log: its own derived topics, state and ports."""
    # Every derived topic is the run's own; only the events topic (the log) is shared.
    kafka = base.kafka.model_copy(update={
        field: f"bench.{run}.{getattr(base.kafka, field)}"
        for field in KafkaSettings.model_fields
        if field.endswith("_topic") and field != "events_topic"})
    # The log is shared, and so are the data keys its coordinates were sealed with: a
    # run's own state directory would hold no key, and every event would be unreadable.
    privacy = base.privacy.model_copy(update={"file": base.privacy.file.model_copy(
        update={"path": base.resolve(base.privacy.file.path)})})
    return base.model_copy(update={
        "state_dir": base.state_dir / run,
        "privacy": privacy,
        "kafka": kafka,
        "processor": ProcessorSettings(app_id=f"bench-{run}", web_port=_free_port()),
        "sink": SinkSettings(group_id=f"bench-{run}-sink"),
        "api": ApiSettings(port=_free_port()),
        "metrics": MetricsSettings(sink_port=_free_port(), lakehouse_port=_free_port(),
                                   delivery_port=_free_port()),
        # The benches load one device or user far beyond a real client (the latency
        # probe polls a workout every few ms, ingest replays days of a device at once):
        # the limits stay on (their cost is measured), out of reach.
        "rate_limits": base.rate_limits.model_copy(update={
            "device": "1000000/second", "user": "1000000/second",
            "failed_auth": "1000000/second", "anonymous": "1000000/second"}),
    })


@contextmanager
def bench_broker(name: str) -> Iterator[FitStreamSettings]:
    """A fresh broker under .state/bench/<name>; yields settings pointing at it."""
    # A local benchmark, like the demo, may run with the public default token secret.
    base = FitStreamSettings(allow_default_token_secret=True)
    state = base.state_dir / "bench" / name
    settings = base.model_copy(update={
        "state_dir": state,
        "broker": BrokerSettings(port=BENCH_BROKER_PORT),
        "kafka": KafkaSettings(bootstrap_servers=f"127.0.0.1:{BENCH_BROKER_PORT}"),
    })
    embedded_broker.stop(settings)
    shutil.rmtree(state, ignore_errors=True)
    state.mkdir(parents=True)
    embedded_broker.start(settings)
    try:
        create_topics(settings)
        yield settings
    finally:
        embedded_broker.stop(settings)


def broker_pid(settings: FitStreamSettings) -> int:
    pid = embedded_broker.status(settings).pid
    assert pid is not None, "the broker is not running"
    return pid


@contextmanager
def roles(settings: FitStreamSettings) -> Iterator[LocalStack]:
    create_topics(settings)
    stack = LocalStack()
    try:
        yield stack
    finally:
        stack.stop()
