"""WorkoutStats: one user's totals for a sport and period, records, and 12 weeks of activity.

Computed from the user's completed WorkoutSummaries (a user has hundreds, not
millions), so the view is exact and needs no state of its own.
"""

from __future__ import annotations

from typing import Any

from fitstream.domain.leaderboards import ALL_SPORTS
from fitstream.domain.windows import LeaderboardWindow

WEEK_MS = 7 * 86_400_000
ACTIVITY_WEEKS = 12
RECORD_FIELDS = {"1k": "best_1k_ms", "5k": "best_5k_ms", "10k": "best_10k_ms"}


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


def user_stats(summaries: list[dict[str, Any]], sport: str, window: LeaderboardWindow,
               period: str) -> dict[str, Any]:
    """``summaries`` are WorkoutSummary dicts of one user; only completed ones count."""
    done = [s for s in summaries if s["status"] == "completed"
            and (sport == ALL_SPORTS or s["sport_type"] == sport)]
    in_period = [s for s in done if window.period_of(s["start_time"]) == period]
    records = {}
    for name, field in RECORD_FIELDS.items():
        timed = [s for s in done if s.get(field) is not None and s["sport_type"] == "running"]
        best = min(timed, key=lambda s: (s[field], s["workout_id"]), default=None)
        records[name] = None if best is None else {"elapsed_s": best[field] / 1000,
                                                   "workout_id": best["workout_id"]}
    bounds = window.bounds(period)
    last_week_start = LeaderboardWindow.WEEK.bounds(LeaderboardWindow.WEEK.period_of(
        bounds[1] - 1 if bounds else max((s["start_time"] for s in done), default=0)))[0]
    activity = []
    for back in range(ACTIVITY_WEEKS - 1, -1, -1):
        week = LeaderboardWindow.WEEK.period_of(last_week_start - back * WEEK_MS)
        week_workouts = [s for s in done
                         if LeaderboardWindow.WEEK.period_of(s["start_time"]) == week]
        activity.append({"week": week, **_totals(week_workouts)})
    return {"sport": sport, "window": window.value, "period": period,
            "totals": _totals(in_period), "personal_records": records,
            "weekly_activity": activity}
