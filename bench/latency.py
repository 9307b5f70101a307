"""Record → API-visible latency at a fixed 2k telemetry samples/s.

The fleet is produced at a steady sample rate. Every half second the record just
acknowledged by Kafka becomes a probe: a watcher thread asks the API for its
workout until the summary's version reaches the probe's seq. Latency is the time
from the acknowledgement to the first answer that shows it.
"""

from __future__ import annotations

import statistics
import threading
import time

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

SAMPLES_PER_S = 2000
DURATION_S = 60
WARMUP_S = 10
PROBE_EVERY_S = 0.5
SPEC = FleetSpec(users=300, days=1, seed=99, start_ms=1_793_577_600_000,
                 chaos=ChaosKnobs(duplicate=0, out_of_order=0, late=0, malformed=0))


class ProbeWatcher(threading.Thread):
    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.pending: list[tuple[str, int, float]] = []
        self.latencies: list[float] = []
        self.lock = threading.Lock()
        self.done = threading.Event()

    def add(self, workout_id: str, seq: int, acked_at: float) -> None:
        with self.lock:
            self.pending.append((workout_id, seq, acked_at))

    def run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=5) as client:
            while not self.done.is_set() or self.pending:
                with self.lock:
                    probes = list(self.pending)
                for probe in probes:
                    workout_id, seq, acked_at = probe
                    response = client.get(f"/api/v1/workouts/{workout_id}")
                    if response.status_code == 200 and response.json()["version"] >= seq:
                        self.latencies.append(time.monotonic() - acked_at)
                        with self.lock:
                            self.pending.remove(probe)
                time.sleep(0.005)


def run(console: Console | None = None) -> dict:
    console = console or Console(stderr=True)
    with bench_broker("latency") as base:
        settings = run_settings(base, "run0")
        serde = AvroSerde(registry_from_settings(settings.schema_registry))
        with roles(settings) as stack:
            processor = stack.start(settings, "processor", "process")
            api = stack.start(settings, "api", "serve")
            wait_for_api(settings, stack)
            time.sleep(8)  # the worker joins its group and recovers its tables
            watcher = ProbeWatcher(api_url(settings))
            watcher.start()
            producer = Producer(producer_config(settings.kafka, **{"linger.ms": 1}))
            cpu = CpuWindow({"broker": broker_pid(base), "processor": processor.proc.pid,
                             "api+sink": api.proc.pid})
            started = time.monotonic()
            samples_sent, next_probe = 0, started + WARMUP_S
            for record in simulate_fleet(SPEC):
                now = time.monotonic()
                if now - started > DURATION_S:
                    break
                event = record.event
                producer.produce(settings.kafka.events_topic, key=record.key.encode(),
                                 value=serde.encode(event_subject(event), event))
                samples_sent += len(event.get("samples", ()))
                if now >= next_probe and event["type"] == "WorkoutUpdated":
                    producer.flush(5)
                    watcher.add(event["workout_id"], event["seq"], time.monotonic())
                    next_probe = now + PROBE_EVERY_S
                producer.poll(0)
                ahead = samples_sent / SAMPLES_PER_S - (time.monotonic() - started)
                if ahead > 0:
                    time.sleep(ahead)
            producer.flush(10)
            rate = samples_sent / (time.monotonic() - started)
            shares = cpu.shares()
            deadline = time.monotonic() + 60
            while watcher.pending and time.monotonic() < deadline:
                time.sleep(0.1)
            watcher.done.set()
            watcher.join(10)
    latencies = sorted(watcher.latencies)
    console.print(f"{len(latencies)} probes at {rate:,.0f} samples/s, cpu {shares}")
    return {
        "benchmark": f"record → API-visible latency at {SAMPLES_PER_S} samples/s",
        "samples_per_s": round(rate), "probes": len(latencies),
        "p50_ms": round(statistics.median(latencies) * 1000),
        "p99_ms": round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000),
        "max_ms": round(latencies[-1] * 1000),
        "cpu": shares,
    }
