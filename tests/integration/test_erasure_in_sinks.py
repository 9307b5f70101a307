"""Sinks honour erasures (real broker): rebuilding bronze from the log after a user's
erasure writes none of their records logged up to the erasure, and what they sent
afterwards as usual; the delivery worker sends none of their notifications logged up to
the erasure."""

from __future__ import annotations

import threading
import time

from confluent_kafka import Producer
from deltalake import DeltaTable

from fitstream.contracts import AvroSerde, registry_from_settings
from fitstream.kafka.clients import producer_config
from fitstream.kafka.positions import LogPosition
from fitstream.privacy.erasures import ErasureLedger, publish_erasure
from sinks.delta.topic_sink import (
    DeltaTopicSink,
    lakehouse_runner,
    lakehouse_writers,
    records_behind,
)
from stores.delta.tables import BRONZE_EVENTS
from tests.conftest import isolated
from tests.harness import wait_until
from tests.integration.test_gdpr_erasure import ERASED, KEPT, MINUTE, produce, run
from tests.integration.test_notification_delivery import delivery  # noqa: F401 (fixture)


def logged_after(erased_at: int) -> None:
    """Return once the clock is past ``erased_at``: what is produced next is logged after
    the erasure (a millisecond at most)."""
    while int(time.time() * 1000) <= erased_at:
        pass


def test_a_rebuilt_bronze_table_holds_nothing_of_an_erased_user_before_the_erasure(
        broker, tmp_path):
    settings = isolated(broker, tmp_path, "erasure-sinks")
    serde = AvroSerde(registry_from_settings(settings.schema_registry))
    now = int(time.time() * 1000)
    produce(settings, serde, run(ERASED, "w-before", now - 90 * MINUTE, 30, 5500.0)
            + run(KEPT, "w-kept", now - 90 * MINUTE, 20, 3000.0))
    logged_after(publish_erasure(settings, serde, ERASED))
    produce(settings, serde, run(ERASED, "w-after", now - 40 * MINUTE, 6, 1000.0))

    writer = next(w for w in lakehouse_writers(settings) if w.name == "bronze-events")
    erasures = ErasureLedger(settings, serde)
    sink = DeltaTopicSink(settings, writer, erasures)
    runner = lakehouse_runner(settings, sink)
    thread = threading.Thread(target=runner.run, daemon=True)
    thread.start()
    position = LogPosition(settings.kafka)
    try:
        wait_until(lambda: writer.prepare() is None and records_behind(
            [writer], position.ends) == 0, "bronze to hold the whole events topic",
            progress=lambda: sink.rows_written, alive=thread.is_alive)
    finally:
        runner.stop()
        thread.join(30)
        position.close()
        erasures.close()
    rows = DeltaTable(settings.lakehouse_uri(BRONZE_EVENTS)).to_pyarrow_table(
        columns=["user_id", "workout_id"]).to_pylist()
    assert sorted((r["user_id"], r["workout_id"]) for r in rows) == [
        (ERASED, "w-after"), (ERASED, "w-after"), (KEPT, "w-kept"), (KEPT, "w-kept")]


def test_the_delivery_worker_sends_nothing_logged_before_the_erasure(delivery):  # noqa: F811
    from tests.integration.test_notification_delivery import (
        USER,
        notification,
        outcomes,
        run_worker,
    )

    settings, serde, channels, produce_notifications = delivery
    produce_notifications()  # notifications 0 to 4, and one that is not Avro
    logged_after(publish_erasure(settings, serde, USER))
    producer = Producer(producer_config(settings.kafka))
    producer.produce(settings.kafka.notifications_topic, key=USER.encode(),
                     value=serde.encode("fitstream.notifications.Notification",
                                        notification(5)))
    assert producer.flush(30) == 0
    run_worker(settings, lambda: len(outcomes(settings, serde)) >= 3)
    assert sorted((o["notification_id"], o["channel"]) for o in outcomes(settings, serde)) == [
        (notification(5)["notification_id"], channel) for channel in ("email", "push", "sms")]
    assert [m["payload"]["subject"] for m in channels.received.by("smtp")] == ["5 km done!"]
