"""The Faust application: settings, topics and tables, all taken from FitStreamSettings.

Tuning notes (measured: the README's Performance section, `make bench`): Faust's per-event
machinery is the ceiling, so the worker takes large batches (``take_events``)
and writes each touched table key once per batch.
"""

from __future__ import annotations

import faust

from fitstream.kafka.topics import (
    BOARD_OUTPUTS,
    CLOCKS_TABLE,
    OUTPUTS,
    SESSIONS_TABLE,
    USER_ACHIEVEMENTS_TABLE,
    USER_ERASURES_TABLE,
    USER_FEATURES_TABLE,
    USER_TOTALS_TABLE,
    WEEKLY_BOARDS_TABLE,
    changelog_topic,
)
from fitstream.settings import FitStreamSettings
from streams.faust.direct_delivery import DirectDeliveryConsumer
from streams.faust.quiet_monitor import QuietMonitor


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
            broker_commit_interval=settings.processor.commit_interval_s,
            broker_session_timeout=settings.processor.session_timeout_s,
            broker_rebalance_timeout=settings.processor.rebalance_timeout_s,
            consumer_group_instance_id=settings.processor.group_instance_id or None,
            broker_heartbeat_interval=min(3.0, settings.processor.session_timeout_s / 3),
            producer_linger=0.05,
            producer_max_batch_size=1_000_000,
            producer_acks=-1,
            web_enabled=settings.processor.web_enabled,
            web_port=settings.processor.web_port,
            web_host="127.0.0.1",
            web_bind=settings.processor.web_bind,
            datadir=str(settings.state_dir / "faust"),
            monitor=QuietMonitor(),
        )
        # Deliveries without four tasks per message (streams/faust/direct_delivery.py).
        self.app.transport.Consumer = DirectDeliveryConsumer
        raw = {"key_serializer": "raw", "value_serializer": "raw"}
        self.events = self.app.topic(kafka.events_topic, partitions=kafka.events_partitions,
                                     **raw)
        self.dead_letters = self.app.topic(kafka.dlq_topic, **raw)
        self.erasures = self.app.topic(kafka.erasures_topic, partitions=kafka.events_partitions,
                                       **raw)
        # One Faust topic per output topic of the catalogue (fitstream/kafka/topics.py).
        self.outputs: dict[str, faust.types.TopicT] = {}
        # Board completions are also this app's input (the boards stage): co-partitioned.
        self.board_completions = self.app.topic(
            kafka.board_completions_topic, partitions=kafka.events_partitions, **raw)
        self.outputs[kafka.board_completions_topic] = self.board_completions
        for output in (*OUTPUTS, *BOARD_OUTPUTS):
            name = output.topic(kafka)
            if name not in self.outputs:
                self.outputs[name] = self.app.topic(name, **raw)
        self.sessions = self._bytes_table(SESSIONS_TABLE)
        self.clocks = self._bytes_table(CLOCKS_TABLE)
        self.user_totals = self._bytes_table(USER_TOTALS_TABLE)
        self.user_achievements = self._bytes_table(USER_ACHIEVEMENTS_TABLE)
        self.user_features = self._bytes_table(USER_FEATURES_TABLE)
        self.user_erasures = self._bytes_table(USER_ERASURES_TABLE)
        # Keyed by weekly board, co-partitioned with board_completions (not the events).
        self.weekly_boards = self._bytes_table(WEEKLY_BOARDS_TABLE)

    def _bytes_table(self, name: str) -> faust.Table:
        """A table of bytes we encode ourselves (orjson is cheaper than Faust's codecs).

        The changelog topic is passed explicitly: a raw schema on the table alone does
        not reach recovery, which then decodes the changelog as JSON, fails on every
        record and never finishes.
        """
        partitions = self.settings.kafka.events_partitions
        raw = {"key_type": bytes, "value_type": bytes, "key_serializer": "raw",
               "value_serializer": "raw"}
        changelog = self.app.topic(changelog_topic(self.settings, name),
                                   partitions=partitions, **raw)
        return self.app.Table(name, partitions=partitions, changelog_topic=changelog,
                              schema=faust.Schema(**raw))
