"""``fitstream jobs backfill``: rebuild silver, gold and the user features from bronze
with Spark, and compare them with what the stream wrote.

Each user's events are replayed in log order through the pipeline core the processor
runs (:func:`fitstream.domain.pipeline.run_batch`), inside ``applyInPandas`` grouped by
user on the executors: every decision depends only on the user's own events (their own
clock, fitstream/domain/event_time.py), so a user's events are the whole input, whatever
partitions or batches the stream saw. Gold comes from silver with ``user_daily_rows``,
per user. The results go to ``silver.workouts_backfill``, ``gold.user_daily_backfill``
and ``features.user_features_backfill`` (one Delta commit each), and the report says
whether each equals the table the stream wrote. :func:`pipeline_outputs` returns every
output record instead, for the differential test (tests/engines/).

Bronze keeps coordinates sealed as received; the replay opens them with the key store,
as the processor does, so the event bounds judge the same values.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import orjson
import pandas as pd
import pyarrow as pa
from deltalake import DeltaTable
from pyspark.sql import SparkSession
from pyspark.sql import functions as sf

from fitstream.contracts import registry_from_settings
from fitstream.domain import pipeline
from fitstream.domain.daily_totals import user_daily_rows, utc_day
from fitstream.domain.dead_letter import DeadLetterReason
from fitstream.domain.event_time import EventTimePolicy
from fitstream.domain.events import event_subject
from fitstream.domain.features import FLAT_FEATURE_NAMES
from fitstream.domain.workout_session import Rejection
from fitstream.privacy.coordinates import CoordinatesUnreadable, open_coordinates
from fitstream.privacy.fields import FieldCipher
from fitstream.privacy.keys import key_store
from fitstream.settings import FitStreamSettings
from stores.delta.spark_io import read_snapshot, write_table
from stores.delta.tables import (
    BRONZE_EVENTS,
    GOLD_SCHEMA,
    GOLD_USER_DAILY,
    PARTITIONS,
    SILVER_SCHEMA,
    SILVER_WORKOUTS,
    USER_FEATURES,
    USER_FEATURES_SCHEMA,
    json_columns,
)

SILVER_BACKFILL = f"{SILVER_WORKOUTS}_backfill"
GOLD_BACKFILL = f"{GOLD_USER_DAILY}_backfill"
FEATURES_BACKFILL = f"{USER_FEATURES}_backfill"
# rebuild_user's one output holds both silver rows and feature rows.
FEATURE_COLUMNS = ["as_of", *FLAT_FEATURE_NAMES]
REBUILT_SCHEMA = pa.schema([pa.field("row_kind", pa.string()), *SILVER_SCHEMA, *(
    USER_FEATURES_SCHEMA.field(name) for name in FEATURE_COLUMNS)])
# pipeline_outputs' rows: the PipelineResult field, and the record as JSON.
OUTPUT_SCHEMA = pa.schema([pa.field("output", pa.string()), pa.field("record", pa.string())])


def _ddl(schema: Any) -> str:
    spark_types = {"string": "string", "int64": "bigint", "double": "double",
                   "int32": "int", "timestamp[ms, tz=UTC]": "timestamp"}
    return ", ".join(f"{f.name} {spark_types[str(f.type)]}" for f in schema)


# The integer fields of the workout contracts that can be null in a bronze column.
INTEGER_FIELDS = ("seq", "occurred_at", "start_time", "end_time", "duration_sec",
                  "heart_rate", "avg_heart_rate")


class DictState:
    """The pipeline's keyed state in a dict, for one user's replay on an executor."""

    def __init__(self) -> None:
        self.stored: dict[tuple[str, str], dict[str, Any] | None] = {}

    def get(self, store: str, key: str) -> dict[str, Any] | None:
        return self.stored.get((store, key))


def replay_user(events: pd.DataFrame, nested: set[str], policy: EventTimePolicy,
                keys: FitStreamSettings | None = None) -> pipeline.PipelineResult:
    """One user's bronze rows, in log order, through the pipeline core as one batch (the
    result does not depend on batching); the result's lists hold every record each
    output would have sent, in order.

    Bronze keeps coordinates sealed, as received: with ``keys`` (the settings of the key
    store) they are opened first, as the processor opens them, so the bounds judge the
    real values and coordinates that do not open are dead-lettered as there
    (``unreadable_coordinates``). Without, the blanked values are judged."""
    cipher = FieldCipher(key_store(keys)) if keys is not None else None
    events = events.sort_values(["kafka_partition", "kafka_offset"])
    batch, unreadable = [], []
    for row in events.to_dict("records"):
        event = {k: (orjson.loads(v) if k in nested and isinstance(v, str) else v)
                 for k, v in row.items() if not _missing(v)}
        # pandas holds a nullable integer column as floats; the contract's are ints
        # (and event bounds refuse a float where an int belongs).
        event.update((k, int(event[k])) for k in INTEGER_FIELDS
                     if isinstance(event.get(k), float))
        # The record's timestamp judges from_future as in the processor; rows bronze
        # wrote before it kept kafka_timestamp have none, and are not judged.
        written_at = row.get("kafka_timestamp")
        ref = [int(row["kafka_partition"]), int(row["kafka_offset"]),
               None if _missing(written_at) else int(written_at)]
        if cipher is not None:
            try:
                event = open_coordinates(cipher, event_subject(event), event)
            except CoordinatesUnreadable as exc:
                unreadable.append(Rejection(event, ref, DeadLetterReason.UNREADABLE_COORDINATES,
                                            str(exc)))
                continue
        batch.append((event, ref))
    result = pipeline.run_batch(batch, DictState(), policy)
    result.rejections[:0] = unreadable
    return result


def rebuild_user(events: pd.DataFrame, nested: set[str], policy: EventTimePolicy,
                 keys: FitStreamSettings | None = None) -> pd.DataFrame:
    """One user's events into the latest summary per workout (``row_kind`` silver) and
    the feature rows its completions cause (``features``)."""
    result = replay_user(events, nested, policy, keys)
    latest = {(s["user_id"], s["workout_id"]): s for s in result.summaries}
    features = {(r["user_id"], r["as_of"]): r for r in result.features}
    rows = [{**{f: s.get(f) for f in SILVER_SCHEMA.names}, "start_date": utc_day(s["start_time"]),
             "row_kind": "silver"} for s in latest.values()]
    rows += [{**row, "row_kind": "features"} for row in features.values()]
    return pa.Table.from_pylist(rows, schema=REBUILT_SCHEMA).to_pandas()


def outputs_of_user(events: pd.DataFrame, nested: set[str], policy: EventTimePolicy,
                    keys: FitStreamSettings | None = None) -> pd.DataFrame:
    """Every record one user's events make, as (output, JSON) rows in send order; the
    rejections as ``rejections`` rows of (reason, event_id, user_id, seq)."""
    result = replay_user(events, nested, policy, keys)
    rows = [{"output": name, "record": orjson.dumps(record).decode()}
            for name in OUTPUT_FIELDS for record in getattr(result, name)]
    rows += [{"output": "rejections", "record": orjson.dumps(
        {"reason": r.reason.value, "event_id": r.event["event_id"],
         "user_id": r.event["user_id"], "seq": r.event["seq"]}).decode()}
        for r in result.rejections]
    return pa.Table.from_pylist(rows, schema=OUTPUT_SCHEMA).to_pandas()


OUTPUT_FIELDS = ("summaries", "claims", "leaderboard_entries", "progress", "unlocks",
                 "records", "features", "notifications", "board_completions")


def pipeline_outputs(settings: FitStreamSettings, spark: SparkSession,
                     ) -> dict[str, list[dict[str, Any]]]:
    """Every output record the pipeline core makes from bronze, per output, in each
    user's send order (users in no particular order)."""
    nested = json_columns(registry_from_settings(settings.schema_registry))
    policy = _policy(settings)
    bronze = read_snapshot(spark, settings.lakehouse_uri(BRONZE_EVENTS),
                           settings.lakehouse.object_store_options())
    rows = bronze.groupBy("user_id").applyInPandas(
        lambda pdf: outputs_of_user(pdf, nested, policy, settings),
        _ddl(OUTPUT_SCHEMA)).collect()
    outputs: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        outputs.setdefault(row["output"], []).append(orjson.loads(row["record"]))
    return outputs


def _policy(settings: FitStreamSettings) -> EventTimePolicy:
    return EventTimePolicy(settings.processor.allowed_lateness_ms,
                           settings.processor.unknown_workout_timeout_ms,
                           settings.processor.max_future_skew_ms)


def _missing(value: Any) -> bool:
    """Absent in this event type's columns: null, or pandas' NaN for a missing number."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def daily_for_user(workouts: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(user_daily_rows(workouts.to_dict("records")),
                        columns=GOLD_SCHEMA.names)


def _table_rows(uri: str, key: list[str], columns: list[str] | None = None,
                storage_options: dict | None = None) -> list[dict[str, Any]]:
    if not DeltaTable.is_deltatable(uri, storage_options=storage_options):
        return []
    rows = DeltaTable(uri, storage_options=storage_options).to_pyarrow_table(
        columns=columns).to_pylist()
    return sorted(rows, key=lambda r: tuple(str(r[k]) for k in key))


def run_backfill(settings: FitStreamSettings, spark: SparkSession) -> dict[str, Any]:
    """Rebuild, write, compare; returns the report."""
    nested = json_columns(registry_from_settings(settings.schema_registry))
    policy = _policy(settings)
    bronze = read_snapshot(spark, settings.lakehouse_uri(BRONZE_EVENTS),
                           settings.lakehouse.object_store_options())
    rebuilt = bronze.groupBy("user_id").applyInPandas(
        lambda pdf: rebuild_user(pdf, nested, policy, settings), _ddl(REBUILT_SCHEMA))
    rebuilt = rebuilt.cache()
    silver = rebuilt.where(sf.col("row_kind") == "silver").select(*SILVER_SCHEMA.names)
    features = (rebuilt.where(sf.col("row_kind") == "features")
                .withColumn("event_timestamp", sf.timestamp_millis("as_of"))
                .withColumn("as_of_date", sf.date_format("event_timestamp", "yyyy-MM-dd"))
                .select(*USER_FEATURES_SCHEMA.names))
    gold = silver.groupBy("user_id").applyInPandas(daily_for_user, _ddl(GOLD_SCHEMA))
    options = settings.lakehouse.object_store_options()
    write_table(silver, settings.lakehouse_uri(SILVER_BACKFILL), PARTITIONS[SILVER_WORKOUTS],
                storage_options=options)
    write_table(gold, settings.lakehouse_uri(GOLD_BACKFILL), PARTITIONS[GOLD_USER_DAILY],
                storage_options=options)
    write_table(features, settings.lakehouse_uri(FEATURES_BACKFILL), PARTITIONS[USER_FEATURES],
                storage_options=options)
    report: dict[str, Any] = {"bronze_events": bronze.count()}
    for name, streamed, rebuilt_table, key, columns in (
            ("silver", SILVER_WORKOUTS, SILVER_BACKFILL, ["user_id", "workout_id"], None),
            ("gold", GOLD_USER_DAILY, GOLD_BACKFILL, ["user_id", "day", "sport"], None),
            ("features", USER_FEATURES, FEATURES_BACKFILL, ["user_id", "as_of"],
             ["user_id", *FEATURE_COLUMNS])):
        stream_rows = _table_rows(settings.lakehouse_uri(streamed), key, columns, options)
        batch_rows = _table_rows(settings.lakehouse_uri(rebuilt_table), key, columns, options)
        report[name] = {"streamed": len(stream_rows), "backfilled": len(batch_rows),
                        "equal": stream_rows == batch_rows,
                        "differing_keys": sorted(
                            {tuple(r[k] for k in key) for r in stream_rows}
                            ^ {tuple(r[k] for k in key) for r in batch_rows})[:10]}
    rebuilt.unpersist()
    return report


def iter_report(report: dict[str, Any]) -> Iterator[tuple[str, str]]:
    yield "bronze events read", f"{report['bronze_events']:,}"
    for name in ("silver", "gold", "features"):
        part = report[name]
        yield (f"{name}: streamed / backfilled",
               f"{part['streamed']:,} / {part['backfilled']:,} rows, "
               f"{'equal' if part['equal'] else 'DIFFERENT'}")
