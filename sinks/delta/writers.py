"""What each lakehouse sink does with a batch: one module-level writer per target.

Every writer commits its Delta tables with one ``Transaction(app_id, version)`` per
Kafka partition in the batch, where the version is the next offset to read; after a
crash :meth:`LakehouseWriter.resume_at` reads those versions back, so nothing is
written twice and nothing is skipped. The writers run on the sink runner through
:class:`sinks.delta.topic_sink.DeltaTopicSink`; the Kafka offsets the runner also
commits are only for lag metrics. The tables themselves (paths, creation, appends) are
:class:`stores.delta.lakehouse.DeltaTables`.
"""

from __future__ import annotations

from typing import Any, Protocol

import pyarrow as pa
import structlog
from deltalake import CommitProperties, Transaction

from fitstream.contracts import AvroSerde, SerdeError
from fitstream.contracts.registry import SchemaRegistry
from fitstream.domain.daily_totals import user_daily_rows
from fitstream.domain.events import WORKOUT_SUBJECTS
from stores.delta import writer_groups
from stores.delta.lakehouse import DeltaTables
from stores.delta.tables import (
    BRONZE_DEAD_LETTERS,
    BRONZE_EVENTS,
    DEAD_LETTER_SCHEMA,
    GOLD_SCHEMA,
    GOLD_USER_DAILY,
    SILVER_SCHEMA,
    SILVER_WORKOUTS,
    USER_FEATURES,
    USER_FEATURES_SCHEMA,
    bronze_event_rows,
    bronze_event_schema,
    dead_letter_rows,
    silver_rows,
    user_feature_rows,
)

log = structlog.get_logger("sinks.delta")


class LakehouseWriter(Protocol):
    """Lifecycle: :meth:`prepare` once (creates missing tables), then :meth:`resume_at`
    for each assigned partition, then :meth:`write` per batch. ``write`` commits or
    raises; a raise leaves the Delta log as it was or with some tables committed, and
    the sink re-reads from :meth:`resume_at`, which every write tolerates."""

    name: str
    topic: str

    def prepare(self) -> None: ...

    def resume_at(self, app_id: str) -> int | None:
        """The next offset to read for this app id (None: nothing committed yet)."""
        ...

    def write(self, messages: list[Any], transactions: list[Transaction]) -> int:
        """Commit the batch; returns the rows written."""
        ...


class BronzeEventsWriter:
    """The events topic as received; records no contract explains are the DLQ's."""

    name = writer_groups.BRONZE_EVENTS

    def __init__(self, tables: DeltaTables, serde: AvroSerde, registry: SchemaRegistry) -> None:
        self.tables, self.serde, self.registry = tables, serde, registry
        self.topic = tables.settings.kafka.events_topic

    def prepare(self) -> None:
        self.tables.ensure(BRONZE_EVENTS, bronze_event_schema(self.registry))

    def resume_at(self, app_id: str) -> int | None:
        return self.tables.version_of(BRONZE_EVENTS, app_id)

    def write(self, messages: list[Any], transactions: list[Transaction]) -> int:
        events = []
        for message in messages:
            try:
                subject, event = self.serde.decode(message.value())
            except SerdeError:
                continue  # the processor dead-letters it; bronze_events_dlq keeps it
            if subject in WORKOUT_SUBJECTS:
                events.append((event, message))
        # The schema follows the registry: a contract's new optional field is a new column.
        rows = bronze_event_rows(bronze_event_schema(self.registry), events)
        self.tables.append(BRONZE_EVENTS, rows, transactions)
        return rows.num_rows


class BronzeDeadLettersWriter:
    name = writer_groups.BRONZE_DLQ

    def __init__(self, tables: DeltaTables) -> None:
        self.tables = tables
        self.topic = tables.settings.kafka.dlq_topic

    def prepare(self) -> None:
        self.tables.ensure(BRONZE_DEAD_LETTERS, DEAD_LETTER_SCHEMA)

    def resume_at(self, app_id: str) -> int | None:
        return self.tables.version_of(BRONZE_DEAD_LETTERS, app_id)

    def write(self, messages: list[Any], transactions: list[Transaction]) -> int:
        rows = dead_letter_rows(messages)
        self.tables.append(BRONZE_DEAD_LETTERS, rows, transactions)
        return rows.num_rows


class SilverGoldWriter:
    """WorkoutSummary changes: MERGE into silver.workouts, then recompute the touched
    (user, day) rows of gold.user_daily from silver and MERGE them.

    MERGE, not a partition overwrite: a batch touches a few workouts scattered over
    many start dates (late syncs, long workouts), and rewriting every touched date
    partition for each micro-batch would rewrite far more than it changes.
    """

    name = writer_groups.SILVER_GOLD

    def __init__(self, tables: DeltaTables, serde: AvroSerde) -> None:
        self.tables, self.serde = tables, serde
        self.topic = tables.settings.kafka.summaries_topic

    def prepare(self) -> None:
        self.tables.ensure(SILVER_WORKOUTS, SILVER_SCHEMA)
        self.tables.ensure(GOLD_USER_DAILY, GOLD_SCHEMA)

    def resume_at(self, app_id: str) -> int | None:
        versions = [self.tables.version_of(t, app_id) for t in (SILVER_WORKOUTS, GOLD_USER_DAILY)]
        if all(v is None for v in versions):
            return None
        # A crash between the two commits: start where gold stands (silver's MERGE is
        # idempotent, and gold is recomputed from silver).
        return min(v or 0 for v in versions)

    def write(self, messages: list[Any], transactions: list[Transaction]) -> int:
        summaries = []
        for message in messages:
            try:
                summaries.append(self.serde.decode(message.value())[1])
            except SerdeError as exc:
                log.warning("undecodable_summary_skipped", reason=exc.reason,
                            partition=message.partition(), offset=message.offset())
        source = silver_rows(summaries)
        commit = CommitProperties(app_transactions=transactions)
        (self.tables.open(SILVER_WORKOUTS)
         # (user, workout): another user's summary for a reused workout id is another
         # row, never an update of the owner's.
         .merge(source, "t.user_id = s.user_id AND t.workout_id = s.workout_id",
                source_alias="s", target_alias="t", commit_properties=commit)
         .when_matched_update_all(predicate="s.last_seq >= t.last_seq")
         .when_not_matched_insert_all()
         .execute())
        touched = {(r["user_id"], r["start_date"]) for r in source.select(
            ["user_id", "start_date"]).to_pylist()}
        gold = pa.Table.from_pylist(self._daily(touched), schema=GOLD_SCHEMA)
        (self.tables.open(GOLD_USER_DAILY)
         .merge(gold, "t.user_id = s.user_id AND t.day = s.day AND t.sport = s.sport",
                source_alias="s", target_alias="t", commit_properties=commit)
         .when_matched_update_all()
         .when_not_matched_insert_all()
         .execute())
        return source.num_rows + gold.num_rows

    def _daily(self, touched: set[tuple[str, str]]) -> list[dict[str, Any]]:
        if not touched:
            return []
        days = sorted({d for _, d in touched})
        users = {u for u, _ in touched}
        rows = [r for r in self.tables.open(SILVER_WORKOUTS).to_pyarrow_table(
            filters=[("start_date", "in", days)]).to_pylist() if r["user_id"] in users]
        return [r for r in user_daily_rows(rows) if (r["user_id"], r["day"]) in touched]


class UserFeaturesWriter:
    """UserFeatures rows into the offline feature table, MERGEd on (user_id, as_of): the
    processor re-sends a user's current row when a completion is re-delivered, and the
    row must stay one row (an append would give a point-in-time join two)."""

    name = writer_groups.USER_FEATURES

    def __init__(self, tables: DeltaTables, serde: AvroSerde) -> None:
        self.tables, self.serde = tables, serde
        self.topic = tables.settings.kafka.features_topic

    def prepare(self) -> None:
        self.tables.ensure(USER_FEATURES, USER_FEATURES_SCHEMA)

    def resume_at(self, app_id: str) -> int | None:
        return self.tables.version_of(USER_FEATURES, app_id)

    def write(self, messages: list[Any], transactions: list[Transaction]) -> int:
        records = []
        for message in messages:
            try:
                records.append(self.serde.decode(message.value())[1])
            except SerdeError as exc:
                log.warning("undecodable_features_skipped", reason=exc.reason,
                            partition=message.partition(), offset=message.offset())
        rows = user_feature_rows(records)
        # merge_schema: a table made before UserFeatures v2 gains the new columns (null
        # in its older rows) on the first v2 batch.
        (self.tables.open(USER_FEATURES)
         .merge(rows, "t.user_id = s.user_id AND t.as_of = s.as_of", source_alias="s",
                target_alias="t", merge_schema=True, commit_properties=CommitProperties(
                    app_transactions=transactions))
         .when_matched_update_all()
         .when_not_matched_insert_all()
         .execute())
        return rows.num_rows
