"""FitStream's engine: a Faust agent shaped as FitStream's processor is
(streams/faust/workout_sessions.py), run in the app venv.

FitStream's processor cannot be configured with only one view without changing
streams/faust, so this is the same machinery around the race's job instead: the app
settings of ``streams.faust.app.WorkoutSessionsApp`` (memory store with changelog
topics, at-least-once, ``broker_max_poll_records`` = the batch size, the producer's
linger and batch size, the aiokafka long-poll shim, its quiet monitor and its direct-
delivery consumer: keep this in step with app.py), one actor per partition
(``isolated_partitions``), batches through ``streams.faust.batches.each_batch`` (up to
``batch_max_records`` or what ``batch_within_s`` brings), state behind
``streams.faust.table_state.TableState`` (orjson bytes, each touched key written once
per batch: one changelog record), and every output sent at once (``force=True``).
"""

from __future__ import annotations

import sys
from typing import Any

import faust
from faust import Worker

from bench.peers.job import RunConfig, Tracker, apply, decoder
from fitstream.domain.event_time import UserClock
from fitstream.domain.workout_session import WorkoutSession
from fitstream.kafka.long_poll_shim import install_aiokafka_long_poll
from fitstream.settings import KafkaSettings, ProcessorSettings
from streams.faust.app import broker_url
from streams.faust.batches import each_batch
from streams.faust.direct_delivery import DirectDeliveryConsumer
from streams.faust.quiet_monitor import QuietMonitor
from streams.faust.table_state import TableState

TABLES = ("sessions", "clocks", "totals")


def changelog(app_id: str, table: str) -> str:
    return f"{app_id}-{table}-changelog"  # as fitstream.kafka.topics.changelog_topic


def build(config: RunConfig) -> faust.App:
    install_aiokafka_long_poll(KafkaSettings().emulate_long_poll_ms)
    tracker = Tracker(config)
    decode = decoder()
    partitions = len(config.ends)
    app = faust.App(
        config.group,
        broker=broker_url(config.bootstrap),
        store="memory://",
        processing_guarantee="at_least_once",
        topic_partitions=partitions,
        topic_replication_factor=1,
        topic_disable_leader=True,
        topic_allow_declare=False,
        consumer_auto_offset_reset="earliest",
        broker_max_poll_records=config.batch_max_records,
        stream_buffer_maxsize=65536,
        broker_commit_interval=config.commit_interval_s,
        producer_linger=config.linger_ms / 1000,
        producer_max_batch_size=1_000_000,
        producer_acks=-1,
        web_enabled=False,
        datadir=f"{config.state_dir}/faust",
        monitor=QuietMonitor(),
    )
    app.transport.Consumer = DirectDeliveryConsumer  # as streams/faust/app.py does
    raw = {"key_serializer": "raw", "value_serializer": "raw"}
    events = app.topic(config.events_topic, partitions=partitions, **raw)
    output = app.topic(config.output_topic, **raw)
    tables = {}
    for name in TABLES:
        tables[name] = app.Table(
            name, partitions=partitions,
            changelog_topic=app.topic(changelog(config.group, name), partitions=partitions,
                                      key_type=bytes, value_type=bytes, **raw),
            schema=faust.Schema(key_type=bytes, value_type=bytes, **raw))
    state = TableState(tables)
    processor = ProcessorSettings(batch_max_records=config.batch_max_records,
                                  batch_within_s=config.batch_within_s)

    def session(key: str) -> WorkoutSession | None:
        stored = state.get("sessions", key)
        return WorkoutSession.from_state(stored) if stored is not None else None

    def clock(user_id: str) -> UserClock | None:
        stored = state.get("clocks", user_id)
        return UserClock.from_state(stored) if stored is not None else None

    async def process_batch(batch: list[Any]) -> None:
        decoded = []
        for event in batch:
            message = event.message
            tracker.seen(message.partition, message.offset)
            record = decode(event.value)
            if record is None:
                tracker.skipped += 1
                continue
            decoded.append((record, [message.partition, message.offset,
                                     round(message.timestamp * 1000)]))
        step = apply(decoded, session, clock, lambda key: state.get("totals", key))
        snapshot: dict[tuple[str, str], Any] = {}
        for key, changed in step.sessions.items():
            snapshot[("sessions", key)] = changed.to_state()
        for user_id, changed_clock in step.clocks.items():
            snapshot[("clocks", user_id)] = changed_clock.to_state()
        for key, total in step.totals.items():
            snapshot[("totals", key)] = total
        state.write(snapshot)
        for key, total in step.totals.items():
            await output.send(key=key.encode(), value=str(total).encode(), force=True)
        tracker.outputs += len(step.totals)
        if tracker.done:
            await app.producer.flush()
            tracker.report()

    @app.agent(events, isolated_partitions=True, name="weekly-distance")
    async def weekly_distance(stream: Any) -> None:
        await each_batch(stream, processor, process_batch)

    return app


def main(path: str) -> None:
    app = build(RunConfig.load(path))
    Worker(app, loglevel="warning", quiet=True, redirect_stdouts=False).execute_from_commandline()


if __name__ == "__main__":
    main(sys.argv[1])
