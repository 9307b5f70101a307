"""A topic into Delta, exactly once: batches committed with their Kafka positions as
Delta transactions, and resumed from those positions.

Lifecycle: :meth:`DeltaTopicSink.run` prepares the writer's tables, subscribes, and on
every assignment seeks each partition to the version its writer committed (the
beginning if none: Delta, not Kafka, says what is written). Records are buffered until
``lakehouse.batch_max_rows`` or ``batch_max_wait_s`` (few, larger files), then written
in one commit per table. If a write fails, the buffer is dropped and the consumer
seeks back to the committed versions after a pause. Kafka offsets are committed now
and then for lag metrics only; :meth:`stop` flushes the buffer first.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import structlog
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
from deltalake import Transaction

from fitstream.kafka.clients import consumer_config
from fitstream.kafka.long_poll_shim import idle_pause
from fitstream.observability import metrics
from fitstream.privacy.erasures import ErasureLedger, record_timestamp_ms
from fitstream.settings import FitStreamSettings
from sinks.delta.writers import LakehouseWriter

log = structlog.get_logger("sinks.delta")

RETRY_PAUSE_S = 2.0


def app_id(writer: LakehouseWriter, partition: int) -> str:
    """The Delta transaction id of one writer's progress on one partition."""
    return f"fitstream:{writer.name}:{writer.topic}:{partition}"


class DeltaTopicSink:
    def __init__(self, settings: FitStreamSettings, writer: LakehouseWriter,
                 erasures: ErasureLedger | None = None) -> None:
        self._settings = settings
        self._writer = writer
        # Records of erased users, logged at or before their erasure, are not written
        # (fitstream/privacy/erasures.py): a lagging or rebuilt sink must not bring them
        # back. Their offsets still count as written.
        self._erasures = erasures
        self._stop = threading.Event()
        self.group_id = f"{settings.lakehouse.group_id}-{writer.name}"
        static = settings.lakehouse.group_instance_id
        self._consumer = Consumer(consumer_config(
            settings.kafka, self.group_id,
            **{"fetch.wait.max.ms": 200, "queued.max.messages.kbytes": 65536},
            **({"group.instance.id": f"{static}-{writer.name}", "session.timeout.ms": 10_000}
               if static else {})))
        self._buffer: list[Any] = []
        self._first_at = 0.0
        self.rows_written = 0
        self.commits = 0
        self._written: dict[int, int] = {}  # partition -> next offset, as committed to Delta

    def stop(self) -> None:
        self._stop.set()

    def _positions(self, partitions: list[TopicPartition]) -> list[TopicPartition]:
        for tp in partitions:
            version = self._writer.resume_at(app_id(self._writer, tp.partition))
            tp.offset = OFFSET_BEGINNING if version is None else version
        return partitions

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        consumer.assign(self._positions(partitions))
        log.info("delta_sink_assigned", sink=self._writer.name,
                 positions={tp.partition: tp.offset for tp in partitions})

    def run(self) -> None:
        lake = self._settings.lakehouse
        self._writer.prepare()
        self._consumer.subscribe([self._writer.topic], on_assign=self._on_assign)
        committed_at = time.monotonic()
        try:
            while not self._stop.is_set():
                messages = [m for m in self._consumer.consume(10_000, timeout=0.5)
                            if not m.error()]
                if messages and not self._buffer:
                    self._first_at = time.monotonic()
                self._buffer += messages
                if self._buffer and (len(self._buffer) >= lake.batch_max_rows or
                                     time.monotonic() - self._first_at >= lake.batch_max_wait_s):
                    self._flush()
                if not messages:
                    idle_pause(self._consumer, self._settings.kafka.emulate_long_poll_ms,
                               self._stop)
                if time.monotonic() - committed_at >= lake.offset_commit_interval_s:
                    self._commit_offsets()
                    committed_at = time.monotonic()
        finally:
            try:
                if self._buffer:
                    self._flush()
                self._commit_offsets()
            finally:
                self._consumer.close()

    def _flush(self) -> None:
        batch, self._buffer = self._buffer, []
        ends: dict[int, int] = {}
        for message in batch:
            ends[message.partition()] = max(ends.get(message.partition(), -1),
                                            message.offset() + 1)
        transactions = [Transaction(app_id(self._writer, p), end) for p, end in ends.items()]
        started = time.perf_counter()
        try:
            if self._erasures is not None:  # every erasure produced before these records
                self._erasures.catch_up(set(ends))
                batch = [m for m in batch if not self._erasures.is_erased(
                    m.key(), record_timestamp_ms(m))]
            rows = self._writer.write(batch, transactions)
        except Exception:
            log.exception("delta_write_failed", sink=self._writer.name, records=len(batch))
            self._stop.wait(RETRY_PAUSE_S)
            assignment = self._consumer.assignment()
            for tp in self._positions(assignment):
                self._consumer.seek(tp)
            return
        self.rows_written += rows
        self.commits += 1
        self._written.update(ends)
        metrics.SINK_BATCH_ROWS.labels(sink=self._writer.name).observe(rows)
        metrics.SINK_BATCH_SECONDS.labels(sink=self._writer.name).observe(
            time.perf_counter() - started)

    def _commit_offsets(self) -> None:
        """Advisory, what Delta holds: for lag metrics and tools (progress lives in the
        Delta log, and a restart seeks there)."""
        if not self._written:
            return
        try:
            self._consumer.commit(offsets=[TopicPartition(self._writer.topic, p, o)
                                           for p, o in self._written.items()],
                                  asynchronous=False)
        except Exception as exc:  # the broker is away: the next interval tries again
            log.warning("offset_commit_failed", sink=self._writer.name, error=str(exc))


def lakehouse_writers(settings: FitStreamSettings) -> list[LakehouseWriter]:
    """bronze events, bronze dead letters, silver + gold, and the offline features."""
    from fitstream.contracts import AvroSerde, registry_from_settings
    from sinks.delta.writers import (
        BronzeDeadLettersWriter,
        BronzeEventsWriter,
        DeltaTables,
        SilverGoldWriter,
        UserFeaturesWriter,
    )

    registry = registry_from_settings(settings.schema_registry)
    serde = AvroSerde(registry)
    tables = DeltaTables(settings)
    return [BronzeEventsWriter(tables, serde, registry), BronzeDeadLettersWriter(tables),
            SilverGoldWriter(tables, serde), UserFeaturesWriter(tables, serde)]


def lakehouse_sinks(settings: FitStreamSettings) -> list[DeltaTopicSink]:
    from fitstream.contracts import AvroSerde, registry_from_settings

    erasures = ErasureLedger(settings, AvroSerde(registry_from_settings(
        settings.schema_registry)))
    return [DeltaTopicSink(settings, writer, erasures)
            for writer in lakehouse_writers(settings)]


def records_behind(writers: list[LakehouseWriter],
                   ends: Callable[[str], dict[int, int]]) -> int:
    """Records on the writers' topics that Delta does not hold yet, read from the Delta
    transaction versions; ``ends`` gives a topic's end offset per partition. The writers'
    tables must exist (``prepare``)."""
    return sum(max(0, end - (writer.resume_at(app_id(writer, partition)) or 0))
               for writer in writers for partition, end in ends(writer.topic).items())


def run_lakehouse(settings: FitStreamSettings) -> None:
    """Every lakehouse sink, and the Feast online writer, on its own thread until
    interrupted; each flushes on stop."""
    from sinks.feast.online_sink import OnlineFeatureSink
    from sinks.feast.store import apply_definitions

    apply_definitions(settings)
    sinks: list[Any] = [*lakehouse_sinks(settings), OnlineFeatureSink(settings)]
    threads = [threading.Thread(target=sink.run, name=f"sink-{sink.group_id}", daemon=True)
               for sink in sinks]
    for thread in threads:
        thread.start()
    try:
        while all(thread.is_alive() for thread in threads):
            time.sleep(1)
        raise RuntimeError("a lakehouse sink stopped; see the log")
    except KeyboardInterrupt:
        pass
    finally:
        for sink in sinks:
            sink.stop()
        for thread in threads:
            thread.join(timeout=60)
