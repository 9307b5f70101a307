"""End to end: simulator → broker → Faust → ClickHouse (chdb and the real server) → HTTP API.

Every summary the API serves is checked against a reference that reads the
events topic back and computes each workout straight from its events, with no
code shared with the processor. Poison records injected beside the fleet must
land in the dead-letter topic with their reason while processing goes on.
"""

from __future__ import annotations

import itertools
import os
import re
import signal
import subprocess
import sys
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Producer, TopicPartition

from cli.dev.local_channels import LocalChannels
from cli.dev.local_stack import LocalStack, wait_for_api
from cli.replay import replay_settings
from delivery.smtp_email import message_id
from fitstream.contracts import AvroSerde, registry_from_settings
from fitstream.kafka.clients import consumer_config, producer_config
from fitstream.kafka.dead_letter import read_headers
from fitstream.kafka.positions import LogPosition, behind
from fitstream.privacy.coordinates import open_coordinates
from fitstream.privacy.fields import FieldCipher
from fitstream.privacy.keys import key_store
from fitstream.settings import ApiSettings, ClickHouseSettings, FitStreamSettings
from fitstream.simulator.fleet import ChaosKnobs, FleetSpec, FleetTally
from fitstream.simulator.producer import produce_fleet
from fitstream.tokens import issue_analyst_token, issue_device_token, issue_user_token
from stores.clickhouse.store import ClickHouseStore, open_store
from stores.clickhouse.tables import sink_groups, view_tables
from tests.conftest import isolated
from tests.harness import free_port, wait_until
from tests.integration.reference_notifications import reference_notifications

pytestmark = pytest.mark.e2e

START = 1_793_577_600_000  # 2026-11-02 00:00 UTC
SPEC = FleetSpec(users=8, days=7, seed=11, start_ms=START,
                 chaos=ChaosKnobs(duplicate=0.05, out_of_order=0.05, late=0.15, malformed=0.005))


def _event(kind: str, seq: int, at: int, user: str, workout: str, **payload: Any) -> dict:
    return {"event_id": f"00000000-0000-4000-8000-{workout[-4:]}{seq:08d}", "type": kind,
            "occurred_at": at, "user_id": user, "workout_id": workout,
            "device_id": "device-test", "seq": seq, **payload}


POISON_AT = START + 3_600_000
ILLEGAL_WORKOUT = [  # a Resumed while active, between a valid start and completion
    _event("WorkoutStarted", 0, POISON_AT, "user-00001", "wk-illegal-0001", sport_type="rowing",
           start_time=POISON_AT, location={"latitude": 52.5, "longitude": 13.4},
           device_model="test"),
    _event("WorkoutResumed", 1, POISON_AT + 60_000, "user-00001", "wk-illegal-0001"),
    _event("WorkoutCompleted", 2, POISON_AT + 600_000, "user-00001", "wk-illegal-0001",
           end_time=POISON_AT + 600_000, duration_sec=600, distance_meters=2000.0,
           calories_burned=80.0, route_coordinates=[]),
]
GHOST_WORKOUT = [  # its WorkoutStarted never comes
    _event("WorkoutPaused", 1, POISON_AT, "user-00000", "wk-ghost-0002"),
    _event("WorkoutResumed", 2, POISON_AT + 1000, "user-00000", "wk-ghost-0002"),
]
GARBAGE = b"\x00\x00\x00\x00\x01not avro at all"


class Pipeline:
    def __init__(self, settings: FitStreamSettings, server_settings: FitStreamSettings | None,
                 tally: FleetTally) -> None:
        self.settings = settings
        self.server_settings = server_settings
        self.tally = tally
        self.serde = AvroSerde(registry_from_settings(settings.schema_registry))

    @property
    def api_urls(self) -> list[str]:
        return [f"http://127.0.0.1:{s.api.port}"
                for s in (self.settings, self.server_settings) if s is not None]


def read_topic(settings: FitStreamSettings, topic: str) -> list[Any]:
    """Every record of a topic (:func:`read_topics`)."""
    return read_topics(settings, [topic])[topic]


def read_topics(settings: FitStreamSettings, topics: list[str]) -> dict[str, list[Any]]:
    """Every record of each topic, read back with one throwaway read_committed consumer
    until each partition reports its end (end-of-partition events: a topic the Flink
    processor wrote with transactions ends in commit markers, which no consumer
    receives, so its end offsets cannot say when the last record has been read)."""
    consumer = Consumer(consumer_config(settings.kafka, "test-reader",
                                        **{"enable.partition.eof": True}))
    assigned = [TopicPartition(topic, p, OFFSET_BEGINNING) for topic in topics
                for p in consumer.list_topics(topic, timeout=10).topics[topic].partitions]
    consumer.assign(assigned)
    records: dict[str, list[Any]] = {topic: [] for topic in topics}
    remaining = {(tp.topic, tp.partition) for tp in assigned}

    def read_more() -> bool:
        for message in consumer.consume(5000, timeout=1):
            if message.error() is None:
                records[message.topic()].append(message)
            elif message.error().code() == KafkaError._PARTITION_EOF:
                remaining.discard((message.topic(), message.partition()))
        return not remaining

    try:
        wait_until(read_more, f"{topics} read to the end of their partitions",
                   progress=lambda: sum(map(len, records.values())), stall_s=60, poll_s=0)
    finally:
        consumer.close()
    return records


def exact_best_efforts(track: list[tuple[float, int]]) -> dict[str, tuple[float, float] | None]:
    """Per distance: (fastest elapsed seconds at full resolution, slowest s/m on the track)."""
    points = [track[0]]
    for distance, offset in track[1:]:
        if distance > points[-1][0]:
            points.append((distance, offset))
    slowest = max(((t1 - t0) / (d1 - d0) / 1000
                   for (d0, t0), (d1, t1) in itertools.pairwise(points)),
                  default=0.0)
    result = {}
    for name, target in (("one_km_s", 1000), ("five_km_s", 5000), ("ten_km_s", 10_000)):
        best, i = None, 0
        for distance, offset in points:
            start = distance - target
            if start < 0:
                continue
            while points[i + 1][0] <= start:
                i += 1
            (d0, t0), (d1, t1) = points[i], points[i + 1]
            elapsed = offset - (t0 + (t1 - t0) * (start - d0) / (d1 - d0))
            best = elapsed if best is None else min(best, elapsed)
        result[name] = None if best is None else (best / 1000, slowest)
    return result


def reference_summaries(events: list[dict]) -> dict[str, dict]:
    """Each workout's summary computed straight from its events (no shared code)."""
    by_workout: dict[str, dict[str, dict]] = defaultdict(dict)
    for event in events:
        by_workout[event["workout_id"]].setdefault(event["event_id"], event)
    summaries = {}
    for workout_id, unique in by_workout.items():
        ordered = sorted(unique.values(), key=lambda e: e["seq"])
        start = ordered[0]
        assert start["type"] == "WorkoutStarted"
        moving, running_since, last = 0, start["start_time"], ordered[-1]
        heart_rates, samples, distance, track = [], 0, 0.0, [(0.0, 0)]
        for event in ordered[1:]:
            if event["type"] == "WorkoutUpdated":
                distance = event["current_distance_meters"]
                samples += len(event["samples"])
                heart_rates += [s["heart_rate"] for s in event["samples"]
                                if s["heart_rate"] is not None]
                track += [(s["distance_meters"], s["offset_ms"]) for s in event["samples"]]
            elif event["type"] == "WorkoutPaused":
                moving += event["occurred_at"] - running_since
                running_since = None
            elif event["type"] == "WorkoutResumed":
                running_since = event["occurred_at"]
        end = last["end_time"] if last["type"] == "WorkoutCompleted" else last["occurred_at"]
        if running_since is not None:
            moving += end - running_since
        if last["type"] == "WorkoutCompleted":
            distance = last["distance_meters"]
        status = {"WorkoutCompleted": "completed", "WorkoutCancelled": "cancelled"}[last["type"]]
        summaries[workout_id] = {
            "workout_id": workout_id, "user_id": start["user_id"],
            "device_id": start["device_id"], "sport_type": start["sport_type"],
            "status": status,
            "start_time": datetime.fromtimestamp(start["start_time"] / 1000, UTC),
            "end_time": datetime.fromtimestamp(end / 1000, UTC),
            "moving_duration_s": moving / 1000, "distance_meters": distance,
            "calories_burned": last.get("calories_burned"),
            "avg_heart_rate": sum(heart_rates) / len(heart_rates) if heart_rates else None,
            "avg_speed_mps": distance * 1000.0 / moving if moving else None,
            "sample_count": samples, "version": last["seq"],
            "best_efforts": exact_best_efforts(track),
        }
    return summaries


ILLEGAL_SUMMARY = {  # what the processor must make of ILLEGAL_WORKOUT (Resumed refused)
    "workout_id": "wk-illegal-0001", "user_id": "user-00001", "sport_type": "rowing",
    "status": "completed", "start_time": datetime.fromtimestamp(POISON_AT / 1000, UTC),
    "end_time": datetime.fromtimestamp((POISON_AT + 600_000) / 1000, UTC),
    "moving_duration_s": 600.0, "distance_meters": 2000.0, "calories_burned": 80.0}


def reference_leaderboards(summaries: list[dict]) -> dict[tuple[str, str, str], list[dict]]:
    """Every board's ranked entries, from completed workouts (no shared code)."""
    totals: dict[tuple[str, str, str], dict[str, dict]] = defaultdict(dict)
    for s in summaries:
        if s["status"] != "completed":
            continue
        start, iso = s["start_time"], s["start_time"].isocalendar()
        periods = [("day", f"{start:%Y-%m-%d}"), ("week", f"{iso.year}-W{iso.week:02d}"),
                   ("month", f"{start:%Y-%m}"), ("year", f"{start:%Y}"), ("all", "all")]
        for window, period in periods:
            for sport in (s["sport_type"], "all"):
                t = totals[(window, period, sport)].setdefault(s["user_id"], {
                    "user_id": s["user_id"], "mm": 0, "ms": 0, "mkcal": 0, "workouts": 0,
                    "reached": 0})
                t["mm"] += round(s["distance_meters"] * 1000)
                t["ms"] += round(s["moving_duration_s"] * 1000)
                t["mkcal"] += round((s["calories_burned"] or 0) * 1000)
                t["workouts"] += 1
                t["reached"] = max(t["reached"], int(s["end_time"].timestamp() * 1000))
    boards = {}
    for board, users in totals.items():
        entries = [{"user_id": u["user_id"], "workouts": u["workouts"], "reached": u["reached"],
                    "distance": u["mm"] / 1000, "moving_time": u["ms"] / 1000,
                    "calories": u["mkcal"] / 1000} for u in users.values()]
        boards[board] = entries
    return boards


def ranked(entries: list[dict], metric: str) -> list[dict]:
    order = sorted(entries, key=lambda e: (-e[metric], e["reached"], e["user_id"]))
    return [{"rank": i + 1, "user_id": e["user_id"], "value": float(e[metric]),
             "workouts": e["workouts"]} for i, e in enumerate(order)]


def wait_for_leaderboards(urls: list[str], all_time: list[dict], stack: LocalStack) -> None:
    want = sum(e["workouts"] for e in all_time)
    for url in urls:
        counted = {"workouts": None}

        def caught_up(url: str = url, counted: dict = counted) -> bool:
            board = httpx.get(f"{url}/api/v1/leaderboards/workouts",
                              params={"window": "all", "period": "all", "limit": 1000}).json()
            counted["workouts"] = sum(e["workouts"] for e in board.get("entries", []))
            return counted["workouts"] == want

        wait_until(caught_up, f"the all-time board at {url} to count {want} workouts",
                   progress=lambda counted=counted: counted["workouts"], alive=stack.check,
                   poll_s=0.5)


def wait_for_every_view(settings: FitStreamSettings, server_settings: FitStreamSettings,
                        stack: LocalStack) -> None:
    """Until the processor has committed the whole log and every view sink of both
    backends the end of its topic, twice in a row: the statuses and the all-time board
    are two views; achievements, routes, samples and the rest are written by other sink
    consumers, each at its own pace."""
    position = LogPosition(settings.kafka)
    sinks = [*sink_groups(settings), *sink_groups(server_settings)]
    state = {"lag": None, "settled": 0}

    def settled() -> bool:
        state["lag"] = behind(position, settings.kafka.events_topic, settings.processor.app_id,
                              sinks)
        state["settled"] = 0 if state["lag"] else state["settled"] + 1
        return state["settled"] >= 2

    try:
        wait_until(settled, "every view sink to commit the end of its topic",
                   progress=lambda: state["lag"], alive=stack.check, poll_s=0.5)
    finally:
        position.close()


def completion_offsets(log: list[tuple[int, dict | None]]) -> dict[str, int]:
    """Per workout, the log offset at which all its events up to completion had arrived."""
    first_seen: dict[str, dict[int, int]] = defaultdict(dict)
    ends: dict[str, int] = {}
    for offset, event in log:
        if event is None:
            continue
        first_seen[event["workout_id"]].setdefault(event["seq"], offset)
        if event["type"] == "WorkoutCompleted":
            ends[event["workout_id"]] = event["seq"]
    return {w: max(first_seen[w][seq] for seq in range(end + 1)) for w, end in ends.items()}


# The achievement catalogue, restated from the product's documentation.
DISTANCE_RULES = [("run-5k", 5000), ("run-10k", 10_000), ("run-half-marathon", 21_097.5),
                  ("run-marathon", 42_195)]
TOTAL_RULES = [("total-100km", 100_000), ("total-1000km", 1_000_000),
               ("total-10000km", 10_000_000)]
RECORD_RULES = [("pr-1k", 1000), ("pr-5k", 5000), ("pr-10k", 10_000)]
STREAK_RULES = [("streak-3", 3), ("streak-7", 7), ("streak-30", 30)]


def reference_achievements(summaries: list[dict], reached: dict[str, float],
                           completed_at: dict[str, int]) -> dict[str, dict[str, tuple]]:
    """Per user, rule -> (progress, achieved_at ms or None), from completions in log order.

    ``reached`` is the furthest sample distance of each workout: a record needs one.
    """
    by_user: dict[str, list[dict]] = defaultdict(list)
    for s in summaries:
        if s["status"] == "completed":
            by_user[s["user_id"]].append(s)
    result = {}
    for user, workouts in by_user.items():
        workouts.sort(key=lambda s: completed_at[s["workout_id"]])
        unlocked: dict[str, int] = {}
        total_mm, best_run, days, weeks, timed = 0, 0.0, set(), defaultdict(int), set()
        progress: dict[str, float] = {}
        for count, s in enumerate(workouts, 1):
            end = int(s["end_time"].timestamp() * 1000)
            total_mm += round(s["distance_meters"] * 1000)  # totals in whole mm
            days.add(s["start_time"].date())
            iso = s["start_time"].isocalendar()
            weeks[(iso.year, iso.week)] += 1
            if s["sport_type"] == "running":
                best_run = max(best_run, s["distance_meters"])
                timed |= {d for _, d in RECORD_RULES if reached[s["workout_id"]] >= d}
            streak = max(_run_length(days, d) for d in days)
            values = {"first-workout": count / 1, "weekly-goal": max(weeks.values()) / 3}
            values |= {r: best_run / d for r, d in DISTANCE_RULES}
            values |= {r: total_mm / 1000 / d for r, d in TOTAL_RULES}
            values |= {r: streak / n for r, n in STREAK_RULES}
            for rule, value in values.items():
                progress[rule] = 1.0 if rule in unlocked else min(1.0, round(value, 4))
            for rule, d in RECORD_RULES:
                progress[rule] = 1.0 if d in timed else min(0.9999, round(best_run / d, 4))
            for rule, value in progress.items():
                if value >= 1.0 and rule not in unlocked:
                    unlocked[rule] = end
        result[user] = {rule: (value, unlocked.get(rule)) for rule, value in progress.items()}
    return result


def reached_distances(events: list[dict]) -> dict[str, float]:
    """Per workout, the furthest distance any of its samples reached."""
    reached: dict[str, float] = defaultdict(float)
    for event in events:
        for sample in event.get("samples", ()):
            reached[event["workout_id"]] = max(reached[event["workout_id"]],
                                               sample["distance_meters"])
    return reached


def _run_length(days: set, last) -> int:
    """Consecutive days ending at ``last``."""
    n = 0
    while last - timedelta(days=n) in days:
        n += 1
    return n


def api_summary(payload: dict) -> dict:
    parsed = dict(payload)
    for key in ("start_time", "end_time"):
        parsed[key] = datetime.fromisoformat(parsed[key].replace("Z", "+00:00"))
    return parsed


def wait_for_statuses(urls: list[str], expected: dict[str, str], stack: LocalStack) -> None:
    pending = {(url, w) for url in urls for w in expected}
    with httpx.Client(timeout=10) as client:
        def all_final() -> bool:
            for url, workout_id in sorted(pending):
                response = client.get(f"{url}/api/v1/workouts/{workout_id}")
                if response.status_code == 200 and \
                        response.json()["status"] == expected[workout_id]:
                    pending.discard((url, workout_id))
            return not pending

        wait_until(all_final, f"{len(pending)} summaries to reach their final status",
                   progress=lambda: len(pending), alive=stack.check, poll_s=0.5)


# Chooses email and SMS besides push before the fleet runs; everyone else has the default.
CHANNEL_USER = "user-00003"
CHANNEL_PREFERENCES = {"channels": ["push", "email", "sms"], "email": "runner3@example.org",
                       "phone": "+4915112345678"}


@pytest.fixture(scope="module")
def pipeline(broker, tmp_path_factory, request):
    # First: a skip raised after the roles started would leave them running.
    server = request.getfixturevalue("clickhouse_server")
    state = tmp_path_factory.mktemp("e2e")
    channels = LocalChannels(log_path=state / "channels-received.jsonl")
    channels.start()
    settings = isolated(broker, state, "e2e")
    settings = settings.model_copy(update={"notifications": settings.notifications.model_copy(
        update={**channels.settings_update(), "group_id": "e2e-delivery"}),
        # The test reads every board of both backends and polls every inbox back to back
        # from one address, far past a client's limits (tests/integration/test_rate_limits.py).
        "rate_limits": settings.rate_limits.model_copy(update={
            "device": "", "user": "", "anonymous": ""})})
    stack = LocalStack()
    stack.start(settings, "processor", "process")
    stack.start(settings, "api-chdb", "serve")
    stack.start(settings, "delivery", "deliver")
    server_settings = settings.model_copy(update={
        "clickhouse": ClickHouseSettings(backend="server", host=server.host, port=server.port,
                                         database="fitstream_e2e"),
        "api": ApiSettings(port=free_port()),
        "sink": settings.sink.model_copy(update={"group_id": "e2e-sink-server"}),
    })
    stack.start(server_settings, "sink-server", "sink")
    stack.start(server_settings, "api-server", "serve", "--no-ingest", "--no-sink")
    try:
        wait_for_api(settings, stack)
        wait_for_api(server_settings, stack)
        secret = settings.api.token_secret.get_secret_value()
        chose = httpx.put(
            f"http://127.0.0.1:{settings.api.port}/api/v1/users/{CHANNEL_USER}"
            "/notification-preferences", json=CHANNEL_PREFERENCES,
            headers={"Authorization": f"Bearer {issue_user_token(secret, CHANNEL_USER, 60)}"})
        assert chose.status_code == 200, chose.text
        serde = AvroSerde(registry_from_settings(settings.schema_registry))
        producer = Producer(producer_config(settings.kafka))
        topic = settings.kafka.events_topic
        producer.produce(topic, key=b"user-00002", value=GARBAGE)
        for event in ILLEGAL_WORKOUT + GHOST_WORKOUT:
            producer.produce(topic, key=event["user_id"].encode(),
                             value=serde.encode(f"fitstream.workouts.{event['type']}", event))
        assert producer.flush(30) == 0
        tally = produce_fleet(settings, SPEC, serde)
        built = Pipeline(settings, server_settings, tally)
        built.stack = stack
        built.channels = channels
        cipher = FieldCipher(key_store(settings))
        log = [(m.offset(), _decode(serde, cipher, m.value()))
               for m in read_topic(settings, topic)]
        events = [event for _, event in log if event is not None]
        built.completed_at = completion_offsets(log)
        built.routes = {e["workout_id"]: e["route_coordinates"] for e in events
                        if e["type"] == "WorkoutCompleted"}
        built.samples = defaultdict(dict)
        for e in events:
            for sample in e.get("samples", ()):
                built.samples[e["workout_id"]][sample["offset_ms"]] = sample
        built.reference = reference_summaries(
            [e for e in events if e["workout_id"] not in ("wk-illegal-0001", "wk-ghost-0002")])
        expected = {w: s["status"] for w, s in built.reference.items()}
        expected["wk-illegal-0001"] = "completed"
        wait_for_statuses(built.api_urls, expected, stack)
        built.boards = reference_leaderboards([*built.reference.values(), ILLEGAL_SUMMARY])
        built.achievements = reference_achievements(
            [*built.reference.values(), ILLEGAL_SUMMARY], reached_distances(events),
            built.completed_at)
        wait_for_leaderboards(built.api_urls, built.boards[("all", "all", "all")], stack)
        wait_for_every_view(settings, server_settings, stack)
        built.events = events
        yield built
    finally:
        stack.stop()
        channels.stop()


def _decode(serde: AvroSerde, cipher: FieldCipher, data: bytes) -> dict | None:
    """The event with its coordinates opened, or None for the simulator's garbage."""
    try:
        subject, event = serde.decode(data)
    except ValueError:
        return None
    return open_coordinates(cipher, subject, event)


def test_every_summary_equals_the_reference_on_both_backends(pipeline):
    assert len(pipeline.reference) == pipeline.tally.workouts > 20
    with httpx.Client(timeout=10) as client:
        for url in pipeline.api_urls:
            for workout_id, reference in pipeline.reference.items():
                # The full summary is its owner's (the public one is checked below).
                response = client.get(f"{url}/api/v1/workouts/{workout_id}/private",
                                      headers=owner_headers(pipeline, reference["user_id"]))
                assert response.status_code == 200
                served = api_summary(response.json())
                efforts = served.pop("best_efforts")
                expected = dict(reference)
                exact = expected.pop("best_efforts")
                assert served == expected, (url, workout_id)
                for name, bound in exact.items():
                    if bound is None:
                        assert efforts[name] is None, (workout_id, name)
                    else:
                        # Start points are kept every 10 m: the error is at most the time
                        # of 10 m at the slowest pace of the workout.
                        best_s, slowest_s_per_m = bound
                        assert abs(efforts[name] - best_s) <= 10 * slowest_s_per_m + 0.002


def test_a_refused_event_does_not_stop_its_workout(pipeline):
    for url in pipeline.api_urls:
        summary = httpx.get(f"{url}/api/v1/workouts/wk-illegal-0001/private",
                            headers=owner_headers(pipeline, "user-00001")).json()
        assert (summary["status"], summary["moving_duration_s"], summary["distance_meters"],
                summary["version"]) == ("completed", 600.0, 2000.0, 2)


def test_user_workouts_page_by_cursor_newest_first(pipeline):
    # The user with the most workouts (ties: the first id): which user trains most is
    # the simulator's business, and paging needs at least three.
    counts: dict[str, int] = {}
    for summary in pipeline.reference.values():
        counts[summary["user_id"]] = counts.get(summary["user_id"], 0) + 1
    user = min(counts, key=lambda u: (-counts[u], u))
    expected = sorted((s for s in pipeline.reference.values() if s["user_id"] == user),
                      key=lambda s: (s["start_time"], s["workout_id"]), reverse=True)
    assert len(expected) >= 3
    for url in pipeline.api_urls:
        seen, cursor = [], None
        while True:
            params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
            page = httpx.get(f"{url}/api/v1/users/{user}/workouts", params=params).json()
            seen += [item["workout_id"] for item in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == [s["workout_id"] for s in expected]
        # Exact windows are the owner's; public lists count in whole UTC days.
        window_from = expected[-2]["start_time"].isoformat()
        window_to = expected[0]["start_time"].isoformat()
        page = httpx.get(f"{url}/api/v1/users/{user}/workouts/private",
                         params={"from": window_from, "to": window_to},
                         headers=owner_headers(pipeline, user)).json()
        assert [i["workout_id"] for i in page["items"]] == [
            s["workout_id"] for s in expected[1:-1]]
        day = expected[0]["start_time"].date()
        public = httpx.get(f"{url}/api/v1/users/{user}/workouts",
                           params={"from": f"{day}T23:59:59Z", "limit": 100}).json()
        assert [i["workout_id"] for i in public["items"]] == [
            s["workout_id"] for s in expected if s["start_time"].date() >= day]


def test_poison_records_land_in_the_dead_letter_topic_with_their_reason(pipeline):
    settings = pipeline.settings
    letters = read_topic(settings, settings.kafka.dlq_topic)
    by_reason: dict[str, list] = defaultdict(list)
    for message in letters:
        by_reason[read_headers(message.headers())["dlq.reason"]].append(message)
    assert {r: len(v) for r, v in by_reason.items()} == {
        "malformed": pipeline.tally.malformed + 1, "illegal_transition": 1,
        "unknown_workout": 2}
    originals = {(m.partition(), m.offset()): m.value()
                 for m in read_topic(settings, settings.kafka.events_topic)}
    for message in letters:
        headers = read_headers(message.headers())
        assert headers["dlq.source.topic"] == settings.kafka.events_topic
        source = (int(headers["dlq.source.partition"]), int(headers["dlq.source.offset"]))
        if headers["dlq.value"] == "original":
            assert originals[source] == message.value()
        else:
            assert pipeline.serde.decode(originals[source]) == pipeline.serde.decode(
                message.value())
    illegal = read_headers(by_reason["illegal_transition"][0].headers())
    assert illegal["dlq.detail"] == "WorkoutResumed (seq 1) in state active"
    ghosts = sorted(pipeline.serde.decode(m.value())[1]["seq"] for m in by_reason["unknown_workout"])
    assert ghosts == [1, 2]
    assert GARBAGE in [m.value() for m in by_reason["malformed"]]


def test_unknown_workout_is_404_with_the_error_body(pipeline):
    response = httpx.get(f"{pipeline.api_urls[0]}/api/v1/workouts/nope")
    assert response.status_code == 404
    assert response.json() == {"error": "not_found", "message": "no workout nope", "code": 404,
                               "details": None}
    bad_cursor = httpx.get(f"{pipeline.api_urls[0]}/api/v1/users/u/workouts",
                           params={"cursor": "%%%"})
    assert bad_cursor.status_code == 400
    assert bad_cursor.json()["error"] == "invalid_cursor"


def test_metrics_report_the_sink(pipeline):
    text = httpx.get(f"{pipeline.api_urls[0]}/metrics").text
    assert "fitstream_sink_batch_rows_count" in text
    rows = [line for line in text.splitlines()
            if line.startswith('fitstream_sink_batch_rows_sum{sink="workout-summary"}')]
    assert rows and float(rows[0].split()[-1]) > 0


@pytest.mark.parametrize("metric", ["distance", "moving_time", "calories", "workouts"])
def test_leaderboards_equal_the_reference_for_every_window_and_sport(pipeline, metric):
    boards = pipeline.boards
    assert ("week", "2026-W45", "all") in boards
    chosen = [b for b in boards if b[0] != "day"] + sorted(b for b in boards if b[0] == "day")[:3]
    with httpx.Client(timeout=10) as client:
        for url in pipeline.api_urls:
            for window, period, sport in chosen:
                response = client.get(f"{url}/api/v1/leaderboards/{metric}", params={
                    "window": window, "period": period, "sport": sport, "limit": 1000})
                assert response.status_code == 200
                assert response.json() == {
                    "metric": metric, "window": window, "period": period, "sport": sport,
                    "entries": ranked(boards[(window, period, sport)], metric)}, (url, period)


def test_a_users_rank_comes_with_neighbours(pipeline):
    expected = ranked(pipeline.boards[("all", "all", "all")], "distance")
    middle = expected[len(expected) // 2]
    for url in pipeline.api_urls:
        board = httpx.get(f"{url}/api/v1/leaderboards/distance", params={
            "window": "all", "period": "all", "around_user": middle["user_id"],
            "neighbours": 1}).json()
        assert board["entries"] == expected[middle["rank"] - 2:middle["rank"] + 1]
        top = httpx.get(f"{url}/api/v1/leaderboards/distance", params={
            "window": "all", "period": "all", "around_user": expected[0]["user_id"],
            "neighbours": 2}).json()
        assert top["entries"] == expected[:3]
        missing = httpx.get(f"{url}/api/v1/leaderboards/distance",
                            params={"around_user": "nobody"})
        assert missing.status_code == 404
        bad = httpx.get(f"{url}/api/v1/leaderboards/distance",
                        params={"window": "week", "period": "2026-W54"})
        assert (bad.status_code, bad.json()["error"]) == (400, "invalid_period")


def test_achievements_equal_the_reference_for_every_user(pipeline):
    assert len(pipeline.achievements) == SPEC.users
    unlocked_somewhere = set()
    with httpx.Client(timeout=10) as client:
        for url in pipeline.api_urls:
            for user, rules in pipeline.achievements.items():
                served = client.get(f"{url}/api/v1/users/{user}/achievements").json()
                got = {a["rule_id"]: (a["progress"], a["achieved_at"])
                       for a in served["achievements"]}
                want = {rule: (value, None if at is None else datetime.fromtimestamp(
                    at / 1000, UTC).isoformat().replace("+00:00", "Z"))
                    for rule, (value, at) in rules.items()}
                assert got == want, (url, user)
                assert served["unlocked"] == sum(at is not None for _, at in rules.values())
                unlocked_somewhere |= {r for r, (_, at) in rules.items() if at is not None}
    assert {"first-workout", "run-5k", "streak-3", "pr-1k"} <= unlocked_somewhere


def test_achievement_events_are_unique_and_match_the_view(pipeline):
    settings = pipeline.settings
    unlocks = [pipeline.serde.decode(m.value()) for m in
               read_topic(settings, settings.kafka.achievements_topic)]
    ids = [r["achievement_id"] for subject, r in unlocks
           if subject == "fitstream.achievements.AchievementUnlocked"]
    expected = {f"{u}:{rule}" for u, rules in pipeline.achievements.items()
                for rule, (_, at) in rules.items() if at is not None}
    # Re-sends after duplicates are allowed (consumers dedupe by id); the set is exact.
    assert set(ids) == expected


def expected_notifications(pipeline) -> dict[str, set[str]]:
    """The reference, from the log; records use the served best efforts (checked above)."""
    if not hasattr(pipeline, "notifications"):
        with httpx.Client(base_url=pipeline.api_urls[0], timeout=10) as client:
            runs = [client.get(f"/api/v1/workouts/{s['workout_id']}/private",
                               headers=owner_headers(pipeline, s["user_id"])).json()
                    for s in pipeline.reference.values()
                    if s["status"] == "completed" and s["sport_type"] == "running"]
        others = [s for s in pipeline.reference.values()
                  if s["status"] != "completed" or s["sport_type"] != "running"]
        pipeline.notifications = reference_notifications(
            pipeline.events, [*others, ILLEGAL_SUMMARY, *map(api_summary, runs)],
            pipeline.achievements, pipeline.completed_at)
    return pipeline.notifications


def owner_headers(pipeline, user: str) -> dict[str, str]:
    secret = pipeline.settings.api.token_secret.get_secret_value()
    return {"Authorization": f"Bearer {issue_user_token(secret, user, 300)}"}


def inbox(client: httpx.Client, url: str, headers: dict, user: str, **params) -> list[dict]:
    """Every page of a user's inbox; small pages, so the cursor is exercised."""
    items, cursor = [], None
    while True:
        page = client.get(f"{url}/api/v1/users/{user}/notifications", headers=headers,
                          params={"limit": 7, **params, **({"cursor": cursor} if cursor else {})})
        assert page.status_code == 200, page.text
        items += page.json()["items"]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            return items


def wait_for_inboxes(pipeline, expected: dict[str, set[str]], ready,
                     ) -> dict[tuple[str, str], list[dict]]:
    """Poll every inbox on every backend until ``ready(user, items)``; returns the inboxes."""
    inboxes: dict[tuple[str, str], list[dict]] = {}
    with httpx.Client(timeout=10) as client:
        for url in pipeline.api_urls:
            for user in expected:
                headers = owner_headers(pipeline, user)

                def user_ready(url: str = url, user: str = user, headers: dict = headers,
                               ) -> bool:
                    inboxes[(url, user)] = inbox(client, url, headers, user)
                    return ready(user, inboxes[(url, user)])

                wait_until(user_ready, f"{user}'s inbox at {url} to be ready",
                           progress=lambda url=url, user=user: repr(inboxes.get((url, user))),
                           alive=pipeline.stack.check, poll_s=0.5)
    return inboxes


def test_every_inbox_holds_exactly_the_reference_notifications(pipeline):
    expected = expected_notifications(pipeline)
    kinds = {nid.split(":")[2].split("-")[0] for ids in expected.values() for nid in ids}
    assert {"first", "goal", "top10", "run", "streak"} <= kinds, kinds
    inboxes = wait_for_inboxes(pipeline, expected,
                               lambda user, items: len(items) >= len(expected[user]))
    for (url, user), items in inboxes.items():
        assert {n["id"] for n in items} == expected[user], (url, user)
        assert len(items) == len(expected[user])  # one row per id, however often re-sent
        assert [n["sent_at"] for n in items] == sorted((n["sent_at"] for n in items),
                                                       reverse=True)


def test_every_notification_reaches_each_chosen_channel(pipeline):
    expected = expected_notifications(pipeline)
    channels_of = {user: {"push", "email", "sms"} if user == CHANNEL_USER else {"push"}
                   for user in expected}

    def delivered(user, items):
        return len(items) == len(expected[user]) and all(
            {d["channel"] for d in n["deliveries"] if d["status"] == "sent"}
            == channels_of[user] for n in items)

    wait_for_inboxes(pipeline, expected, delivered)
    received = pipeline.channels.received
    everyone = {nid for ids in expected.values() for nid in ids}
    # Without crashes, exactly once on the wire, though the processor re-sends
    # notifications (after a crash the idempotency key makes a repeat recognisable).
    assert sorted(m["idempotency_key"] for m in received.by("push")) == sorted(
        f"{nid}|push" for nid in everyone)
    assert {m["payload"]["user_id"] for m in received.by("push")} == set(expected)
    sms = received.by("sms")
    assert sorted(m["idempotency_key"] for m in sms) == sorted(
        f"{n}|sms" for n in expected[CHANNEL_USER])
    assert {m["payload"]["to"] for m in sms} == {CHANNEL_PREFERENCES["phone"]}
    mails = received.by("smtp")
    assert {m["payload"]["to"][0] for m in mails} == {CHANNEL_PREFERENCES["email"]}
    assert sorted(m["idempotency_key"] for m in mails) == sorted(
        message_id(f"{nid}|email") for nid in expected[CHANNEL_USER])


def test_a_user_reads_their_notifications_and_no_one_else_can(pipeline):
    url = pipeline.api_urls[0]
    user, intruder = "user-00004", "user-00005"
    expected = expected_notifications(pipeline)[user]
    headers = owner_headers(pipeline, user)
    with httpx.Client(base_url=url, timeout=10) as client:
        first = inbox(client, url, headers, user)[-1]
        path = f"/api/v1/users/{user}/notifications/{first['id']}/read"
        read = client.post(path, headers=headers)
        assert read.status_code == 200
        assert (read.json()["id"], read.json()["read"]) == (first["id"], True)
        again = client.post(path, headers=headers).json()
        assert again["read_at"] == read.json()["read_at"]  # the first read is kept
        unread = client.get(f"/api/v1/users/{user}/notifications",
                            params={"unread": True, "limit": 200}, headers=headers).json()
        assert unread["unread"] == len(expected) - 1
        assert {n["id"] for n in unread["items"]} == expected - {first["id"]}
        done = client.get(f"/api/v1/users/{user}/notifications", params={"unread": False},
                          headers=headers).json()
        assert [n["id"] for n in done["items"]] == [first["id"]]
        missing = client.post(f"/api/v1/users/{user}/notifications/n:nothing/read",
                              headers=headers)
        assert (missing.status_code, missing.json()["error"]) == (404, "not_found")
        for method, target in (("GET", f"/api/v1/users/{user}/notifications"), ("POST", path),
                               ("GET", f"/api/v1/users/{user}/notification-preferences")):
            forbidden = client.request(method, target, headers=owner_headers(pipeline, intruder))
            assert forbidden.status_code == 403
            assert set(forbidden.json()) == {"error", "message", "code", "details"}
            assert client.request(method, target).status_code == 401
    # The read went through the log: the server backend's sink shows it too.
    served = {}

    def read_is_served() -> bool:
        served["ids"] = [n["id"] for n in httpx.get(
            f"{pipeline.api_urls[-1]}/api/v1/users/{user}/notifications",
            params={"unread": False}, headers=headers).json()["items"]]
        return served["ids"] == [first["id"]]

    wait_until(read_is_served, f"the read of {first['id']} on the server backend",
               progress=lambda: served.get("ids"), alive=pipeline.stack.check, poll_s=0.5)


def test_preferences_are_validated_and_served_to_their_owner(pipeline):
    url = pipeline.api_urls[0]
    path = f"{url}/api/v1/users/{CHANNEL_USER}/notification-preferences"
    headers = owner_headers(pipeline, CHANNEL_USER)
    served = httpx.get(path, headers=headers).json()
    assert {**served, "channels": sorted(served["channels"])} == {
        **served, **CHANNEL_PREFERENCES, "channels": sorted(CHANNEL_PREFERENCES["channels"])}
    default = httpx.get(f"{url}/api/v1/users/user-00001/notification-preferences",
                        headers=owner_headers(pipeline, "user-00001")).json()
    assert (default["channels"], default["updated_at"]) == (["push"], None)
    bad = httpx.put(path, headers=headers, json={"channels": ["sms"], "phone": "0151 123"})
    assert (bad.status_code, bad.json()["error"]) == (422, "validation_failed")
    no_address = httpx.put(path, headers=headers, json={"channels": ["email"]})
    assert no_address.status_code == 422
    assert "email address" in str(no_address.json()["details"])


def table_rows(store: ClickHouseStore, table: str) -> list[tuple]:
    rows = store.query(f"SELECT * FROM {store.database}.{table} FINAL")
    return sorted(tuple(row.values()) for row in rows)


def assert_replay_equals_live(settings: FitStreamSettings, replay_name: str,
                              may_be_empty: tuple[str, ...] = ()) -> None:
    """Every view table of the replay holds exactly the live table's rows."""
    live, replayed = open_store(settings), open_store(replay_settings(settings, replay_name))
    try:
        for view in view_tables(settings):
            rows = table_rows(live, view.table)
            assert rows or view.table in may_be_empty, view.table
            assert table_rows(replayed, view.table) == rows, view.table
    finally:
        live.close()
        replayed.close()


def test_a_replay_from_offset_zero_equals_the_live_views_row_for_row(pipeline, tmp_path):
    settings = pipeline.server_settings
    env = {k: v for k, v in os.environ.items() if not k.startswith("FITSTREAM_")}
    result = subprocess.run(
        [sys.executable, "-m", "cli.main", "replay", "--name", "e2e"],
        env={**env, **settings.to_env()}, capture_output=True, text=True, timeout=600,
        check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    assert_replay_equals_live(settings, "e2e")


def test_a_route_is_served_to_its_owner_only_as_simplified_geojson(pipeline):
    secret = pipeline.settings.api.token_secret.get_secret_value()
    completed = [s for s in pipeline.reference.values() if s["status"] == "completed"][:5]
    for url in pipeline.api_urls:
        for summary in completed:
            route = pipeline.routes[summary["workout_id"]]
            path = f"{url}/api/v1/workouts/{summary['workout_id']}/route"
            owner = {"Authorization": f"Bearer {issue_user_token(secret, summary['user_id'], 60)}"}
            full = httpx.get(path, params={"tolerance_m": 0}, headers=owner).json()
            coarse = httpx.get(path, params={"tolerance_m": 50}, headers=owner).json()
            lats, lons = [c["lat"] for c in route], [c["lon"] for c in route]
            assert full["bbox"] == coarse["bbox"] == [min(lons), min(lats), max(lons), max(lats)]
            for feature in (full, coarse):
                line = feature["geometry"]["coordinates"]
                assert line[0] == [lons[0], lats[0]] and line[-1] == [lons[-1], lats[-1]]
                assert all([lon, lat] in [[c["lon"], c["lat"]] for c in route]
                           for lon, lat in line)
            assert full["properties"]["points"] == len(route)
            assert len(coarse["geometry"]["coordinates"]) < len(full["geometry"]["coordinates"])
        target = f"{url}/api/v1/workouts/{completed[0]['workout_id']}/route"
        assert httpx.get(target).status_code == 401
        stranger = {"Authorization": f"Bearer {issue_user_token(secret, 'someone-else', 60)}"}
        forbidden = httpx.get(target, headers=stranger)
        assert (forbidden.status_code, forbidden.json()["error"]) == (403, "forbidden")
        device = {"Authorization": "Bearer " + issue_device_token(
            secret, completed[0]["user_id"], "d", 60)}
        assert httpx.get(target, headers=device).status_code == 401  # wrong audience
        assert httpx.get(f"{url}/api/v1/workouts/nope/route", headers=stranger).status_code == 404


def test_details_hold_every_sample_and_km_splits_for_the_owner(pipeline):
    secret = pipeline.settings.api.token_secret.get_secret_value()
    chosen = sorted((s for s in pipeline.reference.values() if s["distance_meters"] > 3000),
                    key=lambda s: s["workout_id"])[:3]
    assert chosen
    for url in pipeline.api_urls:
        for summary in chosen:
            owner = {"Authorization": f"Bearer {issue_user_token(secret, summary['user_id'], 60)}"}
            details = httpx.get(f"{url}/api/v1/workouts/{summary['workout_id']}/details",
                                headers=owner).json()
            samples = [pipeline.samples[summary["workout_id"]][k]
                       for k in sorted(pipeline.samples[summary["workout_id"]])]
            assert details["samples"] == samples
            heart_rates = [s["heart_rate"] for s in samples if s["heart_rate"] is not None]
            assert details["max_heart_rate"] == max(heart_rates)
            assert details["avg_heart_rate"] == sum(heart_rates) / len(heart_rates)
            assert details["max_speed_mps"] == max(s["speed"] for s in samples)
            # Splits: the time each full km was reached, interpolated between samples.
            expected, previous, points = [], 0.0, [(0.0, 0)] + [
                (s["distance_meters"], s["offset_ms"]) for s in samples]
            for km in range(1, int(points[-1][0] // 1000) + 1):
                (d0, t0), (d1, t1) = next((a, b) for a, b in itertools.pairwise(points)
                                          if a[0] < km * 1000 <= b[0])
                at = t0 + (t1 - t0) * (km * 1000 - d0) / (d1 - d0)
                expected.append({"km": km, "elapsed_s": round(at / 1000, 3),
                                 "pace_s_per_km": round((at - previous) / 1000, 3)})
                previous = at
            assert details["splits"] == expected
        stranger = {"Authorization": f"Bearer {issue_user_token(secret, 'someone-else', 60)}"}
        denied = httpx.get(f"{url}/api/v1/workouts/{chosen[0]['workout_id']}/details",
                           headers=stranger)
        assert denied.status_code == 403


def test_stats_totals_agree_with_the_reference_and_are_private(pipeline):
    secret = pipeline.settings.api.token_secret.get_secret_value()
    month = {e["user_id"]: e for e in pipeline.boards[("month", "2026-11", "all")]}
    for url in pipeline.api_urls:
        for user, entry in sorted(month.items())[:3]:
            owner = {"Authorization": f"Bearer {issue_user_token(secret, user, 60)}"}
            stats = httpx.get(f"{url}/api/v1/users/{user}/stats",
                              params={"window": "month", "period": "2026-11"},
                              headers=owner).json()
            assert stats["totals"]["workouts"] == entry["workouts"]
            assert stats["totals"]["distance_meters"] == entry["distance"]
            assert stats["totals"]["moving_time_s"] == entry["moving_time"]
            assert len(stats["weekly_activity"]) == 12
        other = {"Authorization": f"Bearer {issue_user_token(secret, 'someone-else', 60)}"}
        assert httpx.get(f"{url}/api/v1/users/user-00000/stats",
                         headers=other).status_code == 403


def test_public_reads_carry_an_etag_and_answer_304_while_unchanged(pipeline):
    workout_id = next(iter(pipeline.reference))
    for path in (f"/api/v1/workouts/{workout_id}", "/api/v1/leaderboards/distance?window=all",
                 "/api/v1/users/user-00001/achievements"):
        first = httpx.get(pipeline.api_urls[0] + path)
        assert first.status_code == 200
        assert first.headers["cache-control"] == "public, max-age=5"
        again = httpx.get(pipeline.api_urls[0] + path,
                          headers={"If-None-Match": first.headers["etag"]})
        assert (again.status_code, again.content) == (304, b"")
        stale = httpx.get(pipeline.api_urls[0] + path, headers={"If-None-Match": '"stale"'})
        assert stale.status_code == 200 and stale.json() == first.json()


def test_the_processor_stops_cleanly_on_sigint(pipeline):
    """Runs last in this module: an operator's Ctrl-C must not hang the worker."""
    processor = pipeline.stack.roles[0]
    assert processor.name == "processor"
    processor.signal(signal.SIGINT)
    assert processor.proc.wait(30) == 0, processor.log_tail()



ANALYTICS = Path(__file__).resolve().parents[2] / "docs" / "analytics.md"


def analyst_queries() -> list[str]:
    return re.findall(r"```sql\n(.*?)```", ANALYTICS.read_text(), flags=re.DOTALL)


def run_analyst_sql(pipeline, statement: str, backend: str) -> list[dict]:
    """Through the API process that owns chdb, or straight to the server, read-only."""
    if backend == "chdb":
        secret = pipeline.settings.api.token_secret.get_secret_value()
        response = httpx.post(f"{pipeline.api_urls[0]}/api/v1/analytics/sql",
                              json={"sql": statement},
                              headers={"Authorization":
                                       f"Bearer {issue_analyst_token(secret, 'test', 60)}"},
                              timeout=60)
        assert response.status_code == 200, response.text
        body = response.json()
        return [dict(zip(body["columns"], row, strict=True)) for row in body["rows"]]
    store = open_store(pipeline.server_settings)
    try:
        columns, rows = store.query_read_only(
            statement.replace("fitstream.", f"{pipeline.server_settings.clickhouse.database}."))
    finally:
        store.close()
    return [dict(zip(columns, row, strict=True)) for row in rows]


@pytest.mark.parametrize("backend", ["chdb", "server"])
def test_the_ten_analyst_queries_run_and_agree_with_the_reference(pipeline, backend):
    queries = analyst_queries()
    assert len(queries) == 10
    results = [run_analyst_sql(pipeline, q, backend) for q in queries]
    assert all(results), [i + 1 for i, r in enumerate(results) if not r]
    completed = [s for s in [*pipeline.reference.values(), ILLEGAL_SUMMARY]
                 if s["status"] == "completed"]
    weekly: dict[str, set] = defaultdict(set)
    for s in completed:
        monday = (s["start_time"] - timedelta(days=s["start_time"].weekday())).date()
        weekly[monday.isoformat()].add(s["user_id"])
    assert {str(r["week"])[:10]: r["active_users"] for r in results[0]} == {
        week: len(users) for week, users in weekly.items()}
    funnel = {r["sport_type"]: (r["started"], r["completed"]) for r in results[4]}
    every = [*pipeline.reference.values(), ILLEGAL_SUMMARY]
    assert funnel == {sport: (sum(s["sport_type"] == sport for s in every),
                              sum(s["sport_type"] == sport for s in completed))
                      for sport in {s["sport_type"] for s in every}}


def test_analyst_sql_is_read_only_and_for_analysts_only(pipeline):
    url = f"{pipeline.api_urls[0]}/api/v1/analytics/sql"
    secret = pipeline.settings.api.token_secret.get_secret_value()
    analyst = {"Authorization": f"Bearer {issue_analyst_token(secret, 'test', 60)}"}
    write = httpx.post(url, headers=analyst, json={
        "sql": "INSERT INTO fitstream.notification_reads (user_id) VALUES ('x')"})
    # Refused by the statement check before it runs (readonly=1 would refuse it too).
    assert (write.status_code, write.json()["error"]) == (400, "sql_refused")
    assert write.json()["message"] == "only one SELECT statement may run"
    user = httpx.post(url, json={"sql": "SELECT 1"}, headers=owner_headers(pipeline, "user-00001"))
    assert user.status_code == 401
    cli = subprocess.run(
        [sys.executable, "-m", "cli.main", "sql", "--format", "csv",
         "SELECT uniqExact(user_id) AS users FROM fitstream.workout_summary FINAL"],
        env={**{k: v for k, v in os.environ.items() if not k.startswith("FITSTREAM_")},
             **pipeline.settings.to_env()}, capture_output=True, text=True, timeout=60,
        check=False)
    assert cli.returncode == 0, cli.stderr
    assert cli.stdout.splitlines() == ["users", str(SPEC.users)]
