"""Issue 9 findings 1 and 8 against the real broker, processor, sinks and API (chdb).

A victim completes a workout with samples and a route through ingest. Then attackers
reuse its workout id: one through ingest, and two through raw Kafka (a hostile producer
that skips ingest), one on the victim's partition and one on another. The victim's
summary, details, route and stats must stay exactly what they were; the attackers get
403 (404 for a workout nobody started); ingest refuses the reused id with 409 once the
claim is visible; every attacker's events make only that attacker's own session (the
processor keys sessions by user, so no partition layout changes a decision) and their
claims lose; and public reads show only what a public activity shows.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from confluent_kafka import Producer

from cli.dev.local_stack import LocalStack, wait_for_api
from fitstream.api_client import api_url
from fitstream.contracts import AvroSerde, registry_from_settings
from fitstream.kafka.clients import producer_config
from fitstream.kafka.positions import LogPosition, behind
from fitstream.tokens import issue_device_token, issue_user_token
from stores.clickhouse.tables import sink_groups
from tests.conftest import isolated
from tests.integration.test_pipeline_e2e import read_topic

pytestmark = pytest.mark.e2e

WORKOUT = "run-2026-11-30-victim"
VICTIM, VICTIM_DEVICE = "victim-1", "watch-victim"
# A sample every 30 s; the attackers send the same offsets with other values, which the
# old (workout_id, offset_ms) key would have merged into the victim's samples.
T = int(time.time() * 1000) - 3_600_000
T -= T % 86_400_000 == 86_399_999  # a millisecond later must be the same UTC day
SAMPLES = [{"offset_ms": 30_000 * (i + 1), "distance_meters": 100.0 * (i + 1),
            "heart_rate": 140 + i, "speed": 3.5, "lat": 52.5 + i / 1000, "lon": 13.4,
            "elevation_meters": 40.0} for i in range(4)]
ROUTE = [{"lat": 52.5, "lon": 13.4}, {"lat": 52.501, "lon": 13.401},
         {"lat": 52.501, "lon": 13.403}, {"lat": 52.503, "lon": 13.403}]


def workout_events(user: str, device: str, samples: list[dict], route: list[dict],
                   distance: float, at: int) -> list[dict[str, Any]]:
    def event(kind: str, seq: int, occurred_at: int, **payload: Any) -> dict[str, Any]:
        return {"event_id": str(uuid.uuid4()), "type": kind, "occurred_at": occurred_at,
                "user_id": user, "workout_id": WORKOUT, "device_id": device, "seq": seq,
                **payload}

    end = at + 150_000
    return [
        event("WorkoutStarted", 0, at, sport_type="running", start_time=at,
              location={"latitude": 52.5, "longitude": 13.4}, device_model="RunWatch"),
        event("WorkoutUpdated", 1, at + 120_000, current_distance_meters=samples[-1][
            "distance_meters"], heart_rate=samples[-1]["heart_rate"], current_speed=3.3,
              samples=samples),
        event("WorkoutCompleted", 2, end, end_time=end, duration_sec=150,
              distance_meters=distance, calories_burned=30.0, route_coordinates=route),
    ]


def attack(user: str) -> list[dict[str, Any]]:
    """The same workout id with other samples, another route and distance (all plausible,
    so nothing but the ownership rule refuses them)."""
    samples = [{**s, "heart_rate": 180, "lat": 40.0 + s["offset_ms"] / 1e8, "lon": -74.0,
                "distance_meters": s["distance_meters"] * 1.5} for s in SAMPLES]
    route = [{"lat": 40.0, "lon": -74.0}, {"lat": 40.001, "lon": -74.002}]
    return workout_events(user, f"watch-{user}", samples, route, 700.0, T + 60_000)


def wait_until(what: str, check, stack: LocalStack, timeout_s: float = 300) -> Any:
    """Poll ``check`` until it returns something truthy; fail naming ``what``."""
    deadline = time.monotonic() + timeout_s
    while True:
        stack.check()
        result = check()
        if result:
            return result
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.3)


@pytest.fixture(scope="module")
def stack(broker, tmp_path_factory):
    settings = isolated(broker, tmp_path_factory.mktemp("ownership"), "ownership")
    stack = LocalStack()
    stack.start(settings, "processor", "process")
    stack.start(settings, "api-chdb", "serve")
    try:
        wait_for_api(settings, stack)
        yield settings, stack
    finally:
        stack.stop()


def user_headers(settings, user: str) -> dict[str, str]:
    token = issue_user_token(settings.api.token_secret.get_secret_value(), user, 600)
    return {"Authorization": f"Bearer {token}"}


def device_headers(settings, user: str, device: str) -> dict[str, str]:
    token = issue_device_token(settings.api.token_secret.get_secret_value(), user, device, 600)
    return {"Authorization": f"Bearer {token}"}


def views_of(client: httpx.Client, settings, user: str) -> dict[str, Any]:
    """What ``user`` is served for the workout: status and body of every read."""
    headers = user_headers(settings, user)
    reads = {
        "public": client.get(f"/api/v1/workouts/{WORKOUT}"),
        "private": client.get(f"/api/v1/workouts/{WORKOUT}/private", headers=headers),
        "details": client.get(f"/api/v1/workouts/{WORKOUT}/details", headers=headers),
        "route": client.get(f"/api/v1/workouts/{WORKOUT}/route", headers=headers,
                            params={"tolerance_m": 0}),
        "stats": client.get(f"/api/v1/users/{VICTIM}/stats", headers=headers,
                            params={"window": "all", "period": "all"}),
    }
    return {name: (r.status_code, r.json()) for name, r in reads.items()}


def test_a_reused_workout_id_reaches_none_of_the_victims_views(stack):
    settings, roles = stack
    serde = AvroSerde(registry_from_settings(settings.schema_registry))
    topic = settings.kafka.events_topic
    with httpx.Client(base_url=api_url(settings), timeout=30) as client:
        victim = workout_events(VICTIM, VICTIM_DEVICE, SAMPLES, ROUTE, 400.0, T)
        sent = client.post("/api/v1/ingest/events", json={"events": victim},
                           headers=device_headers(settings, VICTIM, VICTIM_DEVICE))
        assert sent.status_code == 202, sent.text

        def victim_served():
            views = views_of(client, settings, VICTIM)
            ready = (views["public"][0] == 200 and views["public"][1]["status"] == "completed"
                     and views["details"][0] == 200
                     and len(views["details"][1]["samples"]) == len(SAMPLES)
                     and views["route"][0] == 200
                     and views["stats"][1]["totals"]["workouts"] == 1)
            return views if ready else None

        before = wait_until("the victim's workout in every view", victim_served, roles)
        assert before["details"][1]["samples"] == SAMPLES
        assert before["route"][1]["geometry"]["coordinates"] == [[c["lon"], c["lat"]]
                                                                 for c in ROUTE]
        private = before["private"][1]
        assert (private["user_id"], private["device_id"], private["distance_meters"],
                private["avg_heart_rate"], private["moving_duration_s"]) == (
            VICTIM, VICTIM_DEVICE, 400.0, 141.5, 150.0)
        assert before["stats"][1]["totals"]["distance_meters"] == 400.0

        # Finding 8: the public summary is what a public activity shows, nothing more.
        assert before["public"][1] == {
            "workout_id": WORKOUT, "user_id": VICTIM, "sport_type": "running",
            "status": "completed", "moving_duration_s": 150.0, "distance_meters": 400.0,
            "start_date": time.strftime("%Y-%m-%d", time.gmtime(T / 1000))}
        listed = client.get(f"/api/v1/users/{VICTIM}/workouts").json()["items"]
        assert listed == [before["public"][1]]
        # Exact times are the owner's: a public list filters by whole UTC days.
        a_ms_later = {"from": datetime.fromtimestamp((T + 1) / 1000, UTC).isoformat()}
        assert client.get(f"/api/v1/users/{VICTIM}/workouts",
                          params=a_ms_later).json()["items"] == listed
        assert client.get(f"/api/v1/users/{VICTIM}/workouts/private", params=a_ms_later,
                          headers=user_headers(settings, VICTIM)).json()["items"] == []

        # Through ingest: the claim is visible, so the attacker's Started is refused.
        ends = LogPosition(settings.kafka)
        log_before = ends.ends(topic)
        refused = client.post("/api/v1/ingest/events",
                              json={"events": attack("attacker-ingest")[:1]},
                              headers=device_headers(settings, "attacker-ingest",
                                                     "watch-attacker-ingest"))
        assert refused.status_code == 409, refused.text
        assert refused.json() == {
            "error": "workout_id_taken", "code": 409,
            "message": "1 events are for workout ids another user started",
            "details": [{"index": 0, "workout_id": WORKOUT}]}
        assert ends.ends(topic) == log_before

        # Through raw Kafka: one attacker on the victim's partition, one on another, both
        # dating their records to 1970 so that a claim by record time would be earliest.
        partition = next(m.partition() for m in read_topic(settings, topic)
                         if m.key() == VICTIM.encode())
        far = (partition + 1) % settings.kafka.events_partitions
        producer = Producer(producer_config(settings.kafka))
        for user, target in (("attacker-same", partition), ("attacker-far", far)):
            for event in attack(user):
                producer.produce(topic, key=user.encode(), partition=target, timestamp=1,
                                 value=serde.encode(f"fitstream.workouts.{event['type']}",
                                                    event))
        assert producer.flush(30) == 0

        def everything_consumed():
            return not behind(ends, topic, settings.processor.app_id, sink_groups(settings))

        wait_until("the processor and every sink to consume the attack", everything_consumed,
                   roles)
        ends.close()

        after = views_of(client, settings, VICTIM)
        assert after == before
        for attacker in ("attacker-same", "attacker-far", "attacker-ingest"):
            seen = views_of(client, settings, attacker)
            assert seen["public"] == before["public"]
            for name in ("private", "details", "route", "stats"):
                status, body = seen[name]
                assert (status, body["error"]) == (403, "forbidden"), (attacker, name)
        stranger = user_headers(settings, "attacker-far")
        for path in ("", "/private", "/details", "/route"):
            missing = client.get(f"/api/v1/workouts/never-started{path}", headers=stranger)
            assert (missing.status_code, missing.json()["error"]) == (404, "not_found"), path
            invalid = client.get(f"/api/v1/workouts/bad'id{path}", headers=stranger)
            assert (invalid.status_code, invalid.json()["error"]) == (400, "invalid_id"), path

    # Plausible events, each user's own: nothing is dead-lettered, on either partition.
    assert read_topic(settings, settings.kafka.dlq_topic) == []
    claims = [serde.decode(m.value())[1] for m in read_topic(settings, settings.kafka.claims_topic)]
    first = {}
    for claim in claims:
        assert claim["workout_id"] == WORKOUT
        first[claim["user_id"]] = min(first.get(claim["user_id"], claim["claimed_at"]),
                                      claim["claimed_at"])
    # Both raw-Kafka attackers' claims exist and lose, being later in record time, which
    # the broker stamps (not the producer, who dated its records 1970).
    assert set(first) == {VICTIM, "attacker-same", "attacker-far"}
    assert first[VICTIM] < min(first["attacker-same"], first["attacker-far"])
