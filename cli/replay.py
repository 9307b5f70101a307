"""``fitstream replay``: rebuild every view from offset 0 of the log into a fresh store.

The replay runs a processor under a new application id (fresh state tables and
changelogs), writes its outputs to topics of its own, and sinks them (with the
log's other sources: notification reads, deliveries and preferences) into a fresh
ClickHouse database (server) or data directory (chdb), which this process owns
while it runs. It finishes when the processor has consumed the log as it stood
at the start and every sink has written all its topic holds, then prints the row
count of each table.
"""

from __future__ import annotations

import time
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from cli.common import configure_observability
from cli.common import console as stderr_console
from fitstream.settings import FitStreamSettings, get_settings

REPLAY_TIMEOUT_S = 3600

app = typer.Typer()


@app.command()
def replay(
    name: Annotated[str, typer.Option(help="Names the replay's state, topics and store.")]
    = "",
) -> None:
    """Rebuild every view from offset 0 of the log into a fresh store, and count its rows."""
    configure_observability("replay")
    run_replay(get_settings(), name or time.strftime("%Y%m%dT%H%M%S"), stderr_console)


def replay_settings(settings: FitStreamSettings, name: str) -> FitStreamSettings:
    """Where a replay called ``name`` keeps its state, topics and store."""
    suffix = f"replay-{name}"
    kafka = settings.kafka.model_copy(update={
        topic: f"{getattr(settings.kafka, topic)}.{suffix}"
        for topic in ("dlq_topic", "summaries_topic", "leaderboard_topic",
                      "achievements_topic", "achievement_progress_topic", "routes_topic",
                      "board_completions_topic", "notifications_topic", "features_topic",
                      "claims_topic")})
    clickhouse = settings.clickhouse.model_copy(update={
        "database": f"{settings.clickhouse.database}_{suffix.replace('-', '_')}",
        "chdb_path": settings.clickhouse.chdb_path.with_name(
            f"{settings.clickhouse.chdb_path.name}-{suffix}")})
    return settings.model_copy(update={
        "kafka": kafka, "clickhouse": clickhouse,
        "processor": settings.processor.model_copy(update={
            "app_id": f"{settings.processor.app_id}-{suffix}", "commit_interval_s": 1.0,
            "web_enabled": False,
            # A Flink replay resumes from its own checkpoints only, never the live job's.
            "flink": settings.processor.flink.model_copy(update={
                "checkpoint_dir": f"{settings.processor.flink.checkpoint_dir.rstrip('/')}"
                                  f"-{suffix}"})}),
        "sink": settings.sink.model_copy(update={"group_id": f"{settings.sink.group_id}-{suffix}"}),
    })


def run_replay(settings: FitStreamSettings, name: str, console: Console) -> dict[str, int]:
    """Rebuild every view under ``name``; returns the row count of each table."""
    # Imported here: every other command starts without the store and the Kafka clients.
    from cli.dev.local_stack import LocalStack
    from fitstream.contracts import AvroSerde, registry_from_settings
    from fitstream.kafka.positions import LogPosition, caught_up
    from fitstream.kafka.topics import create_topics
    from sinks.clickhouse.topic_sink import ViewSinks
    from stores.clickhouse.store import open_store
    from stores.clickhouse.tables import apply_ddl, sink_groups, view_tables

    target = replay_settings(settings, name)
    create_topics(target)
    store = open_store(target)
    apply_ddl(store)
    serde = AvroSerde(registry_from_settings(target.schema_registry))
    position = LogPosition(target.kafka)
    events = target.kafka.events_topic
    goal = position.ends(events)
    stack = LocalStack()
    sinks = ViewSinks(target, store, serde)
    try:
        stack.start(target, "replay-processor", "process")
        sinks.start()
        with Progress(TextColumn("[bold]replaying"), BarColumn(), MofNCompleteColumn(),
                      TextColumn("records"), TimeElapsedColumn(), console=console) as progress:
            task = progress.add_task("replay", total=sum(goal.values()))
            deadline = time.monotonic() + REPLAY_TIMEOUT_S
            while time.monotonic() < deadline:
                stack.check()
                done = position.committed(events, target.processor.consumer_group)
                progress.update(task, completed=sum(min(done.get(p, 0), end)
                                                    for p, end in goal.items()))
                if caught_up(position, events, target.processor.consumer_group, sink_groups(target),
                             goal):
                    break
                time.sleep(1)
            else:
                raise RuntimeError(f"the replay did not finish within {REPLAY_TIMEOUT_S}s")
        counts = {view.table: store.query(
            f"SELECT count() AS n FROM {store.database}.{view.table} FINAL")[0]["n"]
            for view in view_tables(target)}
    finally:
        stack.stop()
        sinks.stop()
        position.close()
        store.close()
    table = Table("table", "rows", title=f"replay {name!r} into {target.clickhouse.database}"
                  if target.clickhouse.backend == "server" else
                  f"replay {name!r} into {target.resolve(target.clickhouse.chdb_path)}")
    for name_, rows in counts.items():
        table.add_row(name_, f"{rows:,}")
    console.print(table)
    return counts
