"""Every query the services run on the ClickHouse views, one named function per question.

Each takes the store (and the question's parameters) and returns rows (``Row``: a dict
per row) or a typed value. Values are always bound as ``%(name)s`` parameters; the
only names put into the SQL text are this module's own (table and column names, and
a leaderboard's metric column, checked against the metrics the board has). Reads use
``FINAL`` (or ``min``/``argMax``) so a ReplacingMergeTree shows one row per key.

The API's routers call these and shape the answers; nothing above the stores writes
SQL. The statements stay in the subset ClickHouse 18.16 and chdb both accept.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from fitstream.domain.leaderboards import METRIC_FIELD
from fitstream.settings import ApiSettings
from stores.clickhouse.analyst_sql import check_statement, read_only_query
from stores.clickhouse.store import ClickHouseStore, Row
from stores.clickhouse.tables import (
    FORECASTS,
    NOTIFICATION_PREFERENCES,
    NOTIFICATION_READS,
    PREDICTION_TABLES,
    RACE_PREDICTIONS,
    RECOMMENDATIONS,
    VIEW_TABLES,
    preference_columns,
    read_columns,
)

# --- operations -----------------------------------------------------------------------


def ping(store: ClickHouseStore) -> None:
    """Raises the store's own error if it does not answer."""
    store.query("SELECT 1 AS ok")


# --- workout owners (the claims) ------------------------------------------------------

# The owner of a workout id: its earliest claim, ties to the smaller user id. Every
# owner check reads this (the processor's decision), never a summary row. Plain
# ORDER BY ... LIMIT 1, so it runs on ClickHouse 18.16 and chdb alike.
OWNER_QUERY = ("SELECT user_id FROM {db}.workout_claims WHERE workout_id = %(workout_id)s"
               " ORDER BY claimed_at, user_id LIMIT 1")
# OWNER_QUERY for many workout ids at once: each id's least (claimed_at, user_id).
OWNERS_QUERY = ("SELECT workout_id, user_id FROM {db}.workout_claims"
                " WHERE workout_id IN %(workout_ids)s"
                " ORDER BY workout_id, claimed_at, user_id LIMIT 1 BY workout_id")


def workout_owner(store: ClickHouseStore, workout_id: str) -> str | None:
    """Who started ``workout_id`` (its earliest claim), or None: no claim yet."""
    rows = store.query(OWNER_QUERY.format(db=store.database), {"workout_id": workout_id})
    return rows[0]["user_id"] if rows else None


def workout_owners(store: ClickHouseStore, workout_ids: Iterable[str]) -> dict[str, str]:
    """:func:`workout_owner` of many ids in one query; ids with no claim are absent."""
    ids = tuple(workout_ids)
    if not ids:
        return {}
    return {row["workout_id"]: row["user_id"] for row in store.query(
        OWNERS_QUERY.format(db=store.database), {"workout_ids": ids})}


# --- workout summaries, samples and routes --------------------------------------------

SUMMARY_COLUMNS = (
    "workout_id, user_id, device_id, sport_type, status, start_ms, end_ms, moving_duration_ms,"
    " distance_meters, calories_burned, avg_heart_rate, avg_speed_mps, sample_count, last_seq,"
    " best_1k_ms, best_5k_ms, best_10k_ms")
STATS_COLUMNS = ("workout_id, sport_type, status, start_ms, moving_duration_ms,"
                 " distance_meters, calories_burned, best_1k_ms, best_5k_ms, best_10k_ms")
SAMPLE_COLUMNS = "offset_ms, distance_meters, heart_rate, speed, lat, lon, elevation_meters"


def _owners_row(store: ClickHouseStore, table: str, columns: str, owner: str,
                workout_id: str) -> Row | None:
    rows = store.query(
        f"SELECT {columns} FROM {store.database}.{table} FINAL"
        " WHERE user_id = %(user_id)s AND workout_id = %(workout_id)s LIMIT 1",
        {"user_id": owner, "workout_id": workout_id})
    return rows[0] if rows else None


def workout_summary(store: ClickHouseStore, owner: str, workout_id: str) -> Row | None:
    """The latest summary the owner's events made of the workout (``SUMMARY_COLUMNS``)."""
    return _owners_row(store, "workout_summary", SUMMARY_COLUMNS, owner, workout_id)


def workout_route(store: ClickHouseStore, owner: str, workout_id: str) -> Row | None:
    """The owner's route of the workout: ``lats`` and ``lons``, parallel lists."""
    return _owners_row(store, "workout_routes", "lats, lons", owner, workout_id)


def workout_samples(store: ClickHouseStore, owner: str, workout_id: str) -> list[Row]:
    """Every telemetry sample the owner sent for the workout, in offset order."""
    return store.query(
        f"SELECT {SAMPLE_COLUMNS} FROM {store.database}.workout_samples FINAL"
        " WHERE user_id = %(user_id)s AND workout_id = %(workout_id)s"
        " ORDER BY offset_ms", {"user_id": owner, "workout_id": workout_id})


def user_workouts(store: ClickHouseStore, user_id: str, *, from_ms: int | None = None,
                  to_ms: int | None = None, before: tuple[int, str] | None = None,
                  limit: int) -> list[Row]:
    """Up to ``limit`` of the user's summaries, newest first (start, then workout id,
    descending), starting in [from_ms, to_ms) and after the page position ``before``
    (start_ms, workout_id) when given."""
    where = ["user_id = %(user_id)s"]
    params: dict[str, Any] = {"user_id": user_id, "limit": limit}
    if from_ms is not None:
        where.append("start_ms >= %(from_ms)s")
        params["from_ms"] = from_ms
    if to_ms is not None:
        where.append("start_ms < %(to_ms)s")
        params["to_ms"] = to_ms
    if before is not None:
        params["c_start"], params["c_id"] = before
        where.append("(start_ms < %(c_start)s OR (start_ms = %(c_start)s"
                     " AND workout_id < %(c_id)s))")
    return store.query(
        f"SELECT {SUMMARY_COLUMNS} FROM {store.database}.workout_summary FINAL"
        f" WHERE {' AND '.join(where)}"
        " ORDER BY start_ms DESC, workout_id DESC LIMIT %(limit)s", params)


def workout_start_ms(store: ClickHouseStore, user_id: str, workout_id: str) -> int | None:
    """When the user's workout started (epoch ms), or None: no such workout of theirs."""
    rows = store.query(f"SELECT start_ms FROM {store.database}.workout_summary FINAL"
                       " WHERE user_id = %(user_id)s AND workout_id = %(workout_id)s"
                       " LIMIT 1", {"user_id": user_id, "workout_id": workout_id})
    return rows[0]["start_ms"] if rows else None


def user_stats_summaries(store: ClickHouseStore, user_id: str) -> list[Row]:
    """Every summary of the user with what their stats need (``STATS_COLUMNS``)."""
    return store.query(
        f"SELECT {STATS_COLUMNS} FROM {store.database}.workout_summary FINAL"
        " WHERE user_id = %(user_id)s", {"user_id": user_id})


# --- leaderboards ---------------------------------------------------------------------

# Ranking order, as in fitstream.domain.leaderboards.ranking_key.
LEADERBOARD_ORDER = "value DESC, reached_at_ms ASC, user_id ASC"
_BOARD = "time_window = %(window)s AND period = %(period)s AND sport = %(sport)s"
_METRIC_COLUMNS = frozenset(METRIC_FIELD.values())


def _metric(column: str) -> str:
    if column not in _METRIC_COLUMNS:
        raise ValueError(f"{column!r} is not a leaderboard metric column")
    return column


def leaderboard_rows(store: ClickHouseStore, board: Mapping[str, Any], column: str,
                     offset: int = 0, limit: int = 10) -> list[Row]:
    """A slice of the board (``window``, ``period``, ``sport``) in rank order: user_id,
    value (the metric ``column``), workouts, reached_at_ms."""
    return store.query(
        f"SELECT user_id, {_metric(column)} AS value, workouts, reached_at_ms"
        f" FROM {store.database}.leaderboard_entries FINAL"
        f" WHERE {_BOARD}"
        f"  ORDER BY {LEADERBOARD_ORDER} LIMIT %(offset)s, %(limit)s",
        {**board, "offset": offset, "limit": limit})


def leaderboard_entry(store: ClickHouseStore, board: Mapping[str, Any], column: str,
                      user_id: str) -> Row | None:
    """The user's value and reached_at_ms on the board, or None: not on it."""
    rows = store.query(
        f"SELECT {_metric(column)} AS value, reached_at_ms"
        f" FROM {store.database}.leaderboard_entries FINAL"
        f" WHERE {_BOARD} AND user_id = %(user)s", {**board, "user": user_id})
    return rows[0] if rows else None


def leaderboard_ahead(store: ClickHouseStore, board: Mapping[str, Any], column: str,
                      entry: Row, user_id: str) -> int:
    """How many users rank ahead of ``entry`` (the user's :func:`leaderboard_entry`)."""
    column = _metric(column)
    return store.query(
        f"SELECT count() AS n FROM {store.database}.leaderboard_entries FINAL"
        f" WHERE {_BOARD}"
        f" AND ({column} > %(value)s OR ({column} = %(value)s AND"
        " (reached_at_ms < %(reached)s OR (reached_at_ms = %(reached)s"
        " AND user_id < %(user)s))))",
        {**board, "value": entry["value"], "reached": entry["reached_at_ms"],
         "user": user_id})[0]["n"]


# --- achievements ---------------------------------------------------------------------


def achievement_progress(store: ClickHouseStore, user_id: str) -> list[Row]:
    """The user's progress per rule they approached: rule_id, progress, achieved_at_ms."""
    return store.query(
        f"SELECT rule_id, progress, achieved_at_ms FROM {store.database}.achievement_progress"
        " FINAL WHERE user_id = %(user)s", {"user": user_id})


# --- notifications --------------------------------------------------------------------


def _read_ids(db: str) -> str:
    return f"(SELECT notification_id FROM {db}.notification_reads WHERE user_id = %(user)s)"


def notifications(store: ClickHouseStore, user_id: str, *, unread: bool | None = None,
                  before: tuple[int, str] | None = None, notification_id: str | None = None,
                  limit: int = 1) -> list[Row]:
    """The user's inbox rows, newest first: all, only ``unread`` (True) or only read
    (False); after the page position ``before`` (created_ms, notification_id); or the
    one ``notification_id``."""
    db = store.database
    where, params = "", {}
    if notification_id is not None:
        where += " AND notification_id = %(id)s"
        params["id"] = notification_id
    if unread is not None:
        where += f" AND notification_id {'NOT IN' if unread else 'IN'} {_read_ids(db)}"
    if before is not None:
        where += (" AND (created_ms < %(c_ms)s OR (created_ms = %(c_ms)s"
                  " AND notification_id < %(c_id)s))")
        params.update({"c_ms": before[0], "c_id": before[1]})
    return store.query(
        f"SELECT notification_id, kind, title, body, created_ms, workout_id"
        f" FROM {db}.notifications FINAL WHERE user_id = %(user)s {where}"
        f" ORDER BY created_ms DESC, notification_id DESC LIMIT {int(limit)}",
        {"user": user_id, **params})


def notification_reads(store: ClickHouseStore, user_id: str,
                       notification_ids: Iterable[str]) -> dict[str, int]:
    """When each of these notifications was first read (epoch ms); unread ones absent."""
    return {r["notification_id"]: r["read_ms"] for r in store.query(
        f"SELECT notification_id, min(read_ms) AS read_ms FROM {store.database}"
        ".notification_reads WHERE user_id = %(user)s AND notification_id IN %(ids)s"
        " GROUP BY notification_id", {"user": user_id, "ids": tuple(notification_ids)})}


def notification_deliveries(store: ClickHouseStore, user_id: str,
                            notification_ids: Iterable[str]) -> list[Row]:
    """The latest outcome per (notification, external channel), by channel."""
    return store.query(
        f"SELECT notification_id, channel, status, attempts, at_ms, detail"
        f" FROM {store.database}.notification_deliveries FINAL WHERE user_id = %(user)s"
        " AND notification_id IN %(ids)s ORDER BY channel",
        {"user": user_id, "ids": tuple(notification_ids)})


def unread_count(store: ClickHouseStore, user_id: str) -> int:
    db = store.database
    return store.query(
        f"SELECT count() AS n FROM {db}.notifications FINAL WHERE user_id = %(user)s"
        f" AND notification_id NOT IN {_read_ids(db)}", {"user": user_id})[0]["n"]


def record_read(store: ClickHouseStore, record: Mapping[str, Any]) -> int:
    """Store one NotificationRead record (as logged); a second read keeps the first time."""
    return store.insert(NOTIFICATION_READS, read_columns([dict(record)]))


def notification_preferences(store: ClickHouseStore, user_id: str) -> Row | None:
    """The user's channels, email, phone and updated_ms, or None: never chosen."""
    rows = store.query(
        f"SELECT channels, email, phone, updated_ms FROM {store.database}"
        ".notification_preferences FINAL WHERE user_id = %(user)s", {"user": user_id})
    return rows[0] if rows else None


def record_preferences(store: ClickHouseStore, record: Mapping[str, Any]) -> int:
    """Store one NotificationPreferences record (plain: this process's own row)."""
    return store.insert(NOTIFICATION_PREFERENCES, preference_columns([dict(record)]))


# --- analysts -------------------------------------------------------------------------


def analyst_limits(api: ApiSettings) -> dict[str, int | str]:
    """The ClickHouse settings every analyst statement runs under (both backends)."""
    return {"max_execution_time": api.analyst_sql_max_execution_time_s,
            "max_result_rows": api.analyst_sql_max_result_rows,
            "result_overflow_mode": "throw",
            "max_memory_usage": api.analyst_sql_max_memory_bytes}


def run_checked(store: ClickHouseStore, sql: str, limits: Mapping[str, int | str],
                ) -> tuple[list[str], list[tuple]]:
    """An analyst's ``sql`` on the read-only connection, once ClickHouse's parser shows
    that it reads only the FitStream views (StatementRefused otherwise,
    stores/clickhouse/analyst_sql.py): (column names, rows)."""
    check_statement(read_only_query(store.query_read_only, limits), sql, store.database)
    return store.query_read_only(sql, limits)


# --- predictions (the scorer's, streams/scoring) --------------------------------------

PREDICTION_FIELDS = ("prediction_id, user_id, model_name, model_version, features_as_of_ms,"
                     " scored_at_ms, feature_names, feature_values")
_KIND_FIELDS = {
    FORECASTS: "horizon_days, predicted_distance_m",
    RACE_PREDICTIONS: "predicted_5k_s, predicted_10k_s, predicted_half_marathon_s",
    RECOMMENDATIONS: "sports, duration_bands, intensities, scores",
}


# "Latest": the prediction on the user's newest features (``features_as_of``); of
# several on the same features (a champion moved and a replay or redelivery scored the
# row again), the highest model version. Versions are MLflow's registry numbers kept as
# strings, so they are compared as numbers ("10" after "9"; toUInt64OrZero runs on 18.16
# and chdb alike), the string only breaking ties between non-numeric ones. Not the
# scoring time first: replicas' clocks differ, and a replay keeps each prediction's
# first scoring. So a rollback (the alias moved back to a lower version) shows from the
# user's next features on; rows both versions scored keep the higher one's answer.
LATEST_PREDICTION_ORDER = ("features_as_of_ms DESC, toUInt64OrZero(model_version) DESC,"
                           " model_version DESC, scored_at_ms DESC")


def _latest_prediction(store: ClickHouseStore, table: str, user_id: str) -> Row | None:
    """The user's latest prediction (:data:`LATEST_PREDICTION_ORDER`), or None."""
    rows = store.query(
        f"SELECT {PREDICTION_FIELDS}, {_KIND_FIELDS[table]} FROM {store.database}.{table}"
        f" FINAL WHERE user_id = %(u)s ORDER BY {LATEST_PREDICTION_ORDER} LIMIT 1",
        {"u": user_id})
    return rows[0] if rows else None


def latest_forecast(store: ClickHouseStore, user_id: str) -> Row | None:
    """The user's latest weekly distance forecast, or None."""
    return _latest_prediction(store, FORECASTS, user_id)


def latest_race_prediction(store: ClickHouseStore, user_id: str) -> Row | None:
    """The user's latest race-time prediction, or None."""
    return _latest_prediction(store, RACE_PREDICTIONS, user_id)


def latest_recommendations(store: ClickHouseStore, user_id: str) -> Row | None:
    """The user's latest ranked recommendations (parallel arrays, best first), or None."""
    return _latest_prediction(store, RECOMMENDATIONS, user_id)


def prediction_rows(store: ClickHouseStore, table: str) -> list[Row]:
    """Every row of a prediction table, one per prediction, in key order (the replay
    check and the notebooks)."""
    if table not in _KIND_FIELDS:
        raise ValueError(f"{table!r} is no prediction table")
    return store.query(
        f"SELECT {PREDICTION_FIELDS}, {_KIND_FIELDS[table]} FROM {store.database}.{table}"
        " FINAL ORDER BY user_id, model_name, features_as_of_ms, model_version")


# --- erasure --------------------------------------------------------------------------


def user_row_counts(store: ClickHouseStore, user_id: str) -> dict[str, int]:
    """The user's rows in every view table (the notification inbox, reads, deliveries
    and preferences included) and every prediction table, by table name."""
    return {table: user_rows(store, table, user_id)
            for table in sorted((*VIEW_TABLES, *PREDICTION_TABLES.values()))}


def user_rows(store: ClickHouseStore, table: str, user_id: str) -> int:
    return store.query(f"SELECT count() AS n FROM {store.database}.{table}"
                       " WHERE user_id = %(u)s", {"u": user_id})[0]["n"]


def delete_user_rows(store: ClickHouseStore, table: str, user_id: str) -> None:
    """Start the mutation that deletes the user's rows of ``table``; a server runs it in
    the background (18.16 cannot wait for it): poll :func:`user_rows`."""
    store.execute(f"ALTER TABLE {store.database}.{table} DELETE WHERE user_id = %(u)s",
                  {"u": user_id})


# --- coordinates retention (fitstream jobs coordinates-ttl) ---------------------------


def routes_with_coordinates(store: ClickHouseStore, ended_before_ms: int) -> list[str]:
    """Workout ids whose route still has points and that ended before the cutoff."""
    return [r["workout_id"] for r in store.query(
        f"SELECT workout_id FROM {store.database}.workout_routes WHERE end_ms < %(c)s"
        " AND length(lats) > 0", {"c": ended_before_ms})]


def count_routes_with_coordinates(store: ClickHouseStore, ended_before_ms: int) -> int:
    return store.query(
        f"SELECT count() AS n FROM {store.database}.workout_routes WHERE end_ms < %(c)s"
        " AND length(lats) > 0", {"c": ended_before_ms})[0]["n"]


def workouts_ended_before(store: ClickHouseStore, ended_before_ms: int) -> list[str]:
    """Ids of every summarised workout that ended before the cutoff."""
    return [r["workout_id"] for r in store.query(
        f"SELECT DISTINCT workout_id FROM {store.database}.workout_summary"
        " WHERE end_ms < %(c)s", {"c": ended_before_ms})]


def count_samples_with_coordinates(store: ClickHouseStore, workout_ids: tuple[str, ...]) -> int:
    """Samples of these workouts whose position is not blanked yet."""
    return store.query(
        f"SELECT count() AS n FROM {store.database}.workout_samples WHERE workout_id IN %(ids)s"
        " AND (lat != 0 OR lon != 0)", {"ids": workout_ids})[0]["n"]


def blank_sample_coordinates(store: ClickHouseStore, workout_ids: tuple[str, ...]) -> None:
    """A mutation (background on a server) that zeroes these workouts' sample positions."""
    store.execute(f"ALTER TABLE {store.database}.workout_samples UPDATE lat = 0, lon = 0"
                  " WHERE workout_id IN %(ids)s", {"ids": workout_ids})


def blank_route_coordinates(store: ClickHouseStore, workout_ids: tuple[str, ...]) -> None:
    """A mutation that empties these workouts' routes. By id, not by end_ms: a Nullable
    condition makes 18.16 wrap the arrays in Nullable, which it refuses."""
    store.execute(f"ALTER TABLE {store.database}.workout_routes UPDATE lats ="
                  " emptyArrayFloat64(), lons = emptyArrayFloat64()"
                  " WHERE workout_id IN %(ids)s", {"ids": workout_ids})
