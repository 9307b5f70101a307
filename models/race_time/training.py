"""Training the race-time model: labels from the completed-workout log, features from
Feast's race_time_v1 service as of just before each labelled workout started, a
chronological holdout with Riegel beside the model, everything logged to one MLflow run
and the version registered as @challenger."""

from __future__ import annotations

import tempfile
from importlib.metadata import version as installed
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fitstream.domain.features import RACE_TIME_FEATURES
from fitstream.model_catalogue import RACE_DISTANCES_M, RACE_TIME
from fitstream.settings import FitStreamSettings
from models.evaluation import (
    Progress,
    TrainingReport,
    chronological_split,
    feature_importance,
    frame_digest,
    log_plots,
    predicted_vs_actual,
    residuals_by_week,
    training_curve,
    utc_week,
)
from models.race_time.model import (
    DEFAULT_PARAMS,
    RaceTimeModel,
    mape_by_distance,
    pooled_mape,
    riegel_outputs,
)
from models.race_time.pyfunc import ARTIFACT, RaceTimePyfunc
from models.race_time.riegel import LABEL_COLUMNS, race_labels, riegel_predictions
from models.registry import HOLDOUT_ARTIFACT, MODEL_ARTIFACT, register_challenger
from models.tracking import training_run
from models.training_data import AS_OF, completed_workouts, historical_features, service_features

INPUT_COLUMNS = ("user_id", AS_OF, *RACE_TIME_FEATURES)
LABEL_RULE = ("completed runs; 5k/10k: the workout's best 5 km / 10 km effort; half: a run of "
              ">= 21.0975 km, its elapsed time scaled to 21.0975 km; features as of 1 ms "
              "before the workout started; a label only where a best effort anchors Riegel")


def training_frame(settings: FitStreamSettings) -> pd.DataFrame:
    """One row per labelled workout (riegel.race_labels): user_id, workout_id, lookup_at
    (epoch ms, 1 ms before the workout started) and event_timestamp (the same, UTC), the
    service's features at that instant (Feast, point in time) with their row's as_of,
    and the label columns. A label is kept only where the features know a best effort
    to anchor Riegel on, so the model and Riegel are judged on the same pairs; rows left
    without a label go. Sorted by (lookup_at, user_id, workout_id)."""
    labels = race_labels(completed_workouts(settings))
    labels["lookup_at"] = labels.pop("start_time") - 1
    labels["event_timestamp"] = pd.to_datetime(labels["lookup_at"], unit="ms", utc=True)
    frame = historical_features(settings, labels, RACE_TIME.feature_service)
    frame = frame[frame[AS_OF].notna()].reset_index(drop=True)
    frame[list(RACE_TIME_FEATURES)] = frame[list(RACE_TIME_FEATURES)].astype("float64")
    frame[AS_OF] = frame[AS_OF].astype("int64")
    riegel = riegel_predictions(frame)
    for name in RACE_DISTANCES_M:
        frame[f"label_{name}_s"] = frame[f"label_{name}_s"].where(
            riegel[f"riegel_{name}_s"].notna())
    frame = frame[frame[list(LABEL_COLUMNS)].notna().any(axis=1)]
    return frame.sort_values(["lookup_at", "user_id", "workout_id"]).reset_index(drop=True)


def holdout_score(predictions: pd.DataFrame, holdout: pd.DataFrame) -> float:
    """The gate metric: MAPE pooled over the three distances (model.pooled_mape; a
    missing prediction where a label exists counts 100%) of pyfunc output rows against
    the logged holdout's label columns, row for row."""
    return pooled_mape(predictions.reset_index(drop=True), holdout.reset_index(drop=True))


def _metrics(prefix: str, predictions: pd.DataFrame, holdout: pd.DataFrame) -> dict[str, float]:
    metrics = {f"{prefix}_mape": holdout_score(predictions, holdout)}
    metrics.update({f"{prefix}_mape_{name}": value
                    for name, value in mape_by_distance(predictions, holdout).items()
                    if not np.isnan(value)})
    return metrics


def _long(frame: pd.DataFrame, prefix: str) -> np.ndarray:
    return np.concatenate([frame[f"{prefix}_{name}_s"].to_numpy(dtype="float64")
                           for name in RACE_DISTANCES_M])


def _plots(model: RaceTimeModel, holdout: pd.DataFrame, predicted: pd.DataFrame,
           riegel: pd.DataFrame) -> dict[str, Any]:
    actual = _long(holdout, "label")
    ours, theirs = _long(predicted, "predicted"), _long(riegel, "predicted")
    known = ~np.isnan(actual) & ~np.isnan(ours)
    weeks = np.tile(np.asarray(utc_week(holdout["lookup_at"].to_numpy())), len(RACE_DISTANCES_M))
    figures = {
        "predicted_vs_actual": predicted_vs_actual(actual[known] / 60, ours[known] / 60, "min"),
        "riegel_vs_actual": predicted_vs_actual(actual[known] / 60, theirs[known] / 60, "min"),
        "residuals_by_week": residuals_by_week(
            weeks[known], 100 * (ours[known] - actual[known]) / actual[known], "% of actual"),
        "feature_importance": feature_importance(model.importance()),
    }
    figures["riegel_vs_actual"].axes[0].set_title("holdout: Riegel vs actual")
    if model.curve:
        figures["training_curve"] = training_curve(model.curve, "|log(actual / predicted)|",
                                                   "boosting round")
    return figures


def train(settings: FitStreamSettings, *, progress: Progress | None = None,
          params: dict[str, Any] | None = None) -> TrainingReport:
    """Train, evaluate against Riegel on the chronological holdout, log and register the
    version as @challenger; ``params`` override model.DEFAULT_PARAMS.

    The run logs the parameters, ``holdout_mape`` (pooled, and per distance) beside
    ``baseline_riegel_mape``, the feature service and its references, the training
    set's digest, the plots, the holdout (for the gate) and the pyfunc with its signature
    and input example."""
    import mlflow
    from mlflow.models import infer_signature

    def step(stage: str, done: int, total: int = 5) -> None:
        if progress:
            progress(stage, done, total)

    hyper = {**DEFAULT_PARAMS, **(params or {})}
    seed = settings.models.seed
    step("training data", 0)
    frame = training_frame(settings)
    refs = service_features(settings, RACE_TIME.feature_service)
    train_rows, holdout = chronological_split(frame, "lookup_at", settings.models.holdout_share)
    holdout = holdout.reset_index(drop=True)
    step("training data", 1)
    model = RaceTimeModel.fit(train_rows, train_rows, seed=seed, params=hyper)
    predicted, riegel = model.predict(holdout), riegel_outputs(holdout)
    metrics = {**_metrics("holdout", predicted, holdout),
               **_metrics("baseline_riegel", riegel, holdout),
               "train_rows": float(len(train_rows)), "holdout_rows": float(len(holdout)),
               "holdout_labels": float(holdout[list(LABEL_COLUMNS)].notna().sum().sum()),
               "holdout_users": float(holdout["user_id"].nunique()),
               "boosting_rounds": float(model.params["rounds"])}
    step("fit", 2)
    run_params = {**hyper, "seed": seed, "holdout_share": settings.models.holdout_share,
                  "feature_service": RACE_TIME.feature_service, "features": len(refs),
                  "target": "log(actual / riegel)", "riegel_exponent": 1.06}
    with training_run(settings, RACE_TIME, run_params) as run:
        mlflow.set_tags({"feature_refs": ",".join(refs), "label_rule": LABEL_RULE,
                         "training_set_digest": frame_digest(train_rows),
                         "holdout_digest": frame_digest(holdout)})
        mlflow.log_dict({"feature_service": RACE_TIME.feature_service, "feature_refs": refs},
                        "features.json")
        mlflow.log_metrics(metrics)
        for i, values in enumerate(zip(*model.curve.values(), strict=True)):
            mlflow.log_metrics({f"curve_{name}_abs_log_error": value
                                for name, value in zip(model.curve, values, strict=True)}, step=i)
        log_plots(_plots(model, holdout, predicted, riegel))
        mlflow.log_dict(model.importance(), "feature_importance.json")
        step("log", 3)
        with tempfile.TemporaryDirectory() as folder:
            logged = holdout[[*INPUT_COLUMNS, "workout_id", "lookup_at", *LABEL_COLUMNS]]
            path = Path(folder) / Path(HOLDOUT_ARTIFACT).name
            logged.to_parquet(path, index=False)
            mlflow.log_artifact(str(path), str(Path(HOLDOUT_ARTIFACT).parent))
            example = holdout[list(INPUT_COLUMNS)].head(5).reset_index(drop=True)
            mlflow.pyfunc.log_model(
                name=MODEL_ARTIFACT, python_model=RaceTimePyfunc(),
                artifacts={ARTIFACT: str(model.save(Path(folder) / ARTIFACT))},
                signature=infer_signature(example, model.predict(example)),
                input_example=example,
                pip_requirements=[f"{name}=={installed(name)}" for name in
                                  ("xgboost-cpu", "pandas", "numpy", "mlflow-skinny",
                                   "cloudpickle")])
        step("log model", 4)
        run_id = run.info.run_id
    version = register_challenger(settings, RACE_TIME, run_id)
    step("register", 5)
    return TrainingReport(RACE_TIME, run_id, version, metrics, len(train_rows), len(holdout))
