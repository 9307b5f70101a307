"""Issue 9 findings 2 and 13 against the real broker and processor.

A hostile producer (raw Kafka, skipping ingest) writes, on one partition: an event
dated in the year 2100, then a workout that claims to have started in 1970, then
another user's ordinary workout. The 2100 event is dead-lettered as ``from_future``
(judged against its Kafka record's timestamp), the 1970 start as ``out_of_bounds``,
and the other user's workout, an hour old, is not late: it completes.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from confluent_kafka import Producer

from cli.dev.local_stack import LocalStack
from fitstream.contracts import AvroSerde, registry_from_settings
from fitstream.kafka.clients import producer_config
from fitstream.kafka.dead_letter import read_headers
from fitstream.kafka.positions import LogPosition, behind
from tests.conftest import isolated
from tests.integration.test_pipeline_e2e import read_topic

pytestmark = pytest.mark.e2e

YEAR_2100 = 4_102_444_800_000
MINUTE = 60_000


def workout(user: str, workout_id: str, start: int, minutes: int,
            start_time: int | None = None) -> list[dict[str, Any]]:
    def event(kind: str, seq: int, at: int, **payload: Any) -> dict[str, Any]:
        return {"event_id": str(uuid.uuid4()), "type": kind, "occurred_at": at,
                "user_id": user, "workout_id": workout_id, "device_id": f"watch-{user}",
                "seq": seq, **payload}

    end = start + minutes * MINUTE
    return [event("WorkoutStarted", 0, start, sport_type="running",
                  start_time=start if start_time is None else start_time,
                  location={"latitude": 52.5, "longitude": 13.4}, device_model="RunWatch"),
            event("WorkoutCompleted", 1, end, end_time=end, duration_sec=minutes * 60,
                  distance_meters=5000.0, calories_burned=300.0, route_coordinates=[])]


@pytest.fixture(scope="module")
def stack(broker, tmp_path_factory):
    settings = isolated(broker, tmp_path_factory.mktemp("event-time"), "eventtime")
    stack = LocalStack()
    stack.start(settings, "processor", "process")
    try:
        yield settings, stack
    finally:
        stack.stop()


def test_a_2100_event_is_from_the_future_and_leaves_the_partition_on_time(stack):
    settings, roles = stack
    serde = AvroSerde(registry_from_settings(settings.schema_registry))
    topic = settings.kafka.events_topic
    hour_ago = int(time.time() * 1000) - 60 * MINUTE
    attack = workout("u-2100", "w-2100", YEAR_2100, 30)[:1]
    in_1970 = workout("u-1970", "w-1970", hour_ago, 30, start_time=1)
    victim = workout("u-victim", "w-victim", hour_ago + MINUTE, 30)
    producer = Producer(producer_config(settings.kafka))
    for event in [*attack, *in_1970, *victim]:  # one partition, in this order
        producer.produce(topic, key=event["user_id"].encode(), partition=0,
                         value=serde.encode(f"fitstream.workouts.{event['type']}", event))
    assert producer.flush(30) == 0

    ends = LogPosition(settings.kafka)
    deadline = time.monotonic() + 300
    while behind(ends, topic, settings.processor.app_id, []):
        roles.check()
        assert time.monotonic() < deadline, (
            "timed out waiting for the processor to commit the 5 records: "
            f"{behind(ends, topic, settings.processor.app_id, [])}")
        time.sleep(0.3)
    ends.close()

    letters = [(read_headers(m.headers()), serde.decode(m.value())[1])
               for m in read_topic(settings, settings.kafka.dlq_topic)]
    assert sorted((h["dlq.reason"], e["workout_id"], e["seq"]) for h, e in letters) == [
        ("from_future", "w-2100", 0), ("out_of_bounds", "w-1970", 0)]
    summaries: dict[str, dict[str, Any]] = {}
    for message in read_topic(settings, settings.kafka.summaries_topic):
        summary = serde.decode(message.value())[1]
        summaries[summary["workout_id"]] = summary
    assert set(summaries) == {"w-victim"}
    assert (summaries["w-victim"]["status"], summaries["w-victim"]["moving_duration_ms"]) == (
        "completed", 30 * MINUTE)
