"""``fitstream demo``: the whole pipeline on the embedded defaults, in one command.

Broker, topics, processor, API (with the ClickHouse sink) and the notification
delivery worker start fresh under ``<state_dir>/demo``; the channels point at
local stand-ins for the push gateway, SMS gateway and SMTP server
(:mod:`cli.dev.local_channels`). A simulated fleet is produced; the demo waits
until every completed workout in the log is visible through the API and every
notification has been delivered, and prints what it materialised. Child
processes log to ``<state_dir>/demo/logs``.

Then the AI engine, from what the log put into the lakehouse (never the simulator):
the training set is built by the same Spark job the notebooks use (``fitstream jobs
training-set``), the catalogue's models are trained from Delta and Feast and each
challenger is put through the promotion gate. The scorer starts only then: its group
reads ``features.user.v1`` from the earliest offset, so every feature row already in the
log is scored by whichever champions exist, and the demo waits on the scorer's
committed offsets and the prediction sinks' before it asks the API for one user's
forecast and recommendations. A model that fails the gate has no champion: its rows
are dead-lettered ``no_champion`` and the API has no prediction of it, and the demo
says so rather than failing.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from contextlib import contextmanager, redirect_stderr
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx
from confluent_kafka import Consumer, TopicPartition
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from cli.dev import embedded_broker
from cli.dev.local_channels import LocalChannels
from cli.dev.local_stack import LocalStack, logs_dir, wait_for_api
from cli.dev.patient_client import PatientClient, RateLimitTally, anonymous_pace
from cli.features import online_feature_table
from fitstream.api_client import api_url
from fitstream.contracts import AvroSerde, registry_from_settings
from fitstream.domain.windows import LeaderboardWindow
from fitstream.kafka.clients import consumer_config
from fitstream.kafka.dead_letter import read_headers
from fitstream.kafka.positions import LogPosition, behind, caught_up
from fitstream.kafka.topics import create_topics, partition_count
from fitstream.settings import FitStreamSettings
from fitstream.simulator.fleet import ChaosKnobs, FleetSpec
from fitstream.tokens import TokenKeys, issue_user_token
from stores.clickhouse.tables import sink_groups

# 2026-10-19 00:00 UTC, a Monday: the default five weeks end 2026-11-23, in the past. A
# fleet must end before now: the processor dead-letters events from the future
# (``from_future``, against the Kafka record's time), and their workouts never show.
DEMO_START_MS = 1_792_368_000_000
VISIBILITY_TIMEOUT_S = 900


def dead_letter_count(settings: FitStreamSettings) -> int:
    """Records on the dead-letter topic (counted by reading: the Flink engine's
    transaction markers take offsets too)."""
    position = LogPosition(settings.kafka)
    try:
        return position.count_records(settings.kafka.dlq_topic)
    finally:
        position.close()


def wait_until_visible(url: str, workout_ids: list[str], console: Console,
                       stack: LocalStack, users: int, *, tally: RateLimitTally | None = None,
                       pace_per_s: float | None = None) -> int:
    """Poll the API until every workout id is visible as completed; returns their count.

    A round reads each user's public workout list (``user-00000`` .. the fleet's last,
    a page of up to ``page_limit`` summaries with their status), so it costs about
    ``users`` requests however many workouts the fleet has; ``pace_per_s`` keeps those
    under the per-address limit (:func:`cli.dev.patient_client.anonymous_pace`)."""
    remaining = set(workout_ids)
    deadline = time.monotonic() + VISIBILITY_TIMEOUT_S
    with PatientClient(base_url=url, timeout=10, tally=RateLimitTally() if tally is None else tally,
                       console=console, pace_per_s=pace_per_s) as client, Progress(
            TextColumn("[bold]materialising"), BarColumn(), MofNCompleteColumn(),
            TextColumn("completed workouts visible"), TimeElapsedColumn(),
            console=console) as progress:
        task = progress.add_task("visible", total=len(workout_ids))
        while remaining and time.monotonic() < deadline:
            stack.check()
            for index in range(users):
                seen = completed_workouts(client, user_id(index)) & remaining
                remaining -= seen
                progress.advance(task, len(seen))
                if not remaining:
                    break
            if remaining:
                time.sleep(0.5)
    if remaining:
        raise RuntimeError(f"{len(remaining)} completed workouts never became visible")
    return len(workout_ids)


def completed_workouts(client: httpx.Client, user: str, page_limit: int = 200) -> set[str]:
    """Ids of the user's workouts the API lists as completed (every page of the public
    list); an empty set while the sink has not written the user yet. Any status but 200
    (the patient client has already waited out a 429) counts as not visible yet, as a
    workout's 404 did: the caller asks again next round."""
    completed: set[str] = set()
    cursor = None
    while True:
        page = client.get(f"/api/v1/users/{user}/workouts",
                          params={"limit": page_limit, **({"cursor": cursor} if cursor else {})})
        if page.status_code != 200:
            return completed
        body = page.json()
        completed.update(item["workout_id"] for item in body["items"]
                         if item["status"] == "completed")
        cursor = body["next_cursor"]
        if cursor is None:
            return completed


@dataclass
class DemoApi:
    """How the demo reaches the API: every request goes through a :class:`PatientClient`
    sharing one :class:`RateLimitTally`; token-less clients pace themselves under the
    per-address limit (settings.rate_limits.anonymous, the embedded default)."""

    url: str
    console: Console
    anonymous_pace_per_s: float | None
    tally: RateLimitTally = field(default_factory=RateLimitTally)

    @classmethod
    def of(cls, settings: FitStreamSettings, console: Console) -> DemoApi:
        return cls(api_url(settings), console, anonymous_pace(settings.rate_limits.anonymous))

    def client(self, *, anonymous: bool = False, **kwargs) -> PatientClient:
        """A client for one ``with`` block; ``anonymous``: it sends no token (paced)."""
        return PatientClient(base_url=self.url, timeout=10, tally=self.tally,
                             console=self.console,
                             pace_per_s=self.anonymous_pace_per_s if anonymous else None,
                             **kwargs)


def user_id(index: int) -> str:
    return f"user-{index:05d}"


def choose_channels(settings: FitStreamSettings, api: DemoApi, users: int) -> int:
    """Every tenth user also wants email and SMS (everyone else has the default, push)."""
    secret = TokenKeys.from_settings(settings.api)
    chosen = 0
    with api.client() as client:
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
            done = caught_up(position, settings.kafka.events_topic, settings.processor.consumer_group,
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


def print_notifications(settings: FitStreamSettings, api: DemoApi, users: int,
                        console: Console, channels: LocalChannels) -> None:
    """What each user's inbox holds, by kind, and the outcome on every external channel."""
    secret = TokenKeys.from_settings(settings.api)
    kinds: Counter[str] = Counter()
    outcomes: Counter[tuple[str, str]] = Counter()
    example = None
    with api.client() as client:
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


def print_views(api: DemoApi, spec: FleetSpec, console: Console) -> None:
    """The weekly distance top 5 of the fleet's last full week, and achievements unlocked
    (public reads, without a token: paced under the per-address limit)."""
    last_week = LeaderboardWindow.WEEK.period_of(spec.start_ms + (spec.days - 1) * 86_400_000)
    with api.client(anonymous=True) as client:
        response = client.get("/api/v1/leaderboards/distance",
                              params={"window": "week", "period": last_week, "limit": 5})
        board = response.raise_for_status().json()
        top = Table("rank", "user", "km", "workouts",
                    title=f"leaderboard: distance, week {last_week}, all sports")
        for row in board["entries"]:
            top.add_row(str(row["rank"]), row["user_id"], f"{row['value'] / 1000:,.1f}",
                        str(row["workouts"]))
        console.print(top)
        unlocked: dict[str, int] = {}
        for user in range(spec.users):
            listing = client.get(f"/api/v1/users/{user_id(user)}/achievements"
                                 ).raise_for_status().json()
            for achievement in listing["achievements"]:
                if achievement["achieved_at"]:
                    unlocked[achievement["title"]] = unlocked.get(achievement["title"], 0) + 1
        achievements = Table("achievement", "users", title="achievements unlocked")
        for title, users in sorted(unlocked.items(), key=lambda kv: -kv[1]):
            achievements.add_row(title, str(users))
        console.print(achievements)


class StageClock:
    """Wall time of each stage of the demo, for the closing table."""

    def __init__(self) -> None:
        self.stages: list[tuple[str, float]] = []
        self._started = time.monotonic()

    @contextmanager
    def stage(self, name: str):
        started = time.monotonic()
        try:
            yield
        finally:
            self.stages.append((name, time.monotonic() - started))

    def table(self) -> Table:
        table = Table("stage", "seconds", title="demo wall time by stage")
        for name, seconds in self.stages:
            table.add_row(name, f"{seconds:,.1f}")
        table.add_row("[bold]total[/bold]", f"[bold]{time.monotonic() - self._started:,.1f}[/bold]")
        return table


def build_training_set(settings: FitStreamSettings, console: Console) -> None:
    """``fitstream jobs training-set`` as its own process (Spark's JVM goes away with
    it), exactly as the notebooks' test runs it; its output and Spark's log go to
    ``logs/training-set.log``, and the demo prints what the table holds (Delta)."""
    from deltalake import DeltaTable

    from stores.delta.tables import TRAINING_SET

    log_path = logs_dir(settings) / "training-set.log"
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("FITSTREAM_")},
           **settings.to_env()}
    with log_path.open("ab") as log, console.status(
            "building the training set from the lakehouse (Spark: fitstream jobs training-set)"):
        done = subprocess.run([sys.executable, "-m", "cli.main", "jobs", "training-set"],
                              env=env, stdout=log, stderr=log, check=False)
    if done.returncode:
        tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-20:])
        raise RuntimeError(f"the training-set job exited with {done.returncode}:\n{tail}")
    rows = DeltaTable(settings.lakehouse_uri(TRAINING_SET),
                      storage_options=settings.lakehouse.object_store_options()
                      ).to_pyarrow_table(columns=["user_id", "snapshot_at"]).to_pandas()
    first, last = (datetime.fromtimestamp(rows["snapshot_at"].agg(f) / 1000, UTC)
                   for f in ("min", "max"))
    console.print(f"training set {TRAINING_SET}: {len(rows):,} rows, "
                  f"{rows['user_id'].nunique():,} users, one per user and day from "
                  f"{first:%Y-%m-%d} to {last:%Y-%m-%d} (labels: the next 7 days' metres)")


def train_and_promote(settings: FitStreamSettings, console: Console) -> dict[str, bool]:
    """Every catalogue model trained (a rich bar per model and stage), registered as
    challenger and judged by the gate; prints one table and returns which have a
    champion. A model whose training data cannot be split (too few weeks) is reported
    as not trained, and has no champion. MLflow's and the libraries' warnings go to
    ``logs/models.log``, not between the bars."""
    from cli.models import gate_table, quiet_mlflow, train_model, training_progress
    from fitstream.model_catalogue import MODELS
    from models.registry import promote

    quiet_mlflow()
    logging.getLogger("mlflow").setLevel(logging.ERROR)
    screen = Console(file=sys.stderr)  # the terminal, while stderr goes to the log
    trained = {}
    rows = []
    champions = {}
    with (logs_dir(settings) / "models.log").open("a") as log, redirect_stderr(log):
        with training_progress(screen) as on_progress:
            for spec in MODELS.values():
                try:
                    trained[spec.key] = train_model(spec, settings, on_progress)
                except ValueError as exc:  # e.g. a chronological split with too few weeks
                    trained[spec.key] = str(exc)
        with screen.status("judging each challenger against its baselines"):
            for spec in MODELS.values():
                report = trained[spec.key]
                if isinstance(report, str):
                    rows.append((spec, None, report))
                    champions[spec.key] = False
                    continue
                decision = promote(settings, spec)
                rows.append((spec, report, decision))
                champions[spec.key] = decision.promoted
    console.print(gate_table(rows, title="AI engine: each model beside its baselines on the "
                                         "chronological holdout, and the promotion gate"))
    return champions


def topic_records(position: LogPosition, topic: str) -> int:
    return position.count_records(topic)


def wait_until_scored(settings: FitStreamSettings, stack: LocalStack, console: Console) -> None:
    """Until the scorer's group has committed the end of features.user.v1 and every
    prediction sink the end of its topic, twice in a row (progress, never a sleep for
    its own sake)."""
    from stores.clickhouse.tables import prediction_tables

    position = LogPosition(settings.kafka)
    topic, group = settings.kafka.features_topic, settings.models.score_group_id
    sinks = [(view.topic, f"{settings.sink.group_id}-{view.name}")
             for view in prediction_tables(settings)]
    deadline = time.monotonic() + VISIBILITY_TIMEOUT_S
    try:
        ends = position.ends(topic)
        with Progress(TextColumn("[bold]scoring"), BarColumn(), MofNCompleteColumn(),
                      TextColumn("offsets of the feature topic the scorer committed"), TimeElapsedColumn(),
                      console=console) as progress:
            task = progress.add_task("scored", total=sum(ends.values()))
            settled = 0
            while settled < 2:
                stack.check()
                if time.monotonic() > deadline:
                    raise RuntimeError("the scorer did not score the feature rows in time")
                committed = position.committed(topic, group)
                progress.update(task, completed=sum(min(committed.get(p, 0), end)
                                                    for p, end in ends.items()))
                done = not behind(position, topic, group, sinks, ends)
                settled = settled + 1 if done else 0
                time.sleep(1)
    finally:
        position.close()


def dead_letter_reasons(settings: FitStreamSettings, topic: str) -> Counter[str]:
    """Every record of a dead-letter topic, counted by ``dlq.reason``."""
    consumer = Consumer(consumer_config(settings.kafka, "fitstream-demo-inspect"))
    reasons: Counter[str] = Counter()
    try:
        ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
                for p in range(partition_count(settings.kafka, topic))}
        remaining = {p for p, end in ends.items() if end > 0}
        consumer.assign([TopicPartition(topic, p, 0) for p in remaining])
        deadline = time.monotonic() + 120
        while remaining and time.monotonic() < deadline:
            for message in consumer.consume(1000, timeout=1):
                if message.error():
                    continue
                reasons[read_headers(message.headers()).get("dlq.reason", "?")] += 1
                if message.offset() + 1 >= ends[message.partition()]:
                    remaining.discard(message.partition())
        return reasons
    finally:
        consumer.close()


def print_scoring(settings: FitStreamSettings, console: Console) -> None:
    """What the scorer made of the log: feature rows, predictions per topic, and its dead
    letters by reason (``no_champion:<model>`` for a model the gate refused)."""
    kafka = settings.kafka
    position = LogPosition(kafka)
    try:
        table = Table("topic", "records", title="scoring (fitstream score, from the earliest "
                                                "feature row)")
        for topic in (kafka.features_topic, kafka.forecasts_topic, kafka.race_predictions_topic,
                      kafka.recommendations_topic):
            table.add_row(topic, f"{topic_records(position, topic):,}")
    finally:
        position.close()
    for reason, count in sorted(dead_letter_reasons(settings, kafka.scoring_dlq_topic).items()):
        table.add_row(f"{kafka.scoring_dlq_topic} ({reason})", f"{count:,}")
    console.print(table)


def _at(value: str) -> str:
    return f"{datetime.fromisoformat(value).astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def _clock(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def print_predictions(settings: FitStreamSettings, api: DemoApi, user: str,
                      console: Console) -> None:
    """The user's forecast and recommendations, as the API serves them to the user (their
    own token); a 404 or a null part is printed as the API said it."""
    secret = TokenKeys.from_settings(settings.api)
    headers = {"Authorization": f"Bearer {issue_user_token(secret, user, 600)}"}
    with api.client(headers=headers) as client:
        forecast = client.get(f"/api/v1/users/{user}/forecast")
        recommendations = client.get(f"/api/v1/users/{user}/recommendations")
    path = f"GET /api/v1/users/{user}/forecast"
    if forecast.status_code == 200:
        body = forecast.json()
        table = Table("prediction", "value", "model", "features as of",
                      title=f"{path}: 200")
        weekly = body["forecast"]
        if weekly is None:
            table.add_row("distance, next 7 days", "[red]null[/red]: no forecast champion "
                          "scored this user", "—", "—")
        else:
            table.add_row(f"distance, next {weekly['horizon_days']} days",
                          f"{weekly['predicted_distance_m'] / 1000:,.1f} km",
                          f"{weekly['model_name']} v{weekly['model_version']}",
                          _at(weekly["features_as_of"]))
        race = body["race_times"]
        if race is None:
            table.add_row("race times", "[red]null[/red]: no race-time champion scored this "
                          "user", "—", "—")
        else:
            for name in ("5k", "10k", "half_marathon"):
                table.add_row(f"race time, {name.replace('_', ' ')}",
                              _clock(race[f"predicted_{name}_s"]),
                              f"{race['model_name']} v{race['model_version']}",
                              _at(race["features_as_of"]))
        console.print(table)
    else:
        console.print(f"{path}: {forecast.status_code} {forecast.json()} (no forecast or "
                      "race-time champion has scored this user: see the gate above)")
    path = f"GET /api/v1/users/{user}/recommendations"
    if recommendations.status_code == 200:
        body = recommendations.json()
        table = Table("rank", "sport", "duration", "intensity", "score",
                      title=f"{path}: 200 ({body['model_name']} v{body['model_version']}, "
                            f"features as of {_at(body['features_as_of'])})")
        for item in body["recommendations"]:
            table.add_row(str(item["rank"]), item["sport"],
                          item["duration_band"].replace("_", " "), item["intensity"],
                          f"{item['score']:.3f}")
        console.print(table)
    else:
        console.print(f"{path}: {recommendations.status_code} {recommendations.json()} (no "
                      "recommender champion has scored this user: see the gate above)")


def run_ai_engine(settings: FitStreamSettings, api: DemoApi, stack: LocalStack,
                  console: Console, clock: StageClock) -> None:
    """Training set, training and the gate, then the scorer over the whole feature log,
    then one user's predictions through the API."""
    console.rule("AI engine: trained from the lakehouse, scored from Feast online")
    with clock.stage("training set (Spark job)"):
        build_training_set(settings, console)
    with clock.stage("train every model, then the promotion gate"):
        champions = train_and_promote(settings, console)
    with clock.stage("score every feature row (scorer from the earliest offset)"):
        stack.start(settings, "score", "score")
        console.print(f"scorer started after the gate; champions: "
                      f"{', '.join(k for k, v in champions.items() if v) or 'none'}")
        wait_until_scored(settings, stack, console)
    print_scoring(settings, console)
    print_predictions(settings, api, user_id(0), console)


def run_demo(base: FitStreamSettings, console: Console, *, users: int, days: int, seed: int,
             once: bool) -> int:
    from cli.simulate import run_simulation

    fleet_end_ms = DEMO_START_MS + days * 86_400_000
    if fleet_end_ms > time.time() * 1000:
        start = datetime.fromtimestamp(DEMO_START_MS / 1000, UTC)
        console.print(f"[red]{days} days from {start:%Y-%m-%d} end in the future, whose events "
                      "the processor dead-letters (from_future): ask for fewer days[/red]")
        return 1
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
    clock = StageClock()
    url = api_url(settings)
    api = DemoApi.of(settings, console)
    channels = LocalChannels(log_path=state_dir / "channels-received.jsonl")
    channels.start()
    settings = settings.model_copy(update={"notifications": settings.notifications.model_copy(
        update=channels.settings_update())})
    try:
        with clock.stage("broker, topics and roles up"):
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
        console.print(f"{choose_channels(settings, api, users)} users chose email and SMS besides "
                      f"push; local providers: {channels.http_url} and "
                      f"smtp://{channels.host}:{channels.smtp_port}")
        spec = FleetSpec(users, days, seed, DEMO_START_MS, ChaosKnobs())
        serde = AvroSerde(registry_from_settings(settings.schema_registry))
        started = time.monotonic()
        with clock.stage("produce the fleet until every completed workout is visible"):
            tally = run_simulation(settings, spec, serde, None)
            visible = wait_until_visible(url, tally.completed_ids, console, stack, users,
                                         tally=api.tally, pace_per_s=api.anonymous_pace_per_s)
        elapsed = time.monotonic() - started
        with clock.stage("notifications delivered, lakehouse and Feast online caught up"):
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
        print_views(api, spec, console)
        print_notifications(settings, api, users, console, channels)
        print_lakehouse(settings, console)
        console.print(online_feature_table(settings, user_id(0)))
        run_ai_engine(settings, api, stack, console, clock)
        console.print(clock.table())
        console.print(f"API: {url}  ·  OpenAPI: {url}/docs  ·  try: "
                      f"curl {url}/api/v1/users/user-00000/workouts?limit=3  ·  models: "
                      f"FITSTREAM_STATE_DIR={state_dir} fitstream models list", soft_wrap=True)
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
        if api.tally.line():  # the 429s met, whether the demo finished or not
            console.print(api.tally.line())
        stack.stop()
        channels.stop()
        embedded_broker.stop(settings)
