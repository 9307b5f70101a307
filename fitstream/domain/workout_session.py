"""The workout state machine.

    pending ──Started(seq 0)──▶ active ⇄ paused ──▶ completed | cancelled
                                  (Updated in active or paused)

Events are applied strictly in ``seq`` order: one that arrives early waits in a
reorder buffer until its predecessors are applied. A duplicate (an ``event_id``
already seen at that ``seq``) changes nothing. Whatever the state machine refuses
comes back as a :class:`Rejection` for the dead-letter topic, and ``seq`` moves on,
so one bad event never blocks its workout.

Moving time is the sum of the active intervals in event time; paused time is not
moving time, and a completed workout's moving time never exceeds its span from
``start_time`` to ``end_time``, which is at most ``MAX_WORKOUT_DURATION_MS``
(event_bounds.py; a longer one's WorkoutCompleted is refused as ``out_of_bounds``).
Best efforts (fastest 1/5/10 km inside the workout) are tracked from the samples as
they are applied. The session is a plain object whose :meth:`to_state` is JSON-ready,
so any engine can keep it in its own state store.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from fitstream.domain.best_efforts import BestEfforts
from fitstream.domain.dead_letter import DeadLetterReason
from fitstream.domain.event_bounds import bucket_reach_ms, completion_problems
from fitstream.domain.events import EventType, WorkoutEvent
from fitstream.domain.notifications import GoalPassed, goals_passed
from fitstream.domain.views import WorkoutSummary

# Enough for a device that replays a long offline stretch out of order; more than
# this ahead of the next expected seq is refused instead of held in memory.
MAX_REORDER_BUFFER = 2000


class WorkoutStatus(StrEnum):
    PENDING = "pending"  # events arrived, but not WorkoutStarted (seq 0)
    ACTIVE = "active"
    PAUSED = "paused"
    COMPLETED = "completed"
    CANCELLED = "cancelled"




@dataclass(frozen=True, slots=True)
class Rejection:
    """An event the session refused; ``ref`` is the opaque handle its caller gave it."""

    event: WorkoutEvent
    ref: Any
    reason: DeadLetterReason
    detail: str


def short_id(event_id: str) -> str:
    """The part of an event id that the session remembers (bounded state per seq)."""
    return event_id[:13]


class WorkoutSession:
    """One workout's state, fed by :meth:`offer` in any order."""

    # Not state: the route of a WorkoutCompleted, and the distance goals passed, applied
    # (or re-delivered) since the caller last looked.
    TRANSIENT = ("completed_route", "passed_goals")

    __slots__ = (
        "calories",
        "completed_route",
        "device_id",
        "distance_m",
        "efforts",
        "end_ms",
        "expired",
        "goals",
        "hr_count",
        "hr_sum",
        "ids",
        "last_event_at",
        "moving_ms",
        "passed_goals",
        "pending",
        "running_since",
        "sample_count",
        "sport_type",
        "start_ms",
        "status",
        "user_id",
        "workout_id",
    )

    def __init__(self, workout_id: str, user_id: str, device_id: str) -> None:
        self.workout_id = workout_id
        self.user_id = user_id
        self.device_id = device_id
        self.status = WorkoutStatus.PENDING
        # ids[seq] is the short event id applied (or refused) at that seq.
        self.ids: list[str] = []
        # seq -> [event, ref], waiting for its predecessors.
        self.pending: dict[int, list[Any]] = {}
        self.expired = False
        self.sport_type = ""
        self.start_ms = 0
        self.end_ms: int | None = None
        self.running_since: int | None = None
        self.moving_ms = 0
        self.distance_m = 0.0
        self.calories: float | None = None
        self.hr_sum = 0
        self.hr_count = 0
        self.sample_count = 0
        self.last_event_at = 0
        self.efforts = BestEfforts()
        self.completed_route: list[dict[str, float]] | None = None
        # [goal metres, seq of the update that passed it, its occurred_at]
        self.goals: list[list[Any]] = []
        self.passed_goals: list[GoalPassed] = []

    # -- state (de)serialisation -------------------------------------------------

    def to_state(self) -> dict[str, Any]:
        state = {name: getattr(self, name) for name in self.__slots__
                 if name not in self.TRANSIENT}
        state["pending"] = [[seq, *item] for seq, item in self.pending.items()]
        state["efforts"] = self.efforts.to_state()
        return state

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> WorkoutSession:
        session = cls.__new__(cls)
        for name in cls.__slots__:
            setattr(session, name, None if name in cls.TRANSIENT else state[name])
        session.passed_goals = []
        session.status = WorkoutStatus(state["status"])
        session.pending = {seq: [event, ref] for seq, event, ref in state["pending"]}
        session.efforts = BestEfforts.from_state(state["efforts"])
        return session

    # -- the state machine ---------------------------------------------------------

    @property
    def next_seq(self) -> int:
        return len(self.ids)

    @property
    def version(self) -> int:
        """The last seq applied; -1 before any."""
        return len(self.ids) - 1

    @property
    def finished_at(self) -> int | None:
        """For a completed or cancelled session, the latest of its end and its applied
        events' times (it never changes after that: a terminal session applies nothing
        more); None for any other."""
        if self.status not in (WorkoutStatus.COMPLETED, WorkoutStatus.CANCELLED):
            return None
        return max(self.end_ms or 0, self.last_event_at)

    @property
    def retire_after(self) -> int | None:
        """The event time its retirement is judged by (session_batch.py): for a terminal
        session :attr:`finished_at`; for one started and never ended (a phone that died
        mid-workout), the latest a WorkoutCompleted within bounds can occur
        (``bucket_reach_ms`` after its start) or its latest applied event, if later;
        None before WorkoutStarted (such a session is given up as an unknown workout)."""
        finished_at = self.finished_at
        if finished_at is not None:
            return finished_at
        if self.status is WorkoutStatus.PENDING:
            return None
        return max(self.start_ms + bucket_reach_ms(), self.last_event_at)

    @property
    def awaiting_start(self) -> bool:
        return self.status is WorkoutStatus.PENDING and bool(self.pending) and not self.ids

    def offer(self, event: WorkoutEvent, ref: Any = None) -> list[Rejection]:
        """Take one event; apply it and any buffered successors it unblocks."""
        seq = event["seq"]
        sid = short_id(event["event_id"])
        if self.expired:
            return [self._refuse(event, ref, DeadLetterReason.UNKNOWN_WORKOUT,
                                 "its WorkoutStarted did not arrive in time")]
        if seq < 0:
            return [self._refuse(event, ref, DeadLetterReason.ILLEGAL_TRANSITION,
                                 f"negative seq {seq}")]
        if seq < self.next_seq:
            if self.ids[seq] == sid:
                # Re-delivered: announce again what it caused (the first send may
                # have been lost in a crash); consumers keep one copy.
                self.passed_goals += [self._goal(goal, at) for goal, goal_seq, at in self.goals
                                      if goal_seq == seq]
                return []
            return [self._refuse(event, ref, DeadLetterReason.CONFLICTING_SEQ,
                                 f"seq {seq} already holds event {self.ids[seq]}…")]
        if seq in self.pending:
            if short_id(self.pending[seq][0]["event_id"]) == sid:
                return []
            return [self._refuse(event, ref, DeadLetterReason.CONFLICTING_SEQ,
                                 f"seq {seq} is already buffered for another event")]
        if seq > self.next_seq:
            if len(self.pending) >= MAX_REORDER_BUFFER:
                return [self._refuse(event, ref, DeadLetterReason.REORDER_BUFFER_FULL,
                                     f"seq {seq} while waiting for seq {self.next_seq}")]
            self.pending[seq] = [event, ref]
            return []
        rejections = self._apply(event, ref)
        while self.next_seq in self.pending:
            buffered, buffered_ref = self.pending.pop(self.next_seq)
            rejections += self._apply(buffered, buffered_ref)
        return rejections

    def expire_unknown(self) -> list[Rejection]:
        """Give up waiting for WorkoutStarted: refuse everything buffered, now and later."""
        self.expired = True
        rejections = [
            self._refuse(event, ref, DeadLetterReason.UNKNOWN_WORKOUT,
                         "no WorkoutStarted arrived within the timeout")
            for _, (event, ref) in sorted(self.pending.items())
        ]
        self.pending.clear()
        return rejections

    def _refuse(self, event: WorkoutEvent, ref: Any, reason: DeadLetterReason,
                detail: str) -> Rejection:
        return Rejection(event, ref, reason, detail)

    def _apply(self, event: WorkoutEvent, ref: Any) -> list[Rejection]:
        self.ids.append(short_id(event["event_id"]))
        kind = event["type"]
        status = self.status
        at = event["occurred_at"]
        if kind == EventType.UPDATED and status in (WorkoutStatus.ACTIVE, WorkoutStatus.PAUSED):
            self._record_telemetry(event)
        elif kind == EventType.STARTED and status is WorkoutStatus.PENDING:
            self.status = WorkoutStatus.ACTIVE
            self.sport_type = event["sport_type"]
            self.start_ms = event["start_time"]
            self.running_since = event["start_time"]
            self.efforts.add(0.0, 0)
        elif kind == EventType.PAUSED and status is WorkoutStatus.ACTIVE:
            self._stop_clock(at)
            self.status = WorkoutStatus.PAUSED
        elif kind == EventType.RESUMED and status is WorkoutStatus.PAUSED:
            self.running_since = at
            self.status = WorkoutStatus.ACTIVE
        elif kind == EventType.COMPLETED and status in (WorkoutStatus.ACTIVE,
                                                        WorkoutStatus.PAUSED):
            problems = completion_problems(self.start_ms, event["end_time"],
                                           event["distance_meters"])
            if problems:
                # Each event was within its bounds, but not the span from this
                # workout's start to its end (see event_bounds.py).
                return [self._refuse(event, ref, DeadLetterReason.OUT_OF_BOUNDS, problems[0])]
            self._stop_clock(event["end_time"])
            # Pause and resume times are the device's: never more moving than elapsed.
            self.moving_ms = min(self.moving_ms, event["end_time"] - self.start_ms)
            self.status = WorkoutStatus.COMPLETED
            self.end_ms = event["end_time"]
            self.distance_m = event["distance_meters"]
            self.calories = event["calories_burned"]
            self.completed_route = event["route_coordinates"]
        elif kind == EventType.CANCELLED and status in (WorkoutStatus.ACTIVE,
                                                        WorkoutStatus.PAUSED):
            self._stop_clock(at)
            self.status = WorkoutStatus.CANCELLED
            self.end_ms = at
        else:
            return [self._refuse(event, ref, DeadLetterReason.ILLEGAL_TRANSITION,
                                 f"{kind} (seq {event['seq']}) in state {status.value}")]
        self.last_event_at = max(self.last_event_at, at)
        return []

    def _stop_clock(self, at: int) -> None:
        if self.running_since is not None:
            self.moving_ms += max(0, at - self.running_since)
            self.running_since = None

    def _goal(self, goal_m: float, at: int) -> GoalPassed:
        return GoalPassed(self.user_id, self.workout_id, self.sport_type, goal_m, at)

    def _record_telemetry(self, event: WorkoutEvent) -> None:
        distance = event["current_distance_meters"]
        reached = {goal for goal, _, _ in self.goals}
        for goal in goals_passed(self.sport_type, self.distance_m, distance):
            if goal not in reached:
                self.goals.append([goal, event["seq"], event["occurred_at"]])
                self.passed_goals.append(self._goal(goal, event["occurred_at"]))
        self.distance_m = distance
        samples = event.get("samples") or []
        if samples:
            self.sample_count += len(samples)
            add_effort = self.efforts.add
            for sample in samples:
                heart_rate = sample["heart_rate"]
                if heart_rate is not None:
                    self.hr_sum += heart_rate
                    self.hr_count += 1
                add_effort(sample["distance_meters"], sample["offset_ms"])
        elif event.get("heart_rate") is not None:
            # A v1 update has no samples: its latest reading is the one sample.
            self.sample_count += 1
            self.hr_sum += event["heart_rate"]
            self.hr_count += 1

    # -- the view ------------------------------------------------------------------

    def summary(self) -> WorkoutSummary | None:
        """The WorkoutSummary view, or None before WorkoutStarted has been applied."""
        if self.status is WorkoutStatus.PENDING:
            return None
        moving_ms = self.moving_ms
        if self.running_since is not None:
            moving_ms += max(0, self.last_event_at - self.running_since)
        return {
            "workout_id": self.workout_id,
            "user_id": self.user_id,
            "device_id": self.device_id,
            "sport_type": self.sport_type,
            "status": self.status.value,
            "start_time": self.start_ms,
            "end_time": self.end_ms,
            "moving_duration_ms": moving_ms,
            "distance_meters": self.distance_m,
            "calories_burned": self.calories,
            "avg_heart_rate": self.hr_sum / self.hr_count if self.hr_count else None,
            "avg_speed_mps": self.distance_m * 1000.0 / moving_ms if moving_ms > 0 else None,
            "sample_count": self.sample_count,
            "last_seq": self.version,
            "last_event_at": self.last_event_at,
            "best_1k_ms": self.efforts.best_ms(1000),
            "best_5k_ms": self.efforts.best_ms(5000),
            "best_10k_ms": self.efforts.best_ms(10_000),
        }
