"""Erasures as events: ``UserErased`` records on a compacted topic that every reader of a
user's records honours.

``fitstream jobs gdpr-erase`` first produces ``UserErased{user_id, erased_at}`` (key
``user_id``) to ``kafka.erasures_topic``, then deletes the user from the stores. The
rule every reader applies is one comparison:

    a record about user U is erased if U has an erasure and the record's Kafka
    timestamp is at or before U's ``erased_at``.

- The processor reads the topic up to its end before each batch of a partition
  (:meth:`ErasureLedger.catch_up`), so an erasure produced before an event is always
  seen before that event. On a new erasure it drops the user's state (sessions,
  leaderboard totals, achievements, feature history) and then dead-letters the user's
  erased events with reason ``user_erased``; a replay from offset 0 reads the same
  topic first and so never rebuilds the user.
- Sinks skip erased records of the view topics and of the log's other sources
  (preferences, reads, deliveries), so a rebuild does not resurrect the user either.

Kafka record timestamps, not ``occurred_at``: they are set where the record entered the
log (the broker stamps the events topic, LogAppendTime), so a device cannot backdate
its way around an erasure, and they are stored in the log, so a replay decides exactly
as the live run did.

``erased_at`` is the erase job's clock, and record timestamps are the broker's (the
events topic uses LogAppendTime) or the processor's (view topics): the hosts must keep
their clocks in sync, and only a record logged within the clock skew of the erasure can
be judged on the wrong side of it.

After an erasure the user may come back: a record logged after ``erased_at`` is a new
start, and their totals, achievements and features count from zero. The topic is never
tombstoned (compaction would then forget the erasure); erasing again moves
``erased_at`` forward.

The erasure topic has the events topic's partition count and keys by user id with the
same partitioner (murmur2, ``fitstream.kafka.clients``), so a user's erasure is on the
partition number of their events and of every view record keyed by them: the
processor's actor for that partition is the one that drops the user's state.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from typing import Any

import structlog
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, Producer, TopicPartition

from fitstream.contracts import AvroSerde, SerdeError, subjects
from fitstream.domain.identifiers import check_id
from fitstream.kafka.clients import consumer_config, producer_config
from fitstream.privacy.keys import forget_user
from fitstream.settings import FitStreamSettings

log = structlog.get_logger("privacy.erasures")

ERASURE_SUBJECT = subjects.USER_ERASED


def now_ms() -> int:
    return int(time.time() * 1000)


def publish_erasure(settings: FitStreamSettings, serde: AvroSerde, user_id: str,
                    erased_at: int | None = None, timeout_s: float = 30.0) -> int:
    """Produce ``UserErased`` for ``user_id`` and wait until the broker has it; returns
    ``erased_at`` (now by default). The record's timestamp is ``erased_at`` too."""
    check_id("user_id", user_id)
    erased_at = now_ms() if erased_at is None else erased_at
    errors: list[str] = []
    producer = Producer(producer_config(settings.kafka, **{"linger.ms": 0}))
    producer.produce(settings.kafka.erasures_topic, key=user_id.encode(),
                     value=serde.encode(ERASURE_SUBJECT,
                                        {"user_id": user_id, "erased_at": erased_at}),
                     timestamp=erased_at,
                     on_delivery=lambda err, _msg: errors.append(str(err)) if err else None)
    if producer.flush(timeout_s) or errors:
        raise RuntimeError(f"the erasure of {user_id} was not acknowledged: "
                           f"{errors[0] if errors else 'timed out'}")
    return erased_at


class _OutageWait:
    """One catch-up's patience with the broker: backoff between attempts (1 s doubling to
    10 s, reset by progress), a warning per failure, and the windows after which it
    gives up (``outage_s`` for an unreachable broker, None: never;
    ``missing_topic_s`` for an unknown topic)."""

    stall_log_s = 30.0

    def __init__(self, topic: str, outage_s: float | None, missing_topic_s: float) -> None:
        self._topic = topic
        self._outage_s = outage_s
        self._missing_topic_s = missing_topic_s
        self._started = time.monotonic()
        self._backoff_s = 1.0
        self.failures = 0

    def reset(self) -> None:
        self._started, self._backoff_s = time.monotonic(), 1.0

    def attempt_timeout_s(self) -> float:
        """A request's timeout: 10 s, or half of what remains of the outage window (a
        request that fails late still leaves time to retry)."""
        if self._outage_s is None:
            return 10.0
        remaining_s = self._started + self._outage_s - time.monotonic()
        return max(0.5, min(10.0, remaining_s / 2))

    def _pause(self) -> None:
        self.failures += 1
        time.sleep(self._backoff_s)
        self._backoff_s = min(self._backoff_s * 2, 10.0)

    def broker_unreachable(self, error: object) -> None:
        waited_s = time.monotonic() - self._started
        if self._outage_s is not None and waited_s > self._outage_s:
            raise TimeoutError(f"the broker did not serve {self._topic} for {waited_s:.0f} s "
                               f"(outage window {self._outage_s} s, {self.failures + 1} "
                               f"attempts): {error}")
        log.warning("erasure_topic_unavailable", topic=self._topic, error=str(error),
                    waited_s=round(waited_s, 1))
        self._pause()

    def topic_missing(self, error: object) -> None:
        waited_s = time.monotonic() - self._started
        if waited_s > self._missing_topic_s:
            raise RuntimeError(f"{self._topic}: {error or 'no partitions'} "
                               f"(for {waited_s:.0f} s; create it with `fitstream topics create`)")
        log.warning("erasure_topic_missing", topic=self._topic, error=str(error),
                    waited_s=round(waited_s, 1))
        self._pause()

    def no_progress(self, positions: dict[int, int], ends: dict[int, int]) -> None:
        self.broker_unreachable(f"no progress reading to the end ({positions} of {ends})")


class ErasureLedger:
    """Who was erased when: ``user_id -> erased_at``, read from the erasure topic.

    Nothing runs in the background: :meth:`catch_up` reads up to the end offsets the
    topic has when it is called, so a caller that catches up before each batch has seen
    every erasure produced before the batch's records. Thread-safe (one lock).
    """

    def __init__(self, settings: FitStreamSettings, serde: AvroSerde) -> None:
        self._kafka = settings.kafka
        self._topic = settings.kafka.erasures_topic
        self._serde = serde
        self._lock = threading.Lock()
        self._consumer: Consumer | None = None
        self._positions: dict[int, int] = {}
        self._erased: dict[str, int] = {}
        # Erasures read but not yet taken by take_new(), per partition.
        self._new: dict[int, dict[str, int]] = {}

    # -- reading the topic -----------------------------------------------------------

    def _open(self, waited: _OutageWait) -> Consumer:
        """The ledger's consumer, assigned to every partition of the topic; waits out an
        unreachable broker, and a topic the broker does not know (yet: a restarting
        broker answers before it has loaded its topics) for ``missing_topic_s``."""
        while self._consumer is None:
            consumer = Consumer(consumer_config(
                self._kafka, "fitstream-erasure-ledger",
                **{"fetch.queue.backoff.ms": 50, "queued.min.messages": 1}))
            try:
                metadata = consumer.list_topics(
                    self._topic, timeout=waited.attempt_timeout_s()).topics[self._topic]
            except KafkaException as exc:
                consumer.close()
                waited.broker_unreachable(exc)
                continue
            if metadata.error is not None or not metadata.partitions:
                consumer.close()
                waited.topic_missing(metadata.error)
                continue
            self._positions = dict.fromkeys(metadata.partitions, 0)
            consumer.assign([TopicPartition(self._topic, p, OFFSET_BEGINNING)
                             for p in self._positions])
            self._consumer = consumer
        return self._consumer

    def catch_up(self, partitions: Iterable[int] | None = None,
                 outage_s: float | None = None, missing_topic_s: float = 600.0) -> None:
        """Read ``partitions`` (default: all) up to their current end offsets.

        Broker trouble is waited out here, so that long-running callers (the processor,
        the sinks, the delivery worker) need no handling of their own: an unreachable
        broker, failed offset requests and a read that makes no progress are retried
        with backoff for ``outage_s`` (None: as long as it lasts, as the callers' own
        clients do), then TimeoutError. A topic the broker does not know is retried for
        ``missing_topic_s``, then RuntimeError (a deployment without the topic).
        """
        waited = _OutageWait(self._topic, outage_s, missing_topic_s)
        with self._lock:
            consumer = self._open(waited)
            wanted = list(self._positions if partitions is None else partitions)
            if not set(wanted) <= set(self._positions):  # a topic partitioned otherwise
                wanted = list(self._positions)
            ends = self._end_offsets(consumer, wanted, waited)
            progress_at, read = time.monotonic(), dict(self._positions)
            while any(self._positions[p] < end for p, end in ends.items()):
                try:
                    messages = consumer.consume(1000, timeout=0.2)
                except KafkaException as exc:
                    waited.broker_unreachable(exc)
                    continue
                for message in messages:
                    if message.error() is None:
                        self._apply(message)
                if self._positions != read:
                    progress_at, read = time.monotonic(), dict(self._positions)
                    waited.reset()
                elif time.monotonic() - progress_at > waited.stall_log_s:
                    # The broker answers nothing (restarting, or a partition's leader is
                    # away): keep reading, as a consumer does, within the outage window.
                    progress_at = time.monotonic()
                    waited.no_progress(self._positions, ends)

    def _end_offsets(self, consumer: Consumer, partitions: list[int],
                     waited: _OutageWait) -> dict[int, int]:
        """The partitions' end offsets, waiting out a broker outage instead of failing.

        A failed batch makes the worker exit and recover all its tables; a broker that
        restarts (measured by tests/integration/test_broker_restart.py) is an outage to
        wait for, as the worker's own consumer and producer do.
        """
        while True:
            try:
                return {p: consumer.get_watermark_offsets(
                            TopicPartition(self._topic, p),
                            timeout=waited.attempt_timeout_s(), cached=False)[1]
                        for p in partitions}
            except KafkaException as exc:
                waited.broker_unreachable(exc)

    def _apply(self, message: Any) -> None:
        partition = message.partition()
        self._positions[partition] = max(self._positions[partition], message.offset() + 1)
        if message.value() is None:
            return  # never produced; an erasure is never lifted
        try:
            _, record = self._serde.decode(message.value())
        except SerdeError:
            log.warning("undecodable_erasure_skipped", partition=partition,
                        offset=message.offset())
            return
        user_id, erased_at = record["user_id"], record["erased_at"]
        if erased_at > self._erased.get(user_id, -1):
            self._erased[user_id] = erased_at
            self._new.setdefault(partition, {})[user_id] = erased_at
            # Their key is deleted: no cache of this process may keep opening with it.
            forget_user(user_id)

    def close(self) -> None:
        with self._lock:
            if self._consumer is not None:
                self._consumer.close()
                self._consumer = None

    # -- what readers ask ------------------------------------------------------------

    def erased_at(self, user_id: str) -> int | None:
        return self._erased.get(user_id)

    def is_erased(self, user_id: str | bytes | None, record_timestamp_ms: int) -> bool:
        """True if a record about ``user_id`` logged at ``record_timestamp_ms`` is erased."""
        if isinstance(user_id, bytes):
            user_id = user_id.decode(errors="replace")
        erased_at = self._erased.get(user_id) if user_id is not None else None
        return erased_at is not None and record_timestamp_ms <= erased_at

    def take_new(self, partition: int) -> dict[str, int]:
        """The erasures of ``partition`` read since the last call (all of them on the
        first call): the processor drops these users' state once."""
        with self._lock:
            return self._new.pop(partition, {})


def record_timestamp_ms(message: Any) -> int:
    """A confluent-kafka message's timestamp in epoch ms (0 if it has none)."""
    kind, value = message.timestamp()
    return value if kind and value is not None and value >= 0 else 0
