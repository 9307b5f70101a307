"""Device ingest over HTTP against the real broker: 202, 400, 401, 403, 413 and 503."""

from __future__ import annotations

import copy
import re
import struct
import time

import pytest
from confluent_kafka import Consumer, TopicPartition
from fastapi.testclient import TestClient

from api.app import create_app
from api.event_publisher import EventPublisher
from fitstream.contracts import AvroSerde, registry_from_settings
from fitstream.domain.identifiers import ID_PATTERN
from fitstream.kafka.clients import consumer_config
from fitstream.privacy.coordinates import open_coordinates
from fitstream.privacy.fields import FieldCipher
from fitstream.privacy.keys import key_store
from fitstream.settings import ApiSettings, FitStreamSettings, KafkaSettings
from fitstream.tokens import issue_device_token
from tests.conftest import isolated
from tests.harness import free_port
from tests.integration.test_pipeline_e2e import read_topic

pytestmark = pytest.mark.e2e

T0 = 1_793_606_400_000
STARTED = {
    "event_id": "7d7c0c62-3a55-4a43-9c8e-5b1f7f0a0001", "type": "WorkoutStarted",
    "occurred_at": T0, "user_id": "user-7", "workout_id": "w-7", "device_id": "watch-7",
    "seq": 0, "sport_type": "running", "start_time": T0,
    "location": {"latitude": 52.5, "longitude": 13.4}, "device_model": "RunWatch Pro",
}
UPDATED = {
    "event_id": "7d7c0c62-3a55-4a43-9c8e-5b1f7f0a0002", "type": "WorkoutUpdated",
    "occurred_at": T0 + 5000, "user_id": "user-7", "workout_id": "w-7", "device_id": "watch-7",
    "seq": 1, "current_distance_meters": 14.2, "heart_rate": 131, "current_speed": 2.9,
    "samples": [{"offset_ms": 5000, "distance_meters": 14.2, "heart_rate": 131, "speed": 2.5,
                 "lat": 52.5001, "lon": 13.4001, "elevation_meters": 41.0}],
}


def client_for(settings: FitStreamSettings):
    serde = AvroSerde(registry_from_settings(settings.schema_registry))
    publisher = EventPublisher(settings)
    publisher.start()
    client = TestClient(create_app(settings, serde, None, publisher))
    return client, publisher, serde


@pytest.fixture(scope="module")
def ingest(broker, tmp_path_factory):
    settings = isolated(broker, tmp_path_factory.mktemp("ingest"), "ingest")
    settings = settings.model_copy(update={"api": ApiSettings(ingest_max_events=5,
                                                              ingest_max_bytes=20_000)})
    client, publisher, serde = client_for(settings)
    yield settings, client, serde
    publisher.close()


def auth(settings: FitStreamSettings, user: str = "user-7", device: str = "watch-7") -> dict:
    token = issue_device_token(settings.api.token_secret.get_secret_value(), user, device, 600)
    return {"Authorization": f"Bearer {token}"}


def test_accepted_events_are_in_the_log_as_avro_keyed_by_user(ingest):
    settings, client, serde = ingest
    response = client.post("/api/v1/ingest/events", json={"events": [STARTED, UPDATED]},
                           headers=auth(settings))
    assert response.status_code == 202
    assert response.json() == {"accepted": 2}
    records = read_topic(settings, settings.kafka.events_topic)
    logged = [(m.key(), serde.decode(m.value())) for m in records]
    # Coordinates are sealed with the user's data key (issue 9 finding 11): the plain
    # fields hold zeros, and the bytes hold none of the device's coordinates.
    assert [(key, subject, {k: v for k, v in record.items() if k != "sealed_coordinates"})
            for key, (subject, record) in logged] == [
        (b"user-7", "fitstream.workouts.WorkoutStarted",
         {**STARTED, "location": {"latitude": 0.0, "longitude": 0.0}}),
        (b"user-7", "fitstream.workouts.WorkoutUpdated",
         {**UPDATED, "avg_heart_rate": None, "position": None, "elevation_meters": None,
          "samples": [{**UPDATED["samples"][0], "lat": 0.0, "lon": 0.0}]}),
    ]
    for message in records:
        assert not [v for v in (52.5, 13.4, 52.5001, 13.4001)
                    if struct.pack("<d", v) in message.value()]
    cipher = FieldCipher(key_store(settings))
    assert [open_coordinates(cipher, *record) for _, record in logged] == [
        {**STARTED, "sealed_coordinates": None},
        {**UPDATED, "avg_heart_rate": None, "position": None, "elevation_meters": None,
         "sealed_coordinates": None}]
    assert len({m.partition() for m in records}) == 1


def test_a_device_cannot_send_sealed_coordinates(ingest):
    """The field is the server's: a device that sets it could make its events unreadable
    or pass off another user's sealed coordinates as its own."""
    settings, client, _ = ingest
    before = len(read_topic(settings, settings.kafka.events_topic))
    response = client.post("/api/v1/ingest/events", json={"events": [
        {**STARTED, "event_id": "e-sealed-1", "sealed_coordinates": "fse1.AAAA"}]},
        headers=auth(settings))
    assert response.status_code == 400
    assert response.json()["details"] == [{
        "index": 0, "event_id": "e-sealed-1",
        "reason": "sealed_coordinates: set by the server, never by a device"}]
    assert len(read_topic(settings, settings.kafka.events_topic)) == before


def test_each_bad_event_is_listed_and_nothing_is_written(ingest):
    settings, client, _ = ingest
    before = len(read_topic(settings, settings.kafka.events_topic))
    no_type = {k: v for k, v in UPDATED.items() if k != "type"}
    bad_sport = {**STARTED, "sport_type": "golf"}
    response = client.post("/api/v1/ingest/events",
                           json={"events": [STARTED, bad_sport, "x", no_type]},
                           headers=auth(settings))
    assert response.status_code == 400
    body = response.json()
    assert (body["error"], body["code"]) == ("invalid_events", 400)
    assert body["message"] == "3 of 4 events break their contract"
    assert [d["index"] for d in body["details"]] == [1, 2, 3]
    assert "sport_type" in body["details"][0]["reason"]
    assert body["details"][1]["reason"] == "an event must be a JSON object"
    assert body["details"][2]["reason"] == "unknown type None"
    assert len(read_topic(settings, settings.kafka.events_topic)) == before


@pytest.mark.parametrize("body", [b"not json", b'{"events": []}', b"[1, 2]"])
def test_malformed_bodies_are_400(ingest, body):
    settings, client, _ = ingest
    response = client.post("/api/v1/ingest/events", content=body,
                           headers={**auth(settings), "Content-Type": "application/json"})
    assert response.status_code == 400
    assert set(response.json()) == {"error", "message", "code", "details"}


@pytest.mark.parametrize("header", [None, "Bearer not-a-token", "Basic dXNlcjpwYXNz"])
def test_missing_or_invalid_tokens_are_401(ingest, header):
    _, client, _ = ingest
    other_secret = issue_device_token("another-secret-of-at-least-32-bytes", "user-7", "watch-7",
                                      600)
    headers = {"Authorization": header} if header else {}
    for attempt in (headers, {"Authorization": f"Bearer {other_secret}"}):
        response = client.post("/api/v1/ingest/events", json={"events": [STARTED]},
                               headers=attempt)
        assert response.status_code == 401
        assert response.json()["error"] == "unauthorized"
        assert response.headers["WWW-Authenticate"] == "Bearer"


def test_a_token_for_another_user_or_device_is_403(ingest):
    settings, client, _ = ingest
    for user, device in (("user-8", "watch-7"), ("user-7", "watch-8")):
        response = client.post("/api/v1/ingest/events", json={"events": [STARTED]},
                               headers=auth(settings, user, device))
        assert response.status_code == 403
        assert response.json()["details"] == [
            {"index": 0, "user_id": "user-7", "device_id": "watch-7"}]


def test_oversized_requests_are_413(ingest):
    settings, client, _ = ingest
    many = [dict(STARTED, seq=i) for i in range(6)]
    response = client.post("/api/v1/ingest/events", json={"events": many},
                           headers=auth(settings))
    assert (response.status_code, response.json()["error"]) == (413, "too_many_events")
    huge = copy.deepcopy(UPDATED)
    huge["samples"] = huge["samples"] * 400
    response = client.post("/api/v1/ingest/events", json={"events": [huge]},
                           headers=auth(settings))
    assert (response.status_code, response.json()["error"]) == (413, "payload_too_large")


def test_a_broker_outage_is_503_never_a_silent_drop(tmp_path):
    dead = f"127.0.0.1:{free_port()}"
    settings = FitStreamSettings(state_dir=tmp_path, kafka=KafkaSettings(bootstrap_servers=dead),
                                 api=ApiSettings(ingest_ack_timeout_s=1.5))
    client, publisher, _ = client_for(settings)
    try:
        response = client.post("/api/v1/ingest/events", json={"events": [STARTED]},
                               headers=auth(settings))
    finally:
        publisher.close()
    assert response.status_code == 503
    assert response.json()["error"] == "unavailable"
    assert "Kafka" in response.json()["message"]


def end_offsets(settings: FitStreamSettings) -> dict[int, int]:
    """The events topic's end offset per partition: what 'nothing was written' means."""
    topic = settings.kafka.events_topic
    consumer = Consumer(consumer_config(settings.kafka, "test-end-offsets"))
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        return {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
                for p in partitions}
    finally:
        consumer.close()


def refused(settings: FitStreamSettings, client: TestClient, events: list) -> dict:
    """Post a batch that must be refused whole: 400, the error body, no record written."""
    before = end_offsets(settings)
    response = client.post("/api/v1/ingest/events", json={"events": events},
                           headers=auth(settings))
    assert response.status_code == 400, response.text
    body = response.json()
    assert set(body) == {"error", "message", "code", "details"}
    assert (body["error"], body["code"]) == ("invalid_events", 400)
    assert end_offsets(settings) == before
    return body


def numbered(event: dict, n: int, **changes: object) -> dict:
    return {**event, "event_id": f"{event['event_id'][:-4]}{n:04d}", **changes}


# Finding 12: each of these got 202 and reached the log coerced (seq 0.9 as 0, start_time
# 1.5 as 1). Each rides with a valid event, which must not be written either.
@pytest.mark.parametrize(("field", "value", "reason"), [
    ("seq", 0.9, "seq: expected int, got number 0.9"),
    ("seq", True, "seq: expected int, got boolean true"),
    ("start_time", 1.5, "start_time: expected long, got number 1.5"),
    ("location", {"latitude": "52.1", "longitude": 13.4},
     "location.latitude: expected double, got string '52.1'"),
    ("cadence", 90, "cadence: unknown field"),
])
def test_wrong_json_types_are_refused_and_the_log_does_not_move(ingest, field, value, reason):
    settings, client, _ = ingest
    bad = numbered(STARTED, 100, **{field: value})
    body = refused(settings, client, [numbered(STARTED, 101), bad])
    assert body["message"] == "1 of 2 events break their contract"
    assert body["details"] == [{"index": 1, "event_id": bad["event_id"], "reason": reason}]


# Findings 9 and 13: ids, lengths, physics and start_time against occurred_at.
@pytest.mark.parametrize(("event", "reason"), [
    (numbered(STARTED, 110, workout_id="' OR 1=1 --"),
     "workout_id: \"' OR 1=1 --\" is not a valid id (1 to 64 letters, digits, '_', '-', "
     "'.' or ':')"),
    (numbered(STARTED, 111, device_model="m" * 201),
     "device_model: 201 characters, at most 200"),
    (numbered(UPDATED, 112, current_distance_meters=-5.0),
     "current_distance_meters: -5.0 is outside 0 to 5e+06"),
    (numbered(UPDATED, 113, heart_rate=400), "heart_rate: 400 is outside 20 to 250"),
    (numbered(STARTED, 114, start_time=1),
     "start_time: 1 is outside 9.46685e+11 to 9.22337e+18"),
    (numbered(STARTED, 115, start_time=T0 - 49 * 3600 * 1000),
     "start_time: 1793430000000 is 176400000 ms before occurred_at; at most 172800000 ms "
     "(48 h)"),
])
def test_out_of_bounds_events_are_refused_and_the_log_does_not_move(ingest, event, reason):
    settings, client, _ = ingest
    body = refused(settings, client, [numbered(STARTED, 119), event])
    assert body["details"] == [{"index": 1, "event_id": event["event_id"], "reason": reason}]


# Finding 2: one event dated 2100 moved its partition's watermark for everyone (a clock
# per user since issue 10; ingest still refuses it).
def test_an_event_from_the_year_2100_is_refused_by_name(ingest):
    settings, client, _ = ingest
    year_2100 = 4_102_444_800_000
    future = numbered(STARTED, 120, occurred_at=year_2100, start_time=year_2100)
    body = refused(settings, client, [numbered(STARTED, 121), future])
    [detail] = body["details"]
    assert (detail["index"], detail["event_id"]) == (1, future["event_id"])
    ahead, now = re.fullmatch(rf"occurred_at: {year_2100} is (\d+) ms ahead of (\d+); "
                              r"at most 300000 ms", detail["reason"]).groups()
    assert int(ahead) == year_2100 - int(now)
    assert abs(int(now) - time.time_ns() // 1_000_000) < 600_000  # the server's clock
    # Within the skew (a device clock a minute fast) is accepted.
    soon = time.time_ns() // 1_000_000 + 60_000
    response = client.post("/api/v1/ingest/events", headers=auth(settings), json={
        "events": [numbered(STARTED, 122, occurred_at=soon, start_time=soon)]})
    assert response.status_code == 202, response.text


@pytest.mark.parametrize("body", [{"events": [STARTED], "extra": 1}, {"events": {"0": STARTED}}])
def test_a_body_with_other_keys_or_shapes_is_400(ingest, body):
    settings, client, _ = ingest
    before = end_offsets(settings)
    response = client.post("/api/v1/ingest/events", json=body, headers=auth(settings))
    assert (response.status_code, response.json()["error"]) == (400, "invalid_batch")
    assert end_offsets(settings) == before


def test_the_openapi_document_describes_each_event_type(ingest):
    _, client, _ = ingest
    document = client.get("/openapi.json").json()
    schemas = document["components"]["schemas"]
    operation = document["paths"]["/api/v1/ingest/events"]["post"]
    body = operation["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/IngestBatch"}
    events = schemas["IngestBatch"]["properties"]["events"]
    assert (events["minItems"], events["maxItems"]) == (1, 5)
    # Each event a named schema (one class per event in the generated SDK).
    names = ["WorkoutStarted", "WorkoutUpdated", "WorkoutPaused", "WorkoutResumed",
             "WorkoutCompleted", "WorkoutCancelled"]
    assert events["items"]["oneOf"] == [{"$ref": f"#/components/schemas/{n}"} for n in names]
    assert [schemas[n]["title"] for n in names] == names
    started = schemas["WorkoutStarted"]
    assert started["properties"]["user_id"]["pattern"] == ID_PATTERN
    assert started["additionalProperties"] is False


def test_a_refused_batch_names_a_bounded_number_of_events_and_problems(broker, tmp_path):
    """Review of issue 9: each event names at most 20 problems, a batch at most 50 events,
    so the 400 for a 4 MiB body of wrong values stays a few kilobytes."""
    settings = isolated(broker, tmp_path, "ingest-caps")
    client, publisher, _ = client_for(settings)
    try:
        bad = {**UPDATED, "samples": [0] * 50_000}
        many = [{**STARTED, "seq": "x", "event_id": f"7d7c0c62-3a55-4a43-9c8e-5b1f7f0a{i:04d}"}
                for i in range(80)]
        reasons = []
        for events, message, listed in (
                ([bad], "1 of 1 events break their contract", 1),
                (many, "80 of 80 events break their contract; the first 50 are listed", 50)):
            response = client.post("/api/v1/ingest/events", json={"events": events},
                                   headers=auth(settings))
            body = response.json()
            assert (response.status_code, body["message"]) == (400, message)
            assert [d["index"] for d in body["details"]] == list(range(listed))
            assert len(response.content) < 20_000
            reasons.append(body["details"][0]["reason"])
        assert reasons[0].split("; ")[-2:] == [
            "samples[19]: expected TelemetrySample object, got number 0",
            "and more: the check stopped after 20 problems"]
        assert reasons[1] == "seq: expected int, got string 'x'"
    finally:
        publisher.close()
