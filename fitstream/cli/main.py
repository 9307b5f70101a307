"""FitStream: run, feed and inspect the platform.

Every command reads one settings object from FITSTREAM_* environment variables
(nested with __, e.g. FITSTREAM_CLICKHOUSE__BACKEND=server); `fitstream settings`
prints what is in force.
"""

from __future__ import annotations

from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from fitstream.settings import get_settings

if TYPE_CHECKING:
    pass

app = typer.Typer(help=__doc__, no_args_is_help=True, rich_markup_mode="rich",
                  pretty_exceptions_show_locals=False)
broker_app = typer.Typer(help="The embedded Kafka-wire broker (noida-db) for local runs.",
                         no_args_is_help=True)
topics_app = typer.Typer(help="Kafka topics.", no_args_is_help=True)
devices_app = typer.Typer(help="Device credentials for ingest.", no_args_is_help=True)
users_app = typer.Typer(help="User credentials for the API.", no_args_is_help=True)
analysts_app = typer.Typer(help="Analyst credentials for read-only SQL.", no_args_is_help=True)
jobs_app = typer.Typer(help="Batch jobs over the lakehouse (PySpark).", no_args_is_help=True)
features_app = typer.Typer(help="The Feast feature store (feature_repo/).",
                           no_args_is_help=True)
app.add_typer(broker_app, name="broker")
app.add_typer(topics_app, name="topics")
app.add_typer(devices_app, name="devices")
app.add_typer(users_app, name="users")
app.add_typer(analysts_app, name="analysts")
app.add_typer(jobs_app, name="jobs")
app.add_typer(features_app, name="features")

console = Console(stderr=True)


def _configure_logs(service: str) -> None:
    from fitstream.observability.logs import configure_logging

    configure_logging(service, get_settings().log_level)


@app.command("settings")
def show_settings() -> None:
    """Print the settings in force (secrets masked)."""
    typer.echo(get_settings().model_dump_json(indent=2))


@broker_app.command("start")
def broker_start() -> None:
    """Start the broker in the background and wait until it answers."""
    from fitstream.kafka import embedded_broker

    try:
        status = embedded_broker.start(get_settings())
    except embedded_broker.BrokerError as exc:
        console.print(f"[red]broker: {exc}[/red]")
        raise typer.Exit(1) from exc
    console.print(f"broker running on {status.address} (pid {status.pid}, data {status.data_dir})")


@broker_app.command("stop")
def broker_stop() -> None:
    """Stop the broker and wait for its process to exit (data is kept)."""
    from fitstream.kafka import embedded_broker

    stopped = embedded_broker.stop(get_settings())
    console.print("broker stopped" if stopped else "broker was not running")


@broker_app.command("status")
def broker_status() -> None:
    """Say whether the broker runs; exit 1 if it does not."""
    from fitstream.kafka import embedded_broker

    status = embedded_broker.status(get_settings())
    if status.running:
        console.print(f"running on {status.address} (pid {status.pid}, data {status.data_dir})")
    else:
        console.print(f"not running (data {status.data_dir})")
        raise typer.Exit(1)


@topics_app.command("create")
def topics_create() -> None:
    """Create every topic with its partition count (existing ones are left alone)."""
    from fitstream.kafka.topics import create_topics, topic_specs

    settings = get_settings()
    outcome = create_topics(settings)
    table = Table("topic", "partitions", "outcome", "purpose")
    for spec in topic_specs(settings):
        table.add_row(spec.name, str(spec.partitions), outcome[spec.name], spec.purpose)
    console.print(table)


def _signing_keys():
    """The key ring of the settings; warns on stderr when it holds the public default
    secret (an API outside the demo and the tests refuses to start with it)."""
    from api.tokens import TokenKeys

    keys = TokenKeys.from_settings(get_settings().api)
    if keys.uses_default_secret():
        console.print("[yellow]warning: signed with the public default secret; set "
                      "FITSTREAM_API__TOKEN_SECRET for anything but the local demo[/yellow]")
    return keys


def _checked_id(field: str, value: str) -> str:
    from fitstream.domain.identifiers import InvalidIdentifier, check_id

    try:
        return check_id(field, value)
    except InvalidIdentifier as exc:
        raise typer.BadParameter(str(exc), param_hint=f"--{field}") from exc


@devices_app.command("token")
def devices_token(
    user: Annotated[str, typer.Option(help="The user the device records for.")],
    device: Annotated[str, typer.Option(help="The device id.")],
) -> None:
    """Issue a bearer token that lets DEVICE send events for USER (valid
    api.device_token_ttl_s; revoke it with `fitstream devices revoke`)."""
    from api.tokens import issue_device_token

    token = issue_device_token(_signing_keys(), _checked_id("user", user),
                               _checked_id("device", device),
                               get_settings().api.device_token_ttl_s)
    typer.echo(token)


@devices_app.command("revoke")
def devices_revoke(
    jti: Annotated[str | None, typer.Option(help="Revoke the one token with this jti.")]
    = None,
    device: Annotated[str | None, typer.Option(
        help="Revoke every token of this device (of --user) issued until now.")] = None,
    user: Annotated[str | None, typer.Option(
        help="The user whose device --device is (device ids are not unique).")] = None,
    reason: Annotated[str, typer.Option(help="Kept with the revocation.")] = "",
    lift: Annotated[bool, typer.Option("--lift", help="Undo an earlier revocation.")]
    = False,
) -> None:
    """Revoke device tokens on the revocation topic; every API serving ingest refuses
    them (401) within a poll interval. A token issued after a --device revocation works."""
    from api.revocations import device_key, jti_key, publish_revocation

    if (jti is None) == (device is None):
        raise typer.BadParameter("give exactly one of --jti and --device")
    if (device is None) != (user is None):
        raise typer.BadParameter("--device needs --user, and --user goes with --device")
    key = (jti_key(jti) if jti is not None
           else device_key(_checked_id("user", user), _checked_id("device", device)))
    try:
        value = publish_revocation(get_settings(), key, revoked=not lift, reason=reason)
    except Exception as exc:
        console.print(f"[red]revocation not recorded: {exc}[/red]")
        raise typer.Exit(1) from exc
    console.print(f"{'lifted' if lift else 'revoked'} {key.decode()} at {value['revoked_at']}")


@users_app.command("token")
def users_token(
    user: Annotated[str, typer.Option(help="The user the token signs in.")],
) -> None:
    """Issue a bearer token with which USER reads their own private views (valid
    api.user_token_ttl_s: hours, since user tokens cannot be revoked)."""
    from api.tokens import issue_user_token

    typer.echo(issue_user_token(_signing_keys(), _checked_id("user", user),
                                get_settings().api.user_token_ttl_s))


@analysts_app.command("token")
def analysts_token(
    name: Annotated[str, typer.Option(help="Who the token is for (kept in the token).")],
) -> None:
    """Issue a bearer token for POST /api/v1/analytics/sql (what `fitstream sql` uses),
    valid api.analyst_token_ttl_s."""
    from api.tokens import issue_analyst_token

    typer.echo(issue_analyst_token(_signing_keys(), name,
                                   get_settings().api.analyst_token_ttl_s))


@app.command()
def sql(
    statement: Annotated[str, typer.Argument(help="One read-only statement, e.g. SELECT ...")],
    output: Annotated[str, typer.Option(
        "--format", help="table, csv or json (one object per row).")] = "table",
) -> None:
    """Run read-only SQL on the view tables and print the result.

    With a ClickHouse server (FITSTREAM_CLICKHOUSE__BACKEND=server) it connects directly.
    With embedded chdb, which one process may open, the statement goes to the API
    process that owns the store (it must be running, e.g. `make demo`). Either way it
    runs with readonly=1. Tables are documented in docs/analytics.md."""
    from fitstream.cli.sql import print_result, run_statement

    if output not in ("table", "csv", "json"):
        raise typer.BadParameter("use table, csv or json", param_hint="--format")
    try:
        columns, rows = run_statement(get_settings(), statement)
    except RuntimeError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    print_result(columns, rows, output, console)


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


@jobs_app.command("backfill")
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


@jobs_app.command("training-set")
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


@jobs_app.command("compact")
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
    from sinks.clickhouse.store import open_store

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


@jobs_app.command("gdpr-erase")
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


@jobs_app.command("coordinates-ttl")
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


def _parse_day(value: str) -> int:
    try:
        day = datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError as exc:
        raise typer.BadParameter("use YYYY-MM-DD") from exc
    return int(day.timestamp() * 1000)


@app.command()
def simulate(
    users: Annotated[int, typer.Option(min=1, help="Simulated users, one device each.")] = 100,
    days: Annotated[int, typer.Option(min=1, help="Days of activity to simulate.")] = 14,
    seed: Annotated[int, typer.Option(help="Same seed, same log.")] = 42,
    rate: Annotated[float | None, typer.Option(help="Cap in records/s (default: no cap).")]
    = None,
    start_date: Annotated[str, typer.Option(help="First day, UTC (YYYY-MM-DD).")]
    = "2026-11-02",
    duplicate: Annotated[float, typer.Option(min=0, max=1, help="Share re-sent.")] = 0.01,
    out_of_order: Annotated[float, typer.Option(min=0, max=1, help="Share swapped.")] = 0.01,
    late: Annotated[float, typer.Option(min=0, max=1, help="Share of workouts synced hours late.")]
    = 0.02,
    malformed: Annotated[float, typer.Option(min=0, max=1, help="Share of garbage records.")]
    = 0.001,
) -> None:
    """Produce a deterministic fleet's workouts to the events topic."""
    from fitstream.contracts import AvroSerde, registry_from_settings
    from fitstream.simulator.fleet import ChaosKnobs, FleetSpec

    settings = get_settings()
    spec = FleetSpec(users, days, seed, _parse_day(start_date),
                     ChaosKnobs(duplicate, out_of_order, late, malformed))
    tally = run_simulation(settings, spec, AvroSerde(registry_from_settings(
        settings.schema_registry)), rate)
    table = Table("records", "events", "samples", "workouts", "completed", "cancelled",
                  "duplicates", "malformed", "late workouts", title="produced")
    table.add_row(*(str(v) for v in (tally.records, tally.events, tally.samples, tally.workouts,
                                     tally.completed, tally.cancelled, tally.duplicates,
                                     tally.malformed, tally.late_workouts)))
    console.print(table)


def run_simulation(settings, spec, serde, rate):
    from fitstream.simulator.producer import produce_fleet

    with Progress(TextColumn("[bold]simulating"), BarColumn(), TextColumn(
            "{task.fields[records]} records · {task.fields[samples]} samples"),
            TimeElapsedColumn(), console=console, transient=False) as progress:
        task = progress.add_task("simulate", total=None, records=0, samples=0)

        def on_progress(tally):
            progress.update(task, records=tally.records, samples=tally.samples)

        return produce_fleet(settings, spec, serde, rate, on_progress)


@app.command()
def process() -> None:
    """Run the workout-session processor (a Faust worker; scale out with more of them).

    Its Prometheus metrics are on http://127.0.0.1:<processor.web_port>/metrics."""
    from faust.worker import Worker

    from streams.faust.workout_sessions import build

    settings = get_settings()
    _configure_logs("processor")
    wiring = build(settings)
    # override_logging=False keeps the JSON logs configured above.
    Worker(wiring.app, loglevel=settings.log_level.lower(), quiet=True,
           redirect_stdouts=False, override_logging=False).execute_from_commandline()


@app.command()
def serve(
    ingest: Annotated[bool, typer.Option(help="Serve device ingest.")] = True,
    reads: Annotated[bool, typer.Option(help="Serve the read models.")] = True,
    sink: Annotated[bool, typer.Option(help="Run the ClickHouse sink in this process.")] = True,
) -> None:
    """Run the HTTP API (and, by default, the ClickHouse sink that owns the embedded store)."""
    from api.serve import serve as run_api

    _configure_logs("api")
    run_api(get_settings(), ingest=ingest, reads=reads, sink=sink)


@app.command("sink")
def sink_command() -> None:
    """Run the ClickHouse sinks alone (for deployments with a ClickHouse server)."""
    from sinks.clickhouse.topic_sink import run_sinks

    _configure_logs("sink")
    run_sinks(get_settings())


@app.command()
def lakehouse() -> None:
    """Run the Delta Lake sinks: bronze events and dead letters, silver workouts, gold
    daily totals and the offline features, each exactly once (progress is kept in the
    Delta log); and the Feast online writer (user features, through the push source).

    Tables live under FITSTREAM_LAKEHOUSE__ROOT (a directory, or s3://...); the online
    store is FITSTREAM_FEAST__ONLINE_STORE (sqlite or redis)."""
    from sinks.delta.topic_sink import run_lakehouse

    _configure_logs("lakehouse")
    run_lakehouse(get_settings())


@app.command()
def deliver() -> None:
    """Run the notification delivery worker: notifications.v1 to push, email and SMS.

    Channels come from FITSTREAM_NOTIFICATIONS__* settings (push_webhook_url,
    smtp_host, sms_gateway_url); a channel left empty records its deliveries as
    unreachable. Failed sends retry with backoff, then go to notifications.dlq.v1."""
    from sinks.notifications.delivery_worker import run_delivery_worker

    _configure_logs("delivery")
    run_delivery_worker(get_settings())


@app.command("local-channels")
def local_channels(
    http_port: Annotated[int, typer.Option(help="Push and SMS gateway port.")] = 18080,
    smtp_port: Annotated[int, typer.Option(help="SMTP port.")] = 12525,
) -> None:
    """Run local stand-ins for the push gateway, SMS gateway and SMTP server, which log
    what they receive (point FITSTREAM_NOTIFICATIONS__* at them)."""
    import threading

    from fitstream.local_channels import LocalChannels

    settings = get_settings()
    channels = LocalChannels(http_port=http_port, smtp_port=smtp_port,
                             log_path=settings.state_dir / "channels-received.jsonl")
    channels.start()
    for name, value in channels.settings_update().items():
        console.print(f"FITSTREAM_NOTIFICATIONS__{name.upper()}={value}")
    console.print(f"received messages: {channels.received.path}")
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        channels.stop()


@app.command()
def replay(
    name: Annotated[str, typer.Option(help="Names the replay's state, topics and store.")]
    = "",
) -> None:
    """Rebuild every view from offset 0 of the log into a fresh store, and count its rows."""
    import time

    from fitstream.cli.replay import run_replay

    _configure_logs("replay")
    run_replay(get_settings(), name or time.strftime("%Y%m%dT%H%M%S"), console)


@app.command()
def demo(
    once: Annotated[bool, typer.Option("--once", envvar="DEMO_ONCE",
                                       help="Exit after the summary instead of serving.")]
    = False,
    users: Annotated[int, typer.Option(min=1)] = 100,
    days: Annotated[int, typer.Option(min=1)] = 14,
    seed: Annotated[int, typer.Option()] = 42,
) -> None:
    """Run everything on the embedded defaults and print what was materialised."""
    from fitstream.cli.demo import run_demo

    raise typer.Exit(run_demo(get_settings(), console, users=users, days=days, seed=seed,
                              once=once))


if __name__ == "__main__":
    app()


@features_app.command("apply")
def features_apply() -> None:
    """Register feature_repo/'s entity, view, push source and feature services in the
    registry of these settings (what `feast apply` does, with FITSTREAM_* settings)."""
    from sinks.feast.store import apply_definitions

    names = apply_definitions(get_settings())
    console.print(f"applied {len(names)} Feast objects: {', '.join(names)}")


@features_app.command("online")
def features_online(
    user: Annotated[str, typer.Option(help="The user id, e.g. user-00000.")],
    service: Annotated[str, typer.Option(
        help="A feature service; empty: every feature of the user_features view.")] = "",
) -> None:
    """Print one user's online feature vector, as a model would be served it."""
    from fitstream.cli.demo import online_feature_table

    console.print(online_feature_table(get_settings(), user, service or None))
