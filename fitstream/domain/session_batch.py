"""Applying a batch of events to the workout sessions they touch, in log order, each
judged against its own user's clock (:mod:`fitstream.domain.event_time`).

Engines (through :mod:`fitstream.domain.pipeline`) call :func:`apply_batch` once per
batch and then write back each touched session and clock once, which is what keeps
state-store traffic per batch, not per event.

Per event, in order:

1. checks that depend on the record alone, so a replay decides the same (see
   event_bounds.py): a field out of its bounds is dead-lettered as ``out_of_bounds``,
   and an ``occurred_at`` more than ``max_future_skew_ms`` ahead of its Kafka record's
   timestamp as ``from_future``;
2. lateness against the user's clock (``late``);
3. the user's session for the workout takes it (applies, buffers, recognises a
   duplicate, or refuses it with a reason);
4. an accepted event moves its user's clock; then the user's workouts still waiting for
   a WorkoutStarted are given up if the clock has moved the timeout past where it stood
   when they were first seen (``unknown_workout``).

Sessions are keyed by user and workout id (:func:`session_key`): a workout id another
user reuses makes that user's own session, never touches the first user's, and every
view is keyed by user as well. Who owns an id is decided from the claims
(:attr:`BatchResult.claims`): every accepted WorkoutStarted yields one, carrying the
Kafka record timestamp of the Started record (the broker's clock), and readers take the
owner as the claim with the least ``(claimed_at, user_id)``, a pure function of the log
whatever the partitioning; ingest refuses a claimed id with a 409.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from fitstream.domain.dead_letter import DeadLetterReason
from fitstream.domain.event_bounds import (
    EARLIEST_EVENT_MS,
    event_bound_problems,
    future_problem,
)
from fitstream.domain.event_time import EventTimePolicy, UserClock
from fitstream.domain.events import EventType, WorkoutEvent
from fitstream.domain.notifications import GoalPassed
from fitstream.domain.views import WorkoutSummary
from fitstream.domain.workout_session import (
    Rejection,
    WorkoutSession,
    WorkoutStatus,
    short_id,
)

SessionLoader = Callable[[str], WorkoutSession | None]
"""Returns the stored session for a :func:`session_key`, or None if there is none."""

Position = Callable[[Any], int | None]
"""The log position (offset on the user's partition) of the event an ``apply_batch`` ref
stands for, or None if it has none."""

RecordTime = Callable[[Any], int | None]
"""The Kafka record timestamp (epoch ms) of the event an ``apply_batch`` ref stands for,
or None if the record has none (rows the backfill reads from before it was kept)."""


@dataclass
class BatchResult:
    """What a batch touched: sessions to store, summaries to emit, events to dead-letter."""

    sessions: dict[str, WorkoutSession] = field(default_factory=dict)
    summaries: list[WorkoutSummary] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    duplicates: int = 0
    # Session keys of workouts that completed in this batch, in completion order.
    completed_now: list[str] = field(default_factory=list)
    # WorkoutRoute records: of workouts completed in the batch, and of completed
    # workouts whose WorkoutCompleted came again (re-sent, like every output).
    routes: list[dict[str, Any]] = field(default_factory=list)
    # Distance goals passed mid-workout, and re-sent for re-delivered updates.
    goals: list[GoalPassed] = field(default_factory=list)
    # WorkoutClaim records: one per accepted WorkoutStarted, and again whenever that
    # Started record is read again (re-sent, like every output).
    claims: list[dict[str, Any]] = field(default_factory=list)

    def completed_summaries(self) -> list[WorkoutSummary]:
        """Completed workouts touched by the batch: the ones that completed in it first,
        in completion order (which decides what unlocks what), then the rest."""
        completed = {session_key(s["user_id"], s["workout_id"]): s
                     for s in self.summaries if s["status"] == "completed"}
        first = [completed.pop(w) for w in self.completed_now]
        return first + list(completed.values())


def _route(session: WorkoutSession, coordinates: list[dict[str, float]]) -> dict[str, Any]:
    return {"workout_id": session.workout_id, "user_id": session.user_id,
            "end_time": session.end_ms, "lats": [c["lat"] for c in coordinates],
            "lons": [c["lon"] for c in coordinates]}


def _applied(session: WorkoutSession, event: WorkoutEvent) -> bool:
    """True if ``event`` is the one the session applied at its seq."""
    seq = event["seq"]
    return seq < len(session.ids) and session.ids[seq] == short_id(event["event_id"])


def _claims(session: WorkoutSession, event: WorkoutEvent) -> bool:
    """True if ``event`` is the WorkoutStarted the session applied at seq 0 (first
    delivery or a re-delivery of it)."""
    return (event["type"] == EventType.STARTED and event["seq"] == 0 and bool(session.ids)
            and session.ids[0] == short_id(event["event_id"]))


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


def session_key(user_id: str, workout_id: str) -> str:
    """The state key of a user's session for a workout id (ids cannot hold ``/``)."""
    return f"{user_id}/{workout_id}"


class UserClocks:
    """The clocks a batch touches, each loaded once (``load``: the stored clock of a
    user, or None); :attr:`touched` is what to store back."""

    def __init__(self, load: Callable[[str], UserClock | None] = lambda _: None) -> None:
        self._load = load
        self.touched: dict[str, UserClock] = {}

    def __getitem__(self, user_id: str) -> UserClock:
        clock = self.touched.get(user_id)
        if clock is None:
            clock = self._load(user_id) or UserClock()
            self.touched[user_id] = clock
        return clock


def apply_batch(
    events: Iterable[tuple[WorkoutEvent, Any]],
    load: SessionLoader,
    clocks: UserClocks,
    policy: EventTimePolicy,
    position: Position | None = None,
    record_time: RecordTime | None = None,
) -> BatchResult:
    """Apply ``(event, ref)`` pairs in log order; the users' clocks are updated in place.

    ``load`` returns the stored session for a :func:`session_key`. ``position`` gives
    the log position (offset) behind a ref: with it an event read again after a crash is
    judged against its user's clock as it stood the first time. ``record_time`` gives
    the Kafka record timestamp behind a ref; without one no ``from_future`` check and no
    claim for that event.
    """
    result = BatchResult()
    sessions = result.sessions

    def session_of(key: str) -> WorkoutSession | None:
        return sessions.get(key) or load(key)

    for event, ref in events:
        refusal = _refusal(event, ref, policy, record_time)
        if refusal is not None:
            result.rejections.append(refusal)
            continue
        user_id = event["user_id"]
        clock = clocks[user_id]
        clock.rewind(position(ref) if position is not None else None)
        lag = clock.lag(event["occurred_at"])
        if lag > policy.allowed_lateness_ms:
            result.rejections.append(Rejection(
                event, ref, DeadLetterReason.LATE,
                f"{lag // 1000} s behind the user's clock; the allowed lateness is "
                f"{policy.allowed_lateness_ms // 1000} s"))
            continue
        workout_id = event["workout_id"]
        key = session_key(user_id, workout_id)
        session = session_of(key) or WorkoutSession(workout_id, user_id, event["device_id"])
        sessions[key] = session
        before = (session.version, len(session.pending))
        was_completed = session.status is WorkoutStatus.COMPLETED
        rejected = session.offer(event, ref)
        if not was_completed and session.status is WorkoutStatus.COMPLETED:
            result.completed_now.append(key)
        if session.completed_route is not None:
            result.routes.append(_route(session, session.completed_route))
            session.completed_route = None
        elif (was_completed and event["type"] == EventType.COMPLETED and not rejected
              and _applied(session, event)):
            # The applied WorkoutCompleted read again: re-send its route (a repeat at
            # another seq is only buffered, and its points are not the route).
            result.routes.append(_route(session, event["route_coordinates"]))
        if session.passed_goals:
            result.goals += session.passed_goals
            session.passed_goals = []
        result.rejections += rejected
        # The rejections can be of buffered events this one released, not of itself.
        if not any(r.event is event for r in rejected):
            if not rejected and (session.version, len(session.pending)) == before:
                result.duplicates += 1
            claimed_at = record_time(ref) if record_time is not None else None
            if claimed_at is not None and _claims(session, event):
                result.claims.append({"workout_id": workout_id, "user_id": user_id,
                                      "claimed_at": claimed_at})
            clock.advance(event["occurred_at"], position(ref) if position else None)
        clock.track(workout_id, session.awaiting_start)
        for overdue in clock.overdue(policy.unknown_workout_timeout_ms):
            del clock.awaiting_start[overdue]
            expired_key = session_key(user_id, overdue)
            expired = session_of(expired_key)
            if expired is not None:
                sessions[expired_key] = expired
                result.rejections += expired.expire_unknown()
    # Every touched session re-emits its summary, changed or not. Outputs and state
    # changelogs are separate writes: after a crash the state may be ahead of what
    # was sent. Replayed events touch the same sessions again, and this heals it;
    # the cost is one idempotent row per duplicate.
    for session in sessions.values():
        summary = session.summary()
        if summary is not None:
            result.summaries.append(summary)
    return result
