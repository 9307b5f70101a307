"""Quix Streams 3.28: an ``Application`` with one stateful ``sdf.apply`` over RocksDB
state (changelog topics on, at-least-once), as its documentation shows.

Quix processes one message at a time, so :func:`bench.peers.job.apply` runs on a batch
of one. State is kept per message key (the user id) under three kinds of keys:
``s/<workout_id>`` (the session), ``c`` (the user's clock) and ``w/<week>`` (a
total); values are ``to_state()`` dicts, serialized by RocksDB's options with orjson
(FitStream's tables use orjson too). The changed totals are expanded into rows and
sent with ``to_topic`` keyed ``<user_id>/<week>``. When the last record of every
partition has been processed the app is stopped from inside the function: ``run()``
then commits its checkpoint (producer flushed, offsets committed) and returns.
"""

from __future__ import annotations

import sys
from typing import Any

import orjson
from quixstreams import Application, State, message_context
from quixstreams.models.serializers import Serializer
from quixstreams.state.rocksdb import RocksDBOptions

from bench.peers.job import RunConfig, Tracker, apply, decoder
from fitstream.domain.event_time import UserClock
from fitstream.domain.workout_session import WorkoutSession


class TotalValue(Serializer):
    """A row ``(key, total)`` -> the total in ASCII (the key goes by ``to_topic``)."""

    def __call__(self, value: Any, ctx: Any) -> bytes:
        return str(value[1]).encode()


def main(path: str) -> None:
    config = RunConfig.load(path)
    tracker = Tracker(config)
    decode = decoder()
    app = Application(
        broker_address=config.bootstrap,
        consumer_group=config.group,
        auto_offset_reset="earliest",
        commit_interval=config.commit_interval_s,
        state_dir=config.state_dir,
        rocksdb_options=RocksDBOptions(dumps=orjson.dumps, loads=orjson.loads),
        consumer_extra_config=dict(config.consumer_overrides),
        producer_extra_config={"linger.ms": config.linger_ms},
        processing_guarantee="at-least-once",
        loglevel="WARNING",
    )
    events = app.topic(config.events_topic, key_deserializer="str",
                       value_deserializer="bytes")
    totals = app.topic(config.output_topic, key_serializer="str",
                       value_serializer=TotalValue())

    def job(value: bytes, key: str, timestamp: int, _headers: Any,
            state: State) -> list[tuple[str, int]]:
        context = message_context()
        partition, offset = context.partition, context.offset
        tracker.seen(partition, offset)
        if tracker.done:
            app.stop()  # after this message: run() commits its checkpoint and returns
        event = decode(value)
        if event is None:
            tracker.skipped += 1
            return []
        assert event["user_id"] == key, "state is kept per message key: the user id"

        def session(session_key: str) -> WorkoutSession | None:
            stored = state.get("s/" + session_key.split("/", 1)[1])
            return WorkoutSession.from_state(stored) if stored is not None else None

        def clock(_user_id: str) -> UserClock | None:
            stored = state.get("c")
            return UserClock.from_state(stored) if stored is not None else None

        step = apply([(event, [partition, offset, timestamp])], session, clock,
                     lambda week_key: state.get("w/" + week_key.split("/", 1)[1]))
        for session_key, changed in step.sessions.items():
            state.set("s/" + session_key.split("/", 1)[1], changed.to_state())
        for changed_clock in step.clocks.values():
            state.set("c", changed_clock.to_state())
        for week_key, total in step.totals.items():
            state.set("w/" + week_key.split("/", 1)[1], total)
        tracker.outputs += len(step.totals)
        return list(step.totals.items())

    sdf = app.dataframe(events)
    sdf = sdf.apply(job, stateful=True, metadata=True, expand=True)
    sdf.to_topic(totals, key=lambda row: row[0])
    app.run()
    tracker.report()


if __name__ == "__main__":
    main(sys.argv[1])
