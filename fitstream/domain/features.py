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
before (a streak is still alive until a full day passes without one), counted up to
:data:`MAX_STREAK_DAYS`. Pace is seconds per km of moving time; heart rate is weighted
by moving time, as in the gold table.

:class:`UserFeatureHistory` is the stream's side: the little a user's features need
(28 days of workouts, a year of active days), and the rule that gives every feature
row its event time. :func:`flat_feature_row` is the row the feature store holds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from fitstream.domain.events import SPORT_TYPES
from fitstream.domain.views import WorkoutSummary

DAY_MS = 86_400_000
MAX_STREAK_DAYS = 365
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
    """Consecutive days ending today, or yesterday if today has none yet (at most
    :data:`MAX_STREAK_DAYS`: the stream keeps a year of active days, no more)."""
    day = today if today in days_with_workouts else today - 1
    streak = 0
    while day in days_with_workouts and streak < MAX_STREAK_DAYS:
        streak += 1
        day -= 1
    return streak


def user_features(user_id: str, summaries: Iterable[dict[str, Any]], as_of: int,
                  active_days: Iterable[int] = ()) -> dict[str, Any]:
    """The feature vector of ``user_id`` at ``as_of`` (epoch ms) from their WorkoutSummary
    dicts (any order, any extra workouts: only completed ones known by then count).

    ``active_days`` are further UTC day numbers with a workout known by ``as_of``, for
    the streak only (the stream's history keeps a year of days but 28 days of workouts).
    """
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
        "current_streak_days": current_streak(
            {w["start_time"] // DAY_MS for w in known} | set(active_days), as_of // DAY_MS),
        # Over the last 28 days, per sport.
        "avg_pace_s_per_km_28d": pace,
        "avg_heart_rate_28d": heart_rate,
    }


# --- The feature store's row -------------------------------------------------------

PER_SPORT_FEATURES = tuple(
    f"{name}_{sport}" for sport in SPORT_TYPES
    for name in ("avg_pace_s_per_km_28d", "avg_heart_rate_28d"))
FLAT_FEATURE_NAMES = FEATURE_NAMES + PER_SPORT_FEATURES
"""Every feature of a row, in a fixed order: the Feast schema and the Avro contract."""


def flat_feature_row(features: dict[str, Any]) -> dict[str, Any]:
    """The per-sport dicts spread into one column per sport (None where no workout)."""
    row = {"user_id": features["user_id"], "as_of": features["as_of"]}
    row.update({name: features[name] for name in FEATURE_NAMES})
    for sport in SPORT_TYPES:
        row[f"avg_pace_s_per_km_28d_{sport}"] = features["avg_pace_s_per_km_28d"].get(sport)
        row[f"avg_heart_rate_28d_{sport}"] = features["avg_heart_rate_28d"].get(sport)
    return row


# --- The stream's per-user history -------------------------------------------------

HISTORY_FIELDS = ("workout_id", "sport_type", "status", "start_time", "end_time",
                  "moving_duration_ms", "distance_meters", "avg_heart_rate")
MIN_ROW_STEP_MS = 1_000
WINDOW_MS = 28 * DAY_MS
# How far behind the latest row a row can still be made again exactly (see add_workout).
REPRODUCIBLE_MS = 7 * DAY_MS


class UserFeatureHistory:
    """What one user's features need, and when each feature row happens.

    A row is computed when a workout completes that the history did not know. Its event
    time is the workout's end, or one second after the user's previous row if that is
    later (a workout synced late, or two ending in the same second): row times strictly
    increase per user, by at least a second. That is what keeps online and offline
    equal: an online store keeps the row with the latest event time (Redis compares
    whole timestamps and skips equal ones), and a point-in-time lookup at a row's time
    finds that row. A late workout therefore shows in the next row, not in rows
    already written, which is also what the stream could have known then.

    Each workout remembers the time of the row it caused (``row_at``), and rows arrive
    in that order, so the history as it stood at any of its rows is the workouts with
    ``row_at`` up to it. A re-delivered completion re-sends its own row, made again from
    that, then the current row (so a user's rows on the log always end on the latest):
    after a crash between saving this state and sending, the replayed batch sends every
    row that was lost, and the offline table equals a replay from offset 0.
    Exact for rows up to :data:`REPRODUCIBLE_MS` behind the latest (the workouts of
    their windows are kept that much longer); older re-deliveries re-send the current
    row only. Kept: workouts that ended within 28 + 7 days of the latest row, and a year
    and 7 days of active days for the streak.
    """

    __slots__ = ("active_days", "last_row_at", "user_id", "workouts")

    def __init__(self, user_id: str, workouts: dict[str, dict[str, Any]] | None = None,
                 active_days: Iterable[int] = (), last_row_at: int | None = None) -> None:
        self.user_id = user_id
        self.workouts: dict[str, dict[str, Any]] = dict(workouts or {})
        self.active_days: set[int] = set(active_days)
        self.last_row_at = last_row_at

    def to_state(self) -> dict[str, Any]:
        return {"user_id": self.user_id, "workouts": self.workouts,
                "active_days": sorted(self.active_days), "last_row_at": self.last_row_at}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> UserFeatureHistory:
        return cls(state["user_id"], state["workouts"], state["active_days"],
                   state["last_row_at"])

    def row_at(self, at: int) -> dict[str, Any]:
        """The row made at ``at`` (a time some workout's row was made): the workouts known
        then, and the active days except those only later workouts brought."""
        known = [w for w in self.workouts.values() if w["row_at"] <= at]
        later_days = {w["start_time"] // DAY_MS for w in self.workouts.values()
                      if w["row_at"] > at}
        days = (self.active_days - later_days) | {w["start_time"] // DAY_MS for w in known}
        return flat_feature_row(user_features(self.user_id, known, at, days))

    def add_workout(self, summary: WorkoutSummary) -> list[dict[str, Any]]:
        """The feature rows to send for this completed workout, in order: its new row; or,
        known already, its own row again (if still reproducible) and the current row."""
        if summary["status"] != "completed" or summary["end_time"] is None:
            return []
        known = self.workouts.get(summary["workout_id"])
        if known is not None or self._forgotten(summary):
            assert self.last_row_at is not None
            current = self.row_at(self.last_row_at)
            if known is None or known["row_at"] == self.last_row_at or \
                    known["row_at"] < self.last_row_at - REPRODUCIBLE_MS:
                return [current]
            return [self.row_at(known["row_at"]), current]
        at = summary["end_time"] if self.last_row_at is None \
            else max(summary["end_time"], self.last_row_at + MIN_ROW_STEP_MS)
        self.workouts[summary["workout_id"]] = {
            **{field: summary[field] for field in HISTORY_FIELDS}, "row_at": at}
        self.active_days.add(summary["start_time"] // DAY_MS)
        self.last_row_at = at
        self._prune(at)
        return [self.row_at(at)]

    def _forgotten(self, summary: WorkoutSummary) -> bool:
        """Too old to change any window, and its day already counts for the streak: a
        re-delivered completion whose workout was pruned, or one that changes nothing."""
        return (self.last_row_at is not None
                and summary["end_time"] <= self.last_row_at - WINDOW_MS
                and summary["start_time"] // DAY_MS in self.active_days)

    def _prune(self, at: int) -> None:
        self.workouts = {w: s for w, s in self.workouts.items()
                         if s["end_time"] > at - WINDOW_MS - REPRODUCIBLE_MS}
        first_day = (at - REPRODUCIBLE_MS) // DAY_MS - MAX_STREAK_DAYS
        self.active_days = {d for d in self.active_days if d >= first_day}


FeatureHistoryLoader = Callable[[str], UserFeatureHistory | None]
"""Returns a user's stored feature history, or None if there is none."""


def apply_completed_to_features(
    summaries: Iterable[WorkoutSummary], load: FeatureHistoryLoader,
) -> tuple[dict[str, UserFeatureHistory], list[dict[str, Any]]]:
    """Feed touched completed workouts, in completion order, to their users' histories:
    the histories to store and the feature rows to send, in order."""
    histories: dict[str, UserFeatureHistory] = {}
    rows: list[dict[str, Any]] = []
    for summary in summaries:
        if summary["status"] != "completed":
            continue
        user_id = summary["user_id"]
        history = histories.get(user_id) or load(user_id) or UserFeatureHistory(user_id)
        histories[user_id] = history
        rows += history.add_workout(summary)
    return histories, rows


# --- Training labels ------------------------------------------------------------------

LABEL_HORIZON_DAYS = 7


def snapshot_days(first_row_at: int, data_end: int, horizon_days: int = LABEL_HORIZON_DAYS,
                  ) -> range:
    """UTC day numbers whose midnight is a training snapshot for a user: from the first
    midnight after the user's first feature row, while the label window (midnight,
    midnight + horizon] has ended by ``data_end`` (the latest workout end known)."""
    return range(first_row_at // DAY_MS + 1, (data_end - horizon_days * DAY_MS) // DAY_MS + 1)


def next_days_distance_m(summaries: Iterable[dict[str, Any]], at: int,
                         horizon_days: int = LABEL_HORIZON_DAYS) -> float:
    """The label: metres of completed workouts ending in (at, at + horizon], summed in
    whole millimetres so any summation order gives the same value."""
    end = at + horizon_days * DAY_MS
    return sum(round(s["distance_meters"] * 1000) for s in summaries
               if s["status"] == "completed" and s["end_time"] is not None
               and at < s["end_time"] <= end) / 1000
