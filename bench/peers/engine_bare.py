"""The practical limit: a bare confluent-kafka loop, state in dicts of live objects.

``consume(batch_max_records)``, decode, :func:`bench.peers.job.apply` over the batch,
produce the changed totals; offsets committed (async) every ``commit_interval_s``. No
state is saved anywhere: a crash loses it (this is the floor, not a design).
"""

from __future__ import annotations

import sys
import time

from confluent_kafka import Consumer, Producer

from bench.peers.job import RunConfig, Tracker, apply, decoder


def main(path: str) -> None:
    config = RunConfig.load(path)
    tracker = Tracker(config)
    decode = decoder()
    consumer = Consumer({"bootstrap.servers": config.bootstrap, "group.id": config.group,
                         "enable.auto.commit": False, "auto.offset.reset": "earliest",
                         **config.consumer_overrides})
    producer = Producer({"bootstrap.servers": config.bootstrap,
                         "linger.ms": config.linger_ms, "enable.idempotence": True})
    sessions: dict = {}
    clocks: dict = {}
    totals: dict[str, int] = {}
    consumer.subscribe([config.events_topic])
    last_commit = time.monotonic()
    out = config.output_topic
    while not tracker.done:
        messages = consumer.consume(config.batch_max_records, config.batch_within_s)
        events = []
        for message in messages:
            if message.error():
                raise RuntimeError(message.error())
            partition, offset = message.partition(), message.offset()
            tracker.seen(partition, offset)
            event = decode(message.value())
            if event is None:
                tracker.skipped += 1
                continue
            events.append((event, [partition, offset, message.timestamp()[1]]))
        if events:
            step = apply(events, sessions.get, clocks.get, totals.get)
            sessions.update(step.sessions)
            clocks.update(step.clocks)
            totals.update(step.totals)
            for key, total in step.totals.items():
                producer.produce(out, key=key.encode(), value=str(total).encode())
            tracker.outputs += len(step.totals)
            producer.poll(0)
        if time.monotonic() - last_commit >= config.commit_interval_s:
            consumer.commit(asynchronous=True)
            last_commit = time.monotonic()
    assert producer.flush(30) == 0, "outputs not delivered"
    consumer.commit(asynchronous=False)
    tracker.report()
    consumer.close()


if __name__ == "__main__":
    main(sys.argv[1])
