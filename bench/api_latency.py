"""API read latency at a fixed request rate, from a separate load process (Locust).

A fleet is processed into a fresh chdb store (the embedded default: the API
process owns the store and runs the sinks); then Locust, in its own process,
drives the three reads at ``RATE`` requests/s in all for ``DURATION_S`` seconds,
``repeats`` times. Per endpoint the report holds the median over runs of the
p50, p99 and max Locust measured (1 ms resolution), the rate reached and failures.
"""

from __future__ import annotations

import csv
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx
from rich.console import Console

from bench.stack import CpuWindow, bench_broker, roles, run_settings
from cli.dev.demo import wait_until_visible
from cli.dev.local_stack import wait_for_api
from fitstream.api_client import api_url
from fitstream.contracts import AvroSerde, registry_from_settings
from fitstream.domain.windows import LeaderboardWindow
from fitstream.simulator.fleet import ChaosKnobs, FleetSpec
from fitstream.simulator.producer import produce_fleet

SPEC = FleetSpec(users=250, days=7, seed=7, start_ms=1_793_577_600_000,
                 chaos=ChaosKnobs(duplicate=0, out_of_order=0, late=0, malformed=0))
RATE = 1000  # requests/s, all endpoints together
LOAD_USERS = 50
DURATION_S = 30
LOCUSTFILE = Path(__file__).with_name("api_load.py")
# Between runs. A Locust process started within a few seconds of the previous one's exit
# measured every request about 9 ms slower, with a tight spread, at the same server CPU;
# a pause removed it, server-side changes (no cache refreshes at all) did not, and single
# requests stayed at 1 ms. Taken for a client/loopback artefact; see the README.
PAUSE_S = 15


def locust_run(url: str, env: dict[str, str], out: Path) -> tuple[dict[str, dict], float]:
    """One Locust run; per endpoint its stats row, and Locust's own CPU share."""
    command = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless",
               "--host", url, "--users", str(LOAD_USERS), "--spawn-rate", str(LOAD_USERS),
               "--run-time", f"{DURATION_S}s", "--reset-stats", "--csv", str(out),
               "--only-summary", "--loglevel", "WARNING"]
    def children_cpu() -> float:
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        return usage.ru_utime + usage.ru_stime

    # Locust is the only child reaped in between, so the children's CPU delta is its own.
    before, started = children_cpu(), time.monotonic()
    load = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    try:
        _, stderr = load.communicate(timeout=DURATION_S + 120)
    finally:
        if load.poll() is None:
            load.kill()
    cpu_share = round((children_cpu() - before) / (time.monotonic() - started), 2)
    if load.returncode not in (0, 1):  # 1: some requests failed (reported below)
        raise RuntimeError(f"locust failed: {stderr[-2000:]}")
    with open(f"{out}_stats.csv", newline="") as handle:
        rows = {row["Name"]: row for row in csv.DictReader(handle)}
    return rows, cpu_share


def run(repeats: int = 3, console: Console | None = None) -> dict:
    console = console or Console(stderr=True)
    week = LeaderboardWindow.WEEK.period_of(SPEC.start_ms)
    with bench_broker("api") as base:
        serde = AvroSerde(registry_from_settings(base.schema_registry))
        tally = produce_fleet(base, SPEC, serde)
        settings = run_settings(base, "api")
        with roles(settings) as stack:
            stack.start(settings, "processor", "process")
            api = stack.start(settings, "api", "serve", "--no-ingest")
            wait_for_api(settings, stack)
            wait_until_visible(api_url(settings), tally.completed_ids, console, stack,
                               SPEC.users)
            console.print(f"{tally.completed:,} completed workouts of {SPEC.users} users "
                          f"visible; loading at {RATE} requests/s")
            board = httpx.get(f"{api_url(settings)}/api/v1/leaderboards/distance",
                              params={"window": "week", "period": week, "limit": 1000}).json()
            env = {**os.environ, "BENCH_PERIOD": week,
                   "BENCH_BOARD_USERS": ",".join(e["user_id"] for e in board["entries"]),
                   "BENCH_USERS": ",".join(f"user-{i:05d}" for i in range(SPEC.users)),
                   "BENCH_SECRET": settings.api.token_secret.get_secret_value(),
                   "BENCH_RATE_PER_USER": str(RATE / LOAD_USERS)}
            runs = []
            for attempt in range(repeats):
                if attempt:
                    time.sleep(PAUSE_S)
                cpu = CpuWindow({"api": api.proc.pid})
                rows, locust_cpu = locust_run(api_url(settings), env,
                                              settings.state_dir / f"locust-{attempt}")
                shares = {**cpu.shares(), "locust": locust_cpu}
                runs.append({"endpoints": {
                    name: {"p50_ms": float(row["50%"]), "p99_ms": float(row["99%"]),
                           "max_ms": float(row["Max Response Time"]),
                           "requests_per_s": round(float(row["Requests/s"]), 1),
                           "failures": int(row["Failure Count"])}
                    for name, row in rows.items() if name != "Aggregated"},
                    "total_per_s": round(float(rows["Aggregated"]["Requests/s"]), 1),
                    "cpu": shares})
                console.print(f"run {attempt + 1}: {runs[-1]}")
    names = sorted(runs[0]["endpoints"])
    return {
        "benchmark": f"API reads at {RATE} requests/s (Locust, separate process)",
        "endpoints": {name: {
            "p50_ms": statistics.median(r["endpoints"][name]["p50_ms"] for r in runs),
            "p99_ms": statistics.median(r["endpoints"][name]["p99_ms"] for r in runs),
            "max_ms": statistics.median(r["endpoints"][name]["max_ms"] for r in runs),
            "requests_per_s": statistics.median(r["endpoints"][name]["requests_per_s"]
                                                for r in runs),
            "failures": sum(r["endpoints"][name]["failures"] for r in runs)}
            for name in names},
        "total_per_s": statistics.median(r["total_per_s"] for r in runs),
        "runs": runs,
    }
