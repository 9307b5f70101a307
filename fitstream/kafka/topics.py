"""Every topic the platform uses, created explicitly with its partition count."""

from __future__ import annotations

from dataclasses import dataclass

from confluent_kafka.admin import AdminClient, NewTopic

from fitstream.kafka.clients import base_config
from fitstream.settings import FitStreamSettings, KafkaSettings

# The processor's state tables; their changelogs are created here like every topic.
SESSIONS_TABLE = "workout-sessions"
CLOCKS_TABLE = "partition-clocks"
USER_TOTALS_TABLE = "user-totals"
USER_ACHIEVEMENTS_TABLE = "user-achievements"
WEEKLY_BOARDS_TABLE = "weekly-boards"
USER_FEATURES_TABLE = "user-feature-histories"
# Per user, the erased_at whose erasure the processor has applied (state dropped once).
USER_ERASURES_TABLE = "user-erasures"
STATE_TABLES = (SESSIONS_TABLE, CLOCKS_TABLE, USER_TOTALS_TABLE, USER_ACHIEVEMENTS_TABLE,
                WEEKLY_BOARDS_TABLE, USER_FEATURES_TABLE, USER_ERASURES_TABLE)


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    purpose: str
    compacted: bool = False


def changelog_topic(settings: FitStreamSettings, table: str) -> str:
    return f"{settings.processor.app_id}-{table}-changelog"


def topic_specs(settings: FitStreamSettings) -> list[TopicSpec]:
    kafka = settings.kafka
    # Changelogs must be co-partitioned with the events topic that feeds their tables.
    p = kafka.events_partitions
    return [
        TopicSpec(kafka.events_topic, p, "device events, key user_id: the system of record"),
        TopicSpec(kafka.dlq_topic, p, "records the processors refused, with the reason"),
        TopicSpec(kafka.summaries_topic, p, "WorkoutSummary view changes, key user_id"),
        TopicSpec(kafka.leaderboard_topic, p, "LeaderboardEntry changes, key user_id"),
        TopicSpec(kafka.achievements_topic, p,
                  "AchievementUnlocked and PersonalRecord events, key user_id"),
        TopicSpec(kafka.achievement_progress_topic, p,
                  "AchievementProgress view changes, key user_id"),
        TopicSpec(kafka.routes_topic, p, "WorkoutRoute of completed workouts, key user_id"),
        TopicSpec(kafka.board_completions_topic, p,
                  "internal: completed workouts, key weekly board (window|period|sport)"),
        TopicSpec(kafka.notifications_topic, p, "Notification outbox, key user_id"),
        TopicSpec(kafka.notification_reads_topic, p, "NotificationRead commands, key user_id"),
        TopicSpec(kafka.notification_deliveries_topic, p,
                  "NotificationDelivery outcomes, key user_id"),
        TopicSpec(kafka.notification_dlq_topic, p,
                  "deliveries that failed for good, with the reason"),
        TopicSpec(kafka.notification_preferences_topic, p,
                  "NotificationPreferences, key user_id, latest wins", compacted=True),
        TopicSpec(kafka.features_topic, p,
                  "UserFeatures rows, key user_id: Feast online and the offline table"),
        # Small (one record per revoked token or device) and read whole by every API
        # process at start: one partition, compacted so it holds only what is in force.
        TopicSpec(kafka.device_revocations_topic, 1,
                  "revoked device tokens, key jti:<jti> or device:<id>, latest wins",
                  compacted=True),
        # Not compacted: a workout id's owner is its earliest claim, and compaction by
        # key would keep only the latest.
        TopicSpec(kafka.claims_topic, p,
                  "WorkoutClaim records, key workout_id: who started a workout id, and when"),
        # Partitioned like the events, so a user's erasure lands on their partition.
        TopicSpec(kafka.erasures_topic, p,
                  "UserErased, key user_id: erased users (GDPR), never tombstoned",
                  compacted=True),
        *(TopicSpec(changelog_topic(settings, table), p, f"changelog of the {table} table",
                    compacted=True) for table in STATE_TABLES),
    ]


def create_topics(settings: FitStreamSettings, timeout_s: float = 30.0) -> dict[str, str]:
    """Create missing topics; returns name -> 'created' | 'exists'. Raises on other errors."""
    kafka = settings.kafka
    admin = AdminClient(base_config(kafka))
    specs = topic_specs(settings)
    existing = admin.list_topics(timeout=timeout_s).topics
    outcome = {s.name: "exists" for s in specs if s.name in existing}
    new = [
        NewTopic(s.name, num_partitions=s.partitions, replication_factor=kafka.replication_factor,
                 config={"cleanup.policy": "compact"} if s.compacted else {})
        for s in specs if s.name not in existing
    ]
    for name, future in (admin.create_topics(new, request_timeout=timeout_s) if new else {}).items():
        try:
            future.result(timeout=timeout_s)
            outcome[name] = "created"
        except Exception as exc:
            if "TOPIC_ALREADY_EXISTS" not in str(exc):
                raise
            outcome[name] = "exists"
    return outcome


def partition_count(kafka: KafkaSettings, topic: str, timeout_s: float = 10.0) -> int:
    metadata = AdminClient(base_config(kafka)).list_topics(topic, timeout=timeout_s)
    return len(metadata.topics[topic].partitions)
