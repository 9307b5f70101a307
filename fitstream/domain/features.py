"""Per-user ML features at a point in time, from completed workouts (pure, engine-free).

One function, :func:`user_features`, so the stream (online features), the batch
backfill (offline features) and a point-in-time training set compute the same values
and cannot skew. A workout is known from the moment it completed: only workouts with
``end_time <= as_of`` count, which is what makes a historical lookup at ``as_of`` equal
to what the stream could have served then.

Windows are trailing: the 7 (28) days ending at ``as_of``, as (as_of - 7 d, as_of].
Training load is moving time; the acute:chronic workload ratio is the 7-day load over
the weekly average of the 28-day load (None without any 28-day load). The streak is the
run of consecutive UTC days with a workout that ends on ``as_of``'s day or the day
before (a streak is still alive until a full day passes without one). Pace is seconds
per km of moving time; heart rate is weighted by moving time, as in the gold table.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

DAY_MS = 86_400_000
FEATURE_NAMES = (
    "distance_7d_m", "distance_28d_m", "moving_time_7d_s", "moving_time_28d_s",
    "workouts_7d", "workouts_28d", "acute_chronic_ratio", "days_since_last_workout",
    "current_streak_days")


def _known(summaries: Iterable[dict[str, Any]], as_of: int) -> list[dict[str, Any]]:
    return sorted((s for s in summaries if s["status"] == "completed"
                   and s["end_time"] is not None and s["end_time"] <= as_of),
                  key=lambda s: s["workout_id"])  # a fixed order for the float sums


def _window(workouts: list[dict[str, Any]], as_of: int, days: int) -> list[dict[str, Any]]:
    return [w for w in workouts if as_of - days * DAY_MS < w["end_time"] <= as_of]


def current_streak(days_with_workouts: set[int], today: int) -> int:
    """Consecutive days ending today, or yesterday if today has none yet."""
    day = today if today in days_with_workouts else today - 1
    streak = 0
    while day in days_with_workouts:
        streak += 1
        day -= 1
    return streak


def user_features(user_id: str, summaries: Iterable[dict[str, Any]], as_of: int,
                  ) -> dict[str, Any]:
    """The feature vector of ``user_id`` at ``as_of`` (epoch ms) from their WorkoutSummary
    dicts (any order, any extra workouts: only completed ones known by then count)."""
    known = _known(summaries, as_of)
    week, month = _window(known, as_of, 7), _window(known, as_of, 28)
    acute = sum(w["moving_duration_ms"] for w in week) / 1000
    chronic = sum(w["moving_duration_ms"] for w in month) / 1000
    by_sport: dict[str, list[dict[str, Any]]] = {}
    for workout in month:
        by_sport.setdefault(workout["sport_type"], []).append(workout)
    pace, heart_rate = {}, {}
    for sport, workouts in sorted(by_sport.items()):
        distance = sum(w["distance_meters"] for w in workouts)
        moving_s = sum(w["moving_duration_ms"] for w in workouts) / 1000
        pace[sport] = moving_s / (distance / 1000) if distance > 0 else None
        with_hr = [(w["avg_heart_rate"], w["moving_duration_ms"]) for w in workouts
                   if w["avg_heart_rate"] is not None]
        weight = sum(ms for _, ms in with_hr)
        heart_rate[sport] = sum(hr * ms for hr, ms in with_hr) / weight if weight else None
    last_end = max((w["end_time"] for w in known), default=None)
    return {
        "user_id": user_id, "as_of": as_of,
        "distance_7d_m": sum(round(w["distance_meters"] * 1000) for w in week) / 1000,
        "distance_28d_m": sum(round(w["distance_meters"] * 1000) for w in month) / 1000,
        "moving_time_7d_s": acute, "moving_time_28d_s": chronic,
        "workouts_7d": len(week), "workouts_28d": len(month),
        "acute_chronic_ratio": acute / (chronic / 4) if chronic > 0 else None,
        "days_since_last_workout": (as_of - last_end) / DAY_MS if last_end is not None
        else None,
        "current_streak_days": current_streak({w["start_time"] // DAY_MS for w in known},
                                              as_of // DAY_MS),
        # Over the last 28 days, per sport.
        "avg_pace_s_per_km_28d": pace,
        "avg_heart_rate_28d": heart_rate,
    }
