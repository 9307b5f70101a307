"""`fitstream topics create` gives every topic an explicit retention policy (issue 9,
finding 4): without one the broker's default (7 days on Apache Kafka) deletes the log
every view is rebuilt from.

Checked against the real broker: the configs the broker describes for each created
topic, and a topic that already existed with the broker's default getting its policy.
The embedded broker stores and describes topic configs (and does not delete by age;
Apache Kafka does, which is why the values matter).
"""

from __future__ import annotations

import uuid

import pytest
from confluent_kafka.admin import AdminClient, NewTopic

from fitstream.kafka.clients import base_config
from fitstream.kafka.topics import TopicSpec, create_topics, topic_configs, topic_specs
from tests.conftest import isolated

pytestmark = pytest.mark.e2e

FOREVER = "-1"
NINETY_DAYS = str(90 * 24 * 3600 * 1000)
BROKER_DEFAULT = str(7 * 24 * 3600 * 1000)


def expected_policies(kafka) -> dict[str, dict[str, str]]:
    """The decision, topic by topic (written out, not derived from the catalogue)."""
    keep = {"cleanup.policy": "delete", "retention.ms": FOREVER}
    operational = {"cleanup.policy": "delete", "retention.ms": NINETY_DAYS}
    compact = {"cleanup.policy": "compact", "retention.ms": FOREVER}
    return {
        kafka.events_topic: keep,  # the system of record
        kafka.dlq_topic: operational,
        # View topics keyed by user_id with many rows per user: compaction would keep
        # one workout (entry, achievement, feature row) per user. Kept whole instead.
        kafka.summaries_topic: keep,
        kafka.leaderboard_topic: keep,
        kafka.achievements_topic: keep,
        kafka.achievement_progress_topic: keep,
        kafka.routes_topic: keep,
        kafka.notifications_topic: keep,
        kafka.features_topic: keep,
        kafka.board_completions_topic: operational,
        kafka.notification_reads_topic: keep,  # users' commands: no replay makes them
        kafka.notification_deliveries_topic: operational,
        kafka.notification_dlq_topic: operational,
        kafka.claims_topic: keep,  # ownership must not expire
        # What a model version predicted: no replay makes it again once @champion moved.
        kafka.forecasts_topic: keep,
        kafka.race_predictions_topic: keep,
        kafka.recommendations_topic: keep,
        kafka.scoring_dlq_topic: operational,
        # Keyed by the identity of what they hold: the latest per key is the truth.
        kafka.notification_preferences_topic: compact,
        kafka.device_revocations_topic: compact,
        kafka.erasures_topic: compact,
    }


def test_every_created_topic_has_its_retention_policy(broker, tmp_path):
    settings = isolated(broker, tmp_path, f"retention-{uuid.uuid4().hex[:8]}")
    admin = AdminClient(base_config(settings.kafka))
    names = [spec.name for spec in topic_specs(settings)]
    configs = topic_configs(admin, names)
    expected = expected_policies(settings.kafka)
    for name in names:
        policy = {k: configs[name][k] for k in ("cleanup.policy", "retention.ms")}
        if name.endswith("-changelog"):  # the processor's state: latest value per key
            assert policy == {"cleanup.policy": "compact", "retention.ms": FOREVER}, name
        else:
            assert policy == expected.pop(name), name
        assert configs[name]["retention.ms"] != BROKER_DEFAULT, name
    assert not expected, f"topics the catalogue no longer creates: {sorted(expected)}"


def test_an_existing_topic_gets_its_policy_back(broker, tmp_path):
    name = f"existing-{uuid.uuid4().hex[:8]}"
    settings = broker.model_copy(update={"kafka": broker.kafka.model_copy(update={
        field: f"{name}.{getattr(broker.kafka, field)}"
        for field in type(broker.kafka).model_fields if field.endswith("_topic")})})
    admin = AdminClient(base_config(settings.kafka))
    events = settings.kafka.events_topic
    # As `topics create` used to make it: no retention, so the broker's 7 days.
    for future in admin.create_topics([NewTopic(
            events, num_partitions=settings.kafka.events_partitions,
            replication_factor=1)]).values():
        future.result(30)
    assert topic_configs(admin, [events])[events]["retention.ms"] == BROKER_DEFAULT
    outcome = create_topics(settings)
    assert outcome[events] == "policy updated"
    assert topic_configs(admin, [events])[events]["retention.ms"] == FOREVER
    assert create_topics(settings)[events] == "exists"  # set once, then left alone


def test_a_topic_without_a_chosen_retention_is_refused():
    with pytest.raises(ValueError, match="choose a retention"):
        TopicSpec("orders.v1", 3, "orders")
