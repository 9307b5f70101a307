"""Every topic the platform uses, created explicitly with its partition count and its
retention policy.

A topic created without ``retention.ms`` gets the broker's default (7 days on Apache
Kafka), which would delete the log every view is rebuilt from. So every topic states
its policy here, and ``create_topics`` sets it (and restores it on a topic that exists):

- **Kept forever** (``retention.ms=-1``): the events topic (the system of record), and
  what a replay or a sink cannot get back from it: notification reads (users' commands),
  workout claims (ownership must not expire, or an old workout id could be taken), and
  the view topics the sinks are rebuilt from.
- **Compacted** (``cleanup.policy=compact``): only topics whose key is the identity of
  the row they carry, where the latest record per key is the whole truth: preferences,
  revocations, erasures and the processor's changelogs. The view topics are *not*
  compacted: they are keyed by ``user_id`` (so a user's rows share a partition) while a
  row is one workout, board entry, achievement or feature row of that user, and
  compaction would keep only a user's last one. Compacting them needs keys that are
  their rows' identities; until then they are kept forever, which is what lets a sink be
  rebuilt from them.
- **Operational, 90 days** (the seed's policy for logs and events): dead letters,
  delivery outcomes, and the internal board completions (a replay makes them again).

The scorer's prediction topics (forecasts, race times, recommendations) are kept
forever: a prediction names the model version that made it and the features it read,
and a later champion would score the same row differently, so a replay of the features
cannot give them back. Keyed by user_id with many predictions per user, so not
compacted. Its dead letters (rows it could not score) are operational.
"""

from __future__ import annotations

from dataclasses import dataclass

from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    NewTopic,
)

from fitstream.contracts import subjects
from fitstream.kafka.clients import base_config
from fitstream.settings import FitStreamSettings, KafkaSettings

# The processor's state tables; their changelogs are created here like every topic.
# Sessions are keyed "<user_id>/<workout_id>", clocks and the user tables by user id
# (fitstream/domain/pipeline.py): co-partitioned with the events, keyed by user id.
SESSIONS_TABLE = "workout-sessions"
CLOCKS_TABLE = "user-clocks"
USER_TOTALS_TABLE = "user-totals"
USER_ACHIEVEMENTS_TABLE = "user-achievements"
WEEKLY_BOARDS_TABLE = "weekly-boards"
USER_FEATURES_TABLE = "user-feature-histories"
# Per user, the erased_at whose erasure the processor has applied (state dropped once).
USER_ERASURES_TABLE = "user-erasures"
STATE_TABLES = (SESSIONS_TABLE, CLOCKS_TABLE, USER_TOTALS_TABLE, USER_ACHIEVEMENTS_TABLE,
                WEEKLY_BOARDS_TABLE, USER_FEATURES_TABLE, USER_ERASURES_TABLE)


@dataclass(frozen=True)
class Output:
    """One kind of record the pipeline core emits (fitstream/domain/pipeline.py): the
    ``PipelineResult`` field that holds them, the topic they go to (a ``KafkaSettings``
    attribute), their contract's subject, and the record field whose value is the key."""

    result_field: str
    topic_setting: str
    subject: str
    key_field: str

    def topic(self, kafka: KafkaSettings) -> str:
        return str(getattr(kafka, self.topic_setting))


# Every output, in the order an engine sends a batch's records. Keyed by user id, so a
# user's rows share a partition, except claims (by workout id: one id's claims meet) and
# board completions (by board: one board's completions meet its state).
OUTPUTS = (
    Output("summaries", "summaries_topic", subjects.WORKOUT_SUMMARY, "user_id"),
    Output("routes", "routes_topic", subjects.WORKOUT_ROUTE, "user_id"),
    Output("claims", "claims_topic", subjects.WORKOUT_CLAIM, "workout_id"),
    Output("leaderboard_entries", "leaderboard_topic", subjects.LEADERBOARD_ENTRY, "user_id"),
    Output("progress", "achievement_progress_topic", subjects.ACHIEVEMENT_PROGRESS,
           "user_id"),
    Output("unlocks", "achievements_topic", subjects.ACHIEVEMENT_UNLOCKED, "user_id"),
    Output("records", "achievements_topic", subjects.PERSONAL_RECORD, "user_id"),
    Output("features", "features_topic", subjects.USER_FEATURES, "user_id"),
    Output("notifications", "notifications_topic", subjects.NOTIFICATION, "user_id"),
    Output("board_completions", "board_completions_topic", subjects.BOARD_COMPLETION,
           "board"),
)
# The boards stage's one output: entering a board's top places.
BOARD_OUTPUTS = (
    Output("notifications", "notifications_topic", subjects.NOTIFICATION, "user_id"),
)


FOREVER = -1
OPERATIONAL_RETENTION_MS = 90 * 24 * 3600 * 1000


@dataclass(frozen=True)
class TopicSpec:
    """One topic: its name, partitions, what it holds, and how long it keeps it.

    ``compacted`` keeps the latest record per key (and nothing is deleted by age);
    otherwise ``retention_ms`` must be chosen explicitly (``FOREVER`` or a duration).
    """

    name: str
    partitions: int
    purpose: str
    compacted: bool = False
    retention_ms: int | None = None
    # The broker stamps each record (LogAppendTime): a producer cannot date a record, so
    # what is judged by record time (workout claims, from_future) is the broker's clock.
    broker_timestamps: bool = False

    def __post_init__(self) -> None:
        if not self.compacted and self.retention_ms is None:
            raise ValueError(f"{self.name}: choose a retention (FOREVER, a duration, or "
                             "compacted); the broker's default would delete the log")

    def config(self) -> dict[str, str]:
        """The topic configs ``create_topics`` sets."""
        stamp = {"message.timestamp.type": "LogAppendTime"} if self.broker_timestamps else {}
        if self.compacted:
            return {"cleanup.policy": "compact", "retention.ms": str(FOREVER), **stamp}
        return {"cleanup.policy": "delete", "retention.ms": str(self.retention_ms), **stamp}


def changelog_topic(settings: FitStreamSettings, table: str) -> str:
    return f"{settings.processor.app_id}-{table}-changelog"


def topic_specs(settings: FitStreamSettings) -> list[TopicSpec]:
    kafka = settings.kafka
    # Changelogs must be co-partitioned with the events topic that feeds their tables.
    p = kafka.events_partitions
    return [
        TopicSpec(kafka.events_topic, p, "device events, key user_id: the system of record",
                  retention_ms=FOREVER, broker_timestamps=True),
        TopicSpec(kafka.dlq_topic, p, "records the processors refused, with the reason",
                  retention_ms=OPERATIONAL_RETENTION_MS),
        # View topics: keyed by user_id, many rows per user (see the module docstring).
        TopicSpec(kafka.summaries_topic, p, "WorkoutSummary view changes, key user_id",
                  retention_ms=FOREVER),
        TopicSpec(kafka.leaderboard_topic, p, "LeaderboardEntry changes, key user_id",
                  retention_ms=FOREVER),
        TopicSpec(kafka.achievements_topic, p,
                  "AchievementUnlocked and PersonalRecord events, key user_id",
                  retention_ms=FOREVER),
        TopicSpec(kafka.achievement_progress_topic, p,
                  "AchievementProgress view changes, key user_id", retention_ms=FOREVER),
        TopicSpec(kafka.routes_topic, p, "WorkoutRoute of completed workouts, key user_id",
                  retention_ms=FOREVER),
        TopicSpec(kafka.board_completions_topic, p,
                  "internal: completed workouts, key weekly board (window|period|sport)",
                  retention_ms=OPERATIONAL_RETENTION_MS),
        TopicSpec(kafka.notifications_topic, p, "Notification outbox, key user_id",
                  retention_ms=FOREVER),
        TopicSpec(kafka.notification_reads_topic, p, "NotificationRead commands, key user_id",
                  retention_ms=FOREVER),
        TopicSpec(kafka.notification_deliveries_topic, p,
                  "NotificationDelivery outcomes, key user_id",
                  retention_ms=OPERATIONAL_RETENTION_MS),
        TopicSpec(kafka.notification_dlq_topic, p,
                  "deliveries that failed for good, with the reason",
                  retention_ms=OPERATIONAL_RETENTION_MS),
        TopicSpec(kafka.notification_preferences_topic, p,
                  "NotificationPreferences, key user_id, latest wins", compacted=True),
        TopicSpec(kafka.features_topic, p,
                  "UserFeatures rows, key user_id: Feast online and the offline table",
                  retention_ms=FOREVER),
        # Not compacted: a workout id's owner is its earliest claim, and compaction by
        # key would keep only the latest.
        TopicSpec(kafka.claims_topic, p,
                  "WorkoutClaim records, key workout_id: who started a workout id, and when",
                  retention_ms=FOREVER),
        # Predictions: what a model version said, which no replay of the features can
        # make again once the champion moved (see the module docstring).
        TopicSpec(kafka.forecasts_topic, p, "Forecast predictions, key user_id",
                  retention_ms=FOREVER),
        TopicSpec(kafka.race_predictions_topic, p, "RacePrediction predictions, key user_id",
                  retention_ms=FOREVER),
        TopicSpec(kafka.recommendations_topic, p,
                  "Recommendation predictions, key user_id", retention_ms=FOREVER),
        TopicSpec(kafka.scoring_dlq_topic, p,
                  "feature rows the scorer could not score, with the reason",
                  retention_ms=OPERATIONAL_RETENTION_MS),
        # Small (one record per revoked token or device) and read whole by every API
        # process at start: one partition, compacted so it holds only what is in force.
        TopicSpec(kafka.device_revocations_topic, 1,
                  "revoked device tokens, key jti:<jti> or device:<id>, latest wins",
                  compacted=True),
        # Partitioned like the events, so a user's erasure lands on their partition.
        TopicSpec(kafka.erasures_topic, p,
                  "UserErased, key user_id: erased users (GDPR), never tombstoned",
                  compacted=True),
        *(TopicSpec(changelog_topic(settings, table), p, f"changelog of the {table} table",
                    compacted=True) for table in STATE_TABLES),
    ]


def create_topics(settings: FitStreamSettings, timeout_s: float = 30.0) -> dict[str, str]:
    """Create missing topics with their retention policy, and set the policy again on
    topics that exist with another one (a stack created before the policies, say).

    Returns name -> 'created' | 'exists' | 'policy updated'. Raises on other errors."""
    kafka = settings.kafka
    admin = AdminClient(base_config(kafka))
    specs = topic_specs(settings)
    existing = admin.list_topics(timeout=timeout_s).topics
    outcome = {s.name: "exists" for s in specs if s.name in existing}
    for name in _apply_policies(admin, [s for s in specs if s.name in existing], timeout_s):
        outcome[name] = "policy updated"
    new = [
        NewTopic(s.name, num_partitions=s.partitions, replication_factor=kafka.replication_factor,
                 config=s.config())
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


def topic_configs(admin: AdminClient, names: list[str], timeout_s: float = 30.0,
                  ) -> dict[str, dict[str, str]]:
    """The broker's view of each topic's configs (name -> config -> value)."""
    if not names:
        return {}
    futures = admin.describe_configs([ConfigResource("topic", n) for n in names],
                                     request_timeout=timeout_s)
    return {resource.name: {k: entry.value for k, entry in future.result(timeout_s).items()}
            for resource, future in futures.items()}


def _apply_policies(admin: AdminClient, specs: list[TopicSpec], timeout_s: float) -> list[str]:
    """Set each existing topic's retention policy where the broker holds another one."""
    current = topic_configs(admin, [s.name for s in specs], timeout_s)
    changes = [
        ConfigResource("topic", s.name, incremental_configs=[
            ConfigEntry(k, v, incremental_operation=AlterConfigOpType.SET)
            for k, v in s.config().items() if current[s.name].get(k) != v])
        for s in specs if any(current[s.name].get(k) != v for k, v in s.config().items())]
    if not changes:
        return []
    futures = admin.incremental_alter_configs(changes, request_timeout=timeout_s)
    for future in futures.values():
        future.result(timeout_s)
    return [resource.name for resource in futures]


def partition_count(kafka: KafkaSettings, topic: str, timeout_s: float = 10.0) -> int:
    metadata = AdminClient(base_config(kafka)).list_topics(topic, timeout=timeout_s)
    return len(metadata.topics[topic].partitions)
