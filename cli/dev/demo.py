"""``fitstream demo``: the whole pipeline on the embedded defaults, in one command.

Broker, topics, processor, API (with the ClickHouse sink) and the notification
delivery worker start fresh under ``<state_dir>/demo``; the channels point at
local stand-ins for the push gateway, SMS gateway and SMTP server
(:mod:`cli.dev.local_channels`). A simulated fleet is produced; the demo waits
until every completed workout in the log is visible through the API and every
notification has been delivered, and prints what it materialised. Child
processes log to ``<state_dir>/demo/logs``.
"""

from __future__ import annotations

import shutil
import time
from collections import Counter

import httpx
from confluent_kafka import Consumer, TopicPartition
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from cli.dev import embedded_broker
from cli.dev.local_channels import LocalChannels
from cli.dev.local_stack import LocalStack, logs_dir, wait_for_api
from cli.features import online_feature_table
from fitstream.api_client import api_url
from fitstream.contracts import AvroSerde, registry_from_settings
from fitstream.domain.windows import LeaderboardWindow
from fitstream.kafka.clients import consumer_config
from fitstream.kafka.positions import LogPosition, caught_up
from fitstream.kafka.topics import create_topics, partition_count
from fitstream.settings import FitStreamSettings
from fitstream.simulator.fleet import ChaosKnobs, FleetSpec
from fitstream.tokens import TokenKeys, issue_user_token
from stores.clickhouse.tables import sink_groups

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


def user_id(index: int) -> str:
    return f"user-{index:05d}"


def choose_channels(settings: FitStreamSettings, users: int) -> int:
    """Every tenth user also wants email and SMS (everyone else has the default, push)."""
    secret = TokenKeys.from_settings(settings.api)
    chosen = 0
    with httpx.Client(base_url=api_url(settings), timeout=10) as client:
        for index in range(0, users, 10):
            user = user_id(index)
            response = client.put(
                f"/api/v1/users/{user}/notification-preferences",
                headers={"Authorization": f"Bearer {issue_user_token(secret, user, 600)}"},
                json={"channels": ["push", "email", "sms"], "email": f"{user}@example.org",
                      "phone": f"+1555{index:07d}"})
            response.raise_for_status()
            chosen += 1
    return chosen


def wait_until_delivered(settings: FitStreamSettings, stack: LocalStack) -> None:
    """Until the processor, the delivery worker and every sink have committed the end of
    their topics, twice in a row (the processor commits every few seconds)."""
    position = LogPosition(settings.kafka)
    sinks = [*sink_groups(settings),
             (settings.kafka.notifications_topic, settings.notifications.group_id)]
    deadline = time.monotonic() + VISIBILITY_TIMEOUT_S
    try:
        settled = 0
        while settled < 2:
            stack.check()
            if time.monotonic() > deadline:
                raise RuntimeError("notifications were not all delivered in time")
            done = caught_up(position, settings.kafka.events_topic, settings.processor.app_id,
                             sinks)
            settled = settled + 1 if done else 0
            time.sleep(1)
    finally:
        position.close()


def wait_for_lakehouse(settings: FitStreamSettings, stack: LocalStack) -> None:
    """Until Delta holds every record of the lakehouse's topics, and the Feast online
    writer has pushed every feature row."""
    from sinks.delta.topic_sink import lakehouse_writers, records_behind

    position = LogPosition(settings.kafka)
    deadline = time.monotonic() + VISIBILITY_TIMEOUT_S
    try:
        writers = lakehouse_writers(settings)
        for writer in writers:
            writer.prepare()  # idempotent; the sink may not have created them yet
        topic, group = settings.kafka.features_topic, settings.feast.group_id

        def online_behind() -> bool:
            pushed = position.committed(topic, group)
            return any(end > pushed.get(p, 0) for p, end in position.ends(topic).items())

        while records_behind(writers, position.ends) or online_behind():
            stack.check()
            if time.monotonic() > deadline:
                raise RuntimeError("the lakehouse did not catch up in time")
            time.sleep(1)
    finally:
        position.close()


def print_lakehouse(settings: FitStreamSettings, console: Console) -> None:
    """Row counts of the Delta tables, and where they are."""
    from deltalake import DeltaTable

    from stores.delta.tables import (
        BRONZE_DEAD_LETTERS,
        BRONZE_EVENTS,
        GOLD_USER_DAILY,
        SILVER_WORKOUTS,
        USER_FEATURES,
    )

    table = Table("Delta table", "rows", "version",
                  title=f"lakehouse ({settings.lakehouse_root})")
    for name in (BRONZE_EVENTS, BRONZE_DEAD_LETTERS, SILVER_WORKOUTS, GOLD_USER_DAILY,
                 USER_FEATURES):
        delta = DeltaTable(settings.lakehouse_uri(name),
                           storage_options=settings.lakehouse.object_store_options())
        table.add_row(name, f"{delta.count():,}", str(delta.version()))
    console.print(table)


def print_notifications(settings: FitStreamSettings, users: int, console: Console,
                        channels: LocalChannels) -> None:
    """What each user's inbox holds, by kind, and the outcome on every external channel."""
    secret = TokenKeys.from_settings(settings.api)
    kinds: Counter[str] = Counter()
    outcomes: Counter[tuple[str, str]] = Counter()
    example = None
    with httpx.Client(base_url=api_url(settings), timeout=10) as client:
        for index in range(users):
            user = user_id(index)
            headers = {"Authorization": f"Bearer {issue_user_token(secret, user, 600)}"}
            cursor = None
            while True:
                page = client.get(f"/api/v1/users/{user}/notifications", headers=headers,
                                  params={"limit": 200, **({"cursor": cursor} if cursor else {})})
                page.raise_for_status()
                for item in page.json()["items"]:
                    kinds[item["kind"]] += 1
                    outcomes[("in_app", "delivered")] += 1
                    outcomes.update((d["channel"], d["status"]) for d in item["deliveries"])
                    example = example or item
                cursor = page.json()["next_cursor"]
                if cursor is None:
                    break
    table = Table("kind", "notifications", title="notifications sent (in-app inbox)")
    for kind, count in kinds.most_common():
        table.add_row(kind, f"{count:,}")
    console.print(table)
    delivery = Table("channel", "outcome", "deliveries", "received by the local provider",
                     title="deliveries")
    received = Counter(m["provider"] for m in channels.received.messages)
    provider = {"push": "push", "email": "smtp", "sms": "sms"}
    for (channel, status), count in sorted(outcomes.items()):
        delivery.add_row(channel, status, f"{count:,}",
                         f"{received[provider[channel]]:,}" if channel in provider else "")
    console.print(delivery)
    if example:
        console.print(f"for example, to {example['user_id']}: [bold]{example['title']}[/bold] "
                      f"{example['body']}")


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
    from cli.simulate import run_simulation

    state_dir = base.state_dir / "demo"
    # The embedded demo is the one deployment allowed the public default token secret.
    settings = base.model_copy(update={"state_dir": state_dir,
                                       "allow_default_token_secret": True})
    embedded_broker.stop(settings)
    if state_dir.exists():
        console.print(f"starting fresh: removing {state_dir}")
        shutil.rmtree(state_dir)
    state_dir.mkdir(parents=True)
    stack = LocalStack()
    url = api_url(settings)
    channels = LocalChannels(log_path=state_dir / "channels-received.jsonl")
    channels.start()
    settings = settings.model_copy(update={"notifications": settings.notifications.model_copy(
        update=channels.settings_update())})
    try:
        status = embedded_broker.start(settings)
        console.print(f"broker on {status.address}")
        create_topics(settings)
        stack.start(settings, "processor", "process")
        stack.start(settings, "api", "serve")
        stack.start(settings, "delivery", "deliver")
        stack.start(settings, "lakehouse", "lakehouse")
        wait_for_api(settings, stack)
        console.print(f"API on {url} (docs: {url}/docs); processor, sink and delivery worker "
                      f"running; logs in {logs_dir(settings)}")
        console.print(f"{choose_channels(settings, users)} users chose email and SMS besides "
                      f"push; local providers: {channels.http_url} and "
                      f"smtp://{channels.host}:{channels.smtp_port}")
        spec = FleetSpec(users, days, seed, DEMO_START_MS, ChaosKnobs())
        serde = AvroSerde(registry_from_settings(settings.schema_registry))
        started = time.monotonic()
        tally = run_simulation(settings, spec, serde, None)
        visible = wait_until_visible(url, tally.completed_ids, console, stack)
        elapsed = time.monotonic() - started
        wait_until_delivered(settings, stack)
        wait_for_lakehouse(settings, stack)
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
        print_notifications(settings, users, console, channels)
        print_lakehouse(settings, console)
        console.print(online_feature_table(settings, user_id(0)))
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
        channels.stop()
        embedded_broker.stop(settings)
