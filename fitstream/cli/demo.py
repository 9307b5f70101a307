"""``fitstream demo``: the whole pipeline on the embedded defaults, in one command.

Broker, topics, processor and API (with the ClickHouse sink) start fresh under
``<state_dir>/demo``; a simulated fleet is produced; the demo waits until every
completed workout in the log is visible through the API and prints what it
materialised. Child processes log to ``<state_dir>/demo/logs``.
"""

from __future__ import annotations

import shutil
import time

import httpx
from confluent_kafka import Consumer, TopicPartition
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from fitstream.contracts import AvroSerde, registry_from_settings
from fitstream.domain.windows import LeaderboardWindow
from fitstream.kafka import embedded_broker
from fitstream.kafka.clients import consumer_config
from fitstream.kafka.topics import create_topics, partition_count
from fitstream.local_stack import LocalStack, api_url, logs_dir, wait_for_api
from fitstream.settings import FitStreamSettings
from fitstream.simulator.fleet import ChaosKnobs, FleetSpec

DEMO_START_MS = 1_793_577_600_000  # 2026-11-02 00:00 UTC, a Monday
VISIBILITY_TIMEOUT_S = 900


def dead_letter_count(settings: FitStreamSettings) -> int:
    consumer = Consumer(consumer_config(settings.kafka, "fitstream-demo-inspect"))
    try:
        topic = settings.kafka.dlq_topic
        total = 0
        for p in range(partition_count(settings.kafka, topic)):
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            total += high - low
        return total
    finally:
        consumer.close()


def wait_until_visible(url: str, workout_ids: list[str], console: Console,
                       stack: LocalStack) -> int:
    """Poll the API until every workout id is visible as completed; returns their count."""
    remaining = set(workout_ids)
    deadline = time.monotonic() + VISIBILITY_TIMEOUT_S
    with httpx.Client(base_url=url, timeout=10) as client, Progress(
            TextColumn("[bold]materialising"), BarColumn(), MofNCompleteColumn(),
            TextColumn("completed workouts visible"), TimeElapsedColumn(),
            console=console) as progress:
        task = progress.add_task("visible", total=len(workout_ids))
        while remaining and time.monotonic() < deadline:
            stack.check()
            for workout_id in sorted(remaining):
                response = client.get(f"/api/v1/workouts/{workout_id}")
                if response.status_code == 200 and response.json()["status"] == "completed":
                    remaining.discard(workout_id)
                    progress.advance(task)
                elif response.status_code == 404:
                    break  # the sink is behind; ask again shortly
            if remaining:
                time.sleep(0.5)
    if remaining:
        raise RuntimeError(f"{len(remaining)} completed workouts never became visible")
    return len(workout_ids)


def print_views(url: str, spec: FleetSpec, console: Console) -> None:
    """The weekly distance top 5 of the fleet's last full week, and achievements unlocked."""
    last_week = LeaderboardWindow.WEEK.period_of(spec.start_ms + (spec.days - 1) * 86_400_000)
    with httpx.Client(base_url=url, timeout=10) as client:
        board = client.get("/api/v1/leaderboards/distance",
                           params={"window": "week", "period": last_week, "limit": 5}).json()
        top = Table("rank", "user", "km", "workouts",
                    title=f"leaderboard: distance, week {last_week}, all sports")
        for row in board["entries"]:
            top.add_row(str(row["rank"]), row["user_id"], f"{row['value'] / 1000:,.1f}",
                        str(row["workouts"]))
        console.print(top)
        unlocked: dict[str, int] = {}
        for user in range(spec.users):
            listing = client.get(f"/api/v1/users/user-{user:05d}/achievements").json()
            for achievement in listing["achievements"]:
                if achievement["achieved_at"]:
                    unlocked[achievement["title"]] = unlocked.get(achievement["title"], 0) + 1
        achievements = Table("achievement", "users", title="achievements unlocked")
        for title, users in sorted(unlocked.items(), key=lambda kv: -kv[1]):
            achievements.add_row(title, str(users))
        console.print(achievements)


def run_demo(base: FitStreamSettings, console: Console, *, users: int, days: int, seed: int,
             once: bool) -> int:
    from fitstream.cli.main import run_simulation

    state_dir = base.state_dir / "demo"
    settings = base.model_copy(update={"state_dir": state_dir})
    embedded_broker.stop(settings)
    if state_dir.exists():
        console.print(f"starting fresh: removing {state_dir}")
        shutil.rmtree(state_dir)
    state_dir.mkdir(parents=True)
    stack = LocalStack()
    url = api_url(settings)
    try:
        status = embedded_broker.start(settings)
        console.print(f"broker on {status.address}")
        create_topics(settings)
        stack.start(settings, "processor", "process")
        stack.start(settings, "api", "serve")
        wait_for_api(settings, stack)
        console.print(f"API on {url} (docs: {url}/docs); processor and sink running; "
                      f"logs in {logs_dir(settings)}")
        spec = FleetSpec(users, days, seed, DEMO_START_MS, ChaosKnobs())
        serde = AvroSerde(registry_from_settings(settings.schema_registry))
        started = time.monotonic()
        tally = run_simulation(settings, spec, serde, None)
        visible = wait_until_visible(url, tally.completed_ids, console, stack)
        elapsed = time.monotonic() - started
        dlq = dead_letter_count(settings)
        table = Table(title="FitStream demo: what was materialised", show_header=False)
        for label, value in (
            ("records produced", f"{tally.records:,}"),
            ("telemetry samples", f"{tally.samples:,}"),
            ("workouts simulated", f"{tally.workouts:,} ({tally.completed} completed, "
                                   f"{tally.cancelled} cancelled)"),
            ("injected", f"{tally.duplicates} duplicates, {tally.malformed} malformed, "
                         f"{tally.late_workouts} late workouts"),
            ("completed workouts visible through the API", f"{visible:,}"),
            ("dead-letter records", f"{dlq:,}"),
            ("end-to-end throughput", f"{tally.records / elapsed:,.0f} records/s · "
                                      f"{tally.samples / elapsed:,.0f} samples/s "
                                      f"({elapsed:.1f} s, produce to visible)"),
        ):
            table.add_row(label, value)
        console.print(table)
        print_views(url, spec, console)
        console.print(f"API: {url}  ·  OpenAPI: {url}/docs  ·  try: "
                      f"curl {url}/api/v1/users/user-00000/workouts?limit=3", soft_wrap=True)
        if not once:
            console.print("serving; press Ctrl-C to stop")
            while True:
                stack.check()
                time.sleep(1)
        return 0
    except KeyboardInterrupt:
        return 0
    except RuntimeError as exc:
        console.print(f"[red]demo failed: {exc}[/red]")
        return 1
    finally:
        stack.stop()
        embedded_broker.stop(settings)
