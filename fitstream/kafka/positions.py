"""Where consumers stand in the log: end offsets and consumer groups' committed offsets.

A topic written with transactions (the Flink processor's outputs, exactly-once) ends in
commit markers, which take an offset each and reach no consumer: a consumer that has
read everything commits the offset after its last record, one short of the log's end.
So :meth:`LogPosition.ends` is the end a consumer can reach: the offset after the last
record a ``read_committed`` consumer receives. It equals the log end on topics written
without transactions, and excludes an open transaction's records (the broker's last
stable offset) until it commits.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    ConsumerGroupTopicPartitions,
    KafkaError,
    KafkaException,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient

from fitstream.kafka.clients import base_config, consumer_config
from fitstream.settings import KafkaSettings


class LogPosition:
    """End offsets of topics and consumer groups' committed offsets on them."""

    def __init__(self, kafka: KafkaSettings) -> None:
        self._kafka = kafka
        self._consumer = Consumer(consumer_config(kafka, "fitstream-log-position"))
        self._reader: Consumer | None = None  # reads partition tails; made when needed
        self._admin = AdminClient(base_config(kafka))
        # (topic, partition) -> (last stable offset, reachable end) already worked out.
        self._reachable: dict[tuple[str, int], tuple[int, int]] = {}

    def _partitions(self, topic: str) -> list[int]:
        return list(self._consumer.list_topics(topic, timeout=10).topics[topic].partitions)

    def ends(self, topic: str) -> dict[int, int]:
        """Per partition, the offset after the last record a consumer can receive (the
        module docstring says why that is not always the log's end offset)."""
        ends = {}
        for p in self._partitions(topic):
            # A read_committed client's high watermark is the last stable offset.
            low, stable = self._consumer.get_watermark_offsets(
                TopicPartition(topic, p), timeout=10, cached=False)
            known = self._reachable.get((topic, p))
            if known is None or known[0] != stable:
                known = (stable, self._reachable_end(topic, p, low, stable))
                self._reachable[(topic, p)] = known
            ends[p] = known[1]
        return ends

    def _reachable_end(self, topic: str, partition: int, low: int, stable: int) -> int:
        """The offset after the last record below ``stable`` that a read_committed
        consumer receives; ``low`` if there is none. Reads the partition's tail, from one
        record back, then further back by eight times as much each round."""
        if stable <= low:
            return stable
        reader = self._tail_reader()
        back = 1
        while True:
            start = max(low, stable - back)
            reader.assign([TopicPartition(topic, partition, start)])
            last = None
            while True:
                message = reader.poll(10)
                if message is None:
                    raise TimeoutError(f"no answer reading {topic}[{partition}] from {start}")
                if message.error() is not None:
                    if message.error().code() == KafkaError._PARTITION_EOF:
                        break
                    raise KafkaException(message.error())
                if message.offset() >= stable:
                    break
                last = message.offset()
            if last is not None:
                return last + 1
            if start == low:
                return low
            back *= 8

    def count_records(self, topic: str, timeout_s: float = 120) -> int:
        """The records a read_committed consumer receives from ``topic`` now: read, not
        worked out from offsets (markers and aborted records take offsets too)."""
        ends = self.ends(topic)
        reader = self._tail_reader()
        reader.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p, end in ends.items()
                       if end > 0])
        remaining, count = {p for p, end in ends.items() if end > 0}, 0
        deadline = time.monotonic() + timeout_s
        while remaining:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{topic}: partitions {sorted(remaining)} not read to "
                                   f"their ends {ends} in {timeout_s} s")
            for message in reader.consume(10_000, timeout=1):
                error = message.error()
                if error is not None and error.code() != KafkaError._PARTITION_EOF:
                    raise KafkaException(error)
                if error is None and message.offset() < ends[message.partition()]:
                    count += 1
                if (message.offset() + (error is None)) >= ends[message.partition()]:
                    remaining.discard(message.partition())
        return count

    def _tail_reader(self) -> Consumer:
        if self._reader is None:
            self._reader = Consumer(consumer_config(
                self._kafka, "fitstream-log-position",
                **{"enable.partition.eof": True, "fetch.wait.max.ms": 10}))
        return self._reader

    def committed(self, topic: str, group: str) -> dict[int, int]:
        """A group's committed offsets (0 where none). Asked through the admin API: a
        consumer carrying the group's id could disturb the group's members."""
        request = ConsumerGroupTopicPartitions(
            group, [TopicPartition(topic, p) for p in self._partitions(topic)])
        answer = self._admin.list_consumer_group_offsets([request])[group].result(10)
        return {tp.partition: max(tp.offset, 0) for tp in answer.topic_partitions}

    def close(self) -> None:
        self._consumer.close()
        if self._reader is not None:
            self._reader.close()


def behind(position: LogPosition, events_topic: str, processor_group: str,
           sinks: Iterable[tuple[str, str]], events_goal: dict[int, int] | None = None,
           ) -> dict[str, int]:
    """Records each consumer still has to commit: ``group@topic`` -> count, for the
    processor group on the events topic (up to ``events_goal``, default the log's end)
    and every (topic, group) sink on all its topic holds. Empty when all are caught up."""
    goal = events_goal if events_goal is not None else position.ends(events_topic)
    done = position.committed(events_topic, processor_group)
    lag = {f"{processor_group}@{events_topic}":
           sum(max(0, end - done.get(p, 0)) for p, end in goal.items())}
    for topic, group in sinks:
        committed = position.committed(topic, group)
        lag[f"{group}@{topic}"] = sum(max(0, end - committed.get(p, 0))
                                      for p, end in position.ends(topic).items())
    return {name: n for name, n in lag.items() if n}


def caught_up(position: LogPosition, events_topic: str, processor_group: str,
              sinks: Iterable[tuple[str, str]], events_goal: dict[int, int] | None = None,
              ) -> bool:
    """True when nothing is :func:`behind`."""
    return not behind(position, events_topic, processor_group, sinks, events_goal)
