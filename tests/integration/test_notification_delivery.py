"""The delivery worker against the real broker and real HTTP and SMTP endpoints:
preferences, retries with backoff, dead letters, channels that do not wait for each
other, and no second send after a restart."""

from __future__ import annotations

import threading
import time
import uuid

import pytest
from confluent_kafka import Producer

from cli.dev.local_channels import LocalChannels
from delivery.worker import DeliveryWorker
from fitstream.contracts import AvroSerde, registry_from_settings
from fitstream.kafka.clients import producer_config
from fitstream.kafka.dead_letter import read_headers
from fitstream.kafka.positions import LogPosition
from tests.conftest import isolated
from tests.harness import wait_until
from tests.integration.test_pipeline_e2e import read_topic

pytestmark = pytest.mark.e2e

USER = "user-77"
T0 = 1_793_606_400_000


def notification(i: int) -> dict:
    return {"notification_id": f"n:{USER}:goal-{i}:w-{i}", "user_id": USER,
            "kind": "distance_goal", "title": f"{i} km done!", "body": "Keep going!",
            "created_at": T0 + i, "workout_id": f"w-{i}"}


@pytest.fixture
def delivery(broker, tmp_path):
    channels = LocalChannels(log_path=tmp_path / "received.jsonl")
    channels.start()
    name = f"delivery-{uuid.uuid4().hex[:8]}"  # each test its own topics and group
    settings = isolated(broker, tmp_path, name)
    update = channels.settings_update()
    settings = settings.model_copy(update={"notifications": settings.notifications.model_copy(
        update={**update, "group_id": name, "max_attempts": 3,
                "backoff_base_s": 1.0, "commit_interval_s": 0.5,
                # Push is down and SMS refuses the number: email must not wait for them.
                "push_webhook_url": update["push_webhook_url"].replace("/push",
                                                                       "/unavailable/push"),
                "sms_gateway_url": update["sms_gateway_url"].replace("/sms", "/rejecting/sms")})})
    serde = AvroSerde(registry_from_settings(settings.schema_registry))
    producer = Producer(producer_config(settings.kafka))
    producer.produce(settings.kafka.notification_preferences_topic, key=USER.encode(),
                     value=serde.encode("fitstream.notifications.NotificationPreferences", {
                         "user_id": USER, "channels": ["email", "push", "sms"],
                         "email": "u77@example.org", "phone": "+15550100", "updated_at": T0}))

    def produce_notifications() -> None:
        for i in range(5):
            producer.produce(settings.kafka.notifications_topic, key=USER.encode(),
                             value=serde.encode("fitstream.notifications.Notification",
                                                notification(i)))
        producer.produce(settings.kafka.notifications_topic, key=USER.encode(),
                         value=b"not avro at all")
        assert producer.flush(30) == 0

    yield settings, serde, channels, produce_notifications
    channels.stop()


def run_worker(settings, until, what: str = "the delivery worker's outcomes",
               progress=None) -> None:
    """A worker on a thread until ``until()`` holds (waited for on ``progress``, not on a
    fixed deadline), then stopped, and waited for until it has ended."""
    worker = DeliveryWorker(settings)
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    try:
        wait_until(until, what, progress=progress, alive=thread.is_alive)
    finally:
        worker.stop()
        thread.join(30)
    # Its last offset commit and producer flush happen as it ends: dead letters (and a
    # restarted worker's starting offsets) were read before they landed when a loaded
    # machine let join(30) return first.
    wait_until(lambda: not thread.is_alive(), "the delivery worker to finish stopping")


def outcomes(settings, serde) -> list[dict]:
    return [serde.decode(m.value())[1]
            for m in read_topic(settings, settings.kafka.notification_deliveries_topic)]


def test_failing_channels_retry_then_dead_letter_without_holding_up_email(delivery):
    settings, serde, channels, produce_notifications = delivery
    produce_notifications()
    run_worker(settings, lambda: len(outcomes(settings, serde)) >= 15,
               progress=lambda: len(outcomes(settings, serde)))
    results = outcomes(settings, serde)
    by = {(r["channel"], r["status"]): [] for r in results}
    for r in results:
        by[(r["channel"], r["status"])].append(r)
    assert {k: len(v) for k, v in by.items()} == {
        ("email", "sent"): 5, ("push", "dead_lettered"): 5, ("sms", "dead_lettered"): 5}
    assert {r["attempts"] for r in by[("email", "sent")]} == {1}
    # Push failed with 503 three times (backoff 1 s, 2 s); SMS was refused for good at once.
    assert {r["attempts"] for r in by[("push", "dead_lettered")]} == {3}
    assert {r["detail"] for r in by[("push", "dead_lettered")]} == {
        'HTTP 503: {"error": "unavailable"}'}
    assert {r["attempts"] for r in by[("sms", "dead_lettered")]} == {1}
    # Email did not wait for push's retries: every mail went out well before the first
    # push gave up (3 s of backoff after its first try; a loaded machine may take a
    # second to send five mails, so the margin is not the full 3 s).
    assert max(r["at"] for r in by[("email", "sent")]) + 1000 < min(
        r["at"] for r in by[("push", "dead_lettered")])
    mails = channels.received.by("smtp")
    assert sorted(m["payload"]["subject"] for m in mails) == [f"{i} km done!" for i in range(5)]
    assert {m["payload"]["to"][0] for m in mails} == {"u77@example.org"}

    dead = [(read_headers(m.headers()), m.value())
            for m in read_topic(settings, settings.kafka.notification_dlq_topic)]
    assert sorted((h["dlq.reason"], h.get("dlq.channel")) for h, _ in dead) == sorted(
        [("delivery_failed", "push")] * 5 + [("delivery_failed", "sms")] * 5
        + [("malformed", None)])
    assert {serde.decode(v)[1]["notification_id"] for h, v in dead
            if h["dlq.reason"] == "delivery_failed"} == {notification(i)["notification_id"]
                                                         for i in range(5)}


def test_a_restarted_worker_sends_nothing_twice(delivery):
    settings, serde, channels, produce_notifications = delivery
    produce_notifications()
    run_worker(settings, lambda: len(outcomes(settings, serde)) >= 15,
               progress=lambda: len(outcomes(settings, serde)))
    # The same notifications again, as a replay or a re-sent batch would bring them.
    produce_notifications()
    # Not a fixed 5 s (a worker slow to start had read none of the repeats by then): until
    # the worker's group has committed the whole topic. It commits an offset only once
    # every delivery of its notification has an outcome, after flushing the outcomes, so
    # a resend would show by then.
    topic = settings.kafka.notifications_topic
    position = LogPosition(settings.kafka)
    try:
        run_worker(settings, lambda: position.committed(
            topic, settings.notifications.group_id) == position.ends(topic),
            "the restarted worker to commit the repeated notifications",
            progress=lambda: position.committed(topic, settings.notifications.group_id))
    finally:
        position.close()
    assert len(outcomes(settings, serde)) == 15
    assert len(channels.received.by("smtp")) == 5


def test_a_preference_saved_before_a_notification_applies_to_it(delivery):
    settings, serde, channels, _ = delivery
    producer = Producer(producer_config(settings.kafka))
    worker = DeliveryWorker(settings)
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    try:
        time.sleep(2)  # the worker is up and idle
        # Saved, then a notification at once: the worker must not use the default (push).
        producer.produce(settings.kafka.notification_preferences_topic, key=b"user-88",
                         value=serde.encode("fitstream.notifications.NotificationPreferences", {
                             "user_id": "user-88", "channels": ["email"],
                             "email": "u88@example.org", "phone": None, "updated_at": T0}))
        assert producer.flush(10) == 0
        producer.produce(settings.kafka.notifications_topic, key=b"user-88",
                         value=serde.encode("fitstream.notifications.Notification",
                                            {**notification(9), "notification_id": "n:user-88:x",
                                             "user_id": "user-88"}))
        assert producer.flush(10) == 0
        wait_until(lambda: any(r["notification_id"] == "n:user-88:x"
                               for r in outcomes(settings, serde)),
                   "the outcome of user-88's notification",
                   progress=lambda: len(outcomes(settings, serde)), alive=thread.is_alive)
    finally:
        worker.stop()
        thread.join(30)
    mine = [r for r in outcomes(settings, serde) if r["notification_id"] == "n:user-88:x"]
    assert [(r["channel"], r["status"]) for r in mine] == [("email", "sent")]
    assert [m["payload"]["to"] for m in channels.received.by("smtp")] == [["u88@example.org"]]
