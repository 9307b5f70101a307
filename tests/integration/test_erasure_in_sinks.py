"""A lakehouse sink honours erasures (real broker, delta-rs): rebuilding bronze from the
log after a user's erasure writes none of their records logged up to the erasure, and
what they sent afterwards as usual."""

from __future__ import annotations

import threading
import time

from deltalake import DeltaTable

from fitstream.contracts import AvroSerde, registry_from_settings
from fitstream.kafka.positions import LogPosition
from fitstream.privacy.erasures import ErasureLedger, publish_erasure
from sinks.delta.tables import BRONZE_EVENTS
from sinks.delta.topic_sink import DeltaTopicSink, lakehouse_writers, records_behind
from tests.conftest import isolated
from tests.harness import wait_until
from tests.integration.test_gdpr_erasure import ERASED, KEPT, MINUTE, produce, run


def test_a_rebuilt_bronze_table_holds_nothing_of_an_erased_user_before_the_erasure(
        broker, tmp_path):
    settings = isolated(broker, tmp_path, "erasure-sinks")
    serde = AvroSerde(registry_from_settings(settings.schema_registry))
    now = int(time.time() * 1000)
    produce(settings, serde, run(ERASED, "w-before", now - 90 * MINUTE, 30, 5500.0)
            + run(KEPT, "w-kept", now - 90 * MINUTE, 20, 3000.0))
    erased_at = publish_erasure(settings, serde, ERASED)
    while int(time.time() * 1000) <= erased_at:  # the next record is logged after it
        time.sleep(0.001)
    produce(settings, serde, run(ERASED, "w-after", now - 40 * MINUTE, 6, 1000.0))

    writer = next(w for w in lakehouse_writers(settings) if w.name == "bronze-events")
    erasures = ErasureLedger(settings, serde)
    sink = DeltaTopicSink(settings, writer, erasures)
    thread = threading.Thread(target=sink.run, daemon=True)
    thread.start()
    position = LogPosition(settings.kafka)
    try:
        wait_until(lambda: writer.prepare() is None and records_behind(
            [writer], position.ends) == 0, "bronze to hold the whole events topic",
            progress=lambda: sink.rows_written, alive=thread.is_alive)
    finally:
        sink.stop()
        thread.join(30)
        position.close()
        erasures.close()
    rows = DeltaTable(settings.lakehouse_uri(BRONZE_EVENTS)).to_pyarrow_table(
        columns=["user_id", "workout_id"]).to_pylist()
    assert sorted((r["user_id"], r["workout_id"]) for r in rows) == [
        (ERASED, "w-after"), (ERASED, "w-after"), (KEPT, "w-kept"), (KEPT, "w-kept")]
