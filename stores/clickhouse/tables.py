"""The view tables: their idempotent DDL, their row shapes, and the topic each is fed from.

The topic of each table (:func:`view_tables`, :func:`sink_groups`) is the view sinks'
wiring; it stays beside the tables because it is one list with them (a table without
its topic, or a topic without its table, is a bug), and it needs only the settings.

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

from fitstream.privacy import coordinates
from fitstream.settings import FitStreamSettings
from stores.clickhouse.store import ClickHouseStore

Columns = dict[str, list[Any]]
ColumnsBuilder = Callable[[list[dict[str, Any]]], Columns]
"""Turns decoded records into one columnar insert."""

WORKOUT_SUMMARY = "workout_summary"
LEADERBOARD_ENTRIES = "leaderboard_entries"
ACHIEVEMENT_PROGRESS = "achievement_progress"
WORKOUT_ROUTES = "workout_routes"
WORKOUT_SAMPLES = "workout_samples"
WORKOUT_CLAIMS = "workout_claims"
NOTIFICATIONS = "notifications"
NOTIFICATION_READS = "notification_reads"
NOTIFICATION_DELIVERIES = "notification_deliveries"
NOTIFICATION_PREFERENCES = "notification_preferences"
# Every view table; each has a user_id column (what an erase deletes by).
VIEW_TABLES = (WORKOUT_SUMMARY, LEADERBOARD_ENTRIES, ACHIEVEMENT_PROGRESS, WORKOUT_ROUTES,
               WORKOUT_SAMPLES, WORKOUT_CLAIMS, NOTIFICATIONS, NOTIFICATION_READS,
               NOTIFICATION_DELIVERIES, NOTIFICATION_PREFERENCES)
FORECASTS = "forecasts"
RACE_PREDICTIONS = "race_predictions"
RECOMMENDATIONS = "recommendations"
# The scorer's predictions (streams/scoring), by model kind; each has a user_id column
# too, and an erase deletes them with the views.
PREDICTION_TABLES = {"forecast": FORECASTS, "race_time": RACE_PREDICTIONS,
                     "recommendation": RECOMMENDATIONS}

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
    # Keyed by user first: the log holds whatever any producer sent for a workout id, and
    # only the owner's samples (user_id = the owner of the workout) are ever read.
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
    ORDER BY (user_id, workout_id, offset_ms)
    """,
    # Who started each workout id, and when (Kafka record time): the owner is the claim
    # with the least (claimed_at, user_id), see queries.OWNER_QUERY. A re-sent claim is the row.
    """
    CREATE TABLE IF NOT EXISTS {db}.workout_claims (
        workout_id String,
        user_id String,
        claimed_at Int64
    ) ENGINE = ReplacingMergeTree()
    ORDER BY (workout_id, claimed_at, user_id)
    """,
    # The in-app inbox. Ids are deterministic, so a re-sent notification is the row.
    """
    CREATE TABLE IF NOT EXISTS {db}.notifications (
        notification_id String,
        user_id String,
        kind String,
        title String,
        body String,
        created_at DateTime,
        created_ms Int64,
        workout_id Nullable(String)
    ) ENGINE = ReplacingMergeTree()
    ORDER BY (user_id, notification_id)
    """,
    # Read state; a notification read twice keeps its first read_ms (min() on read).
    """
    CREATE TABLE IF NOT EXISTS {db}.notification_reads (
        user_id String,
        notification_id String,
        read_at DateTime,
        read_ms Int64
    ) ENGINE = ReplacingMergeTree()
    ORDER BY (user_id, notification_id)
    """,
    # One row per delivery (notification x channel): its latest outcome.
    """
    CREATE TABLE IF NOT EXISTS {db}.notification_deliveries (
        delivery_id String,
        notification_id String,
        user_id String,
        channel String,
        status String,
        attempts UInt32,
        at DateTime,
        at_ms Int64,
        detail Nullable(String)
    ) ENGINE = ReplacingMergeTree(at_ms)
    ORDER BY (user_id, notification_id, channel)
    """,
    """
    CREATE TABLE IF NOT EXISTS {db}.notification_preferences (
        user_id String,
        channels Array(String),
        email Nullable(String),
        phone Nullable(String),
        updated_at DateTime,
        updated_ms Int64
    ) ENGINE = ReplacingMergeTree(updated_ms)
    ORDER BY user_id
    """,
]

# The predictions. One row per prediction_id, whose parts are the ORDER BY key (model,
# version, user, features as_of): a replay or a retried batch makes the same prediction
# again, differing only in scored_at, and the version column `first_scored` keeps the
# earliest scoring (the largest value), so a replay from offset 0 leaves every row as it
# was. The feature vector as parallel arrays (18.16 has no Map), in the service's order.
_PREDICTION_COLUMNS = """
        prediction_id String,
        user_id String,
        model_name String,
        model_version String,
        features_as_of DateTime,
        features_as_of_ms Int64,
        scored_at_ms Int64,
        first_scored UInt64,
        feature_names Array(String),
        feature_values Array(Nullable(Float64)),"""
_PREDICTION_ENGINE = """) ENGINE = ReplacingMergeTree(first_scored)
    ORDER BY (user_id, model_name, features_as_of_ms, model_version)
    """
DDL += [
    "CREATE TABLE IF NOT EXISTS {db}.forecasts (" + _PREDICTION_COLUMNS + """
        horizon_days Int32,
        predicted_distance_m Float64
    """ + _PREDICTION_ENGINE,
    "CREATE TABLE IF NOT EXISTS {db}.race_predictions (" + _PREDICTION_COLUMNS + """
        predicted_5k_s Nullable(Float64),
        predicted_10k_s Nullable(Float64),
        predicted_half_marathon_s Nullable(Float64)
    """ + _PREDICTION_ENGINE,
    # The ranked list as parallel arrays (no Array(Tuple) on 18.16), best first.
    "CREATE TABLE IF NOT EXISTS {db}.recommendations (" + _PREDICTION_COLUMNS + """
        sports Array(String),
        duration_bands Array(String),
        intensities Array(String),
        scores Array(Float64)
    """ + _PREDICTION_ENGINE,
]


def apply_ddl(store: ClickHouseStore) -> None:
    for statement in DDL:
        store.execute(statement.format(db=store.database))


def columns_builder(mapping: dict[str, Callable[[dict], Any]]) -> ColumnsBuilder:
    """A builder that takes each column of ``mapping`` from every record."""
    def build(records: list[dict[str, Any]]) -> Columns:
        return {column: [get(r) for r in records] for column, get in mapping.items()}
    return build


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


def _datetime(name: str) -> Callable[[dict], datetime]:
    return lambda record: datetime.fromtimestamp(record[name] // 1000, UTC)


NOTIFICATION_COLUMNS: dict[str, Callable[[dict], Any]] = {
    **{c: _field(c) for c in ("notification_id", "user_id", "kind", "title", "body",
                              "workout_id")},
    "created_at": _datetime("created_at"),
    "created_ms": _field("created_at"),
}

READ_COLUMNS: dict[str, Callable[[dict], Any]] = {
    **{c: _field(c) for c in ("user_id", "notification_id")},
    "read_at": _datetime("read_at"),
    "read_ms": _field("read_at"),
}

DELIVERY_COLUMNS: dict[str, Callable[[dict], Any]] = {
    **{c: _field(c) for c in ("delivery_id", "notification_id", "user_id", "channel", "status",
                              "attempts", "detail")},
    "at": _datetime("at"),
    "at_ms": _field("at"),
}

PREFERENCE_COLUMNS: dict[str, Callable[[dict], Any]] = {
    **{c: _field(c) for c in ("user_id", "channels", "email", "phone")},
    "updated_at": _datetime("updated_at"),
    "updated_ms": _field("updated_at"),
}


CLAIM_COLUMNS: dict[str, Callable[[dict], Any]] = {
    c: _field(c) for c in ("workout_id", "user_id", "claimed_at")}

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


summary_columns = columns_builder(SUMMARY_COLUMNS)
leaderboard_columns = columns_builder(LEADERBOARD_COLUMNS)
progress_columns = columns_builder(PROGRESS_COLUMNS)
route_columns = columns_builder(ROUTE_COLUMNS)
claim_columns = columns_builder(CLAIM_COLUMNS)
notification_columns = columns_builder(NOTIFICATION_COLUMNS)
read_columns = columns_builder(READ_COLUMNS)
delivery_columns = columns_builder(DELIVERY_COLUMNS)
preference_columns = columns_builder(PREFERENCE_COLUMNS)

# Larger than any scored_at in ms: first_scored = this - scored_at, so the earliest wins.
FIRST_SCORED_BASE = 2**63 - 1

PREDICTION_COLUMNS: dict[str, Callable[[dict], Any]] = {
    **{c: _field(c) for c in ("prediction_id", "user_id", "model_name", "model_version")},
    "features_as_of": _datetime("features_as_of"),
    "features_as_of_ms": _field("features_as_of"),
    "scored_at_ms": _field("scored_at"),
    "first_scored": lambda r: FIRST_SCORED_BASE - r["scored_at"],
    "feature_names": lambda r: list(r["features"]),
    "feature_values": lambda r: list(r["features"].values()),
}

forecast_columns = columns_builder({
    **PREDICTION_COLUMNS, **{c: _field(c) for c in ("horizon_days", "predicted_distance_m")}})
race_prediction_columns = columns_builder({
    **PREDICTION_COLUMNS, **{c: _field(c) for c in (
        "predicted_5k_s", "predicted_10k_s", "predicted_half_marathon_s")}})


def _ranked(name: str) -> Callable[[dict], list[Any]]:
    return lambda record: [item[name] for item in sorted(record["recommendations"],
                                                         key=lambda i: i["rank"])]


recommendation_columns = columns_builder({
    **PREDICTION_COLUMNS, "sports": _ranked("sport"), "duration_bands": _ranked("duration_band"),
    "intensities": _ranked("intensity"), "scores": _ranked("score")})


@dataclass(frozen=True)
class ViewTable:
    """One view: the topic that carries its changes and the table that holds them."""

    name: str
    topic: str
    table: str
    columns: ColumnsBuilder
    # Contracts whose sealed coordinates the columns read: opened before they are built.
    opens_coordinates: frozenset[str] = frozenset()


def view_tables(settings: FitStreamSettings) -> list[ViewTable]:
    kafka = settings.kafka
    return [
        ViewTable("workout-summary", kafka.summaries_topic, WORKOUT_SUMMARY, summary_columns),
        ViewTable("leaderboards", kafka.leaderboard_topic, LEADERBOARD_ENTRIES,
                  leaderboard_columns),
        ViewTable("achievements", kafka.achievement_progress_topic, ACHIEVEMENT_PROGRESS,
                  progress_columns),
        ViewTable("routes", kafka.routes_topic, WORKOUT_ROUTES, route_columns,
                  frozenset({coordinates.ROUTE})),
        ViewTable("claims", kafka.claims_topic, WORKOUT_CLAIMS, claim_columns),
        # Straight from the log: samples need no processing, only storing.
        ViewTable("samples", kafka.events_topic, WORKOUT_SAMPLES, sample_columns,
                  frozenset({coordinates.UPDATED})),
        ViewTable("notifications", kafka.notifications_topic, NOTIFICATIONS,
                  notification_columns),
        ViewTable("notification-reads", kafka.notification_reads_topic, NOTIFICATION_READS,
                  read_columns),
        ViewTable("notification-deliveries", kafka.notification_deliveries_topic,
                  NOTIFICATION_DELIVERIES, delivery_columns),
        ViewTable("notification-preferences", kafka.notification_preferences_topic,
                  NOTIFICATION_PREFERENCES, preference_columns),
    ]


def prediction_tables(settings: FitStreamSettings) -> list[ViewTable]:
    """The prediction topics and their tables (written by the same sinks as the views,
    kept apart so that a pipeline without a scorer has every view it should)."""
    kafka = settings.kafka
    return [
        ViewTable("forecasts", kafka.forecasts_topic, FORECASTS, forecast_columns),
        ViewTable("race-predictions", kafka.race_predictions_topic, RACE_PREDICTIONS,
                  race_prediction_columns),
        ViewTable("recommendations", kafka.recommendations_topic, RECOMMENDATIONS,
                  recommendation_columns),
    ]


def sink_groups(settings: FitStreamSettings) -> list[tuple[str, str]]:
    """(topic, consumer group) of every view and prediction sink."""
    return [(view.topic, f"{settings.sink.group_id}-{view.name}")
            for view in [*view_tables(settings), *prediction_tables(settings)]]
