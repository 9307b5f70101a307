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

**Retirement (bounded state).** A completed or cancelled session, or one started and
never ended, is *retired* once its user's settled clock (``UserClock.settled``: the
lowest value a replay can rewind the clock to) is more than
:func:`retirement_horizon_ms` (the allowed lateness plus
``event_bounds.bucket_reach_ms()``, 11 days by default) past its
``WorkoutSession.retire_after``: a terminal session's end or last event; for one never
ended, its start plus that reach (no WorkoutCompleted within bounds occurs later) or
its last event. A retired session is dropped from state, and its workout id is
forgotten: an event for it is judged as if the id had never been used. That loses
nothing:

- every re-delivery of an event it applied, and every WorkoutCompleted it could still
  take, is older than ``retire_after``, so the lateness rule refuses it as ``late``
  before it can reach any session (the clock is never below its settled value, so
  this holds on a replay after a crash too);
- what is left is an event that was never part of the workout (a device reusing a
  workout id 11 days after it ended): it starts a new workout, where the kept session
  would have dead-lettered it (``illegal_transition``, ``conflicting_seq``), held it
  forever in its reorder buffer, or (never ended) added it to, or cancelled with it, a
  workout that started weeks before.

Sessions still waiting for their WorkoutStarted are not retired: the unknown-workout
timeout gives them up (event_time.py), and one given up stays, refusing its later
events, as before.

Retirement is decided event by event, so it does not depend on batching: an event that
meets a retired session (still in state because no batch has dropped it yet) finds it
forgotten; the old session's summary is kept with the batch's others (``finished``),
and the leaderboards and achievements know the new workout from the old one by its
``finished_at`` (leaderboards.py). Which sessions to drop is found without a scan: each
user's started sessions are listed, with their ``retire_after``, under the session key
``<user_id>/`` (:func:`retirement_key`; no workout id is empty), and a batch drops those
due for every user it touched. A user's erasure drops that key with their sessions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from fitstream.domain.dead_letter import DeadLetterReason
from fitstream.domain.event_bounds import (
    EARLIEST_EVENT_MS,
    bucket_reach_ms,
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

IndexLoader = Callable[[str], dict[str, Any] | None]
"""Returns the stored retirement index of a user (see :func:`retirement_key`), or None."""

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
    # Summaries of sessions touched in the batch and then forgotten (retired) when a
    # later event of the batch met them, by a key of their own ("<session key>#<n>").
    finished: dict[str, WorkoutSummary] = field(default_factory=dict)
    # Session keys to delete from state (retired), and each touched user's retirement
    # index to store (None: delete it).
    retired: list[str] = field(default_factory=list)
    indexes: dict[str, dict[str, Any] | None] = field(default_factory=dict)

    def completed_summaries(self) -> list[WorkoutSummary]:
        """Completed workouts touched by the batch: the ones that completed in it first,
        in completion order (which decides what unlocks what), then the rest."""
        completed = {key: s for key, s in self.finished.items() if s["status"] == "completed"}
        completed.update({session_key(s["user_id"], s["workout_id"]): s
                          for s in self.summaries[len(self.finished):]
                          if s["status"] == "completed"})
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


def retirement_key(user_id: str) -> str:
    """The session-store key of a user's retirement index: ``{"workouts": {workout id:
    retire_after}}`` of their started sessions still kept. No workout id is empty, so
    it is no session's key, and an erasure (which drops ``<user_id>/*``) drops it."""
    return session_key(user_id, "")


def retirement_horizon_ms(policy: EventTimePolicy) -> int:
    """How far a user's settled clock must be past a session's ``retire_after`` for the
    session to be retired (module docstring)."""
    return policy.allowed_lateness_ms + bucket_reach_ms()


def retired(session: WorkoutSession, settled_clock: int, horizon_ms: int) -> bool:
    retire_after = session.retire_after
    return retire_after is not None and retire_after + horizon_ms < settled_clock


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
    load_index: IndexLoader | None = None,
) -> BatchResult:
    """Apply ``(event, ref)`` pairs in log order; the users' clocks are updated in place.

    ``load`` returns the stored session for a :func:`session_key`. ``position`` gives
    the log position (offset) behind a ref: with it an event read again after a crash is
    judged against its user's clock as it stood the first time. ``record_time`` gives
    the Kafka record timestamp behind a ref; without one no ``from_future`` check and no
    claim for that event. ``load_index`` returns a user's stored retirement index: with
    it, terminal sessions are retired (module docstring); without, they are kept.
    """
    result = BatchResult()
    sessions = result.sessions
    horizon = retirement_horizon_ms(policy)

    def session_of(key: str) -> WorkoutSession | None:
        return sessions.get(key) or load(key)

    def live_session(key: str, clock: UserClock) -> WorkoutSession | None:
        """The session an event meets: none if the stored one is retired."""
        session = session_of(key)
        if load_index is None or session is None or not retired(session, clock.settled,
                                                                horizon):
            return session
        touched = sessions.pop(key, None)
        if touched is not None:
            # Its summary stays among the batch's (the batch touched it before), and a
            # completion in this batch keeps its place in completion order.
            finished_key = f"{key}#{len(result.finished)}"
            summary = touched.summary()
            assert summary is not None  # started
            result.finished[finished_key] = summary
            result.completed_now = [finished_key if k == key else k
                                    for k in result.completed_now]
        return None

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
        session = live_session(key, clock) or WorkoutSession(workout_id, user_id,
                                                             event["device_id"])
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
    result.summaries += result.finished.values()
    for session in sessions.values():
        summary = session.summary()
        if summary is not None:
            result.summaries.append(summary)
    if load_index is not None:
        _retire(result, clocks, load_index, horizon)
    return result


def _retire(result: BatchResult, clocks: UserClocks, load_index: IndexLoader,
            horizon: int) -> None:
    """Index the batch's started sessions, and drop those of its users now retired."""
    started: dict[str, dict[str, int]] = {}
    for session in result.sessions.values():
        retire_after = session.retire_after
        if retire_after is not None:
            started.setdefault(session.user_id, {})[session.workout_id] = retire_after
    for user_id, clock in clocks.touched.items():
        stored = load_index(user_id)
        kept: dict[str, int] = dict(stored["workouts"]) if stored else {}
        before = dict(kept)
        kept.update(started.get(user_id, {}))
        settled = clock.settled
        for workout_id, retire_after in sorted(kept.items()):
            if retire_after + horizon >= settled:
                continue
            del kept[workout_id]
            key = session_key(user_id, workout_id)
            session = result.sessions.get(key)
            if session is None or session.retire_after == retire_after:
                # Not touched, or touched and still the retired session: drop it. (A
                # session touched under that key with another retire_after is a new
                # workout that reused the id: it stays.)
                result.sessions.pop(key, None)
                result.retired.append(key)
        if kept != before:
            result.indexes[user_id] = {"workouts": kept} if kept else None
