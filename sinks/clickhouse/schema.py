"""Idempotent DDL, applied by every process that opens the store.

ReplacingMergeTree versions carry idempotency: a replay or a retried batch writes
rows with versions already present, and reads use FINAL (or argMax) so they see
one row per key. Times are stored twice: ``DateTime`` for analysts and
partitioning, and epoch milliseconds for exact values (18.16 has no DateTime64).
"""

from __future__ import annotations

from sinks.clickhouse.store import ClickHouseStore

WORKOUT_SUMMARY = "workout_summary"

DDL = [
    """
    CREATE TABLE IF NOT EXISTS {db}.workout_summary (
        workout_id String,
        user_id String,
        device_id String,
        sport_type String,
        status String,
        start_time DateTime,
        start_ms Int64,
        end_ms Nullable(Int64),
        moving_duration_ms Int64,
        distance_meters Float64,
        calories_burned Nullable(Float64),
        avg_heart_rate Nullable(Float64),
        avg_speed_mps Nullable(Float64),
        sample_count Int64,
        last_seq UInt32,
        last_event_ms Int64
    ) ENGINE = ReplacingMergeTree(last_seq)
    PARTITION BY toYYYYMM(start_time)
    ORDER BY (user_id, workout_id)
    """,
]


def apply_ddl(store: ClickHouseStore) -> None:
    for statement in DDL:
        store.execute(statement.format(db=store.database))
