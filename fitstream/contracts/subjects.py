"""Every contract's subject (its record's full name, Confluent's RecordNameStrategy), named
once: code refers to these constants, never to the strings.

The schemas themselves are in ``schemas/avro/``; ``schemas/registry.json`` pins their
ids. ``tests/unit/test_views.py`` checks that every constant here is a registered subject.
"""

from __future__ import annotations

from typing import Final

# The six workout events (fitstream.domain.events.EventType has them by type).
WORKOUT_STARTED: Final = "fitstream.workouts.WorkoutStarted"
WORKOUT_UPDATED: Final = "fitstream.workouts.WorkoutUpdated"
WORKOUT_PAUSED: Final = "fitstream.workouts.WorkoutPaused"
WORKOUT_RESUMED: Final = "fitstream.workouts.WorkoutResumed"
WORKOUT_COMPLETED: Final = "fitstream.workouts.WorkoutCompleted"
WORKOUT_CANCELLED: Final = "fitstream.workouts.WorkoutCancelled"

# What the pipeline emits (fitstream.kafka.topics.OUTPUTS says where each goes).
WORKOUT_SUMMARY: Final = "fitstream.views.WorkoutSummary"
WORKOUT_ROUTE: Final = "fitstream.views.WorkoutRoute"
WORKOUT_CLAIM: Final = "fitstream.views.WorkoutClaim"
LEADERBOARD_ENTRY: Final = "fitstream.views.LeaderboardEntry"
ACHIEVEMENT_PROGRESS: Final = "fitstream.views.AchievementProgress"
ACHIEVEMENT_UNLOCKED: Final = "fitstream.achievements.AchievementUnlocked"
PERSONAL_RECORD: Final = "fitstream.achievements.PersonalRecord"
USER_FEATURES: Final = "fitstream.features.UserFeatures"
NOTIFICATION: Final = "fitstream.notifications.Notification"
BOARD_COMPLETION: Final = "fitstream.notifications.BoardCompletion"

# Commands and outcomes around notifications, and the users' erasures.
NOTIFICATION_READ: Final = "fitstream.notifications.NotificationRead"
NOTIFICATION_DELIVERY: Final = "fitstream.notifications.NotificationDelivery"
NOTIFICATION_PREFERENCES: Final = "fitstream.notifications.NotificationPreferences"
USER_ERASED: Final = "fitstream.users.UserErased"

# The scorer's predictions (streams/scoring; fitstream.model_catalogue says which model
# makes which).
FORECAST: Final = "fitstream.predictions.Forecast"
RACE_PREDICTION: Final = "fitstream.predictions.RacePrediction"
RECOMMENDATION: Final = "fitstream.predictions.Recommendation"
