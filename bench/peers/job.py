"""The job every engine of the race runs (issue 13, item 7), and the little each engine
needs around it: its run configuration, and the report it writes when it is done.

The job, per record of the events topic:

1. decode the Confluent-wire-format Avro (:class:`fitstream.contracts.AvroSerde`, the
   processor's own decoder); bytes no contract explains, and records that are not
   workout events, are skipped (counted);
2. the user's session for the workout takes it, judged against the user's clock
   (:func:`fitstream.domain.session_batch.apply_batch`, the same function the
   processor's pipeline core runs: lateness, reorder buffer, duplicates, the state
   machine);
3. a workout that completed adds its distance, in whole millimetres, to its user's
   total for the ISO week of its start (``<user_id>/<YYYY-Www>``, as the weekly
   leaderboards bucket it); each total that changed is sent to the output topic, key
   ``<user_id>/<week>``, value the total in ASCII.

:func:`apply` is that job for a batch of any size, over three state lookups the engine
provides (sessions, clocks, totals), and returns what to store back and what to send.
Only the engine around it differs: how records reach it, how state is kept, how
offsets are committed and outputs flushed.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fitstream.contracts import AvroSerde, SerdeError, registry_from_settings
from fitstream.domain.event_time import EventTimePolicy, UserClock
from fitstream.domain.events import WORKOUT_SUBJECTS
from fitstream.domain.session_batch import UserClocks, apply_batch
from fitstream.domain.windows import LeaderboardWindow
from fitstream.domain.workout_session import WorkoutSession
from fitstream.settings import SchemaRegistrySettings

POLICY = EventTimePolicy()  # the processor's defaults
WEEK = LeaderboardWindow.WEEK

Event = dict[str, Any]
Ref = list[Any]  # [partition, offset, record timestamp ms], as the pipeline core's refs


def decoder() -> Callable[[bytes | None], Event | None]:
    """``decode(raw)``: the workout event in a record's value, or None."""
    serde = AvroSerde(registry_from_settings(SchemaRegistrySettings()))

    def decode(raw: bytes | None) -> Event | None:
        try:
            subject, record = serde.decode(raw)
        except SerdeError:
            return None
        return record if subject in WORKOUT_SUBJECTS else None

    return decode


def _position(ref: Ref) -> int:
    return (ref[0] << 40) | ref[1]  # as fitstream.domain.pipeline: partition, then offset


def _record_time(ref: Ref) -> int | None:
    return ref[2]


@dataclass
class Step:
    """What one batch caused: the sessions and clocks it touched (live objects: the
    engine stores them back, as objects or as ``to_state()``), and the weekly totals
    that changed (``<user_id>/<week>`` -> millimetres)."""

    sessions: dict[str, WorkoutSession] = field(default_factory=dict)
    clocks: dict[str, UserClock] = field(default_factory=dict)
    totals: dict[str, int] = field(default_factory=dict)


def apply(events: list[tuple[Event, Ref]],
          session: Callable[[str], WorkoutSession | None],
          clock: Callable[[str], UserClock | None],
          total: Callable[[str], int | None]) -> Step:
    """The job over ``events`` (in log order; any mix of users). ``session(key)`` gives
    the stored session of a ``<user_id>/<workout_id>`` key, ``clock(user_id)`` the
    stored clock, ``total(week_key)`` the stored total; each None if there is none."""
    clocks = UserClocks(clock)
    result = apply_batch(events, session, clocks, POLICY, position=_position,
                         record_time=_record_time)
    totals: dict[str, int] = {}
    for key in result.completed_now:
        done = result.sessions[key]
        week = f"{done.user_id}/{WEEK.period_of(done.start_ms)}"
        before = totals.get(week)
        if before is None:
            before = total(week) or 0
        totals[week] = before + round(done.distance_m * 1000)
    return Step(result.sessions, clocks.touched, totals)


# --- Around the job: configuration in, report out ----------------------------------------

@dataclass
class RunConfig:
    """One engine's run, written by bench/peers/run.py as JSON (argv[1] of each engine)."""

    engine: str
    bootstrap: str
    events_topic: str
    output_topic: str
    group: str
    # The log's end offset of each partition: the run is done when every record below
    # them has been processed and its outputs flushed.
    ends: dict[int, int]
    state_dir: str
    report: str
    batch_max_records: int
    batch_within_s: float
    commit_interval_s: float
    linger_ms: int
    # librdkafka consumer settings every librdkafka engine gets (the embedded broker's
    # quirks: see run.py).
    consumer_overrides: dict[str, Any]

    @classmethod
    def load(cls, path: str) -> RunConfig:
        raw = json.loads(Path(path).read_text())
        raw["ends"] = {int(p): int(o) for p, o in raw["ends"].items()}
        return cls(**raw)

    def dump(self, path: Path) -> None:
        path.write_text(json.dumps(self.__dict__, indent=1))


def cpu_now() -> float:
    """This process's CPU seconds, every thread."""
    times = os.times()
    return times.user + times.system


class Tracker:
    """Counts records, notes the first, and tells when every partition is done."""

    def __init__(self, config: RunConfig) -> None:
        self.config = config
        self.todo = {p: end for p, end in config.ends.items() if end > 0}
        self.records = 0
        self.skipped = 0  # undecodable or not a workout event
        self.outputs = 0
        self.first: tuple[float, float] | None = None  # (wall, cpu) at the first record

    def seen(self, partition: int, offset: int) -> None:
        """A record read (before it is processed)."""
        if self.first is None:
            self.first = (time.time(), cpu_now())
        self.records += 1
        end = self.todo.get(partition)
        if end is not None and offset >= end - 1:
            del self.todo[partition]

    @property
    def done(self) -> bool:
        return not self.todo

    def report(self, **extra: Any) -> None:
        """Called once the last record is processed and its outputs are flushed."""
        assert self.first is not None, "no record was read"
        wall, cpu = time.time(), cpu_now()
        out = {"engine": self.config.engine, "records": self.records,
               "skipped": self.skipped, "outputs": self.outputs,
               "first_record_at": self.first[0], "done_at": wall,
               "cpu_at_first_record": self.first[1], "cpu_at_done": cpu, **extra}
        tmp = Path(self.config.report + ".tmp")
        tmp.write_text(json.dumps(out))
        tmp.replace(self.config.report)
