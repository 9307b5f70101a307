"""Applying a batch of one partition's events to the workout sessions they touch.

Engines call :func:`apply_batch` once per batch and then write back each touched
session once, which is what keeps state-store traffic per batch, not per event.

Unknown workouts are decided in event time. A partition's watermark is the
latest ``occurred_at`` it has seen; a workout whose WorkoutStarted has still not
arrived when the watermark has moved ``unknown_workout_timeout_ms`` past where it
stood when the workout's first event was seen is given up, and its events are dead-lettered. An idle partition
decides nothing, so a restart or a replay gives the same decisions.

Lateness is decided against the same watermark: an event more than the allowed
lateness behind it is dead-lettered as ``late`` before it touches any state.

Before that, two checks that depend on the record alone, so a replay decides the
same (see event_bounds.py): an event with a field out of its bounds is dead-lettered
as ``out_of_bounds``, and one whose ``occurred_at`` is more than
``max_future_skew_ms`` ahead of its Kafka record's timestamp as ``from_future``.
Only an event the session accepts (applies, buffers, or recognises as a duplicate)
moves the watermark: a refused event never moves the clock, or one device could date
an event in 2100 and make every later event of every user on its partition late.

A workout id belongs to the first user whose WorkoutStarted for it is accepted.
Sessions are loaded by workout id within the partition, so on one partition a second
user's events for a taken id are dead-lettered as ``workout_id_taken`` and touch no
state. Users on other partitions never meet here; for them every accepted
WorkoutStarted yields a claim (:attr:`BatchResult.claims`) carrying the Kafka record
timestamp of the Started record, and readers take the owner as the claim with the
least ``(claimed_at, user_id)``: a pure function of the log, whatever the partitioning.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from fitstream.domain.dead_letter import DeadLetterReason
from fitstream.domain.event_bounds import (
    EARLIEST_EVENT_MS,
    MAX_FUTURE_SKEW_MS,
    event_bound_problems,
    future_problem,
)
from fitstream.domain.events import EventType, WorkoutEvent
from fitstream.domain.notifications import GoalPassed
from fitstream.domain.workout_session import (
    Rejection,
    WorkoutSession,
    WorkoutStatus,
    short_id,
)

SessionLoader = Callable[[str], WorkoutSession | None]
"""Returns the stored session for a workout id in this partition, or None if there is none."""

RecordTime = Callable[[Any], int]
"""The Kafka record timestamp (epoch ms) of the event an ``apply_batch`` ref stands for."""


CHECKPOINTS_KEPT = 500


class PartitionClock:
    """One partition's event-time watermark and its workouts still awaiting a start.

    After a crash the stored clock can be ahead of the log position processing
    resumes from (state is saved before offsets are committed). ``checkpoints``
    remember the watermark after each batch's last log position, so a replayed
    batch is judged against the watermark it was first judged against, and an
    event is never called late on replay that was not late the first time.
    """

    __slots__ = ("awaiting_start", "checkpoints", "watermark")

    def __init__(self, watermark: int = 0, awaiting_start: dict[str, int] | None = None,
                 checkpoints: list[list[int]] | None = None) -> None:
        self.watermark = watermark
        self.awaiting_start: dict[str, int] = dict(awaiting_start or {})
        self.checkpoints: list[list[int]] = list(checkpoints or [])

    def to_state(self) -> dict[str, Any]:
        return {"watermark": self.watermark, "awaiting_start": self.awaiting_start,
                "checkpoints": self.checkpoints}

    @classmethod
    def from_state(cls, state: dict[str, Any] | None) -> PartitionClock:
        if not state:
            return cls()
        return cls(state["watermark"], state["awaiting_start"], state.get("checkpoints"))

    def rewind(self, first_position: int) -> None:
        """Before a batch: if its positions were seen already, restore the watermark that
        stood before them (0, accepting rather than refusing, if that is too old)."""
        if self.checkpoints and first_position <= self.checkpoints[-1][0]:
            before = [wm for position, wm in self.checkpoints if position < first_position]
            self.watermark = before[-1] if before else 0
            self.checkpoints = [c for c in self.checkpoints if c[0] < first_position]

    @property
    def settled_watermark(self) -> int:
        """The lowest watermark a replay can rewind to: what prunes state must use, or a
        replayed event would find its workout forgotten and count it twice."""
        return self.checkpoints[0][1] if self.checkpoints else self.watermark

    def checkpoint(self, last_position: int) -> None:
        self.checkpoints.append([last_position, self.watermark])
        del self.checkpoints[:-CHECKPOINTS_KEPT]

    def track(self, session: WorkoutSession) -> None:
        # The wait is counted from the watermark when the workout was first seen, not
        # from its events' own times: a whole workout synced hours late must not be
        # given up on between two batches.
        if session.awaiting_start:
            self.awaiting_start.setdefault(session.workout_id, self.watermark)
        else:
            self.awaiting_start.pop(session.workout_id, None)

    def overdue(self, timeout_ms: int) -> list[str]:
        limit = self.watermark - timeout_ms
        return sorted(w for w, first_at in self.awaiting_start.items() if first_at < limit)


@dataclass
class BatchResult:
    """What a batch touched: sessions to store, summaries to emit, events to dead-letter."""

    sessions: dict[str, WorkoutSession] = field(default_factory=dict)
    summaries: list[dict[str, Any]] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    duplicates: int = 0
    # Workouts that completed in this batch, in the order they completed.
    completed_now: list[str] = field(default_factory=list)
    # WorkoutRoute records: of workouts completed in the batch, and of completed
    # workouts whose WorkoutCompleted came again (re-sent, like every output).
    routes: list[dict[str, Any]] = field(default_factory=list)
    # Distance goals passed mid-workout, and re-sent for re-delivered updates.
    goals: list[GoalPassed] = field(default_factory=list)
    # WorkoutClaim records: one per accepted WorkoutStarted, and again whenever that
    # Started record is read again (re-sent, like every output).
    claims: list[dict[str, Any]] = field(default_factory=list)

    def completed_summaries(self) -> list[dict[str, Any]]:
        """Completed workouts touched by the batch: the ones that completed in it first,
        in completion order (which decides what unlocks what), then the rest."""
        completed = {s["workout_id"]: s for s in self.summaries if s["status"] == "completed"}
        first = [completed.pop(w) for w in self.completed_now]
        return first + list(completed.values())


def _route(session: WorkoutSession, coordinates: list[dict[str, float]]) -> dict[str, Any]:
    return {"workout_id": session.workout_id, "user_id": session.user_id,
            "end_time": session.end_ms, "lats": [c["lat"] for c in coordinates],
            "lons": [c["lon"] for c in coordinates]}


def _claims(session: WorkoutSession, event: WorkoutEvent) -> bool:
    """True if ``event`` is the WorkoutStarted the session applied at seq 0 (first
    delivery or a re-delivery of it)."""
    return (event["type"] == EventType.STARTED and event["seq"] == 0 and bool(session.ids)
            and session.ids[0] == short_id(event["event_id"]))


@dataclass(frozen=True)
class EventTimePolicy:
    """How far event time may lag behind a partition's watermark.

    ``allowed_lateness_ms``: an event older than the watermark minus this is
    dead-lettered as ``late`` (the log keeps it for batch correction).
    ``unknown_workout_timeout_ms``: see the module docstring.
    ``max_future_skew_ms``: an event further ahead of its Kafka record's timestamp is
    dead-lettered as ``from_future``.
    """

    allowed_lateness_ms: int = 48 * 3_600_000
    unknown_workout_timeout_ms: int = 15 * 60_000
    max_future_skew_ms: int = MAX_FUTURE_SKEW_MS


def _refusal(event: WorkoutEvent, ref: Any, policy: EventTimePolicy,
             record_time: RecordTime | None) -> Rejection | None:
    """Out of bounds, or from the future: judged on the event and its record alone."""
    problems = event_bound_problems(event)
    if problems:
        return Rejection(event, ref, DeadLetterReason.OUT_OF_BOUNDS, "; ".join(problems[:5]))
    written_at = record_time(ref) if record_time is not None else None
    # A record without a timestamp (-1, or 0 from a client that never set one) has no
    # clock to judge by; a producer that can write any timestamp can write 2100 too.
    if written_at is not None and written_at >= EARLIEST_EVENT_MS:
        detail = future_problem(event, written_at, policy.max_future_skew_ms)
        if detail is not None:
            return Rejection(event, ref, DeadLetterReason.FROM_FUTURE,
                             f"{detail} (the Kafka record's timestamp)")
    return None


def _taken(event: WorkoutEvent, ref: Any, owner: str) -> Rejection:
    return Rejection(event, ref, DeadLetterReason.WORKOUT_ID_TAKEN,
                     f"workout {event['workout_id']} belongs to user {owner}")


def apply_batch(
    events: Iterable[tuple[WorkoutEvent, Any]],
    load: SessionLoader,
    clock: PartitionClock,
    policy: EventTimePolicy,
    positions: tuple[int, int] | None = None,
    record_time: RecordTime | None = None,
) -> BatchResult:
    """Apply ``(event, ref)`` pairs in log order; ``clock`` is updated in place.

    ``positions`` are the first and last log positions (offsets) of the batch in its
    partition; with them a replayed batch sees the watermark it saw the first time.
    ``record_time`` gives the Kafka record timestamp behind a ref; without it no
    claims are made (jobs that only rebuild summaries need none).
    """
    if positions is not None:
        clock.rewind(positions[0])
    result = BatchResult()
    sessions = result.sessions
    for event, ref in events:
        refusal = _refusal(event, ref, policy, record_time)
        if refusal is not None:
            result.rejections.append(refusal)
            continue
        lag = clock.watermark - event["occurred_at"]
        if lag > policy.allowed_lateness_ms:
            result.rejections.append(Rejection(
                event, ref, DeadLetterReason.LATE,
                f"{lag // 1000} s behind the partition watermark; the allowed lateness is "
                f"{policy.allowed_lateness_ms // 1000} s"))
            continue
        workout_id = event["workout_id"]
        session = sessions.get(workout_id) or load(workout_id)
        if session is not None and session.user_id != event["user_id"]:
            if session.ids or event["type"] != EventType.STARTED or event["seq"] != 0:
                # Another user's workout: refused before it touches state or the clock.
                result.rejections.append(_taken(event, ref, session.user_id))
                continue
            # The other user's events are waiting for a WorkoutStarted that never came
            # (or gave up waiting): the first Started takes the id, and theirs are refused.
            result.rejections += [_taken(e, r, event["user_id"])
                                  for _, (e, r) in sorted(session.pending.items())]
            clock.awaiting_start.pop(workout_id, None)
            session = None
        if session is None:
            session = WorkoutSession(workout_id, event["user_id"], event["device_id"])
        sessions[workout_id] = session
        before = (session.version, len(session.pending))
        was_completed = session.status is WorkoutStatus.COMPLETED
        rejected = session.offer(event, ref)
        if not was_completed and session.status is WorkoutStatus.COMPLETED:
            result.completed_now.append(workout_id)
        if session.completed_route is not None:
            result.routes.append(_route(session, session.completed_route))
            session.completed_route = None
        elif was_completed and event["type"] == EventType.COMPLETED and not rejected:
            result.routes.append(_route(session, event["route_coordinates"]))
        if session.passed_goals:
            result.goals += session.passed_goals
            session.passed_goals = []
        if rejected:
            result.rejections += rejected
        else:
            if (session.version, len(session.pending)) == before:
                result.duplicates += 1
            if record_time is not None and _claims(session, event):
                result.claims.append({"workout_id": workout_id, "user_id": session.user_id,
                                      "claimed_at": record_time(ref)})
        if not any(r.event is event for r in rejected):
            clock.watermark = max(clock.watermark, event["occurred_at"])
        clock.track(session)
    for workout_id in clock.overdue(policy.unknown_workout_timeout_ms):
        session = sessions.get(workout_id) or load(workout_id)
        del clock.awaiting_start[workout_id]
        if session is None:
            continue
        sessions[workout_id] = session
        result.rejections += session.expire_unknown()
    if positions is not None:
        clock.checkpoint(positions[1])
    # Every touched session re-emits its summary, changed or not. Outputs and state
    # changelogs are separate writes: after a crash the state may be ahead of what
    # was sent. Replayed events touch the same sessions again, and this heals it;
    # the cost is one idempotent row per duplicate.
    for session in sessions.values():
        summary = session.summary()
        if summary is not None:
            result.summaries.append(summary)
    return result
