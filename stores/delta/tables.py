"""The lakehouse tables: their names, Arrow schemas, partitioning, and rows from records.

- ``bronze.workout_events``: every event as received, partitioned by event date, with the
  Kafka topic, partition and offset it was read at. Its columns are the union of every
  event contract's fields (latest versions); nested fields (samples, route, location)
  are JSON text. A new optional field in a contract becomes a new column on the next
  write (schema merge), with no manual step.
- ``bronze.workout_events_dlq``: the dead-letter topic as received, with the reason.
- ``silver.workouts``: one row per workout in its latest state (WorkoutSummary).
- ``gold.user_daily``: per user, UTC day and sport, totals of completed workouts.
- ``features.user_features``: every UserFeatures row the processor emitted, keyed by
  (user_id, as_of), with ``event_timestamp``: the offline table Feast's batch source
  reads (feature_repo/).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import orjson
import pyarrow as pa
from confluent_kafka import TIMESTAMP_NOT_AVAILABLE

from feature_repo.offline_table import USER_FEATURES, USER_FEATURES_SCHEMA
from fitstream.contracts.registry import SchemaRegistry
from fitstream.domain.daily_totals import utc_day
from fitstream.domain.events import EventType

BRONZE_EVENTS = "bronze.workout_events"
BRONZE_DEAD_LETTERS = "bronze.workout_events_dlq"
SILVER_WORKOUTS = "silver.workouts"
GOLD_USER_DAILY = "gold.user_daily"
TRAINING_SET = "features.weekly_distance_training"
# Every lakehouse table: the streaming ones, the backfill's rebuilds beside them, and the
# training set (what compaction and an erase go through).
ALL_TABLES = (BRONZE_EVENTS, BRONZE_DEAD_LETTERS, SILVER_WORKOUTS, GOLD_USER_DAILY,
              USER_FEATURES, f"{SILVER_WORKOUTS}_backfill", f"{GOLD_USER_DAILY}_backfill",
              f"{USER_FEATURES}_backfill", TRAINING_SET)

_PRIMITIVES = {"string": pa.string(), "long": pa.int64(), "int": pa.int32(),
               "double": pa.float64(), "float": pa.float32(), "boolean": pa.bool_(),
               "bytes": pa.binary()}
SOURCE_COLUMNS = [pa.field("kafka_topic", pa.string()), pa.field("kafka_partition", pa.int32()),
                  pa.field("kafka_offset", pa.int64())]


def _arrow_type(avro_type: Any) -> pa.DataType:
    """Primitives (logical types by their underlying type) map to Arrow; records, arrays,
    maps and enums are kept as JSON text."""
    if isinstance(avro_type, list):  # a union: nullable of its one non-null branch
        branches = [t for t in avro_type if t != "null"]
        return _arrow_type(branches[0]) if len(branches) == 1 else pa.string()
    if isinstance(avro_type, dict):
        avro_type = avro_type["type"]
    return _PRIMITIVES.get(avro_type, pa.string()) if isinstance(avro_type, str) else pa.string()


def json_columns(registry: SchemaRegistry) -> set[str]:
    """The bronze columns that hold JSON text (nested contract fields)."""
    def nested(avro_type: Any) -> bool:
        if isinstance(avro_type, list):
            return any(nested(t) for t in avro_type)
        return isinstance(avro_type, dict) and avro_type["type"] in (
            "record", "array", "map")

    return {field["name"] for kind in EventType
            for field in registry.latest(kind.subject).schema["fields"]
            if nested(field["type"])}


def bronze_event_schema(registry: SchemaRegistry) -> pa.Schema:
    """Every field of every event contract's latest version, in first-seen order."""
    fields: dict[str, pa.DataType] = {}
    for kind in EventType:
        for field in registry.latest(kind.subject).schema["fields"]:
            fields.setdefault(field["name"], _arrow_type(field["type"]))
    return pa.schema([pa.field(name, kind) for name, kind in fields.items()]
                     + [pa.field("event_date", pa.string())] + SOURCE_COLUMNS
                     # The record's timestamp: the backfill judges from_future by it,
                     # as the processor does (null in rows written before it existed).
                     + [pa.field("kafka_timestamp", pa.int64())])


def _cell(value: Any) -> Any:
    return orjson.dumps(value).decode() if isinstance(value, dict | list) else value


def bronze_event_rows(schema: pa.Schema, records: Iterable[tuple[dict[str, Any], Any]]
                      ) -> pa.Table:
    """(event, Kafka message) pairs as bronze rows; fields a schema lacks are added by merge."""
    rows = []
    for event, message in records:
        row = {name: _cell(value) for name, value in event.items()}
        row["event_date"] = utc_day(event["occurred_at"])
        row.update(kafka_topic=message.topic(), kafka_partition=message.partition(),
                   kafka_offset=message.offset())
        kind, written_at = message.timestamp()
        row["kafka_timestamp"] = written_at if kind != TIMESTAMP_NOT_AVAILABLE else None
        rows.append(row)
    known = set(schema.names)
    extra = sorted({name for row in rows for name in row} - known)
    full = pa.schema([*schema, *(pa.field(n, pa.string()) for n in extra)]) if extra else schema
    return pa.Table.from_pylist(rows, schema=full)


DEAD_LETTER_SCHEMA = pa.schema([
    pa.field("key", pa.binary()), pa.field("value", pa.binary()),
    pa.field("reason", pa.string()), pa.field("detail", pa.string()),
    pa.field("source_topic", pa.string()), pa.field("source_partition", pa.int32()),
    pa.field("source_offset", pa.int64()), pa.field("received_date", pa.string()),
    pa.field("received_at", pa.int64()), *SOURCE_COLUMNS])


def dead_letter_rows(messages: Iterable[Any]) -> pa.Table:
    rows = []
    for message in messages:
        headers = {k: v.decode() for k, v in message.headers() or [] if k.startswith("dlq.")}
        _, at = message.timestamp()
        rows.append({
            "key": message.key(), "value": message.value(),
            "reason": headers.get("dlq.reason", "unknown"), "detail": headers.get("dlq.detail"),
            "source_topic": headers.get("dlq.source.topic"),
            "source_partition": int(headers.get("dlq.source.partition", -1)),
            "source_offset": int(headers.get("dlq.source.offset", -1)),
            "received_date": f"{datetime.fromtimestamp(at / 1000, UTC):%Y-%m-%d}",
            "received_at": at, "kafka_topic": message.topic(),
            "kafka_partition": message.partition(), "kafka_offset": message.offset()})
    return pa.Table.from_pylist(rows, schema=DEAD_LETTER_SCHEMA)


SILVER_SCHEMA = pa.schema([
    pa.field("workout_id", pa.string()), pa.field("user_id", pa.string()),
    pa.field("device_id", pa.string()), pa.field("sport_type", pa.string()),
    pa.field("status", pa.string()), pa.field("start_time", pa.int64()),
    pa.field("start_date", pa.string()), pa.field("end_time", pa.int64()),
    pa.field("moving_duration_ms", pa.int64()), pa.field("distance_meters", pa.float64()),
    pa.field("calories_burned", pa.float64()), pa.field("avg_heart_rate", pa.float64()),
    pa.field("avg_speed_mps", pa.float64()), pa.field("sample_count", pa.int64()),
    pa.field("last_seq", pa.int64()), pa.field("last_event_at", pa.int64()),
    pa.field("best_1k_ms", pa.int64()), pa.field("best_5k_ms", pa.int64()),
    pa.field("best_10k_ms", pa.int64())])


def silver_rows(summaries: Iterable[dict[str, Any]]) -> pa.Table:
    """The latest summary of each (user, workout) among ``summaries`` (highest last_seq):
    two users' summaries for one workout id stay two rows."""
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    for summary in summaries:
        key = (summary["user_id"], summary["workout_id"])
        known = latest.get(key)
        if known is None or summary["last_seq"] >= known["last_seq"]:
            latest[key] = summary
    rows = [{**{f: s.get(f) for f in SILVER_SCHEMA.names},
             "start_date": utc_day(s["start_time"])} for s in latest.values()]
    return pa.Table.from_pylist(rows, schema=SILVER_SCHEMA)


GOLD_SCHEMA = pa.schema([
    pa.field("user_id", pa.string()), pa.field("day", pa.string()), pa.field("sport", pa.string()),
    pa.field("distance_meters", pa.float64()), pa.field("moving_time_s", pa.float64()),
    pa.field("workouts", pa.int64()), pa.field("calories", pa.float64()),
    pa.field("avg_heart_rate", pa.float64())])

def user_feature_rows(records: Iterable[dict[str, Any]]) -> pa.Table:
    """UserFeatures records as offline rows, one per (user_id, as_of)."""
    latest = {(r["user_id"], r["as_of"]): r for r in records}
    rows = [{**r, "event_timestamp": datetime.fromtimestamp(r["as_of"] / 1000, UTC),
             "as_of_date": utc_day(r["as_of"])} for r in latest.values()]
    return pa.Table.from_pylist(rows, schema=USER_FEATURES_SCHEMA)


PARTITIONS = {BRONZE_EVENTS: ["event_date"], BRONZE_DEAD_LETTERS: ["received_date"],
              SILVER_WORKOUTS: ["start_date"], GOLD_USER_DAILY: ["day"],
              USER_FEATURES: ["as_of_date"]}
