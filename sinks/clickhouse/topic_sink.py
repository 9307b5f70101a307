"""A view's changes from its topic into its ClickHouse table, batched and columnar.

:class:`ClickHouseTopicSink` is a writer on :class:`fitstream.kafka.sink_runner.SinkRunner`,
which owns the consumer: polling, batches (``sink.batch_max_rows`` / ``batch_max_wait_s``),
the idle pause, commits (every ``sink.commit_interval_s`` and at stop, only after the
insert), rewind and retry, and lag. Each batch is decoded here and inserted as one
columnar insert; the table's ReplacingMergeTree version makes every retry and re-read
harmless.
"""

from __future__ import annotations

import threading
from typing import Any

import structlog
from confluent_kafka import KafkaError

from fitstream.contracts import AvroSerde, SerdeError, registry_from_settings
from fitstream.kafka.sink_runner import RunnerConfig, RunnerThreads, SinkRunner, SinkStopped
from fitstream.observability import metrics, tracing
from fitstream.privacy.coordinates import CoordinatesUnreadable, open_coordinates
from fitstream.privacy.erasures import ErasureLedger, record_timestamp_ms
from fitstream.privacy.fields import PREFERENCE_FIELDS, FieldCipher, patiently
from fitstream.privacy.keys import key_store
from fitstream.settings import FitStreamSettings
from stores.clickhouse.store import ClickHouseStore, open_store
from stores.clickhouse.tables import (
    ViewTable,
    apply_ddl,
    prediction_tables,
    sink_groups,
    view_tables,
)

log = structlog.get_logger("sinks.clickhouse")


# The fields that name a view row, in the order of the tables' ORDER BY keys
# (stores/clickhouse/tables.py); a record holds those of its own table.
ROW_IDENTITY = ("user_id", "workout_id", "rule_id", "notification_id", "channel", "board",
                "model_name")


def row_key(record: dict[str, Any]) -> str:
    """The view row a record writes, as ``user_id=u/workout_id=w`` (for traces)."""
    return "/".join(f"{field}={record[field]}" for field in ROW_IDENTITY
                    if record.get(field) is not None)


class ClickHouseTopicSink:
    """One view's writer: decode, skip what must not be written, open sealed fields, and
    insert. The runner (:func:`view_runner`) owns the consumer and the offsets."""

    links_records = True  # each traced record's link names its row (write)

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
        self.name = view.name
        self.topics = [view.topic]
        self.group_id = dict(sink_groups(settings))[view.topic]
        self._store = store
        self._serde = serde
        # Replaced by the runner's stop event in setup(): waits for the key store end there.
        self._stop = threading.Event()
        self.rows_written = 0

    def setup(self, stop: threading.Event) -> None:
        self._stop = stop

    def write(self, batch: list[Any]) -> int:
        """Insert the batch's records as one columnar insert (idempotent: table versions).
        Raises SinkStopped if stopped while waiting for the key store."""
        if self._erasures is not None:  # every erasure produced before these records
            self._erasures.catch_up({m.partition() for m in batch if not m.error()})
        # Only with tracing on: link each traced record, naming the view row it wrote, so
        # a device event can be followed to the row it changed.
        linking = tracing.recording()
        records = []
        for message in batch:
            record = self._record(message)
            if record is None:
                continue
            records.append(record)
            if linking and message.headers():
                tracing.link_record(message, {"fitstream.view.table": self._view.table,
                                              "fitstream.view.row": row_key(record)})
        rows = self._store.insert(self._view.table, self._view.columns(records))
        self.rows_written += rows
        return rows

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
                # Just decoded and nobody else's: opened in place.
                record = patiently(lambda: open_coordinates(cipher, subject, record,
                                                            in_place=True), self._stop)
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


def view_runner(settings: FitStreamSettings, sink: ClickHouseTopicSink) -> SinkRunner:
    """A view sink on the sink runner: the view's group, ``settings.sink``'s batching, and
    commits seconds apart (each rewrites the embedded broker's storage; a crash
    re-inserts at most an interval's rows, which the table versions make harmless)."""
    return SinkRunner(sink, settings.kafka, RunnerConfig(
        group_id=sink.group_id, batch_max_rows=settings.sink.batch_max_rows,
        batch_max_wait_s=settings.sink.batch_max_wait_s,
        commit_interval_s=settings.sink.commit_interval_s))


class ViewSinks:
    """One sink runner (and thread) per view table and per prediction table (the scorer's
    forecasts, race predictions and recommendations), started and stopped together; they
    share one erasure ledger."""

    def __init__(self, settings: FitStreamSettings, store: ClickHouseStore,
                 serde: AvroSerde) -> None:
        self.erasures = ErasureLedger(settings, serde)
        self.sinks = [ClickHouseTopicSink(settings, store, serde, view, self.erasures)
                      for view in [*view_tables(settings), *prediction_tables(settings)]]
        self._threads = RunnerThreads([view_runner(settings, sink) for sink in self.sinks])

    def start(self) -> None:
        self._threads.start()

    def stop(self) -> None:
        self._threads.stop(timeout_s=30)
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
