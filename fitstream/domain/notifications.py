"""Notifications: what is worth telling a user, with ids that make every re-send harmless.

Four things cause a notification:

- an achievement unlock (``AchievementUnlocked``),
- a new personal record (``PersonalRecord``, an improvement on an earlier record),
- a distance goal passed in the middle of a workout (from ``WorkoutUpdated``; see
  :data:`DISTANCE_GOALS` and ``WorkoutSession``),
- entering the top N of a weekly distance leaderboard (:class:`WeeklyBoard`).

Each notification's id is a function of its cause only (user, rule, record,
workout and goal, or board), so a duplicate, a crash replay or a full replay
produces the same id again and every consumer keeps one copy.

Entering the top N is decided in event time: the completions known on a board
are swept in end-time order and a user enters when a workout of theirs puts them
in the top N at that instant (see :class:`WeeklyBoard` for what arrival order can
and cannot change). The notification names the board, not the place: the place
at entry depends on which other completions had arrived.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from fitstream.domain.leaderboards import ALL_SPORTS
from fitstream.domain.views import BoardCompletion, WorkoutSummary
from fitstream.domain.windows import LeaderboardWindow


class NotificationKind(StrEnum):
    ACHIEVEMENT = "achievement"
    PERSONAL_RECORD = "personal_record"
    DISTANCE_GOAL = "distance_goal"
    LEADERBOARD_TOP = "leaderboard_top"


class Channel(StrEnum):
    IN_APP = "in_app"  # the inbox view: every notification lands there
    PUSH = "push"
    EMAIL = "email"
    SMS = "sms"


# Distances (metres) announced when a workout passes them, per sport; sports not
# listed use the default. Data, like the achievement catalogue.
DISTANCE_GOALS: dict[str, tuple[float, ...]] = {
    "running": (5000, 10_000, 21_097.5, 42_195),
    "walking": (5000, 10_000),
    "cycling": (20_000, 50_000, 100_000),
    "swimming": (1000, 2000),
}
DEFAULT_DISTANCE_GOALS: tuple[float, ...] = (5000, 10_000)
# How many places a weekly board announces (the seed's "top 10").
TOP_PLACES = 10


def distance_goals(sport: str) -> tuple[float, ...]:
    return DISTANCE_GOALS.get(sport, DEFAULT_DISTANCE_GOALS)


def goals_passed(sport: str, before_m: float, after_m: float) -> list[float]:
    """The goals a distance reading crossed: before < goal <= after."""
    return [goal for goal in distance_goals(sport) if before_m < goal <= after_m]


def _km(metres: float) -> str:
    return f"{metres / 1000:g} km"


def _duration(ms: int) -> str:
    seconds = round(ms / 1000)
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


def _notification(notification_id: str, user_id: str, kind: NotificationKind, title: str,
                  body: str, created_at: int, workout_id: str | None) -> dict[str, Any]:
    return {"notification_id": notification_id, "user_id": user_id, "kind": kind.value,
            "title": title, "body": body, "created_at": created_at,
            "workout_id": workout_id}


def for_unlock(unlocked: dict[str, Any]) -> dict[str, Any]:
    """From an AchievementUnlocked event."""
    return _notification(
        f"n:{unlocked['achievement_id']}", unlocked["user_id"], NotificationKind.ACHIEVEMENT,
        f"Achievement unlocked: {unlocked['title']}",
        f"You earned “{unlocked['title']}”.", unlocked["achieved_at"], unlocked["workout_id"])


def for_record(record: dict[str, Any]) -> dict[str, Any]:
    """From a PersonalRecord event (an improvement: it has a previous time)."""
    distance = _km(record["distance_meters"])
    body = f"Your fastest {distance} is now {_duration(record['elapsed_ms'])}"
    if record["previous_ms"] is not None:
        body += f" (was {_duration(record['previous_ms'])})"
    return _notification(
        f"n:{record['record_id']}", record["user_id"], NotificationKind.PERSONAL_RECORD,
        f"New personal record: {distance}", body + ".", record["achieved_at"],
        record["workout_id"])


@dataclass(frozen=True)
class GoalPassed:
    """A workout's distance crossed one of its sport's goals at ``at`` (event time)."""

    user_id: str
    workout_id: str
    sport: str
    goal_m: float
    at: int


def for_goal(goal: GoalPassed) -> dict[str, Any]:
    distance = _km(goal.goal_m)
    return _notification(
        f"n:{goal.user_id}:goal-{goal.goal_m:g}:{goal.workout_id}", goal.user_id,
        NotificationKind.DISTANCE_GOAL, f"{distance} done!",
        f"You just passed {distance} in your {goal.sport} workout. Keep going!", goal.at,
        goal.workout_id)


@dataclass(frozen=True)
class BoardEntrant:
    """A user entered a board's top places with ``workout_id``, at ``at`` (event time)."""

    board: str
    user_id: str
    workout_id: str
    at: int
    place: int


def for_entrant(entrant: BoardEntrant) -> dict[str, Any]:
    _, period, sport = entrant.board.split("|")
    scope = "all sports" if sport == ALL_SPORTS else sport
    return _notification(
        f"n:{entrant.user_id}:top{TOP_PLACES}:{entrant.board}", entrant.user_id,
        NotificationKind.LEADERBOARD_TOP, f"You're in the weekly top {TOP_PLACES}!",
        f"You are among the top {TOP_PLACES} for distance in {scope} in {period}.", entrant.at,
        entrant.workout_id)


# -- entering a weekly board's top places -------------------------------------------


def weekly_board_keys(summary: WorkoutSummary) -> list[str]:
    """The weekly distance boards a completed workout counts on (its sport, and all)."""
    period = LeaderboardWindow.WEEK.period_of(summary["start_time"])
    return [f"{LeaderboardWindow.WEEK.value}|{period}|{sport}"
            for sport in (summary["sport_type"], ALL_SPORTS)]


def board_completion(board: str, summary: WorkoutSummary) -> BoardCompletion:
    """What a board needs of a completed workout: who, which, when, and how far (mm)."""
    return {"board": board, "user_id": summary["user_id"],
            "workout_id": summary["workout_id"], "end_time": summary["end_time"],
            "distance_mm": round(summary["distance_meters"] * 1000)}


class BoardSweep:
    """The top places of a board swept in event-time order, one completion at a time.

    Totals only grow, and one completion changes one user's total, so only that
    user can enter; the top list is kept sorted and at most ``places`` long.
    """

    __slots__ = ("places", "top", "totals")

    def __init__(self, places: int = TOP_PLACES) -> None:
        self.places = places
        self.totals: dict[str, list[int]] = {}  # user -> [distance_mm, reached_at]
        self.top: list[list[Any]] = []  # [-distance_mm, reached_at, user], ascending

    def step(self, end_time: int, user: str, distance_mm: int) -> int | None:
        """Add the next completion in event-time order; the user's place if in the top."""
        total = self.totals.setdefault(user, [0, 0])
        old_key = [-total[0], total[1], user]
        total[0] += distance_mm
        total[1] = max(total[1], end_time)
        key = [-total[0], total[1], user]
        if old_key in self.top:
            self.top.remove(old_key)
        bisect.insort(self.top, key)
        del self.top[self.places:]
        return self.top.index(key) + 1 if key in self.top else None


class WeeklyBoard:
    """One weekly distance board's completions, and who has been told they entered its top.

    The leaderboard order is the API's: distance descending, then the user whose
    total reached it earlier, then user id. Completions are taken one at a time in
    arrival order: one that sorts after every known completion advances the sweep
    by a step; an earlier one (late, or from a partition that lags) re-sweeps.
    With at most :data:`TOP_PLACES` users on a board the outcome is therefore the
    same for any interleaving of partitions and any batching; with more, whether
    a user near the last place is told can depend on the arrival order (ids stay
    deterministic, so nothing is ever told twice).
    """

    __slots__ = ("board", "completions", "notified", "sweep")

    def __init__(self, board: str) -> None:
        self.board = board
        # [end_time, user_id, workout_id, distance_mm], sorted: the sweep order.
        self.completions: list[list[Any]] = []
        # user_id -> [workout_id, at, place] of the notification sent.
        self.notified: dict[str, list[Any]] = {}
        self.sweep = BoardSweep()

    def to_state(self) -> dict[str, Any]:
        return {"board": self.board, "completions": self.completions, "notified": self.notified,
                "totals": self.sweep.totals, "top": self.sweep.top}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> WeeklyBoard:
        board = cls(state["board"])
        board.completions = state["completions"]
        board.notified = state["notified"]
        board.sweep.totals = state["totals"]
        board.sweep.top = state["top"]
        return board

    def add(self, completions: Iterable[dict[str, Any]]) -> list[BoardEntrant]:
        """Take completions (any order, repeats welcome); return the entrants to announce.

        New entrants come back once. A completion seen before brings back the
        entrant it caused, so a caller that crashed before sending re-sends it.
        """
        # By user and workout id: another user may use the same workout id (sessions are
        # per user), and their completion is their own.
        known = {(row[1], row[2]) for row in self.completions}
        announce = []
        for completion in completions:
            user_id, workout_id = completion["user_id"], completion["workout_id"]
            if (user_id, workout_id) in known:
                sent = self.notified.get(user_id)
                if sent is not None and sent[0] == workout_id:
                    announce.append(BoardEntrant(self.board, user_id, *sent))
                continue
            known.add((user_id, workout_id))
            row = [completion["end_time"], completion["user_id"], workout_id,
                   completion["distance_mm"]]
            if not self.completions or row > self.completions[-1]:
                self.completions.append(row)
                place = self.sweep.step(row[0], row[1], row[3])
                found = [BoardEntrant(self.board, row[1], workout_id, row[0], place)] \
                    if place is not None else []
            else:
                bisect.insort(self.completions, row)
                self.sweep = BoardSweep()
                found = entrants(self.board, self.completions, sweep=self.sweep)
            for entrant in found:
                if entrant.user_id not in self.notified:
                    self.notified[entrant.user_id] = [entrant.workout_id, entrant.at,
                                                      entrant.place]
                    announce.append(entrant)
        return announce


def entrants(board: str, completions: Iterable[list[Any]], places: int = TOP_PLACES,
             sweep: BoardSweep | None = None) -> list[BoardEntrant]:
    """Sweep completions in event-time order: every user a workout put in the top places,
    with the first workout that did."""
    sweep = sweep or BoardSweep(places)
    seen: set[str] = set()
    found = []
    for end_time, user, workout_id, distance_mm in sorted(completions):
        place = sweep.step(end_time, user, distance_mm)
        if place is not None and user not in seen:
            seen.add(user)
            found.append(BoardEntrant(board, user, workout_id, end_time, place))
    return found
