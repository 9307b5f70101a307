"""The view tables: their idempotent DDL, their row shapes, and the topic each is fed from.

ReplacingMergeTree versions carry idempotency: a replay or a retried batch writes
rows with versions already present, and reads use FINAL (or argMax) so they see
one row per key. Times are stored twice where analysts filter on them:
``DateTime`` for partitioning and SQL, and epoch milliseconds for exact values
(18.16 has no DateTime64).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fitstream.settings import FitStreamSettings
from sinks.clickhouse.store import ClickHouseStore

Columns = dict[str, list[Any]]
ColumnsBuilder = Callable[[list[dict[str, Any]]], Columns]
"""Turns decoded records into one columnar insert."""

WORKOUT_SUMMARY = "workout_summary"
LEADERBOARD_ENTRIES = "leaderboard_entries"
ACHIEVEMENT_PROGRESS = "achievement_progress"
WORKOUT_ROUTES = "workout_routes"
WORKOUT_SAMPLES = "workout_samples"

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
        last_event_ms Int64,
        best_1k_ms Nullable(Int64),
        best_5k_ms Nullable(Int64),
        best_10k_ms Nullable(Int64)
    ) ENGINE = ReplacingMergeTree(last_seq)
    PARTITION BY toYYYYMM(start_time)
    ORDER BY (user_id, workout_id)
    """,
    """
    CREATE TABLE IF NOT EXISTS {db}.leaderboard_entries (
        time_window String,
        period String,
        sport String,
        user_id String,
        distance_meters Float64,
        moving_time_s Float64,
        calories Float64,
        workouts UInt32,
        reached_at_ms Int64,
        version UInt32
    ) ENGINE = ReplacingMergeTree(version)
    ORDER BY (time_window, period, sport, user_id)
    """,
    """
    CREATE TABLE IF NOT EXISTS {db}.achievement_progress (
        user_id String,
        rule_id String,
        kind String,
        title String,
        progress Float64,
        achieved_at_ms Nullable(Int64),
        version UInt32
    ) ENGINE = ReplacingMergeTree(version)
    ORDER BY (user_id, rule_id)
    """,
    # Parallel arrays: 18.16 has no Array(Tuple(...)) columns. A route never changes,
    # so any copy of a replayed row is the row.
    """
    CREATE TABLE IF NOT EXISTS {db}.workout_routes (
        workout_id String,
        user_id String,
        end_ms Nullable(Int64),
        lats Array(Float64),
        lons Array(Float64)
    ) ENGINE = ReplacingMergeTree()
    ORDER BY (user_id, workout_id)
    """,
    # Telemetry straight from the log: a re-sent sample has the same key and values.
    """
    CREATE TABLE IF NOT EXISTS {db}.workout_samples (
        workout_id String,
        user_id String,
        offset_ms Int64,
        distance_meters Float64,
        heart_rate Nullable(Int32),
        speed Nullable(Float64),
        lat Float64,
        lon Float64,
        elevation_meters Nullable(Float64)
    ) ENGINE = ReplacingMergeTree()
    ORDER BY (workout_id, offset_ms)
    """,
]


def apply_ddl(store: ClickHouseStore) -> None:
    for statement in DDL:
        store.execute(statement.format(db=store.database))


def _columns(records: list[dict[str, Any]], mapping: dict[str, Callable[[dict], Any]]) -> Columns:
    return {column: [get(r) for r in records] for column, get in mapping.items()}


def _field(name: str) -> Callable[[dict], Any]:
    return lambda record: record[name]


SUMMARY_COLUMNS: dict[str, Callable[[dict], Any]] = {
    **{c: _field(c) for c in ("workout_id", "user_id", "device_id", "sport_type", "status")},
    "start_time": lambda r: datetime.fromtimestamp(r["start_time"] // 1000, UTC),
    "start_ms": _field("start_time"),
    "end_ms": _field("end_time"),
    **{c: _field(c) for c in ("moving_duration_ms", "distance_meters", "calories_burned",
                              "avg_heart_rate", "avg_speed_mps", "sample_count", "last_seq")},
    "last_event_ms": _field("last_event_at"),
    **{c: _field(c) for c in ("best_1k_ms", "best_5k_ms", "best_10k_ms")},
}

LEADERBOARD_COLUMNS: dict[str, Callable[[dict], Any]] = {
    "time_window": _field("window"),
    **{c: _field(c) for c in ("period", "sport", "user_id", "distance_meters", "moving_time_s",
                              "calories", "workouts")},
    "reached_at_ms": _field("reached_at"),
    "version": _field("version"),
}


PROGRESS_COLUMNS: dict[str, Callable[[dict], Any]] = {
    **{c: _field(c) for c in ("user_id", "rule_id", "kind", "title", "progress", "version")},
    "achieved_at_ms": _field("achieved_at"),
}


ROUTE_COLUMNS: dict[str, Callable[[dict], Any]] = {
    **{c: _field(c) for c in ("workout_id", "user_id", "lats", "lons")},
    "end_ms": _field("end_time"),
}


SAMPLE_FIELDS = ("offset_ms", "distance_meters", "heart_rate", "speed", "lat", "lon",
                 "elevation_meters")


def sample_columns(events: list[dict[str, Any]]) -> Columns:
    """One row per telemetry sample of every WorkoutUpdated among the events."""
    columns: Columns = {name: [] for name in ("workout_id", "user_id", *SAMPLE_FIELDS)}
    for event in events:
        for sample in event.get("samples") or ():
            columns["workout_id"].append(event["workout_id"])
            columns["user_id"].append(event["user_id"])
            for name in SAMPLE_FIELDS:
                columns[name].append(sample[name])
    return columns


def summary_columns(summaries: list[dict[str, Any]]) -> Columns:
    return _columns(summaries, SUMMARY_COLUMNS)


def leaderboard_columns(entries: list[dict[str, Any]]) -> Columns:
    return _columns(entries, LEADERBOARD_COLUMNS)


def progress_columns(rows: list[dict[str, Any]]) -> Columns:
    return _columns(rows, PROGRESS_COLUMNS)


def route_columns(rows: list[dict[str, Any]]) -> Columns:
    return _columns(rows, ROUTE_COLUMNS)


@dataclass(frozen=True)
class ViewTable:
    """One view: the topic that carries its changes and the table that holds them."""

    name: str
    topic: str
    table: str
    columns: ColumnsBuilder


def view_tables(settings: FitStreamSettings) -> list[ViewTable]:
    kafka = settings.kafka
    return [
        ViewTable("workout-summary", kafka.summaries_topic, WORKOUT_SUMMARY, summary_columns),
        ViewTable("leaderboards", kafka.leaderboard_topic, LEADERBOARD_ENTRIES,
                  leaderboard_columns),
        ViewTable("achievements", kafka.achievement_progress_topic, ACHIEVEMENT_PROGRESS,
                  progress_columns),
        ViewTable("routes", kafka.routes_topic, WORKOUT_ROUTES, route_columns),
        # Straight from the log: samples need no processing, only storing.
        ViewTable("samples", kafka.events_topic, WORKOUT_SAMPLES, sample_columns),
    ]


def sink_groups(settings: FitStreamSettings) -> list[tuple[str, str]]:
    """(topic, consumer group) of every view sink."""
    return [(view.topic, f"{settings.sink.group_id}-{view.name}")
            for view in view_tables(settings)]
