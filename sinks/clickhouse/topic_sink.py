"""A view's changes from its topic into its ClickHouse table, batched and columnar.

Lifecycle: :meth:`ClickHouseTopicSink.run` polls until :meth:`stop`. Each batch is
decoded and inserted as one columnar insert; offsets of inserted batches are
committed every ``sink.commit_interval_s`` and at stop, never before the insert.
If an insert fails, the consumer seeks back to the batch's first offsets and reads
it again after a pause; the table's ReplacingMergeTree version makes every retry
and re-read harmless.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import structlog
from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

from fitstream.contracts import AvroSerde, SerdeError, registry_from_settings
from fitstream.kafka.clients import consumer_config
from fitstream.kafka.long_poll_shim import idle_pause
from fitstream.observability import metrics
from fitstream.privacy.coordinates import CoordinatesUnreadable, open_coordinates
from fitstream.privacy.erasures import ErasureLedger, record_timestamp_ms
from fitstream.privacy.fields import PREFERENCE_FIELDS, FieldCipher, patiently
from fitstream.privacy.keys import key_store
from fitstream.settings import FitStreamSettings
from sinks.clickhouse.store import ClickHouseStore, open_store
from sinks.clickhouse.tables import ViewTable, apply_ddl, sink_groups, view_tables

log = structlog.get_logger("sinks.clickhouse")

RETRY_BACKOFF_S = 2.0


class SinkStopped(Exception):
    """Stopped in the middle of a batch (while waiting for the key store)."""


def _next_offsets(batch: list[Any]) -> list[TopicPartition]:
    """The offsets to commit after a batch: one past the last record of each partition."""
    last: dict[tuple[str, int], int] = {}
    for message in batch:
        if not message.error():
            key = (message.topic(), message.partition())
            last[key] = max(last.get(key, -1), message.offset())
    return [TopicPartition(t, p, o + 1) for (t, p), o in last.items()]


class ClickHouseTopicSink:
    def __init__(self, settings: FitStreamSettings, store: ClickHouseStore, serde: AvroSerde,
                 view: ViewTable, erasures: ErasureLedger | None = None) -> None:
        self._settings = settings
        # Records of erased users, logged at or before their erasure, are skipped
        # (fitstream/privacy/erasures.py): a rebuild must not bring them back.
        self._erasures = erasures
        # Preferences carry sealed addresses (fitstream/privacy/fields.py), events and
        # routes sealed coordinates (fitstream/privacy/coordinates.py): opened here, so
        # the table holds them plain and an erase deletes them with the rows.
        self._opens_preferences = view.topic == settings.kafka.notification_preferences_topic
        self._cipher = (FieldCipher(key_store(settings))
                        if self._opens_preferences or view.opens_coordinates else None)
        self._view = view
        self._group_id = dict(sink_groups(settings))[view.topic]
        self._store = store
        self._serde = serde
        self._stop = threading.Event()
        self.rows_written = 0
        self._uncommitted: dict[tuple[str, int], int] = {}
        self._committed_at = time.monotonic()
        self._consumer = Consumer(consumer_config(
            settings.kafka, self._group_id,
            **{"fetch.wait.max.ms": 200, "queued.max.messages.kbytes": 65536}))

    def stop(self) -> None:
        self._stop.set()

    def run(self) -> None:
        self._consumer.subscribe([self._view.topic])
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
                    except SinkStopped:
                        break  # nothing of the batch was inserted or committed
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
                if self._uncommitted and (time.monotonic() - self._committed_at
                                          >= self._settings.sink.commit_interval_s):
                    self._commit()  # an idle sink still commits what it inserted
                if time.monotonic() - last_lag_check > 5:
                    last_lag_check = time.monotonic()
                    try:
                        self._report_lag()
                    except KafkaException as exc:
                        # A metric is not worth the sink: a busy broker that times out
                        # a watermark query killed every sink thread of a process.
                        log.warning("sink_lag_unavailable", view=self._view.name,
                                    error=str(exc))
        finally:
            try:
                self._commit()
            finally:
                self._consumer.close()

    def _write(self, batch: list[Any]) -> None:
        if self._erasures is not None:  # every erasure produced before these records
            self._erasures.catch_up({m.partition() for m in batch if not m.error()})
        records = [record for message in batch
                   if (record := self._record(message)) is not None]
        started = time.perf_counter()
        rows = self._store.insert(self._view.table, self._view.columns(records))
        metrics.SINK_BATCH_ROWS.labels(sink=self._view.name).observe(rows)
        metrics.SINK_BATCH_SECONDS.labels(sink=self._view.name).observe(
            time.perf_counter() - started)
        for tp in _next_offsets(batch):
            self._uncommitted[(tp.topic, tp.partition)] = tp.offset
        self.rows_written += rows

    def _record(self, message: Any) -> dict[str, Any] | None:
        """The record a message puts in the view, or None: a consume error, poison, or a
        record of an erased user (with the erasures already caught up)."""
        if message.error():
            if message.error().code() != KafkaError._PARTITION_EOF:
                log.warning("consume_error", error=str(message.error()))
            return None
        try:
            subject, record = self._serde.decode(message.value())
        except SerdeError as exc:
            # Views written by the processor decode; the events topic can hold
            # poison, which the processor dead-letters and the sink skips.
            log.warning("undecodable_record_skipped", view=self._view.name,
                        reason=exc.reason, detail=str(exc),
                        partition=message.partition(), offset=message.offset())
            metrics.SINK_REJECTED.labels(sink=self._view.name).inc()
            return None
        # The record's own user, not the message key: some topics are keyed otherwise
        # (claims by workout id), and a rebuild must not write an erased user back.
        if self._erasures is not None and self._erasures.is_erased(
                record.get("user_id", message.key()), record_timestamp_ms(message)):
            metrics.SINK_REJECTED.labels(sink=self._view.name).inc()
            return None
        # An unavailable key store is waited for here, record by record (an exception
        # would re-read the batch).
        cipher = self._cipher
        if cipher is not None and self._opens_preferences:
            # A value that does not open reads as erased.
            record = cipher.open_fields_patiently(record["user_id"], record,
                                                  PREFERENCE_FIELDS, self._stop)
        elif cipher is not None and subject in self._view.opens_coordinates:
            try:
                record = patiently(lambda: open_coordinates(cipher, subject, record),
                                   self._stop)
            except CoordinatesUnreadable as exc:
                # The processor dead-letters the event (unreadable_coordinates).
                log.warning("unreadable_coordinates_skipped", view=self._view.name,
                            detail=str(exc), partition=message.partition(),
                            offset=message.offset())
                metrics.SINK_REJECTED.labels(sink=self._view.name).inc()
                return None
        if record is None:
            raise SinkStopped(self._view.name)
        return record

    def _commit(self) -> None:
        """Commit what has been inserted. Seconds apart: every commit rewrites the
        embedded broker's whole storage; a crash re-inserts at most an interval's rows,
        which the table versions make harmless."""
        if self._uncommitted:
            try:
                self._consumer.commit(offsets=[TopicPartition(t, p, o) for (t, p), o
                                               in self._uncommitted.items()],
                                      asynchronous=False)
            except KafkaException as exc:
                # Kept for the next attempt; until then a restart re-inserts these rows.
                log.warning("sink_commit_failed", view=self._view.name, error=str(exc))
                return
            self._uncommitted.clear()
        self._committed_at = time.monotonic()

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
            metrics.CONSUMER_LAG.labels(group=self._group_id, topic=tp.topic,
                                        partition=str(tp.partition)).set(max(lag, 0))


class ViewSinks:
    """One sink thread per view table, started and stopped together."""

    def __init__(self, settings: FitStreamSettings, store: ClickHouseStore,
                 serde: AvroSerde) -> None:
        self.erasures = ErasureLedger(settings, serde)
        self.sinks = [ClickHouseTopicSink(settings, store, serde, view, self.erasures)
                      for view in view_tables(settings)]
        self.threads = [threading.Thread(target=sink.run, name=f"sink-{view.name}", daemon=True)
                        for sink, view in zip(self.sinks, view_tables(settings), strict=True)]

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def stop(self) -> None:
        for sink in self.sinks:
            sink.stop()
        for thread in self.threads:
            thread.join(timeout=30)
        self.erasures.close()


def run_sinks(settings: FitStreamSettings) -> None:
    """Every view's ClickHouse sink, without the API (production: its own deployment)."""
    serde = AvroSerde(registry_from_settings(settings.schema_registry))
    store = open_store(settings)
    apply_ddl(store)
    sinks = ViewSinks(settings, store, serde)
    sinks.start()
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        sinks.stop()
        store.close()
