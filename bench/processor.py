"""Processor throughput: a pre-filled log of at least 1M telemetry samples until the view
is complete (every completed workout visible through the API, sink included).

Each run starts a fresh processor (new app id, changelogs and output topics) and a
fresh chdb store on the same pre-filled log, so runs are independent.
"""

from __future__ import annotations

import statistics
import time

from rich.console import Console

from bench.stack import CpuWindow, bench_broker, broker_pid, roles, run_settings
from cli.dev.demo import wait_until_visible
from cli.dev.local_stack import wait_for_api
from fitstream.api_client import api_url
from fitstream.contracts import AvroSerde, registry_from_settings
from fitstream.simulator.fleet import ChaosKnobs, FleetSpec
from fitstream.simulator.producer import produce_fleet

SPEC = FleetSpec(users=80, days=14, seed=2026, start_ms=1_793_577_600_000,
                 chaos=ChaosKnobs(duplicate=0.01, out_of_order=0.01, late=0.02, malformed=0))


def run(repeats: int = 3, console: Console | None = None, seal: bool = True) -> dict:
    """``seal``: coordinates sealed in the log as ingest writes them (False: plain, to
    measure what opening them costs)."""
    console = console or Console(stderr=True)
    with bench_broker("processor") as base:
        serde = AvroSerde(registry_from_settings(base.schema_registry))
        tally = produce_fleet(base, SPEC, serde, seal=seal)
        console.print(f"log pre-filled: {tally.records:,} records, {tally.samples:,} samples")
        assert tally.samples >= 1_000_000, "the benchmark needs at least 1M samples"
        runs = []
        for attempt in range(repeats):
            settings = run_settings(base, f"run{attempt}")
            with roles(settings) as stack:
                started = time.monotonic()
                processor = stack.start(settings, "processor", "process")
                api = stack.start(settings, "api", "serve", "--no-ingest")
                cpu = CpuWindow({"broker": broker_pid(base), "processor": processor.proc.pid,
                                 "api+sink": api.proc.pid})
                wait_for_api(settings, stack)
                wait_until_visible(api_url(settings), tally.completed_ids, console, stack,
                                   SPEC.users)
                elapsed = time.monotonic() - started
                shares = cpu.shares()
                # The worker's CPU over the run (start-up included) per record of the log.
                worker_us = shares["processor"] * elapsed / tally.records * 1e6
                runs.append({"seconds": round(elapsed, 2), "cpu": shares,
                             "worker_us_per_record": round(worker_us)})
                console.print(f"run {attempt + 1}: {elapsed:.1f} s, cpu {shares}, "
                              f"worker {worker_us:.0f} µs/record")
    median = statistics.median(r["seconds"] for r in runs)
    return {
        "benchmark": "processor throughput (pre-filled log → view complete)"
                     + ("" if seal else ", coordinates not sealed"),
        "records": tally.records, "samples": tally.samples,
        "median_seconds": median,
        "records_per_s": round(tally.records / median),
        "samples_per_s": round(tally.samples / median),
        "worker_us_per_record": statistics.median(r["worker_us_per_record"] for r in runs),
        "runs": runs,
    }
