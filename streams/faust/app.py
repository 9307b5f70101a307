"""The Faust application: settings, topics and tables, all taken from FitStreamSettings.

Tuning notes (measured, see STACK-NOTES and the README): Faust's per-event
machinery is the ceiling, so the worker takes large batches (``take_events``)
and writes each touched table key once per batch.
"""

from __future__ import annotations

import faust

from fitstream.kafka.topics import (
    CLOCKS_TABLE,
    SESSIONS_TABLE,
    USER_ACHIEVEMENTS_TABLE,
    USER_TOTALS_TABLE,
)
from fitstream.settings import FitStreamSettings


def broker_url(bootstrap_servers: str) -> str:
    return ";".join(f"kafka://{server.strip()}" for server in bootstrap_servers.split(","))


class WorkoutSessionsApp:
    """The Faust app plus the topics and tables the workout-session agent uses."""

    def __init__(self, settings: FitStreamSettings) -> None:
        kafka = settings.kafka
        self.settings = settings
        self.app = faust.App(
            settings.processor.app_id,
            broker=broker_url(kafka.bootstrap_servers),
            store="memory://",
            processing_guarantee="at_least_once",
            topic_partitions=kafka.events_partitions,
            topic_replication_factor=kafka.replication_factor,
            topic_disable_leader=True,
            topic_allow_declare=False,
            consumer_auto_offset_reset="earliest",
            broker_max_poll_records=settings.processor.batch_max_records,
            stream_buffer_maxsize=65536,
            broker_commit_interval=10,
            producer_linger=0.05,
            producer_max_batch_size=1_000_000,
            producer_acks=-1,
            web_port=settings.processor.web_port,
            web_host="127.0.0.1",
            web_bind=settings.processor.web_bind,
            datadir=str(settings.state_dir / "faust"),
        )
        self.events = self.app.topic(kafka.events_topic, key_serializer="raw",
                                     value_serializer="raw", partitions=kafka.events_partitions)
        self.dead_letters = self.app.topic(kafka.dlq_topic, key_serializer="raw",
                                           value_serializer="raw")
        self.summaries = self.app.topic(kafka.summaries_topic, key_serializer="raw",
                                        value_serializer="raw")
        self.leaderboard_entries = self.app.topic(kafka.leaderboard_topic, key_serializer="raw",
                                                  value_serializer="raw")
        self.achievements = self.app.topic(kafka.achievements_topic, key_serializer="raw",
                                           value_serializer="raw")
        self.achievement_progress = self.app.topic(kafka.achievement_progress_topic,
                                                   key_serializer="raw", value_serializer="raw")
        # State is bytes we encode ourselves (orjson): cheaper than Faust's codecs.
        table_options = {
            "partitions": kafka.events_partitions,
            "schema": faust.Schema(key_type=bytes, value_type=bytes, key_serializer="raw",
                                   value_serializer="raw"),
        }
        self.sessions = self.app.Table(SESSIONS_TABLE, **table_options)
        self.clocks = self.app.Table(CLOCKS_TABLE, **table_options)
        self.user_totals = self.app.Table(USER_TOTALS_TABLE, **table_options)
        self.user_achievements = self.app.Table(USER_ACHIEVEMENTS_TABLE, **table_options)
