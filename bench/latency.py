"""Event → API-visible latency at a fixed 5,000 events/s (about 60k samples/s).

A fleet is simulated and Avro-encoded before the clock, so producing costs the bench
little CPU; each run then starts a fresh broker, the processor and the API (with its
sinks), and produces the records at a steady rate. Every half second the
WorkoutUpdated just acknowledged by Kafka becomes a probe: a watcher thread asks the
API for its workout until the summary's version reaches the probe's seq. Latency is
the time from the acknowledgement to the first answer that shows it.
"""

from __future__ import annotations

import statistics
import threading
import time
from dataclasses import dataclass

import httpx
from confluent_kafka import Producer
from rich.console import Console

from bench.stack import CpuWindow, bench_broker, broker_pid, roles, run_settings
from cli.dev.local_stack import wait_for_api
from fitstream.api_client import api_url
from fitstream.contracts import AvroSerde, registry_from_settings
from fitstream.domain.events import event_subject
from fitstream.kafka.clients import producer_config
from fitstream.simulator.fleet import ChaosKnobs, FleetSpec, simulate_fleet
from fitstream.tokens import issue_user_token

EVENTS_PER_S = 5000
DURATION_S = 40
WARMUP_S = 10
PROBE_EVERY_S = 0.5
# About 82 records per user-day: 400 x 8 is enough for DURATION_S at EVENTS_PER_S.
SPEC = FleetSpec(users=400, days=8, seed=99, start_ms=1_793_577_600_000,
                 chaos=ChaosKnobs(duplicate=0, out_of_order=0, late=0, malformed=0))


@dataclass(frozen=True)
class Encoded:
    key: bytes
    value: bytes
    samples: int
    probe: tuple[str, int, str] | None  # (workout_id, seq, user_id) of a WorkoutUpdated


def encoded_fleet(serde: AvroSerde, records: int) -> list[Encoded]:
    out = []
    for record in simulate_fleet(SPEC):
        event = record.event
        out.append(Encoded(record.key.encode(), serde.encode(event_subject(event), event),
                           len(event.get("samples") or ()),
                           (event["workout_id"], event["seq"], event["user_id"])
                           if event["type"] == "WorkoutUpdated" else None))
        if len(out) >= records:
            break
    return out


class ProbeWatcher(threading.Thread):
    """Asks for each probe's workout, as its owner (the full summary carries the version),
    until it shows the probe's seq."""

    def __init__(self, url: str, token_secret: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.token_secret = token_secret
        self.pending: list[tuple[str, int, str, float]] = []
        self.latencies: list[float] = []
        self.lock = threading.Lock()
        self.done = threading.Event()

    def add(self, workout_id: str, seq: int, user_id: str, acked_at: float) -> None:
        with self.lock:
            self.pending.append((workout_id, seq, user_id, acked_at))

    def run(self) -> None:
        tokens: dict[str, str] = {}
        with httpx.Client(base_url=self.url, timeout=5) as client:
            while not self.done.is_set() or self.pending:
                with self.lock:
                    probes = list(self.pending)
                for probe in probes:
                    workout_id, seq, user_id, acked_at = probe
                    if user_id not in tokens:  # signing per poll would load the watcher
                        tokens[user_id] = issue_user_token(self.token_secret, user_id, 3600)
                    token = tokens[user_id]
                    response = client.get(f"/api/v1/workouts/{workout_id}/private",
                                          headers={"Authorization": f"Bearer {token}"})
                    if response.status_code == 200 and response.json()["version"] >= seq:
                        self.latencies.append(time.monotonic() - acked_at)
                        with self.lock:
                            self.pending.remove(probe)
                time.sleep(0.005)


def run(repeats: int = 3, console: Console | None = None) -> dict:
    console = console or Console(stderr=True)
    wanted = EVENTS_PER_S * (DURATION_S + 2)
    fleet: list[Encoded] = []
    runs = []
    for attempt in range(repeats):
        with bench_broker(f"latency{attempt}") as base:
            if not fleet:
                fleet = encoded_fleet(AvroSerde(registry_from_settings(base.schema_registry)),
                                      wanted)
                console.print(f"fleet encoded: {len(fleet):,} records")
            runs.append(_one_run(base, fleet, console))
    return {
        "benchmark": f"event → API-visible latency at {EVENTS_PER_S:,} events/s",
        "events_per_s": statistics.median(r["events_per_s"] for r in runs),
        "samples_per_s": statistics.median(r["samples_per_s"] for r in runs),
        "probes": statistics.median(r["probes"] for r in runs),
        **{k: statistics.median(r[k] for r in runs) for k in ("p50_ms", "p99_ms", "max_ms")},
        "runs": runs,
    }


def _one_run(base, fleet: list[Encoded], console: Console) -> dict:
    settings = run_settings(base, "run0")
    with roles(settings) as stack:
        processor = stack.start(settings, "processor", "process")
        api = stack.start(settings, "api", "serve")
        wait_for_api(settings, stack)
        time.sleep(8)  # the worker joins its group and recovers its tables
        watcher = ProbeWatcher(api_url(settings),
                               settings.api.token_secret.get_secret_value())
        watcher.start()
        producer = Producer(producer_config(settings.kafka, **{"linger.ms": 1}))
        cpu = CpuWindow({"broker": broker_pid(base), "processor": processor.proc.pid,
                         "api+sink": api.proc.pid})
        topic = settings.kafka.events_topic
        started = time.monotonic()
        sent = samples_sent = 0
        next_probe = started + WARMUP_S
        for record in fleet:
            now = time.monotonic()
            if now - started > DURATION_S:
                break
            producer.produce(topic, key=record.key, value=record.value)
            sent += 1
            samples_sent += record.samples
            if now >= next_probe and record.probe is not None:
                producer.flush(5)
                watcher.add(*record.probe, time.monotonic())
                next_probe = now + PROBE_EVERY_S
            producer.poll(0)
            ahead = sent / EVENTS_PER_S - (time.monotonic() - started)
            if ahead > 0:
                time.sleep(ahead)
        producer.flush(10)
        elapsed = time.monotonic() - started
        shares = cpu.shares()
        deadline = time.monotonic() + 120
        while watcher.pending and time.monotonic() < deadline:
            time.sleep(0.1)
        watcher.done.set()
        watcher.join(10)
    latencies = sorted(watcher.latencies)
    if not latencies:
        raise RuntimeError("no probe was answered: is the API serving the workouts?")
    result = {
        "events_per_s": round(sent / elapsed), "samples_per_s": round(samples_sent / elapsed),
        "probes": len(latencies), "unanswered": len(watcher.pending),
        "p50_ms": round(statistics.median(latencies) * 1000),
        "p99_ms": round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000),
        "max_ms": round(latencies[-1] * 1000),
        "cpu": shares,
    }
    console.print(f"latency run: {result}")
    return result
