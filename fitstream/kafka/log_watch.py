"""Reading the log for an operator's picture, cheaply: end offsets, consumer lag, the
events rate, and the dead letters counted by reason.

Everything here is made to be asked every few seconds by a page that many people may
have open, so nothing rescans a topic:

* :class:`LogWatch` asks the broker for every partition's high watermark at once (one
  ListOffsets per broker) and for consumer groups' committed offsets (one OffsetFetch
  per group, all in flight together, through the admin API: a consumer carrying a
  group's id could disturb its members). Lag is high watermark minus committed: on a topic written with
  transactions (the Flink processor's outputs) a caught-up group can show one record of
  lag per partition, the commit marker (fitstream/kafka/positions.py says why); for a
  picture that is close enough, and exact counting would read every partition's tail.
* :class:`EventRate` turns successive end-offset totals into records per second over a
  sliding window of at most ``max_samples`` readings (bounded memory).
* :class:`DeadLetterTally` follows the dead-letter topics with one consumer without a
  group (assigned, never committing), from offset 0 once, then only what was appended
  since the last read, into :class:`DeadLetterCounts` (pure): counts by reason and the
  newest ``keep`` dead letters' positions and reasons. It never keeps a payload (the
  value can hold a user's data) nor the ``dlq.detail`` header (it quotes the payload).
  Each read is bounded in records and time, so a huge backlog is counted over several
  reads; ``complete`` says when the counts reached the ends seen.

Lifecycle: make one of each per process, call them from any thread (the tally holds a
lock around its consumer; the admin client is thread-safe), and :meth:`close` them when
the process stops.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    ConsumerGroupTopicPartitions,
    IsolationLevel,
    KafkaError,
    KafkaException,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient, OffsetSpec

from fitstream.kafka.clients import base_config, consumer_config
from fitstream.settings import KafkaSettings


class LogWatch:
    """End offsets of topics and committed offsets of consumer groups, through the admin
    API: one metadata request, one ListOffsets per broker for every partition asked."""

    def __init__(self, kafka: KafkaSettings, timeout_s: float = 5.0) -> None:
        self._timeout_s = timeout_s
        self._admin = AdminClient(base_config(kafka))

    def ends(self, topics: Iterable[str]) -> dict[str, dict[int, int]]:
        """Per topic and partition, the high watermark (the offset the next record will
        get); a topic that does not exist (yet) has no partitions."""
        topics = set(topics)
        metadata = self._admin.list_topics(timeout=self._timeout_s).topics
        asked = {TopicPartition(t, p): OffsetSpec.latest() for t in topics
                 if t in metadata and metadata[t].error is None
                 for p in metadata[t].partitions}
        ends: dict[str, dict[int, int]] = {t: {} for t in topics}
        if asked:
            futures = self._admin.list_offsets(
                asked, isolation_level=IsolationLevel.READ_UNCOMMITTED,
                request_timeout=self._timeout_s)
            for tp, future in futures.items():
                ends[tp.topic][tp.partition] = future.result(self._timeout_s).offset
        return ends

    def committed(self, wanted: Iterable[tuple[str, str]],
                  ends: dict[str, dict[int, int]]) -> dict[tuple[str, str], dict[int, int] | None]:
        """(topic, group) -> the group's committed offset per partition of ``ends[topic]``,
        or None where the group has committed nothing on the topic (not running yet)."""
        futures = {}
        answers: dict[tuple[str, str], dict[int, int] | None] = {}
        for topic, group in wanted:
            if not ends.get(topic):  # no such topic (yet): an empty request asks for all
                answers[(topic, group)] = None
                continue
            request = ConsumerGroupTopicPartitions(
                group, [TopicPartition(topic, p) for p in ends.get(topic, {})])
            futures[(topic, group)] = self._admin.list_consumer_group_offsets([request])[group]
        for key, future in futures.items():
            offsets = {tp.partition: tp.offset
                       for tp in future.result(self._timeout_s).topic_partitions}
            answers[key] = ({p: max(o, 0) for p, o in offsets.items()}
                            if any(o >= 0 for o in offsets.values()) else None)
        return answers

    def close(self) -> None:
        """Nothing to close: the admin client has no group and is freed with the object."""


def lag(ends: dict[int, int], committed: dict[int, int] | None) -> int:
    """Records not yet committed by a group: the whole topic if it committed nothing."""
    done = committed or {}
    return sum(max(0, end - done.get(p, 0)) for p, end in ends.items())


class EventRate:
    """Records per second from successive readings of a topic's total end offset, over
    the oldest reading still inside ``window_s`` (at most ``max_samples`` are kept)."""

    def __init__(self, window_s: float = 30.0, max_samples: int = 64) -> None:
        self.window_s = window_s
        self._samples: deque[tuple[float, int]] = deque(maxlen=max_samples)

    def add(self, at_s: float, total: int) -> float | None:
        """Record a reading (monotonic seconds, total end offset); the rate since the
        oldest reading in the window, or None with only one reading (nothing to divide)."""
        while self._samples and at_s - self._samples[0][0] > self.window_s:
            self._samples.popleft()
        self._samples.append((at_s, total))
        first_at, first_total = self._samples[0]
        if at_s <= first_at:
            return None
        # An end offset never goes back; a smaller total is a recreated topic.
        return max(0, total - first_total) / (at_s - first_at)


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """Where a dead letter is and why: never its payload nor its detail text."""

    reason: str
    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    source_topic: str | None
    source_partition: int | None
    source_offset: int | None


def _int_or_none(text: str | None) -> int | None:
    """A header's position, or None: hostile text ("²", 5,000 digits) must not raise."""
    if text is None or not 0 < len(text) <= 20 or not text.isascii():
        return None
    try:
        return int(text)
    except ValueError:
        return None


REASON_LENGTH = 64  # characters of a reason kept (the page shows it as text only)
TOPIC_LENGTH = 249  # Kafka's longest topic name: a longer "source topic" is not one
OTHER = "other"  # the reason counted once ``max_reasons`` kinds have been seen


class DeadLetterCounts:
    """Dead letters counted by (topic, reason), and the newest ``keep`` of them: pure,
    fed one letter at a time in any order (the tally reads partitions as they come).

    Anyone who can produce to a dead-letter topic writes its headers, so everything is
    bounded: a reason is cut to ``REASON_LENGTH`` characters, undecodable bytes are
    replaced, and once ``max_reasons`` (topic, reason) kinds exist a new reason counts
    as ``other`` (so at most ``max_reasons`` + one ``other`` per topic keys). The newest
    letters are the top ``keep`` by (timestamp, topic, partition, offset), kept in a
    min-heap of ``keep`` entries: not the last read, since a partition read later can
    hold older letters (the first catch-up reads whole partitions one after another).
    Only positions, times and reasons are kept: the payload is never given here, and
    of the headers only ``dlq.reason`` and the ``dlq.source.*`` positions are read."""

    def __init__(self, keep: int = 20, max_reasons: int = 64) -> None:
        self.keep = keep
        self.max_reasons = max_reasons
        self.by_reason: Counter[tuple[str, str]] = Counter()  # (topic, reason) -> count
        # A min-heap of (key, arrival, letter): arrival breaks a tie (the same letter
        # read twice) before the letters themselves would be compared.
        self._newest: list[tuple[tuple[int, str, int, int], int, DeadLetter]] = []
        self._arrivals = itertools.count()

    def add(self, topic: str, partition: int, offset: int, timestamp_ms: int,
            headers: Iterable[tuple[str, bytes | None]] | None) -> None:
        text = {k: v.decode(errors="replace") for k, v in headers or []
                if k in ("dlq.reason", "dlq.source.topic", "dlq.source.partition",
                         "dlq.source.offset") and v is not None}
        reason = text.get("dlq.reason", "unknown")[:REASON_LENGTH]
        if (topic, reason) not in self.by_reason and len(self.by_reason) >= self.max_reasons:
            reason = OTHER
        self.by_reason[(topic, reason)] += 1
        if self.keep <= 0:
            return
        source_topic = text.get("dlq.source.topic")
        letter = DeadLetter(
            reason=reason, topic=topic, partition=partition, offset=offset,
            timestamp_ms=timestamp_ms,
            source_topic=source_topic and source_topic[:TOPIC_LENGTH],
            source_partition=_int_or_none(text.get("dlq.source.partition")),
            source_offset=_int_or_none(text.get("dlq.source.offset")))
        entry = ((timestamp_ms, topic, partition, offset), next(self._arrivals), letter)
        if len(self._newest) < self.keep:
            heapq.heappush(self._newest, entry)
        elif entry[0] > self._newest[0][0]:
            heapq.heapreplace(self._newest, entry)

    def newest(self) -> list[DeadLetter]:
        """The kept letters, newest first."""
        return [letter for *_, letter in sorted(self._newest, key=lambda e: e[:2],
                                                reverse=True)]


class DeadLetterTally:
    """Dead letters of ``topics`` counted by reason, read incrementally (module docstring).

    ``read(ends)`` consumes what was appended since the last call, at most ``max_records``
    and ``budget_s`` per call, and returns nothing; ``counts`` (by reason, the newest
    letters) and ``complete`` are then current."""

    def __init__(self, kafka: KafkaSettings, topics: list[str], keep: int = 20,
                 max_reasons: int = 64, max_records: int = 20_000, budget_s: float = 1.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.topics = topics
        self.max_records = max_records
        self.budget_s = budget_s
        self.clock = clock
        self.counts = DeadLetterCounts(keep=keep, max_reasons=max_reasons)
        self.complete = False
        self._lock = threading.Lock()
        # No group: it commits nothing and joins nothing; each process counts for itself.
        self._consumer = Consumer(consumer_config(
            kafka, "fitstream-dead-letter-tally", **{
                "enable.partition.eof": True, "fetch.wait.max.ms": 50,
                # Payloads are read only to be skipped: keep the fetches small.
                "fetch.max.bytes": 4 * 1024 * 1024,
                "max.partition.fetch.bytes": 512 * 1024}))
        self._next: dict[tuple[str, int], int] = {}  # where reading resumes
        self._assigned: set[tuple[str, int]] = set()

    def read(self, ends: dict[str, dict[int, int]]) -> None:
        """Count what was appended up to ``ends`` (topic -> partition -> high watermark,
        e.g. :meth:`LogWatch.ends` of ``topics``: asked with the other topics' ends, so
        the tally makes no request of its own for them). A partition seen for the first
        time is read from its beginning."""
        with self._lock:
            found = {(t, p) for t in self.topics for p in ends.get(t, {})}
            new = found - self._assigned
            if new:
                self._consumer.incremental_assign(
                    [TopicPartition(t, p, OFFSET_BEGINNING) for t, p in sorted(new)])
                self._assigned |= new
                for key in new:
                    self._next.setdefault(key, 0)
            pending = {(t, p) for t, p in self._assigned
                       if self._next[(t, p)] < ends.get(t, {}).get(p, 0)}
            deadline = self.clock() + self.budget_s
            read = 0
            while pending and read < self.max_records and self.clock() < deadline:
                for message in self._consumer.consume(min(1000, self.max_records - read),
                                                      timeout=0.2):
                    key = (message.topic(), message.partition())
                    error = message.error()
                    if error is not None:
                        if error.code() != KafkaError._PARTITION_EOF:
                            raise KafkaException(error)
                        self._next[key] = max(self._next.get(key, 0), message.offset())
                        pending.discard(key)
                        continue
                    read += 1
                    self._count(message)
                    self._next[key] = message.offset() + 1
                    if self._next[key] >= ends[key[0]][key[1]]:
                        pending.discard(key)
            self.complete = not pending

    def _count(self, message: object) -> None:
        self.counts.add(
            message.topic(), message.partition(),  # type: ignore[attr-defined]
            message.offset(), message.timestamp()[1],  # type: ignore[attr-defined]
            message.headers())  # type: ignore[attr-defined]

    def close(self) -> None:
        with self._lock:
            self._consumer.close()
