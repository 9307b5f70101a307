"""The records the pipeline emits, as types: one ``TypedDict`` per output contract.

They are the seams between the pipeline core and everything downstream (the engines
that send them, the sinks, the API, the backfill), so a key misspelt in one module is
a type error, not a missing column. Each mirrors the latest version of its Avro
contract field for field (``tests/unit/test_views.py`` checks every one against
``schemas/avro``); the catalogue of where each goes is
:data:`fitstream.kafka.topics.OUTPUTS`.
"""

# No ``from __future__ import annotations``: TypedDict reads NotRequired off evaluated
# annotations only.
from typing import Literal, NotRequired, TypedDict

from fitstream.contracts import subjects

WorkoutStatusName = Literal["pending", "active", "paused", "completed", "cancelled"]


class WorkoutSummary(TypedDict):
    """``fitstream.views.WorkoutSummary`` v2: a workout's read model, re-sent whole."""

    workout_id: str
    user_id: str
    device_id: str
    sport_type: str
    status: WorkoutStatusName
    start_time: int
    end_time: int | None
    moving_duration_ms: int
    distance_meters: float
    calories_burned: float | None
    avg_heart_rate: float | None
    avg_speed_mps: float | None
    sample_count: int
    last_seq: int
    last_event_at: int
    best_1k_ms: int | None
    best_5k_ms: int | None
    best_10k_ms: int | None


class WorkoutRoute(TypedDict):
    """``fitstream.views.WorkoutRoute`` v2: a completed workout's route points (sealed
    into ``sealed_coordinates`` by the engine before it is sent)."""

    workout_id: str
    user_id: str
    end_time: int | None
    lats: list[float]
    lons: list[float]
    sealed_coordinates: NotRequired[bytes | None]


class WorkoutClaim(TypedDict):
    """``fitstream.views.WorkoutClaim`` v1: a user's accepted WorkoutStarted for an id."""

    workout_id: str
    user_id: str
    claimed_at: int


class LeaderboardEntry(TypedDict):
    """``fitstream.views.LeaderboardEntry`` v1: a user's total on one board."""

    window: str
    period: str
    sport: str
    user_id: str
    distance_meters: float
    moving_time_s: float
    calories: float
    workouts: int
    reached_at: int
    version: int


class AchievementProgress(TypedDict):
    """``fitstream.views.AchievementProgress`` v1."""

    user_id: str
    rule_id: str
    kind: str
    title: str
    progress: float
    achieved_at: int | None
    version: int


class AchievementUnlocked(TypedDict):
    """``fitstream.achievements.AchievementUnlocked`` v1."""

    achievement_id: str
    rule_id: str
    type: str
    title: str
    user_id: str
    achieved_at: int
    progress: float
    workout_id: str


class PersonalRecord(TypedDict):
    """``fitstream.achievements.PersonalRecord`` v1."""

    record_id: str
    user_id: str
    distance_meters: int
    elapsed_ms: int
    previous_ms: int | None
    workout_id: str
    achieved_at: int


class UserFeatures(TypedDict):
    """``fitstream.features.UserFeatures`` v2: one feature row (fitstream/domain/features.py)."""

    user_id: str
    as_of: int
    distance_7d_m: float
    distance_28d_m: float
    moving_time_7d_s: float
    moving_time_28d_s: float
    workouts_7d: int
    workouts_28d: int
    acute_chronic_ratio: float | None
    days_since_last_workout: float | None
    current_streak_days: int
    avg_pace_s_per_km_28d_running: float | None
    avg_heart_rate_28d_running: float | None
    avg_pace_s_per_km_28d_cycling: float | None
    avg_heart_rate_28d_cycling: float | None
    avg_pace_s_per_km_28d_walking: float | None
    avg_heart_rate_28d_walking: float | None
    avg_pace_s_per_km_28d_swimming: float | None
    avg_heart_rate_28d_swimming: float | None
    avg_pace_s_per_km_28d_hiking: float | None
    avg_heart_rate_28d_hiking: float | None
    avg_pace_s_per_km_28d_rowing: float | None
    avg_heart_rate_28d_rowing: float | None
    avg_pace_s_per_km_28d_other: float | None
    avg_heart_rate_28d_other: float | None
    best_1k_s_90d: float | None
    best_5k_s_90d: float | None
    best_10k_s_90d: float | None
    running_distance_28d_m: float
    longest_run_28d_m: float
    last_1_sport_index: int | None
    last_1_duration_s: float | None
    last_1_intensity_index: int | None
    last_1_start_hour: int | None
    last_2_sport_index: int | None
    last_2_duration_s: float | None
    last_2_intensity_index: int | None
    last_2_start_hour: int | None
    last_3_sport_index: int | None
    last_3_duration_s: float | None
    last_3_intensity_index: int | None
    last_3_start_hour: int | None


class Notification(TypedDict):
    """``fitstream.notifications.Notification`` v1: one message for one user."""

    notification_id: str
    user_id: str
    kind: str
    title: str
    body: str
    created_at: int
    workout_id: str | None


class BoardCompletion(TypedDict):
    """``fitstream.notifications.BoardCompletion`` v1: a completed workout re-keyed by
    the weekly board it counts on."""

    board: str
    user_id: str
    workout_id: str
    end_time: int
    distance_mm: int


# Contract subject -> its TypedDict, for the schema test and for engines that encode.
VIEW_TYPES: dict[str, type] = {
    subjects.WORKOUT_SUMMARY: WorkoutSummary,
    subjects.WORKOUT_ROUTE: WorkoutRoute,
    subjects.WORKOUT_CLAIM: WorkoutClaim,
    subjects.LEADERBOARD_ENTRY: LeaderboardEntry,
    subjects.ACHIEVEMENT_PROGRESS: AchievementProgress,
    subjects.ACHIEVEMENT_UNLOCKED: AchievementUnlocked,
    subjects.PERSONAL_RECORD: PersonalRecord,
    subjects.USER_FEATURES: UserFeatures,
    subjects.NOTIFICATION: Notification,
    subjects.BOARD_COMPLETION: BoardCompletion,
}
