"""UserFeatures rows into Feast's online store through the push source.

Lifecycle: :meth:`OnlineFeatureSink.run` consumes the features topic until :meth:`stop`;
each poll's records are pushed (``PushMode.ONLINE``) and only then are their offsets
committed, so a crash re-pushes, never skips. Re-pushing is harmless: a user's rows are
on one partition, and the processor ends them on the user's latest row (an older row it
re-sends is followed by the current one), so any replayed suffix ends on the same latest
row (the SQLite store keeps the last write; Redis keeps the latest event time). Per push
only each user's last row is sent.
The offline side is the Delta table the lakehouse sink writes, not a Feast push: Delta's
transactions are what make it exactly once.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pandas as pd
import structlog
from confluent_kafka import Consumer
from feast.data_source import PushMode

from feature_repo.definitions import PUSH_SOURCE
from fitstream.contracts import AvroSerde, SerdeError, registry_from_settings
from fitstream.kafka.clients import consumer_config
from fitstream.kafka.long_poll_shim import idle_pause
from fitstream.observability import metrics
from fitstream.privacy.erasures import ErasureLedger, record_timestamp_ms
from fitstream.settings import FitStreamSettings
from sinks.delta.tables import user_feature_rows
from sinks.feast.store import feature_store

log = structlog.get_logger("sinks.feast")

RETRY_PAUSE_S = 2.0


def online_frame(records: list[dict[str, Any]]) -> pd.DataFrame:
    """The last row per user, as the push source's columns (event_timestamp included)."""
    last = {r["user_id"]: r for r in records}
    return user_feature_rows(last.values()).drop(["as_of_date"]).to_pandas()


class OnlineFeatureSink:
    def __init__(self, settings: FitStreamSettings) -> None:
        self._settings = settings
        self._stop = threading.Event()
        self._serde = AvroSerde(registry_from_settings(settings.schema_registry))
        self._store = feature_store(settings)
        # Rows of erased users, logged at or before their erasure, are not pushed
        # (fitstream/privacy/erasures.py): a lagging sink must not refill their entity row.
        self._erasures = ErasureLedger(settings, self._serde)
        self.group_id = settings.feast.group_id
        self._consumer = Consumer(consumer_config(
            settings.kafka, self.group_id,
            **{"fetch.wait.max.ms": 200, "queued.max.messages.kbytes": 65536}))
        self.rows_pushed = 0

    def stop(self) -> None:
        self._stop.set()

    def run(self) -> None:
        self._consumer.subscribe([self._settings.kafka.features_topic])
        try:
            while not self._stop.is_set():
                messages = [m for m in self._consumer.consume(5_000, timeout=0.5)
                            if not m.error()]
                if not messages:
                    idle_pause(self._consumer, self._settings.kafka.emulate_long_poll_ms,
                               self._stop)
                    continue
                while not self._push(messages) and not self._stop.is_set():
                    self._stop.wait(RETRY_PAUSE_S)
        finally:
            self._consumer.close()
            self._erasures.close()

    def _push(self, messages: list[Any]) -> bool:
        records = []
        self._erasures.catch_up({m.partition() for m in messages})
        for message in messages:
            if self._erasures.is_erased(message.key(), record_timestamp_ms(message)):
                continue
            try:
                records.append(self._serde.decode(message.value())[1])
            except SerdeError as exc:  # the producer is ours; say so, do not stop
                log.warning("undecodable_features_skipped", reason=exc.reason,
                            partition=message.partition(), offset=message.offset())
        started = time.perf_counter()
        try:
            if records:
                frame = online_frame(records)
                self._store.push(PUSH_SOURCE, frame, to=PushMode.ONLINE)
                self.rows_pushed += len(frame)
            self._consumer.commit(asynchronous=False)
        except Exception:
            log.exception("feast_push_failed", records=len(records))
            return False
        metrics.SINK_BATCH_ROWS.labels(sink="feast-online").observe(len(records))
        metrics.SINK_BATCH_SECONDS.labels(sink="feast-online").observe(
            time.perf_counter() - started)
        return True
