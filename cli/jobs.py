"""``fitstream jobs``: batch jobs over the lakehouse (PySpark, delta-rs) and ClickHouse."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.table import Table

from cli.common import console
from fitstream.settings import get_settings

app = typer.Typer(help="Batch jobs over the lakehouse (PySpark).", no_args_is_help=True)


@contextmanager
def _spark_job(settings, app_name: str):
    """A Spark session for one job (stopped after it), and the job's elapsed seconds so
    far, Spark's start included."""
    import time

    from jobs.spark import spark_session

    started = time.monotonic()
    with console.status("starting Spark"):
        spark = spark_session(settings, app_name)
    try:
        yield spark, lambda: time.monotonic() - started
    finally:
        spark.stop()


@app.command("backfill")
def jobs_backfill() -> None:
    """Rebuild silver, gold and the user features from bronze with Spark
    (FITSTREAM_SPARK__MASTER, local[2] by default) into silver.workouts_backfill,
    gold.user_daily_backfill and features.user_features_backfill, and say whether they
    equal what the stream wrote. Exits 1 if they differ."""
    from jobs.backfill import iter_report, run_backfill

    settings = get_settings()
    with _spark_job(settings, "fitstream-backfill") as (spark, elapsed), console.status(
            "backfilling silver, gold and features from bronze"):
        report = run_backfill(settings, spark)
    table = Table(title=f"backfill ({elapsed():.1f} s)", show_header=False)
    for label, value in iter_report(report):
        table.add_row(label, value)
    console.print(table)
    differing = {name: report[name]["differing_keys"] for name in ("silver", "gold", "features")
                 if not report[name]["equal"]}
    if differing:
        console.print(f"[red]differing keys: {differing}[/red]")
        raise typer.Exit(1)


@app.command("training-set")
def jobs_training_set() -> None:
    """Build the weekly-distance training set with Spark: a snapshot per user and UTC
    midnight, the user's features as of then (point in time, from
    features.user_features) and the label, metres in the next 7 days (from
    silver.workouts), into features.weekly_distance_training (Delta)."""
    from jobs.training_set import LABEL, build_training_set

    settings = get_settings()
    with _spark_job(settings, "fitstream-training-set") as (spark, elapsed), console.status(
            "joining features point in time with next-week labels"):
        report = build_training_set(settings, spark)
    table = Table(title=f"training set ({elapsed():.1f} s)", show_header=False)
    table.add_column()
    table.add_column(overflow="fold")
    day = "%Y-%m-%d"
    for label, value in (
            ("rows (one per user and day)", f"{report['rows']:,}"), ("users", f"{report['users']:,}"),
            ("snapshots", f"{datetime.fromtimestamp(report['first'] / 1000, UTC):{day}} to "
                          f"{datetime.fromtimestamp(report['last'] / 1000, UTC):{day}}"),
            (f"mean {LABEL}", f"{report['mean_label']:,.1f}"),
            ("rows with a zero label", f"{report['zero_labels']:,}"),
            ("table", report["table"])):
        table.add_row(label, value)
    console.print(table)


@app.command("compact")
def jobs_compact(
    retention_hours: Annotated[int, typer.Option(
        min=0, help="Vacuum files no version of the last N hours needs. Under 168 (Delta's "
                    "7 days) gives up time travel that far back.")] = 168,
) -> None:
    """Optimize (bin-pack the streaming sinks' small files) and vacuum every lakehouse
    table. No row changes; a running sink may go on writing meanwhile."""
    from jobs.compact import compact

    with console.status("compacting the lakehouse"):
        report = compact(get_settings(), retention_hours)
    table = Table("table", "files before", "files after", "rows", "vacuumed",
                  title="lakehouse compaction")
    for row in report:
        table.add_row(row["table"], f"{row['files_before']:,}", f"{row['files_after']:,}",
                      f"{row['rows_after']:,}", f"{row['files_vacuumed']:,}")
    console.print(table)


@contextmanager
def _store_for_a_job(settings):
    """The ClickHouse store, for a job that writes to it; exits with the reason if it
    cannot be opened (embedded chdb is held by the API process while that runs)."""
    from stores.clickhouse.store import open_store

    try:
        store = open_store(settings)
    except Exception as exc:
        console.print(f"[red]cannot open ClickHouse ({exc}); with embedded chdb, stop the "
                      "process that owns it (the API) first[/red]")
        raise typer.Exit(1) from exc
    try:
        yield store
    finally:
        store.close()


@app.command("gdpr-erase")
def jobs_gdpr_erase(
    user: Annotated[str, typer.Option(help="The user to erase.")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    processor_timeout: Annotated[float, typer.Option(
        help="Seconds to wait for the processor to apply the erasure, and then for the "
             "view sinks to settle.")] = 60.0,
) -> None:
    """Erase USER while the system runs: publish the erasure event (the processor drops
    the user's state and, like the sinks and replays, skips their records up to now),
    then delete them from every Delta table (then vacuum), every ClickHouse view table
    (the notification inbox included; with embedded chdb through the API process that
    owns it) and the Feast online store; report the rows per store. See
    jobs/gdpr_erase.py."""
    from fitstream.domain.identifiers import InvalidIdentifier, check_id
    from jobs.gdpr_erase import erase_user

    try:
        check_id("user_id", user)  # ids reach Delta predicates: refuse before anything runs
    except InvalidIdentifier as exc:
        raise typer.BadParameter(str(exc), param_hint="--user") from exc
    if not yes:
        typer.confirm(f"erase {user} from the lakehouse, ClickHouse and Feast? This cannot be "
                      "undone",
                      abort=True)
    settings = get_settings()
    try:
        with console.status(f"erasing {user}"):
            report = erase_user(settings, user, processor_timeout)
    except RuntimeError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    table = Table("store", "table", "rows deleted", title=f"gdpr-erase {user}")
    erasure = report["erasure"]
    table.add_row("kafka", "erasure event", f"erased_at {erasure['erased_at']}")
    table.add_row("key store", "data key", "deleted" if erasure["data key deleted"] else
                  "none held")
    table.add_row("processor", "state", "dropped" if erasure["processor state dropped"] else
                  "not confirmed in time: it is applied when the processor runs")
    for store_name in ("delta", "clickhouse", "feast online"):
        for name, rows in report[store_name].items():
            table.add_row(store_name, name, f"{rows:,}")
    table.add_row("kafka log", "", report["kafka log"])
    console.print(table)


@app.command("coordinates-ttl")
def jobs_coordinates_ttl() -> None:
    """Remove the route coordinates of workouts older than six months from bronze (old
    partitions rewritten, then vacuumed) and from ClickHouse (routes emptied, samples'
    lat/lon zeroed); distances, times, heart rates and every aggregate stay.

    With embedded chdb the store must not be open elsewhere (stop the API first)."""
    from jobs.coordinates_ttl import coordinates_ttl

    settings = get_settings()
    with _store_for_a_job(settings) as store, console.status("removing old coordinates"):
        report = coordinates_ttl(settings, store)
    table = Table("store", "rows", title=f"coordinates-ttl (before {report['cutoff']})")
    for name in ("bronze_events", "workout_routes", "workout_samples"):
        table.add_row(name, f"{report[name]:,}")
    console.print(table)


@app.command("fleet-lakehouse")
def jobs_fleet_lakehouse(
    users: Annotated[int, typer.Option(min=1, help="Simulated users.")] = 100,
    days: Annotated[int, typer.Option(min=1, help="Days of activity.")] = 28,
    seed: Annotated[int, typer.Option(help="Same seed, same tables.")] = 42,
) -> None:
    """Simulate a fleet and put it straight into the lakehouse and Feast, no broker:
    the pipeline core replays each user in process, then silver.workouts,
    gold.user_daily, features.user_features and features.weekly_distance_training are
    replaced (Delta), Feast's definitions applied and its online store given each user's
    latest row. For training models, the notebooks and benchmarks (jobs/fleet_lakehouse.py)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from jobs.fleet_lakehouse import build_fleet_lakehouse

    settings = get_settings()
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console) as bar:
        tasks: dict[str, int] = {}

        def on_progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total or None)
            bar.update(tasks[stage], completed=done, total=total or None)

        report = build_fleet_lakehouse(settings, users, days, seed, progress=on_progress)
    table = Table(title=f"fleet lakehouse: {users} users x {days} days, seed {seed} "
                        f"({report['seconds']['total']:.1f} s)", show_header=False)
    for label, value in (("records simulated", report["records"]),
                         ("workouts (completed)", f"{report['workouts']:,} ({report['completed']:,})"),
                         ("dead letters", report["rejections"]),
                         *((f"rows in {name}", rows) for name, rows in report["tables"].items()),
                         ("users in the online store", report["online_users"]),
                         ("mean next-7-days label (m)", f"{report['mean_label_m']:,.1f}"),
                         *((f"seconds: {stage}", seconds)
                           for stage, seconds in report["seconds"].items())):
        table.add_row(label, f"{value:,}" if isinstance(value, int) else str(value))
    console.print(table)
