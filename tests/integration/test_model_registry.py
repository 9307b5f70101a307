"""The registry and its gate on a real MLflow (SQLite in tmp_path), real Feast and real
Delta: the forecast trains from a small fleet lakehouse, registers as @challenger, and
promote moves @champion only when the challenger beats every baseline and the champion;
a deliberately weakened challenger is refused, with reasons, and the alias stays."""

from __future__ import annotations

import pandas as pd
import pytest
from mlflow import MlflowClient

from fitstream.model_catalogue import FORECAST
from fitstream.settings import FitStreamSettings
from jobs.fleet_lakehouse import build_fleet_lakehouse
from models import forecast
from models.registry import promote, score_on_holdout
from models.tracking import mlflow_client
from models.training_data import AS_OF, historical_features, weekly_distance_training

USERS, DAYS, SEED = 12, 42, 5


@pytest.fixture(scope="module")
def settings(tmp_path_factory) -> FitStreamSettings:
    settings = FitStreamSettings(state_dir=tmp_path_factory.mktemp("model-registry"))
    build_fleet_lakehouse(settings, USERS, DAYS, SEED)
    return settings


def test_training_data_is_point_in_time(settings):
    spine = weekly_distance_training(settings)[["user_id", "event_timestamp", "feature_as_of"]]
    spine["event_timestamp"] = pd.to_datetime(spine["event_timestamp"], utc=True)
    frame = historical_features(settings, spine, FORECAST.feature_service)
    assert len(frame) == len(spine)
    snapshot_ms = frame["event_timestamp"].astype("datetime64[ms, UTC]").astype("int64")
    assert frame[AS_OF].notna().all()
    assert (frame[AS_OF].astype("int64") <= snapshot_ms).all()
    # Feast joined the very row the training table's point-in-time join took.
    assert (frame[AS_OF].astype("int64") == frame["feature_as_of"]).all()


def test_the_gate_promotes_a_challenger_and_refuses_a_weakened_one(settings):
    client: MlflowClient = mlflow_client(settings)
    name = FORECAST.registered_name

    first = forecast.train(settings)
    assert str(client.get_model_version_by_alias(name, "challenger").version) == first.version
    run = client.get_run(first.run_id)
    assert run.data.tags["feature_service"] == FORECAST.feature_service  # the catalogue's
    assert run.data.tags["training_set_digest"]
    baselines = {k: v for k, v in first.metrics.items() if k.startswith("baseline_")
                 and k.endswith("_mae")}
    assert set(baselines) == {"baseline_last_7_days_mae", "baseline_28_days_over_4_mae",
                              "baseline_user_mean_mae"}
    artifacts = {a.path for a in client.list_artifacts(first.run_id, "plots")}
    assert artifacts == {f"plots/{p}.png" for p in ("predicted_vs_actual", "residuals_by_week",
                                                     "feature_importance", "training_curve")}

    decision = promote(settings, FORECAST)
    # The gate is exactly "beats every baseline" while there is no champion.
    assert [row["theirs"] for row in decision.table] == [baselines[k] for k in sorted(baselines)]
    beats_all = all(first.metrics["holdout_mae"] < v for v in baselines.values())
    assert decision.promoted is beats_all
    if not decision.promoted:
        # Honest on this fleet: a naive rule won. Make it the champion by hand so the
        # weakened challenger below is judged against a champion too.
        assert any("does not beat baseline" in reason for reason in decision.reasons)
        client.set_registered_model_alias(name, "champion", first.version)
    assert str(client.get_model_version_by_alias(name, "champion").version) == first.version
    # The champion scored on its own holdout through its pyfunc gives its logged MAE.
    assert score_on_holdout(settings, FORECAST, f"models:/{name}@champion",
                            first.run_id) == pytest.approx(first.metrics["holdout_mae"])

    weak = forecast.train(settings, params={"n_estimators": 1, "max_depth": 1,
                                            "learning_rate": 0.0})
    assert weak.version != first.version
    assert weak.metrics["holdout_mae"] > first.metrics["holdout_mae"]
    refused = promote(settings, FORECAST)
    assert refused.promoted is False
    assert refused.challenger == weak.version and refused.champion == first.version
    # One row per baseline of the weak run (its own numbers), then the champion's, each
    # judging the weak run's holdout MAE.
    weak_mae = weak.metrics["holdout_mae"]
    weak_baselines = sorted(k for k in weak.metrics if k.startswith("baseline_")
                            and k.endswith("_mae"))
    assert [row["against"] for row in refused.table] == [
        *(f"baseline {k.removeprefix('baseline_').removesuffix('_mae')}"
          for k in weak_baselines),
        f"champion v{first.version} (on the challenger's holdout)"]
    assert [row["theirs"] for row in refused.table[:-1]] == [weak.metrics[k]
                                                              for k in weak_baselines]
    assert all(row["challenger"] == weak_mae and row["metric"] == "mae"
               for row in refused.table)
    assert [row["beats"] for row in refused.table] == [
        *(weak_mae < weak.metrics[k] for k in weak_baselines), False]
    against_champion = refused.table[-1]
    assert against_champion["theirs"] == pytest.approx(
        score_on_holdout(settings, FORECAST, f"models:/{name}/{first.version}", weak.run_id))
    # Both runs hold out the same rows, so the champion scores there what it logged.
    assert against_champion["theirs"] == pytest.approx(first.metrics["holdout_mae"])
    assert (f"challenger v{weak.version} mae {weak_mae:,.4g} does not beat champion"
            f" v{first.version} (on the challenger's holdout)"
            f" {against_champion['theirs']:,.4g} (lower is better)") in refused.reasons
    assert refused.reasons[-1] == f"@champion not moved (stays on v{first.version})"
    assert str(client.get_model_version_by_alias(name, "champion").version) == first.version
    assert str(client.get_model_version_by_alias(name, "challenger").version) == weak.version
