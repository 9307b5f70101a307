"""One Kafka consumer loop for every sink: a sink only writes, the runner owns the rest.

Shaped after Quix Streams' ``BatchingSink`` and its checkpoint (the app owns offsets and
commits them after the sinks flushed; a sink's ``write`` gets a batch and either
returns or raises): the runner polls, batches, pauses when idle, writes through
:meth:`Sink.write`, commits, retries, applies backpressure, reports lag, and stops.

Lifecycle contract
------------------

1. :meth:`SinkRunner.run` calls the sink's optional ``setup(stop)`` once (create
   tables, keep the stop event for waits inside ``write``), then subscribes to
   ``sink.topics`` with the runner's consumer group.
2. **On assignment** a sink with the optional ``resume_at(topic, partition)`` hook is
   asked where each partition resumes (its own transactional store is the truth, e.g.
   Delta ``Transaction(app_id, version)``); ``None`` means the beginning. Without the
   hook, the group's committed offsets (or the earliest) decide.
3. **Batching.** Records are collected until ``batch_max_rows`` or ``batch_max_wait_s``
   after the batch's first record, whichever comes first; consume errors are logged
   and left out. A batch holds records of any assigned partitions, in log order per
   partition.
4. **Writing.** :meth:`Sink.write` receives the batch once. It returns (the batch is
   written, idempotently: the runner may hand it the same records again after a crash
   or a retry) or raises:

   - :class:`SinkStopped`: stopped in the middle (e.g. waiting for a key store with
     :func:`fitstream.privacy.fields.patiently`): nothing of the batch is committed and
     the run ends.
   - :class:`SinkBackpressure`: the target is busy: the assigned partitions are paused
     for ``retry_after_s``, then the batch is read again. Not an error.
   - any other exception: logged; the consumer is rewound (to ``resume_at`` with the
     hook, otherwise to the batch's first offsets), waits with backoff (doubling from
     ``retry_backoff_s`` to ``retry_backoff_max_s``, partitions paused) and reads the
     batch again. The backoff resets after a successful write.

5. **Offsets belong to the runner.** After a successful write the batch's next offsets
   are remembered; they are committed every ``commit_interval_s`` (0: after every
   write), when partitions are revoked, and at stop, never before the write returned.
   Commits are seconds apart on purpose: each commit rewrites the embedded broker's
   whole storage, and a crash re-writes at most an interval's records, which idempotent
   sinks absorb. For a sink with ``resume_at`` the Kafka offsets are advisory (lag
   metrics and tools); the sink's store says what is written.
6. **Idle pause** (:func:`fitstream.kafka.long_poll_shim.idle_pause`): after an empty
   poll the assigned partitions are paused for ``kafka.emulate_long_poll_ms`` (the
   embedded broker answers empty fetches at once; 0 in production), then polled
   briefly, because every poll spins on that broker.
7. **Backpressure.** One batch at a time: nothing is consumed while ``write`` runs,
   a batch is at most ``batch_max_rows``, and librdkafka's prefetch is bounded by
   ``queued.max.messages.kbytes``; ``SinkBackpressure`` pauses the partitions.
8. **Lag** of every assigned partition goes to ``fitstream_consumer_lag_records`` every few
   seconds; a broker that does not answer costs the metric, not the sink.
9. **Traces** (fitstream/observability/tracing.py, only with tracing on): each write
   runs in a span linked to the trace of every record of the batch that carries one
   (one link a record context; beyond the SDK's 128 a span, on child spans).
10. :meth:`SinkRunner.stop` (any thread) ends the loop: the batch being collected is
   written (once, no retry), what was written is committed, the consumer is closed,
   and the sink's optional ``close()`` is called.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import structlog
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, TopicPartition

from fitstream.kafka.clients import consumer_config
from fitstream.kafka.long_poll_shim import idle_pause
from fitstream.observability import metrics, tracing
from fitstream.settings import KafkaSettings

log = structlog.get_logger("fitstream.kafka.sink_runner")

Message = Any
"""A confluent-kafka ``Message`` (``topic()``, ``partition()``, ``offset()``, ``key()``,
``value()``, ``timestamp()``, ``headers()``, ``error()``)."""

POLL_MAX_ROWS = 10_000  # one consume call; a batch may take several
IDLE_POLL_S = 0.02  # between idle pauses: each poll spins on the embedded broker


class SinkStopped(Exception):
    """Raised by ``write`` when it was stopped in the middle of a batch (the runner's
    stop event was set while it waited): nothing of the batch is committed."""


class SinkBackpressure(Exception):
    """Raised by ``write`` when the target asks to slow down: the runner pauses the
    partitions for ``retry_after_s`` and reads the batch again (no error logged)."""

    def __init__(self, retry_after_s: float, detail: str = "") -> None:
        super().__init__(detail or f"retry after {retry_after_s}s")
        self.retry_after_s = retry_after_s


@runtime_checkable
class Sink(Protocol):
    """What a sink implements: a name, its topics, and ``write``.

    Optional hooks, looked up by name:

    - ``setup(stop: threading.Event) -> None``: once before the first poll; ``stop`` is
      the runner's stop event, for waits inside ``write``.
    - ``resume_at(topic: str, partition: int) -> int | None``: where an assigned
      partition resumes (None: the beginning), for sinks whose own store records what
      they wrote; also where a failed batch is re-read from.
    - ``close() -> None``: after the consumer closed.

    Optional attribute ``links_records`` (True): the sink links the batch's span to each
    record's trace itself (naming the row it wrote); otherwise the runner does.
    """

    name: str  # the metrics label and the thread name
    topics: Sequence[str]

    def write(self, batch: list[Message]) -> int | None:
        """Write the batch (idempotently) or raise. Returns the rows written, for the
        batch metrics (None: the batch's record count)."""
        ...


@dataclass(frozen=True)
class RunnerConfig:
    """How one sink is driven. ``consumer`` adds librdkafka settings (for instance static
    membership: ``group.instance.id``)."""

    group_id: str
    batch_max_rows: int
    batch_max_wait_s: float
    commit_interval_s: float
    consumer: dict[str, Any] = field(default_factory=dict)
    retry_backoff_s: float = 2.0
    retry_backoff_max_s: float = 10.0
    lag_interval_s: float = 5.0


class SinkRunner:
    """Drives one :class:`Sink` with one consumer, on the thread that calls :meth:`run`."""

    def __init__(self, sink: Sink, kafka: KafkaSettings, config: RunnerConfig) -> None:
        self.sink = sink
        self.config = config
        self.group_id = config.group_id
        self._kafka = kafka
        self._stop = threading.Event()
        self._resume_at = getattr(sink, "resume_at", None)
        self._links_records = getattr(sink, "links_records", False)
        self._consumer = Consumer(consumer_config(
            kafka, config.group_id,
            **{"fetch.wait.max.ms": 200, "queued.max.messages.kbytes": 65536},
            **config.consumer))
        self._batch: list[Message] = []
        self._first_at = 0.0
        self._uncommitted: dict[tuple[str, int], int] = {}
        self._committed_at = time.monotonic()
        self._backoff_s = config.retry_backoff_s
        self.batches_written = 0
        self.records_written = 0

    @property
    def name(self) -> str:
        return self.sink.name

    def stop(self) -> None:
        self._stop.set()

    # -- the loop ----------------------------------------------------------------------

    def run(self) -> None:
        setup = getattr(self.sink, "setup", None)
        if setup is not None:
            setup(self._stop)
        self._consumer.subscribe(list(self.sink.topics), on_assign=self._on_assign,
                                 on_revoke=self._on_revoke)
        idle_ms = self._kafka.emulate_long_poll_ms
        poll_s = self.config.batch_max_wait_s
        last_lag_at = 0.0
        try:
            while not self._stop.is_set():
                received = self._poll(poll_s)
                if self._batch_due():
                    self._flush()
                if received:
                    poll_s = self._remaining_wait()
                else:
                    # Nothing arrived: do not spin; a collecting batch still ends on time.
                    pause_ms = idle_ms if not self._batch else min(
                        idle_ms, int(self._remaining_wait() * 1000))
                    idle_pause(self._consumer, pause_ms, self._stop)
                    poll_s = IDLE_POLL_S if idle_ms else self._remaining_wait()
                if self._uncommitted and (time.monotonic() - self._committed_at
                                          >= self.config.commit_interval_s):
                    self._commit()  # an idle sink still commits what it wrote
                if time.monotonic() - last_lag_at >= self.config.lag_interval_s:
                    last_lag_at = time.monotonic()
                    self._report_lag()
        except SinkStopped:
            self._batch = []  # nothing of it is committed
        finally:
            try:
                if self._batch:
                    self._write_once()
                self._commit()
            finally:
                self._consumer.close()
                close = getattr(self.sink, "close", None)
                if close is not None:
                    close()

    def _poll(self, timeout_s: float) -> int:
        room = min(POLL_MAX_ROWS, self.config.batch_max_rows - len(self._batch))
        received = 0
        for message in self._consumer.consume(max(room, 1), timeout=max(timeout_s, 0.0)):
            if message.error():
                if message.error().code() != KafkaError._PARTITION_EOF:
                    log.warning("consume_error", sink=self.name, error=str(message.error()))
                continue
            if not self._batch:
                self._first_at = time.monotonic()
            self._batch.append(message)
            received += 1
        return received

    def _remaining_wait(self) -> float:
        if not self._batch:
            return self.config.batch_max_wait_s
        return max(0.0, self.config.batch_max_wait_s - (time.monotonic() - self._first_at))

    def _batch_due(self) -> bool:
        return bool(self._batch) and (len(self._batch) >= self.config.batch_max_rows
                                      or self._remaining_wait() <= 0)

    # -- writing -----------------------------------------------------------------------

    def _flush(self) -> None:
        """Write the batch; on failure rewind and wait (SinkStopped propagates)."""
        batch = self._batch
        try:
            self._write(batch)
        except SinkStopped:
            raise
        except SinkBackpressure as exc:
            log.info("sink_backpressure", sink=self.name, retry_after_s=exc.retry_after_s,
                     detail=str(exc))
            self._retry_later(batch, exc.retry_after_s)
        except Exception:
            # The store or the broker failed: nothing of it was committed, so read the
            # batch again after a pause (writes are idempotent).
            log.exception("sink_batch_failed", sink=self.name, records=len(batch))
            self._retry_later(batch, self._backoff_s)
            self._backoff_s = min(self._backoff_s * 2, self.config.retry_backoff_max_s)

    def _write(self, batch: list[Message]) -> None:
        self._batch = []
        started = time.perf_counter()
        try:
            with tracing.sink_batch_span(self.name, batch, not self._links_records):
                rows = self.sink.write(batch)
        except BaseException:
            self._batch = batch  # still to do, until rewound or given up
            raise
        elapsed = time.perf_counter() - started
        metrics.SINK_BATCH_ROWS.labels(sink=self.name).observe(
            len(batch) if rows is None else rows)
        metrics.SINK_BATCH_SECONDS.labels(sink=self.name).observe(elapsed)
        self._uncommitted.update(next_offsets(batch))
        self.batches_written += 1
        self.records_written += len(batch)
        self._backoff_s = self.config.retry_backoff_s
        if self.config.commit_interval_s <= 0:
            self._commit()

    def _write_once(self) -> None:
        """At stop: one attempt, no retry; a failure leaves the batch uncommitted."""
        try:
            self._write(self._batch)
        except SinkStopped:
            pass
        except Exception:
            log.exception("sink_batch_failed_at_stop", sink=self.name,
                          records=len(self._batch))
        self._batch = []

    def _retry_later(self, batch: list[Message], wait_s: float) -> None:
        self._batch = []
        self._rewind(batch)
        assignment = self._consumer.assignment()
        if assignment:
            self._consumer.pause(assignment)
        try:
            self._stop.wait(wait_s)
        finally:
            if assignment:
                self._consumer.resume(assignment)

    def _rewind(self, batch: list[Message]) -> None:
        """Seek every partition of the batch back to where it is to be read again."""
        for (topic, partition), first in first_offsets(batch).items():
            offset = (first if self._resume_at is None
                      else self._resume_position(topic, partition))
            try:
                self._consumer.seek(TopicPartition(topic, partition, offset))
            except KafkaException as exc:
                if any((tp.topic, tp.partition) == (topic, partition)
                       for tp in self._consumer.assignment()):
                    raise  # still ours: reading on would skip the batch
                # Revoked meanwhile: its next owner reads it from the committed offset.
                log.warning("sink_rewind_skipped", sink=self.name, topic=topic,
                            partition=partition, error=str(exc))

    # -- offsets -----------------------------------------------------------------------

    def _commit(self) -> None:
        """Commit what has been written (and only that)."""
        if self._uncommitted:
            try:
                self._consumer.commit(offsets=[TopicPartition(t, p, o) for (t, p), o
                                               in self._uncommitted.items()],
                                      asynchronous=False)
            except KafkaException as exc:
                # Kept for the next attempt; until then a restart re-writes these records.
                log.warning("sink_commit_failed", sink=self.name, error=str(exc))
                return
            self._uncommitted.clear()
        self._committed_at = time.monotonic()

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        if self._resume_at is None:  # the client assigns at the committed offsets
            log.info("sink_assigned", sink=self.name,
                     partitions=[f"{tp.topic}:{tp.partition}" for tp in partitions])
            return
        for tp in partitions:
            tp.offset = self._resume_position(tp.topic, tp.partition)
        consumer.assign(partitions)
        log.info("sink_assigned", sink=self.name,
                 positions={f"{tp.topic}:{tp.partition}": tp.offset for tp in partitions})

    def _resume_position(self, topic: str, partition: int) -> int:
        """The sink's resume position, asked until it answers: its store being away says
        nothing about where to resume, and a guess would write twice or skip."""
        assert self._resume_at is not None
        wait_s = self.config.retry_backoff_s
        while True:
            try:
                resumed = self._resume_at(topic, partition)
            except Exception:
                log.exception("sink_resume_position_unavailable", sink=self.name, topic=topic,
                              partition=partition, retry_in_s=wait_s)
                if self._stop.wait(wait_s):
                    raise SinkStopped(self.name) from None
                wait_s = min(wait_s * 2, self.config.retry_backoff_max_s)
                continue
            return OFFSET_BEGINNING if resumed is None else resumed

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """Before the partitions go to another member: write what was collected and
        commit it; a batch that cannot be written is left to the next owner."""
        if self._batch and not self._stop.is_set():
            try:
                self._write(self._batch)
            except Exception:
                log.exception("sink_batch_failed_at_revoke", sink=self.name,
                              records=len(self._batch))
            self._batch = []
        self._commit()
        revoked = {(tp.topic, tp.partition) for tp in partitions}
        self._uncommitted = {k: o for k, o in self._uncommitted.items() if k not in revoked}
        metrics.forget_consumer_lag(self.group_id, revoked)

    def _report_lag(self) -> None:
        try:
            assignment = self._consumer.assignment()
            if not assignment:
                return
            for tp in self._consumer.position(assignment):
                _, high = self._consumer.get_watermark_offsets(
                    TopicPartition(tp.topic, tp.partition), timeout=2)
                lag = high - tp.offset if tp.offset >= 0 else high
                metrics.CONSUMER_LAG.labels(group=self.group_id, topic=tp.topic,
                                            partition=str(tp.partition)).set(max(lag, 0))
        except KafkaException as exc:
            # A metric is not worth the sink: a busy broker that times out a watermark
            # query killed every sink thread of a process.
            log.warning("sink_lag_unavailable", sink=self.name, error=str(exc))


def next_offsets(batch: list[Message]) -> dict[tuple[str, int], int]:
    """(topic, partition) -> one past the batch's last record there: what to commit."""
    last: dict[tuple[str, int], int] = {}
    for message in batch:
        key = (message.topic(), message.partition())
        last[key] = max(last.get(key, -1), message.offset() + 1)
    return last


def first_offsets(batch: list[Message]) -> dict[tuple[str, int], int]:
    """(topic, partition) -> the batch's first offset there: where to read it again."""
    first: dict[tuple[str, int], int] = {}
    for message in batch:
        key = (message.topic(), message.partition())
        first[key] = min(first.get(key, message.offset()), message.offset())
    return first


class RunnerThreads:
    """Several runners, one daemon thread each, started and stopped together."""

    def __init__(self, runners: list[SinkRunner]) -> None:
        self.runners = runners
        self.threads = [threading.Thread(target=r.run, name=f"sink-{r.name}", daemon=True)
                        for r in runners]

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def all_alive(self) -> bool:
        return all(thread.is_alive() for thread in self.threads)

    def stop(self, timeout_s: float = 30) -> None:
        for runner in self.runners:
            runner.stop()
        for thread in self.threads:
            thread.join(timeout=timeout_s)
