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

from fitstream.contracts import AvroSerde, SerdeError
from fitstream.domain.identifiers import check_id
from fitstream.kafka.clients import consumer_config, producer_config
from fitstream.settings import FitStreamSettings

log = structlog.get_logger("privacy.erasures")

ERASURE_SUBJECT = "fitstream.users.UserErased"


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

    def _open(self) -> Consumer:
        if self._consumer is None:
            consumer = Consumer(consumer_config(
                self._kafka, "fitstream-erasure-ledger",
                **{"fetch.queue.backoff.ms": 50, "queued.min.messages": 1}))
            metadata = consumer.list_topics(self._topic, timeout=10).topics[self._topic]
            if metadata.error is not None:
                consumer.close()
                raise RuntimeError(f"{self._topic}: {metadata.error}")
            self._positions = dict.fromkeys(metadata.partitions, 0)
            consumer.assign([TopicPartition(self._topic, p, OFFSET_BEGINNING)
                             for p in self._positions])
            self._consumer = consumer
        return self._consumer

    def catch_up(self, partitions: Iterable[int] | None = None,
                 timeout_s: float = 30.0, outage_s: float = 600.0) -> None:
        """Read ``partitions`` (default: all) up to their current end offsets, waiting up
        to ``outage_s`` for an unreachable broker to come back."""
        with self._lock:
            consumer = self._open()
            wanted = list(self._positions if partitions is None else partitions)
            if not set(wanted) <= set(self._positions):  # a topic partitioned otherwise
                wanted = list(self._positions)
            ends = self._end_offsets(consumer, wanted, outage_s)
            deadline = time.monotonic() + timeout_s
            while any(self._positions[p] < end for p, end in ends.items()):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"could not read {self._topic} to its end "
                                       f"({self._positions} of {ends}) in {timeout_s} s")
                for message in consumer.consume(1000, timeout=0.2):
                    if message.error() is None:
                        self._apply(message)

    def _end_offsets(self, consumer: Consumer, partitions: list[int],
                     outage_s: float) -> dict[int, int]:
        """The partitions' end offsets, waiting out a broker outage instead of failing.

        A failed batch makes the worker exit and recover all its tables; a broker that
        restarts (measured by tests/integration/test_broker_restart.py) is an outage to
        wait for, as the worker's own consumer and producer do.
        """
        deadline = time.monotonic() + outage_s
        while True:
            try:
                return {p: consumer.get_watermark_offsets(TopicPartition(self._topic, p),
                                                          timeout=10, cached=False)[1]
                        for p in partitions}
            except KafkaException as exc:
                if time.monotonic() > deadline:
                    raise
                log.warning("erasure_offsets_unavailable", topic=self._topic, error=str(exc))
                time.sleep(1)

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
