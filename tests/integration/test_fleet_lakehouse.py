"""The fleet lakehouse (jobs/fleet_lakehouse.py): its pandas training set equals the Spark
job's (jobs/training_set.py) on the same tables, row for row; Feast serves each user's
latest row online and the training rows' features point in time offline."""

from __future__ import annotations

import pandas as pd
import pytest
from deltalake import DeltaTable

from feature_repo.definitions import FEATURE_VIEW
from fitstream.domain.features import DAY_MS, FLAT_FEATURE_NAMES, next_days_distance_m
from fitstream.settings import FitStreamSettings
from jobs.fleet_lakehouse import LABEL, build_fleet_lakehouse
from stores.delta.tables import SILVER_WORKOUTS, TRAINING_SET, USER_FEATURES
from stores.feast.store import feature_store

USERS, DAYS, SEED = 6, 21, 3


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    settings = FitStreamSettings(state_dir=tmp_path_factory.mktemp("fleet-lakehouse"))
    report = build_fleet_lakehouse(settings, USERS, DAYS, SEED)
    return settings, report


def table(settings: FitStreamSettings, name: str) -> pd.DataFrame:
    return DeltaTable(settings.lakehouse_uri(name)).to_pandas()


def ordered(frame: pd.DataFrame) -> pd.DataFrame:
    columns = ["user_id", "snapshot_at", "feature_as_of", *FLAT_FEATURE_NAMES, LABEL,
               "snapshot_date"]
    frame = frame[columns].sort_values(["user_id", "snapshot_at"]).reset_index(drop=True)
    return frame.astype({c: "float64" for c in FLAT_FEATURE_NAMES})


def test_the_report_counts_what_the_tables_hold(fleet):
    settings, report = fleet
    assert report["completed"] > 0
    for name, rows in report["tables"].items():
        assert len(table(settings, name)) == rows, name
    assert report["tables"][USER_FEATURES] == report["completed"]
    assert report["online_users"] == USERS


def test_the_pandas_training_set_equals_the_spark_job(fleet):
    from jobs.spark import spark_session
    from jobs.training_set import build_training_set

    settings, _ = fleet
    pandas_rows = ordered(table(settings, TRAINING_SET))
    spark = spark_session(settings, "test-fleet-lakehouse")
    try:
        build_training_set(settings, spark)
    finally:
        spark.stop()
    spark_rows = ordered(table(settings, TRAINING_SET))
    assert len(pandas_rows) > USERS
    pd.testing.assert_frame_equal(pandas_rows, spark_rows, check_dtype=False)


def test_labels_are_the_domain_label_and_features_the_latest_row_known(fleet):
    settings, _ = fleet
    training = table(settings, TRAINING_SET)
    silver = table(settings, SILVER_WORKOUTS).to_dict("records")
    features = table(settings, USER_FEATURES)
    for row in training.sample(20, random_state=1).to_dict("records"):
        mine = [s for s in silver if s["user_id"] == row["user_id"]]
        assert row[LABEL] == next_days_distance_m(mine, row["snapshot_at"])
        known = features[(features["user_id"] == row["user_id"])
                         & (features["as_of"] <= row["snapshot_at"])]
        assert row["feature_as_of"] == known["as_of"].max()
        assert row["snapshot_at"] % DAY_MS == 0


def test_feast_serves_the_latest_row_online_and_the_training_features_offline(fleet):
    settings, _ = fleet
    store = feature_store(settings)
    features = table(settings, USER_FEATURES)
    latest = features.sort_values("as_of").groupby("user_id").tail(1).set_index("user_id")
    online = store.get_online_features(
        features=[f"{FEATURE_VIEW}:as_of", f"{FEATURE_VIEW}:distance_7d_m"],
        entity_rows=[{"user_id": u} for u in latest.index]).to_df().set_index("user_id")
    assert online["as_of"].to_dict() == latest["as_of"].to_dict()
    assert online["distance_7d_m"].to_dict() == latest["distance_7d_m"].to_dict()

    training = table(settings, TRAINING_SET)
    entity = training[["user_id", "event_timestamp"]].copy()
    service = store.get_feature_service("weekly_distance_forecast_v1")
    served = [f.name for p in service.feature_view_projections for f in p.features]
    historical = store.get_historical_features(entity_df=entity, features=service).to_df()
    merged = training.merge(historical, on=["user_id", "event_timestamp"],
                            suffixes=("", "_feast"))
    assert len(merged) == len(training) and len(served) > 10
    for name in served:
        pd.testing.assert_series_equal(merged[name].astype("float64"),
                                       merged[f"{name}_feast"].astype("float64"),
                                       check_names=False)
