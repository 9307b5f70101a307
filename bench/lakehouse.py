"""Delta sink throughput: a pre-filled log into bronze.workout_events until Delta holds
every record (sink start-up included), each run into a fresh lakehouse directory.

Batches follow the defaults (``lakehouse.batch_max_rows`` 50,000 or 5 s).
"""

from __future__ import annotations

import statistics
import time

from rich.console import Console

from bench.processor import SPEC  # the same pre-filled log as the processor benchmark
from bench.stack import CpuWindow, bench_broker, broker_pid, roles, run_settings
from fitstream.contracts import AvroSerde, registry_from_settings
from fitstream.kafka.positions import LogPosition
from fitstream.simulator.producer import produce_fleet
from sinks.delta.topic_sink import lakehouse_writers, records_behind
from sinks.delta.writers import BronzeEventsWriter


def run(repeats: int = 3, console: Console | None = None) -> dict:
    console = console or Console(stderr=True)
    with bench_broker("lakehouse") as base:
        serde = AvroSerde(registry_from_settings(base.schema_registry))
        tally = produce_fleet(base, SPEC, serde)
        console.print(f"log pre-filled: {tally.records:,} records, {tally.samples:,} samples")
        runs = []
        for attempt in range(repeats):
            settings = run_settings(base, f"lake{attempt}")
            settings = settings.model_copy(update={"lakehouse": settings.lakehouse.model_copy(
                update={"group_id": f"bench-lake{attempt}"})})
            position = LogPosition(settings.kafka)
            with roles(settings) as stack:
                started = time.monotonic()
                lake = stack.start(settings, "lakehouse", "lakehouse")
                cpu = CpuWindow({"broker": broker_pid(base), "lakehouse": lake.proc.pid})
                bronze = [w for w in lakehouse_writers(settings)
                          if w.name == BronzeEventsWriter.name]
                bronze[0].prepare()
                while records_behind(bronze, position.ends):
                    stack.check()
                    time.sleep(0.5)
                elapsed = time.monotonic() - started
                runs.append({"seconds": round(elapsed, 2), "cpu": cpu.shares()})
                console.print(f"run {attempt + 1}: {elapsed:.1f} s, cpu {runs[-1]['cpu']}")
            position.close()
    median = statistics.median(r["seconds"] for r in runs)
    return {
        "benchmark": "Delta sink: pre-filled log → bronze.workout_events complete",
        "records": tally.records, "samples": tally.samples, "median_seconds": median,
        "records_per_s": round(tally.records / median),
        "samples_per_s": round(tally.samples / median), "runs": runs,
    }
