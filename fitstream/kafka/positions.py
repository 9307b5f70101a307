"""Where consumers stand in the log: end offsets and consumer groups' committed offsets."""

from __future__ import annotations

from collections.abc import Iterable

from confluent_kafka import Consumer, ConsumerGroupTopicPartitions, TopicPartition
from confluent_kafka.admin import AdminClient

from fitstream.kafka.clients import base_config, consumer_config
from fitstream.settings import KafkaSettings


class LogPosition:
    """End offsets of topics and consumer groups' committed offsets on them."""

    def __init__(self, kafka: KafkaSettings) -> None:
        self._kafka = kafka
        self._consumer = Consumer(consumer_config(kafka, "fitstream-log-position"))
        self._admin = AdminClient(base_config(kafka))

    def _partitions(self, topic: str) -> list[int]:
        return list(self._consumer.list_topics(topic, timeout=10).topics[topic].partitions)

    def ends(self, topic: str) -> dict[int, int]:
        return {p: self._consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
                for p in self._partitions(topic)}

    def committed(self, topic: str, group: str) -> dict[int, int]:
        """A group's committed offsets (0 where none). Asked through the admin API: a
        consumer carrying the group's id could disturb the group's members."""
        request = ConsumerGroupTopicPartitions(
            group, [TopicPartition(topic, p) for p in self._partitions(topic)])
        answer = self._admin.list_consumer_group_offsets([request])[group].result(10)
        return {tp.partition: max(tp.offset, 0) for tp in answer.topic_partitions}

    def close(self) -> None:
        self._consumer.close()


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
