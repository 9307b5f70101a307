"""A topic into Delta, exactly once: batches committed with their Kafka positions as
Delta transactions, and resumed from those positions.

:class:`DeltaTopicSink` is a writer on :class:`fitstream.kafka.sink_runner.SinkRunner`
(:func:`lakehouse_runner`), which owns the consumer. What this sink adds is its resume
positions: on every assignment, and after a failed write, the runner seeks each
partition to the version the writer committed to Delta (``resume_at``; the beginning if
none): Delta, not Kafka, says what is written. Records are batched up to
``lakehouse.batch_max_rows`` or ``batch_max_wait_s`` (few, larger files) and written in
one commit per table; the runner's Kafka offset commits (every
``lakehouse.offset_commit_interval_s`` and at stop, after the buffer is flushed) are for
lag metrics only. The consumer uses static membership (``lakehouse.group_instance_id``):
a restarted sink takes its partitions back at once, and the embedded broker never
evicts a crashed member.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import structlog
from deltalake import Transaction

from fitstream.kafka.sink_runner import RunnerConfig, RunnerThreads, SinkRunner
from fitstream.privacy.erasures import ErasureLedger, record_timestamp_ms
from fitstream.settings import FitStreamSettings
from sinks.delta.writers import LakehouseWriter
from stores.delta.writer_groups import writer_group

log = structlog.get_logger("sinks.delta")


def app_id(writer: LakehouseWriter, partition: int) -> str:
    """The Delta transaction id of one writer's progress on one partition."""
    return f"fitstream:{writer.name}:{writer.topic}:{partition}"


class DeltaTopicSink:
    """A :class:`LakehouseWriter` as a runner sink: each batch is committed with one
    ``Transaction(app_id, next offset)`` per partition, and resumes where those say."""

    def __init__(self, settings: FitStreamSettings, writer: LakehouseWriter,
                 erasures: ErasureLedger | None = None) -> None:
        self._writer = writer
        # Records of erased users, logged at or before their erasure, are not written
        # (fitstream/privacy/erasures.py): a lagging or rebuilt sink must not bring them
        # back. Their offsets still count as written.
        self._erasures = erasures
        self.name = writer.name
        self.topics = [writer.topic]
        self.group_id = writer_group(settings, writer.name)
        self.rows_written = 0
        self.commits = 0

    def setup(self, stop: threading.Event) -> None:
        self._writer.prepare()

    def resume_at(self, topic: str, partition: int) -> int | None:
        return self._writer.resume_at(app_id(self._writer, partition))

    def write(self, batch: list[Any]) -> int:
        ends: dict[int, int] = {}
        for message in batch:
            ends[message.partition()] = max(ends.get(message.partition(), -1),
                                            message.offset() + 1)
        transactions = [Transaction(app_id(self._writer, p), end) for p, end in ends.items()]
        if self._erasures is not None:  # every erasure produced before these records
            self._erasures.catch_up(set(ends))
            batch = [m for m in batch if not self._erasures.is_erased(
                m.key(), record_timestamp_ms(m))]
        rows = self._writer.write(batch, transactions)
        self.rows_written += rows
        self.commits += 1
        return rows


def lakehouse_runner(settings: FitStreamSettings, sink: DeltaTopicSink) -> SinkRunner:
    lake = settings.lakehouse
    static = lake.group_instance_id
    return SinkRunner(sink, settings.kafka, RunnerConfig(
        group_id=sink.group_id, batch_max_rows=lake.batch_max_rows,
        batch_max_wait_s=lake.batch_max_wait_s,
        commit_interval_s=lake.offset_commit_interval_s,
        consumer=({"group.instance.id": f"{static}-{sink.name}", "session.timeout.ms": 10_000}
                  if static else {})))


def lakehouse_writers(settings: FitStreamSettings) -> list[LakehouseWriter]:
    """bronze events, bronze dead letters, silver + gold, and the offline features."""
    from fitstream.contracts import AvroSerde, registry_from_settings
    from sinks.delta.writers import (
        BronzeDeadLettersWriter,
        BronzeEventsWriter,
        SilverGoldWriter,
        UserFeaturesWriter,
    )
    from stores.delta.lakehouse import DeltaTables

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
    """Every lakehouse sink, and the Feast online writer, each on its own runner and
    thread until interrupted; each flushes on stop."""
    from sinks.feast.online_sink import OnlineFeatureSink, online_runner
    from stores.feast.store import apply_definitions

    apply_definitions(settings)
    runners = [lakehouse_runner(settings, sink) for sink in lakehouse_sinks(settings)]
    runners.append(online_runner(settings, OnlineFeatureSink(settings)))
    threads = RunnerThreads(runners)
    threads.start()
    try:
        while threads.all_alive():
            time.sleep(1)
        raise RuntimeError("a lakehouse sink stopped; see the log")
    except KeyboardInterrupt:
        pass
    finally:
        threads.stop(timeout_s=60)
