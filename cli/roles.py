"""The long-running roles: ``fitstream process``, ``serve``, ``sink``, ``lakehouse``,
``score``, ``deliver``, and ``local-channels`` (local stand-ins for the notification providers).
Each is one process; README "Roles and how they run" says where each runs."""

from __future__ import annotations

import os
from enum import StrEnum
from typing import Annotated, NoReturn

import typer

from cli.common import configure_observability, console
from fitstream.settings import REPO_ROOT, FitStreamSettings, get_settings

app = typer.Typer()


class Engine(StrEnum):
    faust = "faust"
    flink = "flink"


@app.command()
def process(
    engine: Annotated[Engine | None, typer.Option(
        help="The stream processor: Faust workers, or a Flink job (the Flink venv, "
             "`make flink-venv`). Default: FITSTREAM_PROCESSOR__ENGINE, else faust.")] = None,
    bounded: Annotated[bool, typer.Option(
        help="Flink only: stop at the end offsets the log has at start.")] = False,
    fresh: Annotated[bool, typer.Option(
        help="Flink only: ignore retained checkpoints and read the log from offset 0.")]
    = False,
) -> None:
    """Run the workout-session processor: the pipeline core under Faust (scale out with
    more workers) or under Flink (one job; FITSTREAM_PROCESSOR__FLINK__* set its
    parallelism, checkpoints and delivery; a start resumes from the newest checkpoint).
    Both write the same records to the same topics.

    Its Prometheus metrics are on http://127.0.0.1:<processor.web_port>/metrics."""
    settings = get_settings()
    if engine is not None:
        settings = settings.model_copy(update={"processor": settings.processor.model_copy(
            update={"engine": engine.value})})
    if settings.processor.engine == "flink":
        run_flink_job(settings, bounded=bounded, fresh=fresh)
    if bounded or fresh:
        raise typer.BadParameter("--bounded and --fresh are for the Flink engine")
    from faust.worker import Worker

    from fitstream.gc_policy import settle_after_start
    from streams.faust.workout_sessions import build

    configure_observability("processor")
    wiring = build(settings)
    settle_after_start()
    # override_logging=False keeps the JSON logs configured above.
    Worker(wiring.app, loglevel=settings.log_level.lower(), quiet=True,
           redirect_stdouts=False, override_logging=False).execute_from_commandline()


def run_flink_job(settings: FitStreamSettings, bounded: bool, fresh: bool) -> NoReturn:
    """Become the Flink job (streams/flink/job.py) in the Flink venv's interpreter, with
    exactly these settings: the app venv cannot import pyflink (its pins conflict)."""
    python = settings.processor.flink.python
    python = python if python.is_absolute() else REPO_ROOT / python
    if not python.exists():
        console.print(f"[red]The Flink venv's interpreter {python} is missing: run "
                      "`make flink-venv` (or set FITSTREAM_PROCESSOR__FLINK__PYTHON).[/red]")
        raise typer.Exit(2)
    args = [str(python), "-m", "streams.flink.job", *(["--bounded"] if bounded else []),
            *(["--fresh"] if fresh else [])]
    env = {k: v for k, v in os.environ.items() if not k.startswith("FITSTREAM_")}
    os.execve(str(python), args, {**env, **settings.to_env()})


@app.command()
def serve(
    ingest: Annotated[bool, typer.Option(help="Serve device ingest.")] = True,
    reads: Annotated[bool, typer.Option(help="Serve the read models.")] = True,
    sink: Annotated[bool, typer.Option(help="Run the ClickHouse sink in this process.")] = True,
) -> None:
    """Run the HTTP API (and, by default, the ClickHouse sink that owns the embedded store)."""
    from cli.serve import serve as run_api

    configure_observability("api")
    run_api(get_settings(), ingest=ingest, reads=reads, sink=sink)


@app.command("sink")
def sink_command() -> None:
    """Run the ClickHouse sinks alone (for deployments with a ClickHouse server).

    Its Prometheus metrics are on http://<metrics.host>:<metrics.sink_port>/metrics."""
    from fitstream.observability.metrics_server import serve_role_metrics
    from sinks.clickhouse.topic_sink import run_sinks

    configure_observability("sink")
    serve_role_metrics(get_settings(), "sink")
    run_sinks(get_settings())


@app.command()
def lakehouse() -> None:
    """Run the Delta Lake sinks: bronze events and dead letters, silver workouts, gold
    daily totals and the offline features, each exactly once (progress is kept in the
    Delta log); and the Feast online writer (user features, through the push source).

    Tables live under FITSTREAM_LAKEHOUSE__ROOT (a directory, or s3://...); the online
    store is FITSTREAM_FEAST__ONLINE_STORE (sqlite or redis).

    Its Prometheus metrics are on http://<metrics.host>:<metrics.lakehouse_port>/metrics."""
    from fitstream.observability.metrics_server import serve_role_metrics
    from sinks.delta.topic_sink import run_lakehouse

    configure_observability("lakehouse")
    serve_role_metrics(get_settings(), "lakehouse")
    run_lakehouse(get_settings())


@app.command()
def score() -> None:
    """Run the scorer: each UserFeatures row on features.user.v1 (a completed workout) is
    scored by every model's registry @champion from Feast's online features, into the
    prediction topics (forecasts, race times, recommendations); rows it cannot score go
    to predictions.dlq.v1 with the reason. A moved @champion is picked up without a
    restart (every FITSTREAM_MODELS__SCORE_RELOAD_INTERVAL_S).

    Its Prometheus metrics are on http://<metrics.host>:<models.score_web_port>/metrics."""
    from streams.scoring.scorer import run_scorer

    configure_observability("scorer")
    run_scorer(get_settings())


@app.command()
def deliver() -> None:
    """Run the notification delivery worker: notifications.v1 to push, email and SMS.

    Channels come from FITSTREAM_NOTIFICATIONS__* settings (push_webhook_url,
    smtp_host, sms_gateway_url); a channel left empty records its deliveries as
    unreachable. Failed sends retry with backoff, then go to notifications.dlq.v1.

    Its Prometheus metrics are on http://<metrics.host>:<metrics.delivery_port>/metrics."""
    from delivery.worker import run_delivery_worker
    from fitstream.observability.metrics_server import serve_role_metrics

    configure_observability("delivery")
    serve_role_metrics(get_settings(), "delivery")
    run_delivery_worker(get_settings())


@app.command("local-channels")
def local_channels(
    http_port: Annotated[int, typer.Option(help="Push and SMS gateway port.")] = 18080,
    smtp_port: Annotated[int, typer.Option(help="SMTP port.")] = 12525,
) -> None:
    """Run local stand-ins for the push gateway, SMS gateway and SMTP server, which log
    what they receive (point FITSTREAM_NOTIFICATIONS__* at them)."""
    import threading

    from cli.dev.local_channels import LocalChannels

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
