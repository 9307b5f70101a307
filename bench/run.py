"""``make bench``: every benchmark, medians of repeated runs, results as JSON and table rows.

Each benchmark starts its own broker and processes under .state/bench. Results go
to bench/results/<date>.json; the printed Markdown rows are what the README's
performance table holds.
"""

from __future__ import annotations

import json
import platform
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from bench import (
    api_latency,
    backfill,
    engines,
    feast_online,
    ingest,
    lakehouse,
    latency,
    models,
    processor,
    scoring,
    sealing,
    soak,
)

RESULTS = Path(__file__).parent / "results"
console = Console(stderr=True)


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text()
                .splitlines() if line.startswith("model name")), platform.machine())
    cores = len([line for line in Path("/proc/cpuinfo").read_text().splitlines()
                 if line.startswith("processor")])
    return f"{cores} cores ({cpu}), Python {platform.python_version()}"


def main(
    only: Annotated[list[str] | None, typer.Option(
        help="ingest, processor, latency, api, lakehouse, backfill, feast, sealing, models, "
             "scoring, soak (state over a simulated year; only when named), or engines "
             "(repeatable; engines, Faust vs Flink, needs `make "
             "flink-venv` and runs only when named).")] = None,
    repeats: Annotated[int, typer.Option(min=1, help="Runs per throughput benchmark.")] = 3,
    fleet_users: Annotated[int, typer.Option(
        min=1, help="Models: the cached fleet's users (180 days, seed 7).")] = models.USERS,
    plain_coordinates: Annotated[bool, typer.Option(
        help="Processor: pre-fill the log without sealing coordinates, to measure what "
             "opening them costs.")] = False,
    engine_variants: Annotated[list[str] | None, typer.Option(
        help=f"Engines: which to run (repeatable): {', '.join(engines.VARIANTS)}. "
             "Default: faust, flink-process, flink-thread.")] = None,
    engine_users: Annotated[int, typer.Option(min=1, help="Engines: the log's users.")]
    = engines.USERS,
    engine_days: Annotated[int, typer.Option(min=1, help="Engines: the log's days.")]
    = engines.DAYS,
    engine_kill: Annotated[bool, typer.Option(
        help="Engines: also time the Flink job's recovery after a SIGKILL.")] = True,
    soak_users: Annotated[int, typer.Option(min=1, help="Soak: simulated users.")] = soak.USERS,
    soak_months: Annotated[int, typer.Option(min=1, help="Soak: simulated months.")]
    = soak.MONTHS,
) -> None:
    """Run the benchmarks and print the README rows."""
    chosen = only or ["ingest", "processor", "latency", "api", "lakehouse", "backfill", "feast",
                      "sealing", "models", "scoring"]
    results = []
    if "soak" in chosen:  # its own results file (<stamp>-soak.json) and table
        typer.echo(soak.table(soak.run(console, soak_users, soak_months)))
        chosen = [c for c in chosen if c != "soak"]
        if not chosen:
            return
    if "ingest" in chosen:
        results.append(ingest.run(repeats, console))
    if "processor" in chosen:
        results.append(processor.run(repeats, console, seal=not plain_coordinates))
    if "latency" in chosen:
        results.append(latency.run(repeats, console))
    if "api" in chosen:
        results.append(api_latency.run(repeats, console))
    if "lakehouse" in chosen:
        results.append(lakehouse.run(repeats, console))
    if "backfill" in chosen:
        results.append(backfill.run(repeats, console))
    if "feast" in chosen:
        results.append(feast_online.run(repeats, console))
    if "sealing" in chosen:
        results.append(sealing.run(repeats, console))
    if "models" in chosen:
        results.append(models.run(repeats, console, models.FleetBuild(
            fleet_users, models.DAYS, models.SEED)))
    if "scoring" in chosen:
        results.append(scoring.run(repeats, console))
    if "engines" in chosen:
        results.append(engines.run(repeats, console, engine_variants, engine_users,
                                   engine_days, engine_kill))
    stamp = datetime.now(UTC)
    report = {"date": stamp.date().isoformat(), "machine": machine(), "results": results}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{stamp:%Y%m%dT%H%M%S}.json").write_text(json.dumps(report, indent=2) + "\n")
    typer.echo(f"\nmachine: {report['machine']}, date: {report['date']}\n")
    for result in results:
        for name, e in result.get("endpoints", {}).items():
            latency_row(result, name, e, f"{e['requests_per_s']:g} requests/s, "
                        f"{e['failures']} failed; median of {len(result['runs'])}")
        for name, b in result.get("backends", {}).items():
            latency_row(result, name, b, f"median of {len(b['runs'])} runs of "
                        f"{b['calls_per_run']:,} calls, {b['users']:,} users stored")
        if "endpoints" in result or "backends" in result:
            continue
        if "models" in result:
            model_rows(result)
            continue
        if "variants" in result:
            engine_rows(result)
            continue
        if "rows_per_s" in result:
            scoring_rows(result)
            continue
        if "seal_us_per_event" in result:
            figure = (f"seal {result['seal_us_per_event']} µs, open "
                      f"{result['open_us_per_event']} µs per event ({result['events']:,} "
                      f"events, {result['samples']:,} samples; median of "
                      f"{len(result['runs'])}; {result['plain_bytes_per_event']} → "
                      f"{result['sealed_bytes_per_event']} bytes per event)")
        elif "p50_ms" in result:
            figure = (f"p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms "
                      f"({result['probes']} probes at {result['samples_per_s']:,} samples/s)")
        else:
            figure = (f"{result['records_per_s']:,} records/s · {result['samples_per_s']:,} "
                      f"samples/s (median of {len(result['runs'])}: "
                      f"{result['median_seconds']} s for {result['records']:,} records)")
        typer.echo(f"| {result['benchmark']} | {figure} |")


def model_rows(result: dict) -> None:
    """Per model: the median training time, and the holdout metric beside each baseline."""
    fleet = result["fleet"]
    for key, m in result["models"].items():
        runs = ", ".join(f"{r['seconds']:g}" for r in m["runs"])
        gate = m["gate"]
        baselines = ", ".join(f"{name} {metric_text(value)}"
                              for name, value in gate["baselines"].items())
        typer.echo(f"| training: {key} ({m['registered_name']}), {fleet['users']} users x "
                   f"{fleet['days']} days, {m['train_rows']:,} training / {m['holdout_rows']:,} "
                   f"holdout rows | **{m['median_seconds']:g} s** (runs {runs}); holdout "
                   f"{gate['metric']} {metric_text(gate['model'])} against {baselines} |")
    typer.echo(f"| fleet build (not a benchmark): {fleet['users']} users x {fleet['days']} days "
               f"| {fleet['build_wall_s']:g} s wall, peak RSS {fleet['build_peak_rss_mb']:,} MB "
               f"({fleet['records']:,} records, {fleet['completed']:,} completed workouts) |")


def metric_text(value: float) -> str:
    """Metres as whole numbers, ratios (MAPE, NDCG) to four digits."""
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.4g}"


def scoring_rows(result: dict) -> None:
    """Scoring throughput and feature row -> stored prediction latency."""
    runs = ", ".join(f"{r['seconds']:g}" for r in result["runs"])
    typer.echo(f"| {result['benchmark']}: throughput, {result['rows']:,} pre-filled feature "
               f"rows | **{result['rows_per_s']:,} rows/s** ({result['predictions_per_s']:,} "
               f"predictions/s; median of {len(result['runs'])}, runs {runs} s) |")
    lat = result["latency"]
    typer.echo(f"| {result['benchmark']}: feature row -> predictions in ClickHouse at "
               f"{lat['rate_per_s']} rows/s | **p50 {lat['p50_ms']:g} ms, p99 {lat['p99_ms']:g} "
               f"ms** ({lat['probes']} probes; scorer alone p50 {lat['scorer_p50_ms']:g} ms, "
               f"p99 {lat['scorer_p99_ms']:g} ms) |")


def engine_rows(result: dict) -> None:
    """Per engine variant: throughput from start, CPU per record, start-up, checkpoints;
    then the Flink job's recovery after a SIGKILL."""
    size = f"{result['records']:,} records / {result['samples']:,} samples"
    for name, v in result["variants"].items():
        runs = ", ".join(f"{r['seconds']:g}" for r in v["runs"])
        extra = ""
        if "median_submitted_s" in v:
            extra = (f"; JVM start-up (job submitted) {v['median_submitted_s']:g} s, then "
                     f"{v.get('median_records_per_s_after_submit', 0):,} records/s; outputs "
                     f"committed at {v.get('median_outputs_committed_s')} s")
            chk = [r["checkpoints"] for r in v["runs"] if r["checkpoints"].get("completed")]
            if chk:
                extra += (f"; checkpoints median {chk[0]['duration_ms_median']:g} ms, p95 "
                          f"{chk[0]['duration_ms_p95']:g}, max "
                          f"{max(c['duration_ms_max'] for c in chk):g} ms, state "
                          f"{chk[0]['state_bytes_max']:,} bytes (run 1)")
        typer.echo(f"| processor alone, {name}: pre-filled log of {size} → whole log "
                   f"processed | **{v['records_per_s']:,} records/s · {v['samples_per_s']:,} "
                   f"samples/s**, {v['cpu_us_per_record']:g} µs CPU per record (median of "
                   f"{len(v['runs'])}: runs {runs} s){extra} |")
    if "recovery" in result:
        r = result["recovery"]
        typer.echo(f"| Flink job SIGKILLed after its first checkpoint ({r['committed_at_kill']:,}"
                   f" of {r['records']:,} records committed), restarted | **"
                   f"{r['restart_to_processed_s']} s** from restart to the whole log "
                   f"committed (JVM start-up {r['restart_submitted_s']} s; the same job "
                   f"unbounded, no kill: {r['unbounded_no_kill']['to_processed_s']} s from "
                   f"start) |")


def latency_row(result: dict, name: str, stats: dict, detail: str) -> None:
    """One README row per part of a latency benchmark (an endpoint, a backend)."""
    typer.echo(f"| {result['benchmark']}: {name} | p50 {stats['p50_ms']:g} ms, "
               f"p99 {stats['p99_ms']:g} ms ({detail}) |")


if __name__ == "__main__":
    typer.run(main)
