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
from fitstream.domain.workout_kind import INTENSITIES, intensity, sport_of

DAY_MS = 86_400_000
HOUR_MS = 3_600_000
MAX_STREAK_DAYS = 365
BEST_EFFORT_DAYS = 90
LAST_K = 3
BEST_EFFORTS = (("best_1k_s_90d", "best_1k_ms"), ("best_5k_s_90d", "best_5k_ms"),
                ("best_10k_s_90d", "best_10k_ms"))
LAST_WORKOUT_FEATURES = tuple(
    f"last_{k}_{name}" for k in range(1, LAST_K + 1)
    for name in ("sport_index", "duration_s", "intensity_index", "start_hour"))
RUNNING_FEATURES = (*(name for name, _ in BEST_EFFORTS), "running_distance_28d_m",
                    "longest_run_28d_m")
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


def best_efforts_s(running: Iterable[dict[str, Any]], as_of: int) -> dict[str, float | None]:
    """The fastest 1 km / 5 km / 10 km best effort, in seconds, among ``running``
    workouts (completed, known by ``as_of``) ending in (as_of - 90 d, as_of]; None when
    none of them has that effort. A workout without the ``best_*_ms`` fields (a v1
    summary) has no efforts."""
    recent = _window(list(running), as_of, BEST_EFFORT_DAYS)
    best: dict[str, float | None] = {}
    for feature, field in BEST_EFFORTS:
        efforts = [w[field] for w in recent if w.get(field) is not None]
        best[feature] = min(efforts) / 1000 if efforts else None
    return best


def last_workouts(known: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """The :data:`LAST_K` latest workouts by (end_time, workout_id), last_1 the latest:
    sport (index in SPORT_TYPES, unlisted sports as ``other``), moving seconds,
    intensity (index in INTENSITIES, by average heart rate) and the UTC hour of the
    start; None for each feature of a workout the user does not have."""
    latest = sorted(known, key=lambda w: (w["end_time"], w["workout_id"]), reverse=True)
    row: dict[str, Any] = {}
    for k in range(1, LAST_K + 1):
        w = latest[k - 1] if k <= len(latest) else None
        row[f"last_{k}_sport_index"] = None if w is None else \
            SPORT_TYPES.index(sport_of(w["sport_type"]))
        row[f"last_{k}_duration_s"] = None if w is None else w["moving_duration_ms"] / 1000
        row[f"last_{k}_intensity_index"] = None if w is None else \
            INTENSITIES.index(intensity(w["avg_heart_rate"]))
        row[f"last_{k}_start_hour"] = None if w is None else w["start_time"] // HOUR_MS % 24
    return row


def user_features(user_id: str, summaries: Iterable[dict[str, Any]], as_of: int,
                  active_days: Iterable[int] = (),
                  efforts: Iterable[dict[str, Any]] = ()) -> dict[str, Any]:
    """The feature vector of ``user_id`` at ``as_of`` (epoch ms) from their WorkoutSummary
    dicts (any order, any extra workouts: only completed ones known by then count).

    ``active_days`` are further UTC day numbers with a workout known by ``as_of``, for
    the streak only (the stream's history keeps a year of days but 28 days of workouts).
    ``efforts`` are further completed running workouts known by ``as_of``, each at least
    ``workout_id``, ``end_time`` and the ``best_*_ms`` fields, for the 90-day best
    efforts only (the stream keeps 90 days of these compact records, not of workouts);
    one also among ``summaries`` counts once.
    """
    known = _known(summaries, as_of)
    week, month = _window(known, as_of, 7), _window(known, as_of, 28)
    running = {w["workout_id"]: w for w in known if w["sport_type"] == "running"}
    for effort in efforts:
        if effort["end_time"] <= as_of:
            running[effort["workout_id"]] = effort  # the same workout counts once
    runs_28d = [w for w in month if w["sport_type"] == "running"]
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
        **best_efforts_s(running.values(), as_of),
        "running_distance_28d_m": sum(round(w["distance_meters"] * 1000)
                                      for w in runs_28d) / 1000,
        "longest_run_28d_m": float(max((w["distance_meters"] for w in runs_28d),
                                       default=0.0)),
        **last_workouts(known),
    }


# --- The feature store's row -------------------------------------------------------

PER_SPORT_FEATURES = tuple(
    f"{name}_{sport}" for sport in SPORT_TYPES
    for name in ("avg_pace_s_per_km_28d", "avg_heart_rate_28d"))
FORECAST_V1_FEATURES = (
    "distance_7d_m", "distance_28d_m", "moving_time_7d_s", "moving_time_28d_s",
    "workouts_7d", "workouts_28d", "acute_chronic_ratio", "days_since_last_workout",
    "current_streak_days",
    "avg_pace_s_per_km_28d_running", "avg_heart_rate_28d_running",
    "avg_pace_s_per_km_28d_cycling", "avg_heart_rate_28d_cycling",
    "avg_pace_s_per_km_28d_walking", "avg_heart_rate_28d_walking",
    "avg_pace_s_per_km_28d_swimming", "avg_heart_rate_28d_swimming",
    "avg_pace_s_per_km_28d_hiking", "avg_heart_rate_28d_hiking",
    "avg_pace_s_per_km_28d_rowing", "avg_heart_rate_28d_rowing",
    "avg_pace_s_per_km_28d_other", "avg_heart_rate_28d_other")
"""The v1 row's features (UserFeatures v1), frozen forever: the weekly distance
forecast's service. Spelled out so a change to the names above cannot move it."""

FLAT_FEATURE_NAMES = FEATURE_NAMES + PER_SPORT_FEATURES + RUNNING_FEATURES + \
    LAST_WORKOUT_FEATURES
"""Every feature of a row, in a fixed order: the Feast schema and the Avro contract
(v2 appends the running and last-workout features to v1's)."""

INTEGER_FEATURES = frozenset((
    "workouts_7d", "workouts_28d", "current_streak_days",
    *(name for name in LAST_WORKOUT_FEATURES if not name.endswith("_duration_s"))))
"""The features that are whole numbers (Avro long, Arrow int64, Feast Int64); the rest
are floats. The last_* ones are None for a user with fewer workouts."""

RACE_TIME_FEATURES = (
    "best_1k_s_90d", "best_5k_s_90d", "best_10k_s_90d", "running_distance_28d_m",
    "longest_run_28d_m", "distance_7d_m", "distance_28d_m", "workouts_28d",
    "acute_chronic_ratio", "avg_pace_s_per_km_28d_running", "avg_heart_rate_28d_running")
"""The race-time model's service (race_time_v1)."""

NEXT_WORKOUT_FEATURES = (
    *LAST_WORKOUT_FEATURES, "workouts_7d", "workouts_28d", "days_since_last_workout", "current_streak_days",
    "acute_chronic_ratio", "distance_7d_m", "moving_time_7d_s")
"""The next-workout recommender's service (next_workout_v1)."""


def flat_feature_row(features: dict[str, Any]) -> dict[str, Any]:
    """The per-sport dicts spread into one column per sport (None where no workout);
    the row's keys are user_id, as_of and :data:`FLAT_FEATURE_NAMES` in order."""
    row = {"user_id": features["user_id"], "as_of": features["as_of"]}
    row.update({name: features[name] for name in FEATURE_NAMES})
    for sport in SPORT_TYPES:
        row[f"avg_pace_s_per_km_28d_{sport}"] = features["avg_pace_s_per_km_28d"].get(sport)
        row[f"avg_heart_rate_28d_{sport}"] = features["avg_heart_rate_28d"].get(sport)
    row.update({name: features[name] for name in RUNNING_FEATURES + LAST_WORKOUT_FEATURES})
    return row


# --- The stream's per-user history -------------------------------------------------

HISTORY_FIELDS = ("workout_id", "sport_type", "status", "start_time", "end_time",
                  "moving_duration_ms", "distance_meters", "avg_heart_rate")
EFFORT_FIELDS = ("best_1k_ms", "best_5k_ms", "best_10k_ms")
MIN_ROW_STEP_MS = 1_000
WINDOW_MS = 28 * DAY_MS
EFFORT_WINDOW_MS = BEST_EFFORT_DAYS * DAY_MS
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
    Exact for rows up to :data:`REPRODUCIBLE_MS` behind the latest: every record below
    is kept that much longer than the latest row alone needs; older re-deliveries
    re-send the current row only.

    Kept, and why (``at`` is the latest row's time):

    - ``workouts``: whole (HISTORY_FIELDS) records of the workouts ending after
      at - 28 d - 7 d (the 7/28-day windows of rows up to 7 days back), of every workout
      whose row is at most 7 days old (any of them may be among the latest three at some
      row up to 7 days back, however old its end), and of the :data:`LAST_K` latest by
      (end_time, workout_id) among the older-row ones: the last_* features of a row at
      any t >= at - 7 d are among those, however long ago the user last trained.
    - ``efforts``: for completed running workouts with a best effort, a compact record
      (workout_id, end_time, row_at, the three best_*_ms) while it ended after
      at - 90 d - 7 d: the 90-day best efforts of rows up to 7 days back. Whole workouts
      for 97 days would be three times the state for three numbers each.
    - ``active_days``: a year and 7 days of active days, for the streak.

    A completion is forgotten (no row, not kept) only if it can change no feature of
    any row from now on (see :meth:`_forgotten`).
    """

    __slots__ = ("active_days", "efforts", "last_row_at", "user_id", "workouts")

    def __init__(self, user_id: str, workouts: dict[str, dict[str, Any]] | None = None,
                 active_days: Iterable[int] = (), last_row_at: int | None = None,
                 efforts: dict[str, dict[str, Any]] | None = None) -> None:
        self.user_id = user_id
        self.workouts: dict[str, dict[str, Any]] = dict(workouts or {})
        self.active_days: set[int] = set(active_days)
        self.last_row_at = last_row_at
        self.efforts: dict[str, dict[str, Any]] = dict(efforts or {})

    def to_state(self) -> dict[str, Any]:
        return {"user_id": self.user_id, "workouts": self.workouts,
                "active_days": sorted(self.active_days), "last_row_at": self.last_row_at,
                "efforts": self.efforts}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> UserFeatureHistory:
        """A stored history; one stored before the best efforts has none (its users'
        best efforts start from their next running workouts)."""
        return cls(state["user_id"], state["workouts"], state["active_days"],
                   state["last_row_at"], state.get("efforts"))

    def row_at(self, at: int) -> dict[str, Any]:
        """The row made at ``at`` (a time some workout's row was made): the workouts known
        then, and the active days except those only later workouts brought."""
        known = [w for w in self.workouts.values() if w["row_at"] <= at]
        later_days = {w["start_time"] // DAY_MS for w in self.workouts.values()
                      if w["row_at"] > at}
        days = (self.active_days - later_days) | {w["start_time"] // DAY_MS for w in known}
        efforts = [e for e in self.efforts.values() if e["row_at"] <= at]
        return flat_feature_row(user_features(self.user_id, known, at, days, efforts))

    def add_workout(self, summary: WorkoutSummary) -> list[dict[str, Any]]:
        """The feature rows to send for this completed workout, in order: its new row; or,
        known already, its own row again (if still reproducible) and the current row."""
        if summary["status"] != "completed" or summary["end_time"] is None:
            return []
        workout_id = summary["workout_id"]
        known = self.workouts.get(workout_id) or self.efforts.get(workout_id)
        if known is not None or self._forgotten(summary):
            assert self.last_row_at is not None
            current = self.row_at(self.last_row_at)
            if known is None or known["row_at"] == self.last_row_at or \
                    known["row_at"] < self.last_row_at - REPRODUCIBLE_MS:
                return [current]
            return [self.row_at(known["row_at"]), current]
        at = summary["end_time"] if self.last_row_at is None \
            else max(summary["end_time"], self.last_row_at + MIN_ROW_STEP_MS)
        self.workouts[workout_id] = {
            **{field: summary[field] for field in HISTORY_FIELDS}, "row_at": at}
        if _has_efforts(summary):
            self.efforts[workout_id] = {
                "workout_id": workout_id, "end_time": summary["end_time"], "row_at": at,
                **{field: summary.get(field) for field in EFFORT_FIELDS}}
        self.active_days.add(summary["start_time"] // DAY_MS)
        self.last_row_at = at
        self._prune(at)
        return [self.row_at(at)]

    def _forgotten(self, summary: WorkoutSummary) -> bool:
        """Can change no feature of any row from now on: too old for the 28-day windows
        and (if a running workout with efforts) for the 90-day ones, its day already
        counts for the streak, and at least LAST_K kept workouts are later. That is a
        re-delivered completion whose records were pruned, or one that changes nothing."""
        if self.last_row_at is None or summary["end_time"] > self.last_row_at - WINDOW_MS \
                or summary["start_time"] // DAY_MS not in self.active_days:
            return False
        if _has_efforts(summary) and \
                summary["end_time"] > self.last_row_at - EFFORT_WINDOW_MS:
            return False
        key = (summary["end_time"], summary["workout_id"])
        return sum((w["end_time"], w["workout_id"]) > key
                   for w in self.workouts.values()) >= LAST_K

    def _prune(self, at: int) -> None:
        settled = at - REPRODUCIBLE_MS  # rows from here on stay reproducible
        older = sorted((w for w in self.workouts.values() if w["row_at"] < settled),
                       key=lambda w: (w["end_time"], w["workout_id"]), reverse=True)
        latest = {w["workout_id"] for w in older[:LAST_K]}
        self.workouts = {w: s for w, s in self.workouts.items()
                         if s["end_time"] > settled - WINDOW_MS or s["row_at"] >= settled
                         or w in latest}
        self.efforts = {w: e for w, e in self.efforts.items()
                        if e["end_time"] > settled - EFFORT_WINDOW_MS}
        first_day = settled // DAY_MS - MAX_STREAK_DAYS
        self.active_days = {d for d in self.active_days if d >= first_day}


def _has_efforts(summary: WorkoutSummary) -> bool:
    """A running workout with at least one best effort (older summaries have none)."""
    return summary["sport_type"] == "running" and \
        any(summary.get(field) is not None for field in EFFORT_FIELDS)  # type: ignore[misc]


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
