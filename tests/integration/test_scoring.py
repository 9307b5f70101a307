"""Scoring on the stream (issue 11, item 4), with the real broker, Feast (SQLite online,
Delta offline), an MLflow SQLite registry and ClickHouse:

- the prediction tables on both backends keep one row per prediction, the earliest
  scoring, and answer the API's "latest" questions;
- the scorer end to end: every stored prediction's feature vector equals Feast's
  point-in-time answer at its ``features_as_of`` (no skew); moving ``@champion`` makes the
  next predictions name the new version without a restart; a row without online
  features, a poison record and models without a champion are dead-lettered with their
  reasons; a second scorer from offset 0 leaves the ClickHouse rows exactly as they were.
"""

from __future__ import annotations

import uuid

import pytest

from fitstream.model_catalogue import FORECAST, NEXT_WORKOUT, RACE_TIME
from fitstream.settings import ClickHouseSettings, FitStreamSettings
from stores.clickhouse import queries
from stores.clickhouse.store import open_store
from stores.clickhouse.tables import (
    FORECASTS,
    RACE_PREDICTIONS,
    RECOMMENDATIONS,
    apply_ddl,
    forecast_columns,
    race_prediction_columns,
    recommendation_columns,
)
from streams.scoring.predictions import prediction_record

AS_OF = 1_796_083_200_000


@pytest.fixture(params=["chdb", "server"])
def store(request, tmp_path):
    if request.param == "server":
        server = request.getfixturevalue("clickhouse_server")
        ch = ClickHouseSettings(backend="server", host=server.host, port=server.port,
                                database=f"s_{uuid.uuid4().hex[:10]}")
    else:
        ch = ClickHouseSettings(backend="chdb", chdb_path=tmp_path / "chdb")
    opened = open_store(FitStreamSettings(state_dir=tmp_path, clickhouse=ch))
    apply_ddl(opened)
    apply_ddl(opened)  # idempotent
    yield opened
    opened.close()


def test_prediction_tables_keep_the_first_scoring_and_answer_the_latest(store):
    features = {"distance_7d_m": 1000.0, "best_5k_s_90d": None}
    old = prediction_record(FORECAST, "1", "u1", AS_OF, features,
                            {"predicted_distance_m": 5000.0}, AS_OF + 10)
    new = prediction_record(FORECAST, "1", "u1", AS_OF + 60_000, features,
                            {"predicted_distance_m": 6000.0}, AS_OF + 60_010)
    moved = prediction_record(FORECAST, "2", "u1", AS_OF + 60_000, features,
                              {"predicted_distance_m": 6500.0}, AS_OF + 70_000)
    other = prediction_record(FORECAST, "1", "u2", AS_OF, features,
                              {"predicted_distance_m": 1.0}, AS_OF + 10)
    store.insert(FORECASTS, forecast_columns([old, new, other]))
    # A replay: the same predictions scored later, and the moved champion's.
    store.insert(FORECASTS, forecast_columns([{**old, "scored_at": AS_OF + 99_999},
                                              {**new, "scored_at": AS_OF + 99_999}, moved]))
    rows = queries.prediction_rows(store, FORECASTS)
    assert [(r["user_id"], r["features_as_of_ms"], r["model_version"], r["scored_at_ms"])
            for r in rows] == [("u1", AS_OF, "1", AS_OF + 10),
                               ("u1", AS_OF + 60_000, "1", AS_OF + 60_010),
                               ("u1", AS_OF + 60_000, "2", AS_OF + 70_000),
                               ("u2", AS_OF, "1", AS_OF + 10)]
    assert rows[0]["feature_names"] == ["distance_7d_m", "best_5k_s_90d"]
    assert rows[0]["feature_values"] == [1000.0, None]
    latest = queries.latest_forecast(store, "u1")
    assert (latest["model_version"], latest["predicted_distance_m"],
            latest["horizon_days"]) == ("2", 6500.0, 7)
    assert queries.latest_forecast(store, "nobody") is None

    race = prediction_record(RACE_TIME, "4", "u1", AS_OF, features,
                             {"predicted_5k_s": 1500.0, "predicted_10k_s": None,
                              "predicted_half_marathon_s": 7000.0}, AS_OF)
    store.insert(RACE_PREDICTIONS, race_prediction_columns([race]))
    got = queries.latest_race_prediction(store, "u1")
    assert (got["predicted_5k_s"], got["predicted_10k_s"],
            got["predicted_half_marathon_s"]) == (1500.0, None, 7000.0)

    output = {f"rec_{rank}_{field}": value for rank, (sport, score) in
              enumerate([("running", 0.6), ("cycling", 0.3), ("walking", 0.1)], 1)
              for field, value in (("sport", sport), ("duration_band", "30_to_60_min"),
                                   ("intensity", "easy"), ("score", score))}
    ranked = prediction_record(NEXT_WORKOUT, "1", "u1", AS_OF, {}, output, AS_OF)
    store.insert(RECOMMENDATIONS, recommendation_columns([ranked, ranked]))
    got = queries.latest_recommendations(store, "u1")
    assert (got["sports"], got["scores"]) == (["running", "cycling", "walking"],
                                              [0.6, 0.3, 0.1])
    assert got["feature_names"] == [] and got["feature_values"] == []
    # An erase finds the user's predictions (counted before merges: copies included).
    assert {t for t, n in queries.user_row_counts(store, "u1").items() if n} == {
        FORECASTS, RACE_PREDICTIONS, RECOMMENDATIONS}
