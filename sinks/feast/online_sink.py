"""UserFeatures rows into Feast's online store through the push source.

:class:`OnlineFeatureSink` is a writer on :class:`fitstream.kafka.sink_runner.SinkRunner`
(:func:`online_runner`), which owns the consumer: each batch is pushed
(``PushMode.ONLINE``) and only then are its offsets committed (every
``sink.commit_interval_s`` and at stop), so a crash re-pushes, never skips; a failed push
is read again after a pause. Re-pushing is harmless: a user's rows are on one
partition, and the processor ends them on the user's latest row (an older row it
re-sends is followed by the current one), so any replayed suffix ends on the same latest
row (the SQLite store keeps the last write; Redis keeps the latest event time). Per push
only each user's last row is sent.
The offline side is the Delta table the lakehouse sink writes, not a Feast push: Delta's
transactions are what make it exactly once.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import pyarrow as pa
import structlog
from feast.data_source import PushMode

from feature_repo.definitions import PUSH_SOURCE
from fitstream.contracts import AvroSerde, SerdeError, registry_from_settings
from fitstream.kafka.sink_runner import RunnerConfig, SinkRunner
from fitstream.privacy.erasures import ErasureLedger, record_timestamp_ms
from fitstream.settings import FitStreamSettings
from stores.delta.tables import user_feature_rows
from stores.feast.store import feature_store

log = structlog.get_logger("sinks.feast")

POLL_MAX_ROWS = 5_000
_NULLABLE_INTEGERS = {pa.int64(): pd.Int64Dtype()}


def online_frame(records: list[dict[str, Any]]) -> pd.DataFrame:
    """The last row per user, as the push source's columns (event_timestamp included).

    Integer features stay integers with nulls (pandas ``Int64``): the v2 last_* ones
    are None for users with fewer workouts, and numpy would make the column floats."""
    last = {r["user_id"]: r for r in records}
    return user_feature_rows(last.values()).drop(["as_of_date"]).to_pandas(
        types_mapper=_NULLABLE_INTEGERS.get)


class OnlineFeatureSink:
    """The features topic's writer into the online store (through Feast's push source)."""

    name = "feast-online"

    def __init__(self, settings: FitStreamSettings) -> None:
        self._serde = AvroSerde(registry_from_settings(settings.schema_registry))
        self._store = feature_store(settings)
        # Rows of erased users, logged at or before their erasure, are not pushed
        # (fitstream/privacy/erasures.py): a lagging sink must not refill their entity row.
        self._erasures = ErasureLedger(settings, self._serde)
        self.topics = [settings.kafka.features_topic]
        self.group_id = settings.feast.group_id
        self.rows_pushed = 0

    def write(self, batch: list[Any]) -> int:
        records = []
        self._erasures.catch_up({m.partition() for m in batch})
        for message in batch:
            if self._erasures.is_erased(message.key(), record_timestamp_ms(message)):
                continue
            try:
                records.append(self._serde.decode(message.value())[1])
            except SerdeError as exc:  # the producer is ours; say so, do not stop
                log.warning("undecodable_features_skipped", reason=exc.reason,
                            partition=message.partition(), offset=message.offset())
        if not records:
            return 0
        frame = online_frame(records)
        self._store.push(PUSH_SOURCE, frame, to=PushMode.ONLINE)
        self.rows_pushed += len(frame)
        return len(records)

    def close(self) -> None:
        self._erasures.close()


def online_runner(settings: FitStreamSettings, sink: OnlineFeatureSink) -> SinkRunner:
    """The online sink on the sink runner: ``settings.sink``'s batching and commit
    interval, under the Feast group. It runs in the lakehouse role, so it takes that
    role's static membership (``lakehouse.group_instance_id``) like the Delta sinks: a
    restarted role gets the partitions back at once, and the embedded broker never
    evicts a crashed member (with dynamic membership a SIGKILLed role's successor waited
    for the dead member and pushed nothing)."""
    static = settings.lakehouse.group_instance_id
    return SinkRunner(sink, settings.kafka, RunnerConfig(
        group_id=sink.group_id,
        batch_max_rows=min(settings.sink.batch_max_rows, POLL_MAX_ROWS),
        batch_max_wait_s=settings.sink.batch_max_wait_s,
        commit_interval_s=settings.sink.commit_interval_s,
        consumer=({"group.instance.id": f"{static}-{sink.name}", "session.timeout.ms": 10_000}
                  if static else {})))
