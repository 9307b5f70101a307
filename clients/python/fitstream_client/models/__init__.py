"""Contains all the data models used in inputs/outputs"""

from .achievement import Achievement
from .best_efforts import BestEfforts
from .body_create_upload import BodyCreateUpload
from .body_create_upload_sport import BodyCreateUploadSport
from .click_house_erasure import ClickHouseErasure
from .click_house_erasure_rows_deleted import ClickHouseErasureRowsDeleted
from .dead_letter_count import DeadLetterCount
from .delivery import Delivery
from .delivery_channel import DeliveryChannel
from .delivery_status import DeliveryStatus
from .distance_forecast import DistanceForecast
from .error_body import ErrorBody
from .error_body_details_type_1 import ErrorBodyDetailsType1
from .healthcheck_response_healthcheck_healthcheck_get import HealthcheckResponseHealthcheckHealthcheckGet
from .inbox import Inbox
from .ingest_accepted import IngestAccepted
from .ingest_batch import IngestBatch
from .km_split import KmSplit
from .leaderboard import Leaderboard
from .leaderboard_metric import LeaderboardMetric
from .leaderboard_row import LeaderboardRow
from .leaderboard_window import LeaderboardWindow
from .line_string import LineString
from .notification import Notification
from .personal_record import PersonalRecord
from .personal_records import PersonalRecords
from .pipeline_health import PipelineHealth
from .preferences import Preferences
from .preferences_channels_item import PreferencesChannelsItem
from .public_workout_page import PublicWorkoutPage
from .public_workout_summary import PublicWorkoutSummary
from .race_times import RaceTimes
from .recent_dead_letter import RecentDeadLetter
from .recommended_workout import RecommendedWorkout
from .role_lag import RoleLag
from .route_properties import RouteProperties
from .sql_request import SqlRequest
from .sql_result import SqlResult
from .totals import Totals
from .upload_status import UploadStatus
from .upload_status_status import UploadStatusStatus
from .user_achievement_list import UserAchievementList
from .user_forecast import UserForecast
from .user_preferences import UserPreferences
from .user_preferences_channels_item import UserPreferencesChannelsItem
from .user_recommendations import UserRecommendations
from .user_stats import UserStats
from .week_totals import WeekTotals
from .workout_cancelled import WorkoutCancelled
from .workout_completed import WorkoutCompleted
from .workout_completed_position import WorkoutCompletedPosition
from .workout_details import WorkoutDetails
from .workout_page import WorkoutPage
from .workout_paused import WorkoutPaused
from .workout_resumed import WorkoutResumed
from .workout_route import WorkoutRoute
from .workout_sample import WorkoutSample
from .workout_started import WorkoutStarted
from .workout_started_location import WorkoutStartedLocation
from .workout_started_sport_type import WorkoutStartedSportType
from .workout_summary import WorkoutSummary
from .workout_updated import WorkoutUpdated
from .workout_updated_position import WorkoutUpdatedPosition
from .workout_updated_telemetry_sample import WorkoutUpdatedTelemetrySample

__all__ = (
    "Achievement",
    "BestEfforts",
    "BodyCreateUpload",
    "BodyCreateUploadSport",
    "ClickHouseErasure",
    "ClickHouseErasureRowsDeleted",
    "DeadLetterCount",
    "Delivery",
    "DeliveryChannel",
    "DeliveryStatus",
    "DistanceForecast",
    "ErrorBody",
    "ErrorBodyDetailsType1",
    "HealthcheckResponseHealthcheckHealthcheckGet",
    "Inbox",
    "IngestAccepted",
    "IngestBatch",
    "KmSplit",
    "Leaderboard",
    "LeaderboardMetric",
    "LeaderboardRow",
    "LeaderboardWindow",
    "LineString",
    "Notification",
    "PersonalRecord",
    "PersonalRecords",
    "PipelineHealth",
    "Preferences",
    "PreferencesChannelsItem",
    "PublicWorkoutPage",
    "PublicWorkoutSummary",
    "RaceTimes",
    "RecentDeadLetter",
    "RecommendedWorkout",
    "RoleLag",
    "RouteProperties",
    "SqlRequest",
    "SqlResult",
    "Totals",
    "UploadStatus",
    "UploadStatusStatus",
    "UserAchievementList",
    "UserForecast",
    "UserPreferences",
    "UserPreferencesChannelsItem",
    "UserRecommendations",
    "UserStats",
    "WeekTotals",
    "WorkoutCancelled",
    "WorkoutCompleted",
    "WorkoutCompletedPosition",
    "WorkoutDetails",
    "WorkoutPage",
    "WorkoutPaused",
    "WorkoutResumed",
    "WorkoutRoute",
    "WorkoutSample",
    "WorkoutStarted",
    "WorkoutStartedLocation",
    "WorkoutStartedSportType",
    "WorkoutSummary",
    "WorkoutUpdated",
    "WorkoutUpdatedPosition",
    "WorkoutUpdatedTelemetrySample",
)
