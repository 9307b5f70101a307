"""Leaderboards: one user's running totals per window, period and sport, kept incrementally.

A completed workout adds its distance, moving time, calories and one workout to
every (window, period) its start time falls in, for its sport and for ``all``
sports. A cancelled workout never counts. Each workout counts once: the totals
remember which workouts they hold, so a replayed or re-delivered completion
changes nothing.

Ranking happens where the entries of all users meet (the store): value
descending, then the user whose total reached that value earlier, then user id.
:func:`ranking_key` is that order, for any reader that ranks in memory.

A workout is bucketed by its start, but lateness judges its WorkoutCompleted, which
can come days later (a hike with the watch left on). The event bounds tie the two:
an accepted completion's ``start_time`` is at most ``event_bounds.bucket_reach_ms()``
(the longest workout plus the longest end lag, 9 days) before its user's clock minus
the allowed lateness (fitstream/domain/event_time.py). So
:meth:`UserLeaderboardTotals.prune` drops only day, week and month totals that ended
before that horizon: no completion that is not late can change them any more (their
entries are already in the store). Year and all-time totals stay.

The ids of counted workouts (about 50 bytes each) are kept as long as the workout's
session (session_batch.py, retirement): until the user's settled clock is more than the
allowed lateness plus that reach past the workout's ``finished_at`` (the latest of its
end and its last event). Until then a re-delivered completion finds its id and only
re-sends; after, no re-delivery of it can reach the totals (lateness refuses it, the
session is gone), and the only completion that can carry that id again is a new
workout that reused it, which has a later ``finished_at``: a counted id with another
``finished_at`` than the completion's is therefore a different workout, and counts.

A completion for a pruned period must never overwrite the stored entry with a
smaller total (rebuilt from zero, with the same version). Should one still arrive
for a period that ended before the horizon the totals were pruned to, it is not
added to that period: the stored entry stays as it was, and the workout counts in
every period still held (its year and all time).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from enum import StrEnum
from typing import Any

from fitstream.domain.event_bounds import bucket_reach_ms
from fitstream.domain.views import WorkoutSummary
from fitstream.domain.windows import LeaderboardWindow, periods_of

ALL_SPORTS = "all"


class LeaderboardMetric(StrEnum):
    DISTANCE = "distance"  # metres
    MOVING_TIME = "moving_time"  # seconds
    CALORIES = "calories"  # kcal
    WORKOUTS = "workouts"  # count


# Entry fields, in the order a total is kept.
_DISTANCE, _MOVING_MS, _CALORIES, _WORKOUTS, _REACHED_AT = range(5)


def entry_key(window: str, period: str, sport: str) -> str:
    return f"{window}|{period}|{sport}"


# The entry field (and store column) that holds each metric.
METRIC_FIELD = {
    LeaderboardMetric.DISTANCE: "distance_meters",
    LeaderboardMetric.MOVING_TIME: "moving_time_s",
    LeaderboardMetric.CALORIES: "calories",
    LeaderboardMetric.WORKOUTS: "workouts",
}


def metric_value(entry: dict[str, Any], metric: LeaderboardMetric) -> float:
    return entry[METRIC_FIELD[metric]]


def ranking_key(entry: dict[str, Any], metric: LeaderboardMetric) -> tuple[float, int, str]:
    """Sort ascending by this to rank: higher value, then earlier reached, then user id."""
    return (-metric_value(entry, metric), entry["reached_at"], entry["user_id"])


class UserLeaderboardTotals:
    """One user's totals; ``add_workout`` returns the leaderboard entries it changed."""

    __slots__ = ("counted", "pruned_to", "totals", "user_id")

    def __init__(self, user_id: str) -> None:
        self.user_id = user_id
        # workout id -> its last event time, for the workouts already counted.
        self.counted: dict[str, int] = {}
        # entry_key -> [distance_mm, moving_ms, calories_millikcal, workouts, reached_at];
        # integers, so totals are exact whatever order workouts are added in.
        self.totals: dict[str, list[int]] = {}
        # Day, week and month totals that ended at or before this instant may have
        # been pruned: they are never started again from zero.
        self.pruned_to = 0

    def to_state(self) -> dict[str, Any]:
        return {"user_id": self.user_id, "counted": self.counted, "totals": self.totals,
                "pruned_to": self.pruned_to}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> UserLeaderboardTotals:
        totals = cls(state["user_id"])
        totals.counted = state["counted"]
        totals.totals = state["totals"]
        # State stored before pruned_to existed was pruned at most to the old horizon;
        # 0 keeps its behaviour, and the next prune sets it.
        totals.pruned_to = state.get("pruned_to", 0)
        return totals

    def add_workout(self, summary: WorkoutSummary) -> list[dict[str, Any]]:
        """Count a completed WorkoutSummary once; return the entries of its boards.

        A workout already counted changes nothing, but its boards' current entries
        come back again, so a caller re-sends them (see count_completed_workouts).
        """
        workout_id = summary["workout_id"]
        if summary["status"] != "completed":
            return []
        if self.counted.get(workout_id) == finished_at(summary):
            return [self.entry(window, period, sport)
                    for window, period in periods_of(summary["start_time"])
                    for sport in (summary["sport_type"], ALL_SPORTS)
                    if entry_key(window, period, sport) in self.totals]
        reached_at = summary["end_time"]
        self.counted[workout_id] = finished_at(summary)
        distance_mm = round(summary["distance_meters"] * 1000)
        calories = round((summary["calories_burned"] or 0.0) * 1000)
        changed = []
        for window, period in periods_of(summary["start_time"]):
            if self._closed(window, period):
                continue  # see the module docstring: never a smaller total
            for sport in (summary["sport_type"], ALL_SPORTS):
                key = entry_key(window, period, sport)
                total = self.totals.setdefault(key, [0, 0, 0, 0, 0])
                total[_DISTANCE] += distance_mm
                total[_MOVING_MS] += summary["moving_duration_ms"]
                total[_CALORIES] += calories
                total[_WORKOUTS] += 1
                # Order-independent: the latest completion among the counted workouts.
                total[_REACHED_AT] = max(total[_REACHED_AT], reached_at)
                changed.append(self.entry(window, period, sport))
        return changed

    def entry(self, window: str, period: str, sport: str) -> dict[str, Any]:
        total = self.totals[entry_key(window, period, sport)]
        return {
            "window": window, "period": period, "sport": sport, "user_id": self.user_id,
            "distance_meters": total[_DISTANCE] / 1000,
            "moving_time_s": total[_MOVING_MS] / 1000,
            "calories": total[_CALORIES] / 1000,
            "workouts": total[_WORKOUTS],
            "reached_at": total[_REACHED_AT],
            # Totals only grow, so the count of workouts orders an entry's versions.
            "version": total[_WORKOUTS],
        }

    def _closed(self, window: str, period: str) -> bool:
        """A day, week or month that ended where its total may have been pruned."""
        if window not in _PRUNED_WINDOWS or not self.pruned_to:
            return False
        bounds = LeaderboardWindow(window).bounds(period)
        return bounds is not None and bounds[1] <= self.pruned_to

    def prune(self, settled_clock: int, allowed_lateness_ms: int) -> None:
        """Forget day, week and month totals that no completion within lateness (and
        within the event bounds) can change any more: see the module docstring."""
        horizon = settled_clock - allowed_lateness_ms - bucket_reach_ms()
        if horizon <= self.pruned_to:
            return  # a replay's rewound clock: nothing more to forget
        self.pruned_to = horizon
        for key in list(self.totals):
            window, period, _ = key.split("|")
            if window in _PRUNED_WINDOWS and self._closed(window, period):
                del self.totals[key]
        # The ids of retired workouts (see the module docstring).
        self.counted = forget_retired(self.counted, horizon)


def finished_at(summary: WorkoutSummary) -> int:
    """A completed workout's ``WorkoutSession.finished_at``: what a counted id holds."""
    return max(summary["end_time"] or 0, summary["last_event_at"])


def forget_retired(counted: dict[str, int], horizon: int) -> dict[str, int]:
    """The counted ids of workouts not yet retired: ``horizon`` is the settled clock
    minus the retirement horizon (session_batch.retirement_horizon_ms)."""
    return {w: at for w, at in counted.items() if at >= horizon}


_PRUNED_WINDOWS = frozenset({LeaderboardWindow.DAY, LeaderboardWindow.WEEK,
                             LeaderboardWindow.MONTH})

TotalsLoader = Callable[[str], "UserLeaderboardTotals | None"]
"""Returns a user's stored totals, or None if there are none."""


def count_completed_workouts(
    summaries: Iterable[WorkoutSummary], load: TotalsLoader, settled_clock: Callable[[str], int],
    allowed_lateness_ms: int,
) -> tuple[dict[str, UserLeaderboardTotals], list[dict[str, Any]]]:
    """Add completed workouts to their users' totals.

    Pass the summary of every session a batch touched, changed or not: a workout
    is counted when its user's totals do not hold it yet, and a workout already
    counted returns its boards' entries again. Either way a crash between storing
    state and sending entries heals when the batch is replayed.
    Returns the totals to store and the entries to send, the latest per board. Each
    user's closed day, week and month totals are pruned against their own settled clock
    (``settled_clock``: fitstream/domain/event_time.py).
    """
    users: dict[str, UserLeaderboardTotals] = {}
    entries: dict[tuple[str, str, str, str], dict[str, Any]] = {}
    for summary in summaries:
        if summary["status"] != "completed":
            continue
        user_id = summary["user_id"]
        totals = users.get(user_id)
        if totals is None:
            totals = load(user_id) or UserLeaderboardTotals(user_id)
        users[user_id] = totals
        for entry in totals.add_workout(summary):
            entries[(entry["window"], entry["period"], entry["sport"], user_id)] = entry
    for user_id, totals in users.items():
        totals.prune(settled_clock(user_id), allowed_lateness_ms)
    return users, list(entries.values())
