"""Where a consumer can reach on a topic written with transactions (the Flink
processor's outputs): the offset after the last committed record, not the log end,
which commit and abort markers and aborted records push further; and how many records
such a topic holds (real broker)."""

from __future__ import annotations

from confluent_kafka import Consumer, Producer, TopicPartition

from fitstream.kafka.clients import consumer_config, producer_config
from fitstream.kafka.positions import LogPosition, behind
from fitstream.kafka.topics import create_topics
from tests.conftest import isolated


def test_ends_are_where_a_consumer_that_read_everything_commits(broker, tmp_path):
    settings = isolated(broker, tmp_path, "log-position")
    create_topics(settings)
    topic, plain = settings.kafka.summaries_topic, settings.kafka.leaderboard_topic
    partitions = settings.kafka.events_partitions
    producer = Producer(producer_config(settings.kafka, **{
        "transactional.id": f"{settings.processor.app_id}-test"}))
    producer.init_transactions(30)
    producer.begin_transaction()
    for i in range(3 * partitions):
        producer.produce(topic, b"committed", partition=i % partitions)
    producer.commit_transaction(30)
    producer.begin_transaction()  # aborted: its record and marker follow the commit's
    producer.produce(topic, b"aborted", partition=0)
    producer.flush(30)
    producer.abort_transaction(30)
    plain_producer = Producer(producer_config(settings.kafka))
    for i in range(2 * partitions):
        plain_producer.produce(plain, b"plain", partition=i % partitions)
    assert plain_producer.flush(30) == 0

    position = LogPosition(settings.kafka)
    try:
        assert position.ends(topic) == dict.fromkeys(range(partitions), 3)
        assert position.ends(plain) == dict.fromkeys(range(partitions), 2)
        assert position.count_records(topic) == 3 * partitions
        assert position.count_records(plain) == 2 * partitions
        # A consumer that read everything commits the offset after its last record.
        reader = Consumer(consumer_config(settings.kafka, "reader"))
        reader.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
        read = []
        while len(read) < 3 * partitions:
            read += [m for m in reader.consume(100, timeout=1) if m.error() is None]
        assert {m.value() for m in read} == {b"committed"}
        reader.commit(offsets=[TopicPartition(topic, m.partition(), m.offset() + 1)
                               for m in read], asynchronous=False)
        reader.close()
        assert behind(position, plain, "nobody", [(topic, "reader")],
                      events_goal={}) == {}
        # An open transaction's records are out of reach until it commits.
        producer.begin_transaction()
        producer.produce(topic, b"open", partition=1)
        producer.flush(30)
        assert position.ends(topic)[1] == 3
        producer.commit_transaction(30)
        # Offset 3 is the first commit's marker, 4 the new record, 5 its marker.
        assert position.ends(topic)[1] == 5
        assert position.count_records(topic) == 3 * partitions + 1
        assert behind(position, plain, "nobody", [(topic, "reader")],
                      events_goal={}) == {"reader@" + topic: 2}
    finally:
        position.close()
