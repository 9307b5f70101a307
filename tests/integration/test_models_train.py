"""Training the race-time model and the recommender on a small fleet in the lakehouse:
each run logs every metric beside its baselines, the feature service and its refs, the
training set's digest, plots, the holdout and a pyfunc with a signature, and registers
its version as @challenger; the pyfunc scores the logged holdout as the run did."""

from __future__ import annotations

import math

import mlflow
import pandas as pd
import pytest

from fitstream.model_catalogue import NEXT_WORKOUT, RACE_TIME
from fitstream.settings import FitStreamSettings
from jobs.fleet_lakehouse import build_fleet_lakehouse
from models import race_time, recommender
from models.registry import HOLDOUT_ARTIFACT, champion_uri, score_on_holdout
from models.tracking import mlflow_client
from models.training_data import service_features

USERS, DAYS, SEED = 12, 63, 5
EXPECTED = {
    RACE_TIME.key: (("mape",), ("riegel",)),
    NEXT_WORKOUT.key: (("top1_accuracy", "ndcg_at_3", "sport_accuracy"),
                       ("most_frequent", "most_recent")),
}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    settings = FitStreamSettings(state_dir=tmp_path_factory.mktemp("models-train"))
    build_fleet_lakehouse(settings, USERS, DAYS, SEED)
    stages: list[tuple[str, int, int]] = []
    reports = {RACE_TIME.key: race_time.train(settings, progress=lambda *s: stages.append(s)),
               NEXT_WORKOUT.key: recommender.train(settings, params={"epochs": 8})}
    return settings, reports, stages


@pytest.mark.parametrize("spec", [RACE_TIME, NEXT_WORKOUT], ids=lambda spec: spec.key)
def test_the_run_logs_every_metric_beside_its_baselines(trained, spec):
    settings, reports, _ = trained
    report = reports[spec.key]
    run = mlflow_client(settings).get_run(report.run_id)
    metrics, (names, baselines) = run.data.metrics, EXPECTED[spec.key]
    for name in names:
        assert math.isfinite(metrics[f"holdout_{name}"]), name
        for baseline in baselines:
            assert math.isfinite(metrics[f"baseline_{baseline}_{name}"]), (baseline, name)
    assert {k: metrics[k] for k in report.metrics} == report.metrics
    if spec is RACE_TIME:  # per distance too, wherever the holdout has labels
        per_distance = {k.removeprefix("holdout_") for k in metrics if k.startswith("holdout_mape_")}
        assert per_distance == {k.removeprefix("baseline_riegel_") for k in metrics
                                if k.startswith("baseline_riegel_mape_")}
        assert per_distance
    assert report.train_rows > 0 and report.holdout_rows > 0
    assert run.data.tags["feature_service"] == spec.feature_service
    assert run.data.tags["feature_refs"] == ",".join(service_features(settings,
                                                                      spec.feature_service))
    assert len(run.data.tags["training_set_digest"]) == 64
    assert run.data.params["seed"] == str(settings.models.seed)
    artifacts = {a.path for a in mlflow_client(settings).list_artifacts(report.run_id, "plots")}
    assert artifacts, "no plots logged"


def test_the_recommender_logs_its_loss_curve_per_epoch(trained):
    settings, reports, _ = trained
    client = mlflow_client(settings)
    run_id = reports[NEXT_WORKOUT.key].run_id
    train_loss = client.get_metric_history(run_id, "train_loss")
    validation_loss = client.get_metric_history(run_id, "validation_loss")
    assert [m.step for m in train_loss] == [m.step for m in validation_loss]
    assert [m.step for m in train_loss] == list(range(1, len(train_loss) + 1))
    assert 1 <= reports[NEXT_WORKOUT.key].metrics["best_epoch"] <= len(train_loss) <= 8
    plots = {a.path for a in client.list_artifacts(run_id, "plots")}
    assert "plots/loss_curve.png" in plots


@pytest.mark.parametrize("spec", [RACE_TIME, NEXT_WORKOUT], ids=lambda spec: spec.key)
def test_the_version_is_the_challenger_and_its_pyfunc_scores_the_holdout_as_logged(trained, spec):
    settings, reports, _ = trained
    report = reports[spec.key]
    client = mlflow_client(settings)
    version = client.get_model_version_by_alias(spec.registered_name,
                                                settings.models.challenger_alias)
    assert (str(version.version), version.run_id) == (report.version, report.run_id)
    uri = champion_uri(spec, settings.models.challenger_alias)
    assert score_on_holdout(settings, spec, uri, report.run_id) == pytest.approx(
        report.metrics[f"holdout_{spec.gate_metric}"], abs=1e-12)
    holdout = pd.read_parquet(mlflow.artifacts.download_artifacts(
        run_id=report.run_id, artifact_path=HOLDOUT_ARTIFACT))
    model = mlflow.pyfunc.load_model(uri)
    inputs = model.metadata.get_input_schema().input_names()
    assert inputs[:2] == ["user_id", "as_of"]
    assert list(model.predict(holdout[inputs].head(3)).columns) == list(spec.outputs)


def test_progress_reaches_the_end(trained):
    _, _, stages = trained
    assert stages[-1][1] == stages[-1][2] > 0
