"""Per user, UTC day and sport: the totals of completed workouts (the lakehouse's gold view).

A pure function of the completed workouts, so the streaming sink and a batch
backfill give the same rows. The day is the workout's start day (UTC), as for
the day leaderboards. Average heart rate is weighted by moving time, so a long
workout counts for more than a short one; workouts without heart rate do not
count towards it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any


def utc_day(epoch_ms: int) -> str:
    return f"{datetime.fromtimestamp(epoch_ms / 1000, UTC):%Y-%m-%d}"


def user_daily_rows(summaries: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (user, day, sport) of the completed workouts among ``summaries``
    (WorkoutSummary fields), sorted by those keys."""
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for summary in summaries:
        if summary["status"] == "completed":
            key = (summary["user_id"], utc_day(summary["start_time"]), summary["sport_type"])
            groups.setdefault(key, []).append(summary)
    rows = []
    for (user_id, day, sport), workouts in sorted(groups.items()):
        workouts.sort(key=lambda w: w["workout_id"])  # a fixed order for the float sums
        with_hr = [(w["avg_heart_rate"], w["moving_duration_ms"]) for w in workouts
                   if w["avg_heart_rate"] is not None]
        weight = sum(ms for _, ms in with_hr)
        rows.append({
            "user_id": user_id, "day": day, "sport": sport,
            # integer millimetres and milli-kcal summed, so any order gives the same total
            "distance_meters": sum(round(w["distance_meters"] * 1000) for w in workouts) / 1000,
            "moving_time_s": sum(w["moving_duration_ms"] for w in workouts) / 1000,
            "workouts": len(workouts),
            "calories": sum(round((w["calories_burned"] or 0) * 1000) for w in workouts) / 1000,
            "avg_heart_rate": (sum(hr * ms for hr, ms in with_hr) / weight) if weight else None,
        })
    return rows
