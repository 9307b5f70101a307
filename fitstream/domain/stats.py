"""WorkoutStats: one user's totals for a sport and period, records, and 12 weeks of activity.

Two ways to the same answer:

- :func:`user_stats` computes it from the user's completed WorkoutSummaries (a user has
  hundreds, not millions);
- :func:`stats_from_totals` assembles it from totals the processor already keeps
  incrementally: the user's leaderboard entries (fitstream/domain/leaderboards.py) hold,
  per window, period and sport, exactly the workouts, distance, moving time and calories
  of the completed workouts that started in it, summed in integer mm, ms and
  millikcal. Only the personal records (:func:`personal_records`) need the summaries.

The totals of both agree to the millimetre, millisecond and millikcal (``user_stats``
rounds its float sums to 3 decimals; the entries sum rounded integers). One case
differs by design: a completion accepted after the processor pruned its day, week or
month totals is not added to those periods' entries (leaderboards.py), so the entries'
answer is the leaderboards' answer for that period.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

from fitstream.domain.leaderboards import ALL_SPORTS
from fitstream.domain.windows import LeaderboardWindow

WEEK_MS = 7 * 86_400_000
ACTIVITY_WEEKS = 12
RECORD_FIELDS = {"1k": "best_1k_ms", "5k": "best_5k_ms", "10k": "best_10k_ms"}
# The sport whose workouts hold personal records (best efforts are timed on runs).
RECORD_SPORT = "running"

Totals = dict[str, Any]
"""A user's entry for a board: workouts, distance_meters, moving_time_s, calories."""


def _totals(workouts: list[dict[str, Any]]) -> dict[str, Any]:
    distance = sum(w["distance_meters"] for w in workouts)
    moving_ms = sum(w["moving_duration_ms"] for w in workouts)
    return {
        "workouts": len(workouts),
        "distance_meters": round(distance, 3),
        "moving_time_s": moving_ms / 1000,
        "calories": round(sum(w["calories_burned"] or 0.0 for w in workouts), 3),
        "avg_speed_mps": distance * 1000 / moving_ms if moving_ms else None,
    }


def _entry_totals(entry: Totals | None) -> dict[str, Any]:
    if entry is None:
        return _totals([])
    moving_ms = round(entry["moving_time_s"] * 1000)
    distance = entry["distance_meters"]
    return {
        "workouts": entry["workouts"],
        "distance_meters": distance,
        "moving_time_s": moving_ms / 1000,
        "calories": entry["calories"],
        "avg_speed_mps": distance * 1000 / moving_ms if moving_ms else None,
    }


def personal_records(summaries: list[dict[str, Any]]) -> dict[str, Any]:
    """The fastest 1, 5 and 10 km among the completed running summaries (ties: the
    smaller workout id)."""
    runs = [s for s in summaries if s["status"] == "completed"
            and s["sport_type"] == RECORD_SPORT]
    records = {}
    for name, field in RECORD_FIELDS.items():
        timed = [s for s in runs if s.get(field) is not None]
        best = min(timed, key=lambda s: (s[field], s["workout_id"]), default=None)
        records[name] = None if best is None else {"elapsed_s": best[field] / 1000,
                                                   "workout_id": best["workout_id"]}
    return records


def records_for_sport(records: dict[str, Any], sport: str) -> dict[str, Any]:
    """Records count for ``all`` sports and for running; other sports have none."""
    return records if sport in (ALL_SPORTS, RECORD_SPORT) else dict.fromkeys(RECORD_FIELDS)


@lru_cache(maxsize=4096)
def activity_weeks(window: LeaderboardWindow, period: str) -> tuple[str, ...]:
    """The 12 ISO weeks of a bounded period's activity, oldest first, ending with the
    week that holds the period's last day."""
    bounds = window.bounds(period)
    if bounds is None:
        raise ValueError("the all-time window's weeks end at the latest workout")
    return _weeks_ending(bounds[1] - 1)


def _weeks_ending(moment_ms: int) -> tuple[str, ...]:
    week = LeaderboardWindow.WEEK
    last_week_start = week.bounds(week.period_of(moment_ms))[0]
    return tuple(week.period_of(last_week_start - back * WEEK_MS)
                 for back in range(ACTIVITY_WEEKS - 1, -1, -1))


def user_stats(summaries: list[dict[str, Any]], sport: str, window: LeaderboardWindow,
               period: str) -> dict[str, Any]:
    """``summaries`` are WorkoutSummary dicts of one user; only completed ones count."""
    done = [s for s in summaries if s["status"] == "completed"
            and (sport == ALL_SPORTS or s["sport_type"] == sport)]
    in_period = [s for s in done if window.period_of(s["start_time"]) == period]
    records = records_for_sport(personal_records(done), sport)
    weeks = (activity_weeks(window, period) if window is not LeaderboardWindow.ALL else
             _weeks_ending(max((s["start_time"] for s in done), default=0)))
    by_week: dict[str, list[dict[str, Any]]] = {week: [] for week in weeks}
    for s in done:
        week_workouts = by_week.get(LeaderboardWindow.WEEK.period_of(s["start_time"]))
        if week_workouts is not None:
            week_workouts.append(s)
    activity = [{"week": week, **_totals(by_week[week])} for week in weeks]
    return {"sport": sport, "window": window.value, "period": period,
            "totals": _totals(in_period), "personal_records": records,
            "weekly_activity": activity}


def stats_from_totals(totals: Callable[[LeaderboardWindow, str], Totals | None],
                      records: dict[str, Any], sport: str, window: LeaderboardWindow,
                      period: str) -> dict[str, Any]:
    """The same answer as :func:`user_stats`, from the user's entries: ``totals(window,
    period)`` is the user's entry on that board of ``sport``, or None if they have none;
    ``records`` are :func:`personal_records` of their summaries. For bounded windows only
    (the all-time window's weeks end at the user's latest workout, which no entry holds)."""
    return {"sport": sport, "window": window.value, "period": period,
            "totals": _entry_totals(totals(window, period)),
            "personal_records": records_for_sport(records, sport),
            "weekly_activity": [
                {"week": week, **_entry_totals(totals(LeaderboardWindow.WEEK, week))}
                for week in activity_weeks(window, period)]}
