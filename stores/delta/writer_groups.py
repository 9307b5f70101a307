"""The lakehouse writers' names and consumer groups, named once.

Each Delta writer (sinks/delta/writers.py) consumes one topic in its own group,
``<lakehouse.group_id>-<writer name>``. The names live here, below both the writers and
the API's pipeline health (api/pipeline_health.py), which reads those groups' lag and
may not import sinks/. No heavy imports: the API loads this module.
"""

from __future__ import annotations

from fitstream.settings import FitStreamSettings

BRONZE_EVENTS = "bronze-events"
BRONZE_DLQ = "bronze-dlq"
SILVER_GOLD = "silver-gold"
USER_FEATURES = "user-features"

# Each writer's name and the KafkaSettings field naming the topic it consumes.
WRITER_TOPICS = ((BRONZE_EVENTS, "events_topic"), (BRONZE_DLQ, "dlq_topic"),
                 (SILVER_GOLD, "summaries_topic"), (USER_FEATURES, "features_topic"))


def writer_group(settings: FitStreamSettings, name: str) -> str:
    return f"{settings.lakehouse.group_id}-{name}"


def lakehouse_groups(settings: FitStreamSettings) -> list[tuple[str, str]]:
    """(topic, consumer group) of every lakehouse writer."""
    return [(getattr(settings.kafka, topic), writer_group(settings, name))
            for name, topic in WRITER_TOPICS]
