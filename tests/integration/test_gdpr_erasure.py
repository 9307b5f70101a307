"""An erased user stays erased: real broker, processor and API (which owns chdb and runs
the sinks), and the erase job as an operator runs it, while the system is live.

A user completes a 5.5 km run and is erased; their next run, a 1 km run, counts from
zero: the all-time board shows 1 km and 1 workout, not 6.5 km and 2, and the 5 km
achievement is not unlocked. Another user is untouched. A replay from offset 0 rebuilds
the same: the erased run is dead-lettered with reason ``user_erased``. Run twice: live
on Faust and replayed on Flink, then live on Flink (its erase waits for the job's
checkpoint past the erasure) and replayed on Faust.
"""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import time
from typing import Any

import httpx
import pytest
from confluent_kafka import Producer

from cli.dev.local_stack import LocalStack, wait_for_api
from cli.replay import replay_settings
from fitstream.api_client import api_url
from fitstream.contracts import AvroSerde, registry_from_settings
from fitstream.kafka.clients import producer_config
from fitstream.kafka.dead_letter import read_headers
from fitstream.privacy.coordinates import (
    CoordinatesUnreadable,
    open_coordinates,
    seal_coordinates,
)
from fitstream.privacy.fields import ERASED as UNREADABLE
from fitstream.privacy.fields import FieldCipher
from fitstream.privacy.keys import key_store
from fitstream.settings import FitStreamSettings
from fitstream.tokens import issue_analyst_token, issue_user_token
from stores.clickhouse.store import open_store
from stores.clickhouse.tables import view_tables
from tests.conftest import isolated
from tests.harness import wait_until
from tests.integration.test_pipeline_e2e import read_topic

pytestmark = pytest.mark.e2e

ERASED, KEPT = "user-erased-1", "user-kept-1"
MINUTE = 60_000


def run(user: str, workout: str, start: int, minutes: int, meters: float) -> list[dict]:
    """A run as a device sends it: started, then completed ``minutes`` later."""
    base = {"user_id": user, "workout_id": workout, "device_id": f"dev-{user}"}
    end = start + minutes * MINUTE
    return [
        {**base, "event_id": f"{workout}-0", "type": "WorkoutStarted", "occurred_at": start,
         "seq": 0, "sport_type": "running", "start_time": start,
         "location": {"latitude": 52.52, "longitude": 13.40}, "device_model": "test"},
        {**base, "event_id": f"{workout}-1", "type": "WorkoutCompleted", "occurred_at": end,
         "seq": 1, "end_time": end, "duration_sec": minutes * 60, "distance_meters": meters,
         "calories_burned": meters / 15,
         "route_coordinates": [{"lat": 52.52, "lon": 13.40}, {"lat": 52.53, "lon": 13.41}]},
    ]


def produce(settings: FitStreamSettings, serde: AvroSerde, events: list[dict]) -> None:
    """The events as ingest writes them: coordinates sealed with the user's data key."""
    producer = Producer(producer_config(settings.kafka))
    cipher = FieldCipher(key_store(settings))
    for event in events:
        subject = f"fitstream.workouts.{event['type']}"
        producer.produce(settings.kafka.events_topic, key=event["user_id"].encode(),
                         value=serde.encode(subject, seal_coordinates(cipher, subject, event)))
    assert producer.flush(30) == 0


# The run's coordinates as the log would hold them in plain Avro (little-endian doubles).
PLAIN_COORDINATES = [struct.pack("<d", v) for v in (52.52, 13.40, 52.53, 13.41)]


def logged_of(settings: FitStreamSettings, topic: str, workout: str) -> list[Any]:
    return [m for m in read_topic(settings, topic) if workout.encode() in m.value()]


def sql(settings: FitStreamSettings, statement: str) -> list[dict[str, Any]]:
    token = issue_analyst_token(settings.api.token_secret.get_secret_value(), "test", 300)
    response = httpx.post(f"{api_url(settings)}/api/v1/analytics/sql", json={"sql": statement},
                          headers={"Authorization": f"Bearer {token}"}, timeout=60)
    assert response.status_code == 200, response.text
    body = response.json()
    return [dict(zip(body["columns"], row, strict=True)) for row in body["rows"]]


ALL_TIME = ("SELECT user_id, distance_meters, workouts FROM leaderboard_entries FINAL"
            " WHERE time_window = 'all' AND sport = 'all' ORDER BY user_id")
# Progress is the share of the threshold reached (1 km of 5 km: 0.2).
RUN_5K = ("SELECT user_id, progress, achieved_at_ms FROM achievement_progress FINAL"
          " WHERE rule_id = 'run-5k' ORDER BY user_id")


@pytest.fixture(scope="module", params=["faust", "flink"])
def live(request, broker, tmp_path_factory):
    """The live system on one engine; the test replays on the other."""
    engine = request.param
    settings = isolated(broker, tmp_path_factory.mktemp(f"erasure-{engine}"),
                        f"erasure-{engine}")
    settings = settings.model_copy(update={"processor": settings.processor.model_copy(
        update={"engine": engine})})
    stack = LocalStack()
    stack.start(settings, "processor", "process")
    stack.start(settings, "api", "serve")
    try:
        wait_for_api(settings, stack)
        yield settings, stack, AvroSerde(registry_from_settings(settings.schema_registry))
    finally:
        stack.stop()


def wait_for_rows(settings: FitStreamSettings, stack: LocalStack, statement: str,
                  expected: list[dict], what: str) -> None:
    seen: list[Any] = []

    def done() -> bool:
        seen[:] = sql(settings, statement)
        return seen == expected

    wait_until(done, what, progress=lambda: repr(seen), alive=stack.check)


def test_an_erased_user_comes_back_from_zero_and_a_replay_agrees(live, tmp_path):
    from jobs.gdpr_erase import erase_user

    settings, stack, serde = live
    now = int(time.time() * 1000)
    produce(settings, serde, run(ERASED, "w-erased-5k5", now - 90 * MINUTE, 30, 5500.0)
            + run(KEPT, "w-kept-3k", now - 90 * MINUTE, 20, 3000.0))
    wait_for_rows(settings, stack, ALL_TIME, [
        {"user_id": ERASED, "distance_meters": 5500.0, "workouts": 1},
        {"user_id": KEPT, "distance_meters": 3000.0, "workouts": 1}],
        "both users' first runs on the all-time board")
    # The achievements sink is its own consumer: the board landing says nothing about it.
    wait_until(lambda: [r["user_id"] for r in sql(settings, RUN_5K) if r["achieved_at_ms"]]
               == [ERASED], "the erased user's 5 km achievement unlocked",
               progress=lambda: repr(sql(settings, RUN_5K)), alive=stack.check)
    # Coordinates reach the log and the routes topic sealed; the views hold them opened.
    wait_for_rows(settings, stack, "SELECT lats, lons FROM workout_routes FINAL"
                  " WHERE workout_id = 'w-erased-5k5'",
                  [{"lats": [52.52, 52.53], "lons": [13.40, 13.41]}], "the erased run's route")
    located = [*logged_of(settings, settings.kafka.events_topic, "w-erased-5k5"),
               *logged_of(settings, settings.kafka.routes_topic, "w-erased-5k5")]
    assert len(located) == 3  # started, completed, the route
    for message in located:
        assert not [d for d in PLAIN_COORDINATES if d in message.value()]
        assert serde.decode(message.value())[1]["sealed_coordinates"][:1] == b"\x01"

    # Their addresses reach the log sealed with their data key, and the API serves them.
    chosen = {"channels": ["email", "sms"], "email": "erased@example.org",
              "phone": "+4915112345678"}
    owner = {"Authorization": "Bearer " + issue_user_token(
        settings.api.token_secret.get_secret_value(), ERASED, 300)}
    preferences = f"{api_url(settings)}/api/v1/users/{ERASED}/notification-preferences"
    assert httpx.put(preferences, json=chosen, headers=owner, timeout=30).status_code == 200
    [logged] = read_topic(settings, settings.kafka.notification_preferences_topic)
    _, sealed = serde.decode(logged.value())
    assert b"erased@example.org" not in logged.value()
    assert b"+4915112345678" not in logged.value()
    assert FieldCipher(key_store(settings)).open_fields(
        ERASED, sealed, ("email", "phone")) == {**sealed, **chosen, "channels": ["email", "sms"]}
    assert httpx.get(preferences, headers=owner, timeout=30).json()["email"] == chosen["email"]

    report = erase_user(settings, ERASED, processor_timeout_s=300)
    assert report["erasure"]["processor state dropped"] is True
    assert report["erasure"]["data key deleted"] is True
    # Crypto-shredding: the copy in the log no longer opens, for any process.
    assert FieldCipher(key_store(settings)).open(ERASED, "email", sealed["email"]) is UNREADABLE
    assert report["erasure"]["view sinks settled"] is True
    # ... and so do the run's coordinates, in the events log and the routes topic.
    cipher = FieldCipher(key_store(settings))
    for message in located:
        with pytest.raises(CoordinatesUnreadable):
            open_coordinates(cipher, *serde.decode(message.value()))
    assert report["clickhouse"]["leaderboard_entries"] > 0
    assert sql(settings, f"SELECT count() AS n FROM leaderboard_entries WHERE user_id ="
                         f" '{ERASED}'") == [{"n": 0}]

    # The next run, after the erasure: a new start, not the old totals plus 1 km.
    produce(settings, serde, run(ERASED, "w-erased-1k", now - 40 * MINUTE, 6, 1000.0))
    wait_for_rows(settings, stack, ALL_TIME, [
        {"user_id": ERASED, "distance_meters": 1000.0, "workouts": 1},
        {"user_id": KEPT, "distance_meters": 3000.0, "workouts": 1}],
        "the erased user's 1 km run alone on the all-time board")
    wait_for_rows(settings, stack, RUN_5K, [
        {"user_id": ERASED, "progress": 1000.0 / 5000, "achieved_at_ms": None},
        {"user_id": KEPT, "progress": 3000.0 / 5000, "achieved_at_ms": None}],
        "the erased user's 5 km progress from the 1 km run alone, not unlocked")

    # A replay from offset 0 reads the erasure first: the same boards, and the erased
    # run's events dead-lettered as user_erased. It runs on the other engine, so this is
    # also each engine's replay into fresh topics agreeing with the other's live views.
    env = {k: v for k, v in os.environ.items() if not k.startswith("FITSTREAM_")}
    other = {"faust": "flink", "flink": "faust"}[settings.processor.engine]
    on_other = settings.model_copy(update={"processor": settings.processor.model_copy(
        update={"engine": other})})
    result = subprocess.run(
        [sys.executable, "-m", "cli.main", "replay", "--name", "erasure"],
        env={**env, **on_other.to_env()}, capture_output=True, text=True, timeout=900,
        check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    replayed_settings = replay_settings(settings, "erasure")
    replayed = open_store(replayed_settings)
    try:
        db = replayed.database
        assert replayed.query(ALL_TIME.replace("FROM ", f"FROM {db}.")) == [
            {"user_id": ERASED, "distance_meters": 1000.0, "workouts": 1},
            {"user_id": KEPT, "distance_meters": 3000.0, "workouts": 1}]
        assert replayed.query(RUN_5K.replace("FROM ", f"FROM {db}.")) == [
            {"user_id": ERASED, "progress": 1000.0 / 5000, "achieved_at_ms": None},
            {"user_id": KEPT, "progress": 3000.0 / 5000, "achieved_at_ms": None}]
        assert replayed.query(f"SELECT user_id FROM {db}.notification_preferences") == []
        # No row of any view names the erased run or the erased address; the user's rows
        # are those of the 1 km run after the erasure.
        for table in sorted({view.table for view in view_tables(replayed_settings)}):
            rows = replayed.query(f"SELECT * FROM {db}.{table} WHERE user_id = %(u)s",
                                  {"u": ERASED})
            assert not [r for r in rows if "w-erased-5k5" in str(r)
                        or "erased@example.org" in str(r)], table
    finally:
        replayed.close()
    dead = read_topic(replayed_settings, replayed_settings.kafka.dlq_topic)
    erased = [(m.key(), m.value() or b"", read_headers(m.headers())["dlq.reason"])
              for m in dead]
    # No key, an empty value: a dead letter does not copy what was erased.
    assert erased == [(None, b"", "user_erased")] * 2
