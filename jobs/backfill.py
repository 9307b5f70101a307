"""``fitstream jobs backfill``: rebuild silver and gold from bronze with Spark, and compare
them with what the stream wrote.

Each Kafka partition's events are replayed in log order through the same domain code
the processor runs (``apply_batch``, batches of ``processor.batch_max_records``, one
PartitionClock per partition), inside ``applyInPandas`` on the executors; gold comes
from silver with ``user_daily_rows``, per user. The results go to
``silver.workouts_backfill`` and ``gold.user_daily_backfill`` (one Delta commit each),
and the report says whether they equal ``silver.workouts`` and ``gold.user_daily``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import orjson
import pandas as pd
from deltalake import DeltaTable
from pyspark.sql import SparkSession

from fitstream.contracts import registry_from_settings
from fitstream.domain.daily_totals import user_daily_rows, utc_day
from fitstream.domain.session_batch import EventTimePolicy, PartitionClock, apply_batch
from fitstream.settings import FitStreamSettings
from jobs.delta_io import read_snapshot, write_table
from sinks.delta.tables import (
    BRONZE_EVENTS,
    GOLD_SCHEMA,
    GOLD_USER_DAILY,
    PARTITIONS,
    SILVER_SCHEMA,
    SILVER_WORKOUTS,
    json_columns,
)

SILVER_BACKFILL = f"{SILVER_WORKOUTS}_backfill"
GOLD_BACKFILL = f"{GOLD_USER_DAILY}_backfill"


def _ddl(schema: Any) -> str:
    spark_types = {"string": "string", "int64": "bigint", "double": "double",
                   "int32": "int"}
    return ", ".join(f"{f.name} {spark_types[str(f.type)]}" for f in schema)


def rebuild_partition(events: pd.DataFrame, nested: set[str], policy: EventTimePolicy,
                      batch: int) -> pd.DataFrame:
    """One Kafka partition's events, in log order, into the latest summary per workout."""
    events = events.sort_values("kafka_offset")
    sessions: dict[str, Any] = {}
    clock = PartitionClock()
    latest: dict[str, dict[str, Any]] = {}
    records = events.to_dict("records")
    for start in range(0, len(records), batch):
        chunk = []
        for row in records[start:start + batch]:
            event = {k: (orjson.loads(v) if k in nested and isinstance(v, str) else v)
                     for k, v in row.items() if not _missing(v)}
            chunk.append((event, [row["kafka_partition"], row["kafka_offset"]]))
        result = apply_batch(chunk, sessions.get, clock, policy,
                             (chunk[0][1][1], chunk[-1][1][1]) if chunk else None)
        sessions.update(result.sessions)
        for summary in result.summaries:
            latest[summary["workout_id"]] = summary
    rows = [{**{f: s.get(f) for f in SILVER_SCHEMA.names}, "start_date": utc_day(s["start_time"])}
            for s in latest.values()]
    return pd.DataFrame(rows, columns=SILVER_SCHEMA.names)


def _missing(value: Any) -> bool:
    """Absent in this event type's columns: null, or pandas' NaN for a missing number."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def daily_for_user(workouts: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(user_daily_rows(workouts.to_dict("records")),
                        columns=GOLD_SCHEMA.names)


def _table_rows(uri: str, key: list[str]) -> list[dict[str, Any]]:
    if not DeltaTable.is_deltatable(uri):
        return []
    rows = DeltaTable(uri).to_pyarrow_table().to_pylist()
    return sorted(rows, key=lambda r: tuple(str(r[k]) for k in key))


def run_backfill(settings: FitStreamSettings, spark: SparkSession) -> dict[str, Any]:
    """Rebuild, write, compare; returns the report."""
    registry = registry_from_settings(settings.schema_registry)
    nested = json_columns(registry)
    policy = EventTimePolicy(settings.processor.allowed_lateness_ms,
                             settings.processor.unknown_workout_timeout_ms)
    batch = settings.processor.batch_max_records
    bronze = read_snapshot(spark, settings.lakehouse_uri(BRONZE_EVENTS),
                           settings.lakehouse.storage_options or None)
    silver = bronze.groupBy("kafka_partition").applyInPandas(
        lambda pdf: rebuild_partition(pdf, nested, policy, batch), _ddl(SILVER_SCHEMA))
    silver = silver.cache()
    gold = silver.groupBy("user_id").applyInPandas(daily_for_user, _ddl(GOLD_SCHEMA))
    write_table(silver, settings.lakehouse_uri(SILVER_BACKFILL), PARTITIONS[SILVER_WORKOUTS])
    write_table(gold, settings.lakehouse_uri(GOLD_BACKFILL), PARTITIONS[GOLD_USER_DAILY])
    report: dict[str, Any] = {"bronze_events": bronze.count()}
    for name, streamed, rebuilt, key in (
            ("silver", SILVER_WORKOUTS, SILVER_BACKFILL, ["workout_id"]),
            ("gold", GOLD_USER_DAILY, GOLD_BACKFILL, ["user_id", "day", "sport"])):
        stream_rows = _table_rows(settings.lakehouse_uri(streamed), key)
        batch_rows = _table_rows(settings.lakehouse_uri(rebuilt), key)
        report[name] = {"streamed": len(stream_rows), "backfilled": len(batch_rows),
                        "equal": stream_rows == batch_rows,
                        "differing_keys": sorted(
                            {tuple(r[k] for k in key) for r in stream_rows}
                            ^ {tuple(r[k] for k in key) for r in batch_rows})[:10]}
    silver.unpersist()
    return report


def iter_report(report: dict[str, Any]) -> Iterator[tuple[str, str]]:
    yield "bronze events read", f"{report['bronze_events']:,}"
    for name in ("silver", "gold"):
        part = report[name]
        yield (f"{name}: streamed / backfilled",
               f"{part['streamed']:,} / {part['backfilled']:,} rows, "
               f"{'equal' if part['equal'] else 'DIFFERENT'}")
