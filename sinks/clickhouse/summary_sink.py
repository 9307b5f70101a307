"""WorkoutSummary changes from their topic into ``workout_summary``, batched and columnar.

Lifecycle: :meth:`WorkoutSummarySink.run` polls until :meth:`stop`. Each batch is
decoded, inserted as one columnar insert, and only then are its offsets
committed: if the insert or the commit fails, the consumer seeks back to the
batch's first offsets and reads it again after a pause; the ReplacingMergeTree
version (``last_seq``) makes the retry harmless.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Any

import structlog
from confluent_kafka import Consumer, KafkaError, TopicPartition

from fitstream.contracts import AvroSerde, SerdeError
from fitstream.kafka.clients import consumer_config
from fitstream.kafka.long_poll_shim import idle_pause
from fitstream.observability import metrics
from fitstream.settings import FitStreamSettings
from sinks.clickhouse.schema import WORKOUT_SUMMARY
from sinks.clickhouse.store import ClickHouseStore

log = structlog.get_logger("sinks.clickhouse")

COLUMNS = (
    "workout_id", "user_id", "device_id", "sport_type", "status", "start_time", "start_ms",
    "end_ms", "moving_duration_ms", "distance_meters", "calories_burned", "avg_heart_rate",
    "avg_speed_mps", "sample_count", "last_seq", "last_event_ms",
)


def summary_columns(summaries: list[dict[str, Any]]) -> dict[str, list[Any]]:
    cols: dict[str, list[Any]] = {name: [] for name in COLUMNS}
    for s in summaries:
        cols["workout_id"].append(s["workout_id"])
        cols["user_id"].append(s["user_id"])
        cols["device_id"].append(s["device_id"])
        cols["sport_type"].append(s["sport_type"])
        cols["status"].append(s["status"])
        cols["start_time"].append(datetime.fromtimestamp(s["start_time"] // 1000, UTC))
        cols["start_ms"].append(s["start_time"])
        cols["end_ms"].append(s["end_time"])
        cols["moving_duration_ms"].append(s["moving_duration_ms"])
        cols["distance_meters"].append(s["distance_meters"])
        cols["calories_burned"].append(s["calories_burned"])
        cols["avg_heart_rate"].append(s["avg_heart_rate"])
        cols["avg_speed_mps"].append(s["avg_speed_mps"])
        cols["sample_count"].append(s["sample_count"])
        cols["last_seq"].append(s["last_seq"])
        cols["last_event_ms"].append(s["last_event_at"])
    return cols


RETRY_BACKOFF_S = 2.0


def _next_offsets(batch: list[Any]) -> list[TopicPartition]:
    """The offsets to commit after a batch: one past the last record of each partition."""
    last: dict[tuple[str, int], int] = {}
    for message in batch:
        if not message.error():
            key = (message.topic(), message.partition())
            last[key] = max(last.get(key, -1), message.offset())
    return [TopicPartition(t, p, o + 1) for (t, p), o in last.items()]


class WorkoutSummarySink:
    def __init__(self, settings: FitStreamSettings, store: ClickHouseStore,
                 serde: AvroSerde) -> None:
        self._settings = settings
        self._store = store
        self._serde = serde
        self._stop = threading.Event()
        self.rows_written = 0
        self._consumer = Consumer(consumer_config(
            settings.kafka, settings.sink.group_id,
            **{"fetch.wait.max.ms": 200, "queued.max.messages.kbytes": 65536}))

    def stop(self) -> None:
        self._stop.set()

    def run(self) -> None:
        topic = self._settings.kafka.summaries_topic
        self._consumer.subscribe([topic])
        last_lag_check = 0.0
        idle_ms = self._settings.kafka.emulate_long_poll_ms
        wait_s = self._settings.sink.batch_max_wait_s
        try:
            while not self._stop.is_set():
                batch = self._consumer.consume(self._settings.sink.batch_max_rows,
                                               timeout=wait_s)
                if batch:
                    try:
                        self._write(batch)
                    except Exception:
                        # The store or the broker failed: nothing was committed, so
                        # read the batch again after a pause (inserts are idempotent).
                        log.exception("sink_batch_failed", records=len(batch))
                        self._rewind(batch)
                        self._stop.wait(RETRY_BACKOFF_S)
                    wait_s = self._settings.sink.batch_max_wait_s
                else:
                    idle_pause(self._consumer, idle_ms, self._stop)
                    # While idle, poll briefly between pauses: each poll spins on the
                    # embedded broker.
                    wait_s = 0.02 if idle_ms else self._settings.sink.batch_max_wait_s
                if time.monotonic() - last_lag_check > 5:
                    last_lag_check = time.monotonic()
                    self._report_lag()
        finally:
            self._consumer.close()

    def _write(self, batch: list[Any]) -> None:
        summaries = []
        for message in batch:
            if message.error():
                if message.error().code() != KafkaError._PARTITION_EOF:
                    log.warning("consume_error", error=str(message.error()))
                continue
            try:
                _, summary = self._serde.decode(message.value())
            except SerdeError as exc:
                # The processor wrote this topic; an undecodable record is a bug upstream.
                log.error("undecodable_summary", reason=exc.reason, detail=str(exc),
                          partition=message.partition(), offset=message.offset())
                metrics.SINK_REJECTED.labels(sink="clickhouse").inc()
                continue
            summaries.append(summary)
        started = time.perf_counter()
        rows = self._store.insert(WORKOUT_SUMMARY, summary_columns(summaries))
        metrics.SINK_BATCH_ROWS.labels(sink="clickhouse").observe(rows)
        metrics.SINK_BATCH_SECONDS.labels(sink="clickhouse").observe(time.perf_counter() - started)
        offsets = _next_offsets(batch)
        if offsets:
            self._consumer.commit(offsets=offsets, asynchronous=False)
        self.rows_written += rows

    def _rewind(self, batch: list[Any]) -> None:
        first: dict[tuple[str, int], int] = {}
        for message in batch:
            if not message.error():
                key = (message.topic(), message.partition())
                first[key] = min(first.get(key, message.offset()), message.offset())
        for (topic, partition), offset in first.items():
            self._consumer.seek(TopicPartition(topic, partition, offset))

    def _report_lag(self) -> None:
        assignment = self._consumer.assignment()
        if not assignment:
            return
        for tp in self._consumer.position(assignment):
            _, high = self._consumer.get_watermark_offsets(TopicPartition(tp.topic, tp.partition),
                                                           timeout=2)
            lag = high - tp.offset if tp.offset >= 0 else high
            metrics.CONSUMER_LAG.labels(group=self._settings.sink.group_id, topic=tp.topic,
                                        partition=str(tp.partition)).set(max(lag, 0))
