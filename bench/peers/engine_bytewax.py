"""Bytewax 0.21.1: ``KafkaSource`` (bounded: ``tail=False`` ends each partition at its
end) -> decode -> ``key_on`` the user id -> ``stateful_batch`` with a
``StatefulBatchLogic`` per user -> ``KafkaSink``; one worker, run through ``cli_main``
(what ``python -m bytewax.run`` calls) with recovery on: a snapshot of every touched
user's state at the end of each epoch (``epoch_interval`` = the commit interval) in the
SQLite recovery partitions, and the input offsets with it (Bytewax's own commit; it
keeps no Kafka group offsets).

The logic keeps the user's sessions, clock and totals as live objects and runs
:func:`bench.peers.job.apply` on each batch Bytewax hands it (the user's records of one
activation); a snapshot is their ``to_state()`` dicts (pickled by Bytewax).
"""

from __future__ import annotations

import shutil
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import bytewax.operators as op
from bytewax._bytewax import cli_main, init_db_dir
from bytewax.connectors.kafka import KafkaSink, KafkaSinkMessage, KafkaSource
from bytewax.dataflow import Dataflow
from bytewax.operators import StatefulBatchLogic
from bytewax.recovery import RecoveryConfig

from bench.peers.job import RunConfig, Tracker, apply, decoder
from fitstream.domain.event_time import UserClock
from fitstream.domain.workout_session import WorkoutSession


class UserLogic(StatefulBatchLogic):
    """One user's part of the job."""

    def __init__(self, resume: dict[str, Any] | None) -> None:
        resume = resume or {"sessions": {}, "clock": None, "totals": {}}
        self.sessions = {k: WorkoutSession.from_state(s) for k, s in resume["sessions"].items()}
        self.clock = UserClock.from_state(resume["clock"]) if resume["clock"] else None
        self.totals: dict[str, int] = resume["totals"]

    def on_batch(self, values: list[Any]) -> tuple[list[tuple[str, int]], bool]:
        step = apply(values, self.sessions.get, lambda _user: self.clock, self.totals.get)
        self.sessions.update(step.sessions)
        for clock in step.clocks.values():
            self.clock = clock
        self.totals.update(step.totals)
        return list(step.totals.items()), StatefulBatchLogic.RETAIN

    def snapshot(self) -> dict[str, Any]:
        return {"sessions": {k: s.to_state() for k, s in self.sessions.items()},
                "clock": self.clock.to_state() if self.clock else None,
                "totals": dict(self.totals)}


def flow(config: RunConfig, tracker: Tracker) -> Dataflow:
    decode = decoder()
    dataflow = Dataflow("weekly-distance")
    source = KafkaSource([config.bootstrap], [config.events_topic], tail=False,
                         add_config=dict(config.consumer_overrides),
                         batch_size=config.batch_max_records)
    messages = op.input("events", dataflow, source)

    def decoded(message: Any) -> tuple[dict, list] | None:
        tracker.seen(message.partition, message.offset)
        event = decode(message.value)
        if event is None:
            tracker.skipped += 1
            return None
        return event, [message.partition, message.offset, message.timestamp[1]]

    events = op.filter_map("decode", messages, decoded)
    keyed = op.key_on("by-user", events, lambda item: item[0]["user_id"])
    totals = op.stateful_batch("weekly-distance", keyed, UserLogic)

    def to_message(item: tuple[str, tuple[str, int]]) -> KafkaSinkMessage:
        tracker.outputs += 1
        week_key, total = item[1]
        return KafkaSinkMessage(key=week_key.encode(), value=str(total).encode())

    op.output("totals", op.map("encode", totals, to_message),
              KafkaSink([config.bootstrap], config.output_topic,
                        add_config={"linger.ms": config.linger_ms}))
    return dataflow


def main(path: str) -> None:
    config = RunConfig.load(path)
    tracker = Tracker(config)
    db = Path(config.state_dir) / "recovery"
    shutil.rmtree(db, ignore_errors=True)
    db.mkdir(parents=True)
    init_db_dir(db, 1)
    cli_main(flow(config, tracker), workers_per_process=1,
             epoch_interval=timedelta(seconds=config.commit_interval_s),
             recovery_config=RecoveryConfig(db))
    assert tracker.done, f"the source ended before the log's end: {tracker.todo}"
    tracker.report()


if __name__ == "__main__":
    main(sys.argv[1])
