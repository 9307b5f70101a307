"""Both ClickHouse backends behind one interface: DDL, columnar inserts, idempotent versions."""

from __future__ import annotations

import pytest

from fitstream.settings import ClickHouseSettings, FitStreamSettings
from stores.clickhouse.store import open_store
from stores.clickhouse.tables import WORKOUT_SUMMARY, apply_ddl, summary_columns

T0 = 1_793_606_400_000


def summary(workout_id: str, seq: int, distance: float, status: str = "active") -> dict:
    return {"workout_id": workout_id, "user_id": "user-'quoted'", "device_id": "d",
            "sport_type": "running", "status": status, "start_time": T0 + 123,
            "end_time": None if status == "active" else T0 + 60_000,
            "moving_duration_ms": 1000 * seq, "distance_meters": distance,
            "calories_burned": None, "avg_heart_rate": 140.5 if seq else None,
            "avg_speed_mps": None, "sample_count": seq * 10, "last_seq": seq,
            "last_event_at": T0 + seq, "best_1k_ms": 240_000 if seq > 2 else None,
            "best_5k_ms": None, "best_10k_ms": None}


@pytest.fixture(params=["chdb", "server"])
def store(request, tmp_path):
    if request.param == "server":
        server = request.getfixturevalue("clickhouse_server")
        ch = ClickHouseSettings(backend="server", host=server.host, port=server.port,
                                database=f"t_{tmp_path.name[-8:].replace('-', '_')}")
    else:
        ch = ClickHouseSettings(backend="chdb", chdb_path=tmp_path / "chdb")
    opened = open_store(FitStreamSettings(state_dir=tmp_path, clickhouse=ch))
    apply_ddl(opened)
    apply_ddl(opened)  # idempotent
    yield opened
    opened.close()


def test_latest_version_wins_whatever_the_insert_order_and_repeats(store):
    batches = [[summary("w1", 3, 30.0), summary("w2", 1, 5.0)],
               [summary("w1", 1, 10.0), summary("w1", 5, 50.0, "completed")],
               [summary("w1", 3, 30.0), summary("w2", 1, 5.0)]]  # a replayed batch
    for batch in batches:
        assert store.insert(WORKOUT_SUMMARY, summary_columns(batch)) == len(batch)
    rows = store.query(
        f"SELECT workout_id, last_seq, distance_meters, status, end_ms, avg_heart_rate, start_ms"
        f" FROM {store.database}.workout_summary FINAL ORDER BY workout_id")
    assert rows == [
        {"workout_id": "w1", "last_seq": 5, "distance_meters": 50.0, "status": "completed",
         "end_ms": T0 + 60_000, "avg_heart_rate": 140.5, "start_ms": T0 + 123},
        {"workout_id": "w2", "last_seq": 1, "distance_meters": 5.0, "status": "active",
         "end_ms": None, "avg_heart_rate": 140.5, "start_ms": T0 + 123},
    ]


def test_parameters_are_escaped_the_same_on_both_backends(store):
    store.insert(WORKOUT_SUMMARY, summary_columns([summary("w1", 1, 1.0)]))
    rows = store.query(
        f"SELECT count() AS n, any(toString(start_time)) AS day FROM {store.database}.workout_summary"
        " WHERE user_id = %(user)s", {"user": "user-'quoted'"})
    assert rows == [{"n": 1, "day": "2026-11-02 08:00:00"}]
    assert store.query(f"SELECT count() AS n FROM {store.database}.workout_summary"
                       " WHERE user_id = %(user)s", {"user": "x' OR 1=1 --"}) == [{"n": 0}]


def test_gdpr_erase_deletes_one_user_from_every_view_table(store, tmp_path):
    from stores.clickhouse.tables import NOTIFICATIONS, notification_columns
    from stores.erasure import erase_from_clickhouse

    other = {**summary("w9", 1, 9.0), "user_id": "someone-else"}
    store.insert(WORKOUT_SUMMARY, summary_columns([summary("w1", 1, 1.0),
                                                   summary("w2", 2, 2.0), other]))
    store.insert(NOTIFICATIONS, notification_columns([{
        "notification_id": "n:user-'quoted':first-workout", "user_id": "user-'quoted'",
        "kind": "achievement", "title": "t", "body": "b", "created_at": T0,
        "workout_id": "w1"}]))
    deleted = erase_from_clickhouse(store, "user-'quoted'")
    assert {t: n for t, n in deleted.items() if n} == {WORKOUT_SUMMARY: 2, NOTIFICATIONS: 1}
    for table in deleted:
        assert store.query(f"SELECT count() AS n FROM {store.database}.{table}"
                           " WHERE user_id = %(u)s", {"u": "user-'quoted'"})[0]["n"] == 0
    assert store.query(f"SELECT workout_id FROM {store.database}.workout_summary") == [
        {"workout_id": "w9"}]


def test_coordinates_ttl_blanks_old_routes_and_samples_and_keeps_the_rest(store):
    from datetime import UTC, datetime

    from jobs.coordinates_ttl import strip_clickhouse
    from stores.clickhouse.tables import (
        WORKOUT_ROUTES,
        WORKOUT_SAMPLES,
        route_columns,
        sample_columns,
    )

    old_end, new_end = T0 + 60_000, T0 + 300 * 86_400_000
    old = {**summary("w-old", 5, 5.0, "completed"), "end_time": old_end}
    new = {**summary("w-new", 5, 7.0, "completed"), "end_time": new_end}
    store.insert(WORKOUT_SUMMARY, summary_columns([old, new]))
    store.insert(WORKOUT_ROUTES, route_columns([
        {"workout_id": w, "user_id": "u", "end_time": end, "lats": [52.5, 52.6],
         "lons": [13.4, 13.5]} for w, end in (("w-old", old_end), ("w-new", new_end))]))
    sample = {"offset_ms": 0, "distance_meters": 10.0, "heart_rate": 150, "speed": 3.0,
              "lat": 52.5, "lon": 13.4, "elevation_meters": 40.0}
    store.insert(WORKOUT_SAMPLES, sample_columns([
        {"workout_id": w, "user_id": "u", "samples": [sample]} for w in ("w-old", "w-new")]))
    cutoff = datetime.fromtimestamp((T0 + 100 * 86_400_000) / 1000, UTC)
    assert strip_clickhouse(store, cutoff) == {"workout_routes": 1, "workout_samples": 1}
    db = store.database
    routes = {r["workout_id"]: (r["lats"], r["lons"]) for r in store.query(
        f"SELECT workout_id, lats, lons FROM {db}.workout_routes")}
    assert routes == {"w-old": ([], []), "w-new": ([52.5, 52.6], [13.4, 13.5])}
    samples = {r["workout_id"]: (r["lat"], r["lon"], r["heart_rate"], r["distance_meters"])
               for r in store.query(f"SELECT * FROM {db}.workout_samples")}
    assert samples == {"w-old": (0.0, 0.0, 150, 10.0), "w-new": (52.5, 13.4, 150, 10.0)}
    assert store.query(f"SELECT count() AS n FROM {db}.workout_summary")[0]["n"] == 2


def test_the_latest_prediction_is_on_the_newest_features_then_the_highest_version(store):
    """Issue 11: versions are MLflow's numbers kept as strings; "10" is after "9" (a string
    order put it first). The newest features win over any version, and the version over
    the scoring time (the higher version scored earlier here, in an earlier insert)."""
    from fitstream.model_catalogue import FORECAST, RACE_TIME
    from stores.clickhouse import queries
    from stores.clickhouse.tables import (
        FORECASTS,
        RACE_PREDICTIONS,
        forecast_columns,
        race_prediction_columns,
    )
    from streams.scoring.predictions import prediction_record

    day = 86_400_000

    def forecast(version: str, user: str, as_of: int, metres: float, scored_at: int) -> dict:
        return prediction_record(FORECAST, version, user, as_of, {"distance_7d_m": metres},
                                 {"predicted_distance_m": metres}, scored_at)

    store.insert(FORECASTS, forecast_columns([
        forecast("10", "u-versions", T0, 10_000.0, T0 + 5),
        forecast("3", "u-as-of", T0 + day, 3_000.0, T0 + day + 5)]))
    store.insert(FORECASTS, forecast_columns([
        forecast("9", "u-versions", T0, 9_000.0, T0 + 50),
        forecast("2", "u-versions", T0, 2_000.0, T0 + 60),
        forecast("10", "u-as-of", T0, 10_000.0, T0 + 2 * day)]))
    latest = queries.latest_forecast(store, "u-versions")
    assert (latest["model_version"], latest["features_as_of_ms"], latest["scored_at_ms"],
            latest["predicted_distance_m"], latest["feature_values"]) == (
        "10", T0, T0 + 5, 10_000.0, [10_000.0])
    latest = queries.latest_forecast(store, "u-as-of")
    assert (latest["model_version"], latest["features_as_of_ms"],
            latest["predicted_distance_m"]) == ("3", T0 + day, 3_000.0)

    # The race-time and recommendation tables answer through the same order.
    race = {"predicted_5k_s": 1500.0, "predicted_10k_s": None,
            "predicted_half_marathon_s": None}
    store.insert(RACE_PREDICTIONS, race_prediction_columns([
        prediction_record(RACE_TIME, version, "u-versions", T0, {}, {
            **race, "predicted_5k_s": seconds}, T0 + scored)
        for version, seconds, scored in (("10", 1510.0, 1), ("9", 1509.0, 2))]))
    assert queries.latest_race_prediction(store, "u-versions")["predicted_5k_s"] == 1510.0
