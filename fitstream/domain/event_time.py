"""Event time per user: each user's clock is the latest ``occurred_at`` among *their own
accepted* events, and lateness and the unknown-workout timeout are judged against it,
event by event.

Why per user, not per partition: a partition's watermark made the same log give
different views with 8 partitions than with 24 or with other batch sizes; one device
dating an event in 2100 made every later event of everyone on its partition late; and
a phone that syncs three days of its user's workouts at once was judged against other
users' events. A user's events share a partition (the key is the user id), so their
log order is fixed, and a view that depends only on each user's own events in log
order is the same for any partitioning, batch size or engine.

The rules (:class:`EventTimePolicy` holds the numbers):

- **late**: an event more than ``allowed_lateness_ms`` (48 h) behind its user's clock
  is dead-lettered before it touches any state;
- **unknown workout**: a workout whose WorkoutStarted has not arrived when its user's
  clock has moved ``unknown_workout_timeout_ms`` (15 min) past where it stood when the
  workout's first event was seen is given up, and its waiting events dead-lettered.
  A user who sends nothing more decides nothing: a restart or a replay decides the same;
- **an event refused on arrival never moves a clock** (out of bounds, from the future,
  late, or refused by its session; see below for one that waits first).

Crashes and replays: state is saved before offsets are committed, so after a crash the
stored clock can be ahead of the log position processing resumes from. Each clock
remembers where it moved (``moves``: the log position of each accepted event that
moved it, with the value after it), so an event read again is judged against the
clock as it stood before that event the first time: a replay never calls late what was
not late the first time. The last :data:`MOVES_KEPT` moves are kept, and ``floor`` is
the clock before the oldest of them. Rewinding further back than the kept moves gives
``floor``, an upper bound of the true value: a replay may then call late an event it
accepted the first time (its effect is already in the saved state, so only a needless
dead letter results), but never accepts one it refused.

"Accepted" includes an event waiting in its workout's reorder buffer: it moves the
clock when it arrives, and if it is refused later (its workout's start never came, or
its predecessor makes it illegal) the move stands. Such events are the user's own and
bounded by ``from_future``, and the decision is the same on every replay.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fitstream.domain.event_bounds import MAX_FUTURE_SKEW_MS

MOVES_KEPT = 64


@dataclass(frozen=True)
class EventTimePolicy:
    """How far event time may lag behind a user's clock.

    ``allowed_lateness_ms``: an event older than the clock minus this is dead-lettered
    as ``late`` (the log keeps it for batch correction).
    ``unknown_workout_timeout_ms``: see the module docstring.
    ``max_future_skew_ms``: an event further ahead of its Kafka record's timestamp is
    dead-lettered as ``from_future``.
    """

    allowed_lateness_ms: int = 48 * 3_600_000
    unknown_workout_timeout_ms: int = 15 * 60_000
    max_future_skew_ms: int = MAX_FUTURE_SKEW_MS


class UserClock:
    """One user's event-time clock and their workouts still awaiting a start.

    ``latest``: the latest ``occurred_at`` among the user's accepted events.
    ``moves``: ``[position, latest after it]`` of the last accepted events that moved
    it, oldest first (positions order the user's events in the log: see
    ``fitstream.domain.pipeline``). ``floor``: the clock before the oldest kept move.
    ``awaiting_start``: workout id -> the clock when its first event was seen.
    """

    __slots__ = ("awaiting_start", "floor", "latest", "moves")

    def __init__(self, latest: int = 0, moves: list[list[int]] | None = None,
                 awaiting_start: dict[str, int] | None = None, floor: int = 0) -> None:
        self.latest = latest
        self.moves: list[list[int]] = list(moves or [])
        self.awaiting_start: dict[str, int] = dict(awaiting_start or {})
        self.floor = floor

    def to_state(self) -> dict[str, Any]:
        return {"latest": self.latest, "moves": self.moves,
                "awaiting_start": self.awaiting_start, "floor": self.floor}

    @classmethod
    def from_state(cls, state: dict[str, Any] | None) -> UserClock:
        if not state:
            return cls()
        return cls(state["latest"], state["moves"], state["awaiting_start"], state["floor"])

    def rewind(self, position: int | None) -> None:
        """Before judging the event at ``position``: if the clock moved at or after it
        (a replay after a crash), restore the clock as it stood before that event (or
        ``floor``, an upper bound, if that is further back than the kept moves)."""
        if position is None or not self.moves or position > self.moves[-1][0]:
            return
        while self.moves and self.moves[-1][0] >= position:
            self.moves.pop()
        self.latest = self.moves[-1][1] if self.moves else self.floor

    def lag(self, occurred_at: int) -> int:
        return self.latest - occurred_at

    def advance(self, occurred_at: int, position: int | None) -> None:
        """An accepted event: the clock moves to it if it is the latest."""
        if occurred_at <= self.latest:
            return
        self.latest = occurred_at
        if position is not None:
            self.moves.append([position, occurred_at])
            if len(self.moves) > MOVES_KEPT:
                self.floor = self.moves[-MOVES_KEPT - 1][1]
                del self.moves[:-MOVES_KEPT]

    @property
    def settled(self) -> int:
        """The lowest value a replay can rewind this clock to (``floor``, or the latest
        if it never moved with a position): what prunes state must use, or a replayed
        event would find its workout forgotten and count it twice."""
        return self.floor if self.moves else self.latest

    def track(self, workout_id: str, awaiting: bool) -> None:
        # The wait is counted from the clock when the workout was first seen, not from
        # its events' own times: a whole workout synced hours late must not be given up
        # on before its start arrives.
        if awaiting:
            self.awaiting_start.setdefault(workout_id, self.latest)
        else:
            self.awaiting_start.pop(workout_id, None)

    def overdue(self, timeout_ms: int) -> list[str]:
        limit = self.latest - timeout_ms
        return sorted(w for w, first_at in self.awaiting_start.items() if first_at < limit)
