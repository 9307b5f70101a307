"""The weekly distance forecast (XGBoost): the next 7 days' metres per user.

Training data: ``features.weekly_distance_training`` gives the spine (user, snapshot
midnight) and the label; the features come from Feast's ``get_historical_features``
with the model's feature service (:data:`~fitstream.model_catalogue.FORECAST`), point
in time (the row each snapshot joined has ``as_of`` at or before it). The split is
chronological (``settings.models.holdout_share`` of the weeks, a 7-day gap). Baselines
on the same holdout: the last 7 days (``distance_7d_m``), 28 days / 4, and the user's
mean of their training labels (the training mean for users not seen in training).

What the model predicts, and why (models/forecast/pyfunc.py has the arithmetic): the
next 7 days as a multiple of the user's typical workout (28-day metres per workout),
trained with the absolute error weighted by that workout so the loss is the MAE in
metres. The window sums are the wrong yardstick to learn against: on a fleet of a
few weeks the training rows are its first week, when a user's 7- and 28-day sums
cover only the days since they joined, while the holdout's cover full weeks; a
typical workout does not depend on how long the window has been filling. The trees are
shallow and slow (a few dozen users' rows, labels noisier than the features), and the
number of trees is chosen on the training rows' own last weeks (early stopping,
:func:`early_stopping_rounds`), never on the holdout.

Measured (seed 7 unless named; MAE in metres; model / best baseline): 100 users x 28
days 17,061 / 18,007 (-5.3%; before 18,305, +1.7%); 100 x 28 from 2026-11-02 with seed
42 12,651 / 12,673 (-0.2%; before 14,326, +13%); 40 x 84 14,252 / 12,969 user mean
(+9.9%; before 14,918, +15%); 20 x 84 14,805 / 13,191 (+12%; before 15,687, +19%). The
issue's target (15% below the best baseline) is not met: these features see 28 days,
the user-mean baseline sees every training week (even the best line through the 7- and
28-day sums, fitted on the holdout itself, scores 13,200 on 40 x 84), and the weekly
labels vary within a user more than the features explain.

Everything is logged to one MLflow run (see :func:`train`), and the model is registered
as the new challenger.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fitstream.model_catalogue import FORECAST
from fitstream.settings import FitStreamSettings
from models.evaluation import (
    Progress,
    TrainingReport,
    chronological_split,
    feature_importance,
    frame_digest,
    log_plots,
    mae,
    predicted_vs_actual,
    residuals_by_week,
    training_curve,
    utc_week,
)
from models.forecast.pyfunc import (
    BOOSTER_ARTIFACT,
    FALLBACK_SCALE_ATTR,
    OUTPUT,
    PER_WORKOUT,
    TARGET_ATTR,
    WeeklyDistancePyfunc,
    model_frame,
    per_workout_scale,
    predict_metres,
)
from models.registry import HOLDOUT_ARTIFACT, MODEL_ARTIFACT, register_challenger
from models.tracking import training_run
from models.training_data import AS_OF, historical_features, service_features
from models.training_data import weekly_distance_training as read_training_set

LABEL = "label_next_7d_distance_m"
GAP_DAYS = 7
VALIDATION_SHARE = 0.25
PATIENCE = 30
DEFAULT_PARAMS: dict[str, Any] = {
    # MAE is the target, so the objective is the absolute error (the conditional median).
    "objective": "reg:absoluteerror",
    "eval_metric": "mae",
    # Shallow, slow and heavily regularised: a few hundred rows of a few dozen users, with
    # weekly labels that vary more within a user than the features explain; deeper trees
    # memorised users (train MAE a third of the holdout's).
    "n_estimators": 300,
    "max_depth": 2,
    "learning_rate": 0.02,
    "subsample": 0.8,
    "colsample_bytree": 0.8,
    "min_child_weight": 20,
    "reg_lambda": 1.0,
}


def training_frame(settings: FitStreamSettings) -> pd.DataFrame:
    """The spine and labels of the training table, with the service's features from
    Feast point in time: user_id, snapshot_at, event_timestamp, as_of, the features,
    the label; rows with no feature row yet are dropped."""
    spine = read_training_set(settings)[["user_id", "snapshot_at", "event_timestamp", LABEL]]
    spine["event_timestamp"] = pd.to_datetime(spine["event_timestamp"], utc=True)
    frame = historical_features(settings, spine, FORECAST.feature_service)
    return frame[frame[AS_OF].notna()].reset_index(drop=True)


def baselines(train: pd.DataFrame, holdout: pd.DataFrame) -> dict[str, np.ndarray]:
    """The naive forecasts for the holdout rows, by name."""
    user_mean = train.groupby("user_id")[LABEL].mean()
    return {
        "last_7_days": holdout["distance_7d_m"].fillna(0.0).to_numpy(dtype=float),
        "28_days_over_4": (holdout["distance_28d_m"].fillna(0.0) / 4).to_numpy(dtype=float),
        "user_mean": holdout["user_id"].map(user_mean).fillna(train[LABEL].mean())
        .to_numpy(dtype=float),
    }


def fallback_scale(train: pd.DataFrame) -> float:
    """The scale of a user without a workout in 28 days: the training rows' median
    typical workout (1 km if no row has one)."""
    scale = per_workout_scale(train, np.nan)
    return float(np.nanmedian(scale)) if np.isfinite(scale).any() else 1000.0


def early_stopping_rounds(train: pd.DataFrame, x_train: pd.DataFrame, y_train: np.ndarray,
                          scale: np.ndarray, hyper: dict[str, Any], seed: int) -> int:
    """How many trees: the training rows are split again as the holdout was split
    (the last weeks, after a gap), boosting stops when the later weeks' MAE has not
    improved for :data:`PATIENCE` rounds, and the best count is kept (the final model
    is then fitted on every training row). The holdout never takes part. With under
    two training weeks (a 4-week fleet) there is nothing later to stop on:
    ``n_estimators`` as given."""
    import xgboost as xgb

    try:
        fit, later = chronological_split(train, "snapshot_at", VALIDATION_SHARE, GAP_DAYS)
    except ValueError:
        return int(hyper["n_estimators"])
    fit_at, later_at = train.index.get_indexer(fit.index), train.index.get_indexer(later.index)
    target, weight = y_train / scale, scale / scale.mean()
    model = xgb.XGBRegressor(**hyper, random_state=seed, n_jobs=1, tree_method="hist",
                             early_stopping_rounds=PATIENCE)
    model.fit(x_train.iloc[fit_at], target[fit_at], sample_weight=weight[fit_at],
              eval_set=[(x_train.iloc[later_at], target[later_at])],
              sample_weight_eval_set=[weight[later_at]], verbose=False)
    return int(model.best_iteration) + 1


def holdout_score(predictions: pd.DataFrame, holdout: pd.DataFrame) -> float:
    """The gate metric (MAE, metres) of pyfunc output on a logged holdout."""
    return mae(holdout[LABEL].to_numpy(dtype=float), predictions[OUTPUT].to_numpy(dtype=float))


def train(settings: FitStreamSettings, *, progress: Progress | None = None,
          params: dict[str, Any] | None = None) -> TrainingReport:
    """Train, evaluate against the baselines, log, register as challenger.

    ``params`` override :data:`DEFAULT_PARAMS` (XGBoost's sklearn names). The run logs
    the parameters, ``holdout_mae`` beside every ``baseline_<name>_mae`` (and RMSE, and
    the training MAE), the feature service and its references, the training set's
    digest and size, the plots, the holdout (for the gate) and the pyfunc with its
    signature and input example."""
    import mlflow
    import xgboost as xgb
    from mlflow.models import infer_signature

    def step(stage: str, done: int, total: int = 6) -> None:
        if progress:
            progress(stage, done, total)

    hyper = {**DEFAULT_PARAMS, **(params or {})}
    seed = settings.models.seed
    step("training data", 0)
    frame = training_frame(settings)
    refs = service_features(settings, FORECAST.feature_service)
    service = [ref.split(":", 1)[1] for ref in refs]
    train_rows, holdout = chronological_split(frame, "snapshot_at",
                                              settings.models.holdout_share, GAP_DAYS)
    step("training data", 1)
    run_params = {**hyper, "seed": seed, "holdout_share": settings.models.holdout_share,
                  "gap_days": GAP_DAYS, "feature_service": FORECAST.feature_service,
                  "features": len(service), "target": PER_WORKOUT, "label": LABEL}
    with training_run(settings, FORECAST, run_params) as run:
        mlflow.set_tags({"feature_refs": ",".join(refs),
                         "training_set_digest": frame_digest(frame),
                         "train_until": str(pd.Timestamp(int(train_rows["snapshot_at"].max()),
                                                         unit="ms", tz="UTC")),
                         "holdout_from": str(pd.Timestamp(int(holdout["snapshot_at"].min()),
                                                          unit="ms", tz="UTC"))})
        mlflow.log_dict({"feature_service": FORECAST.feature_service, "feature_refs": refs},
                        "features.json")
        x_train = model_frame(train_rows, service)
        x_holdout = model_frame(holdout, service)
        features = list(x_train.columns)
        y_train = train_rows[LABEL].to_numpy(dtype=float)
        y_holdout = holdout[LABEL].to_numpy(dtype=float)
        fallback = fallback_scale(train_rows)
        scale_train = per_workout_scale(train_rows, fallback)
        scale_holdout = per_workout_scale(holdout, fallback)
        rounds = early_stopping_rounds(train_rows, x_train, y_train, scale_train, hyper, seed)
        model = xgb.XGBRegressor(**{**hyper, "n_estimators": rounds}, random_state=seed,
                                 n_jobs=1, tree_method="hist")
        # Weighted by the scale, the absolute error of the multiple is the absolute
        # error in metres (weights over their mean, so min_child_weight still counts
        # rows); the holdout curve is drawn, never used to choose anything.
        unit = scale_train.mean()
        model.fit(x_train, y_train / scale_train, sample_weight=scale_train / unit,
                  eval_set=[(x_train, y_train / scale_train),
                            (x_holdout, y_holdout / scale_holdout)],
                  sample_weight_eval_set=[scale_train / unit, scale_holdout / unit],
                  verbose=False)
        booster = model.get_booster()
        booster.feature_names = features
        booster.set_attr(**{TARGET_ATTR: PER_WORKOUT, FALLBACK_SCALE_ATTR: repr(fallback)})
        step("fit", 2)

        predicted = predict_metres(booster, holdout)
        metrics = {"holdout_mae": mae(y_holdout, predicted),
                   "holdout_rmse": float(np.sqrt(np.mean((y_holdout - predicted) ** 2))),
                   "train_mae": mae(y_train, predict_metres(booster, train_rows)),
                   "n_estimators_used": float(rounds),
                   "train_rows": float(len(train_rows)), "holdout_rows": float(len(holdout)),
                   "training_set_rows": float(len(frame)),
                   "holdout_users": float(holdout["user_id"].nunique())}
        for name, guess in baselines(train_rows, holdout).items():
            metrics[f"baseline_{name}_mae"] = mae(y_holdout, guess)
            metrics[f"baseline_{name}_rmse"] = float(np.sqrt(np.mean((y_holdout - guess) ** 2)))
        best = min(v for k, v in metrics.items() if k.startswith("baseline_") and k.endswith("_mae"))
        metrics["mae_vs_best_baseline"] = metrics["holdout_mae"] / best - 1.0
        mlflow.log_metrics(metrics)
        step("evaluate", 3)

        # The weighted MAE of the multiples is the MAE in metres over the mean scale.
        curves = {"train": list(np.asarray(model.evals_result()["validation_0"]["mae"])
                                * scale_train.mean()),
                  "holdout": list(np.asarray(model.evals_result()["validation_1"]["mae"])
                                  * scale_holdout.mean())}
        for i, (train_mae, holdout_mae) in enumerate(zip(
                curves["train"], curves["holdout"], strict=True)):
            mlflow.log_metrics({"curve_train_mae": train_mae, "curve_holdout_mae": holdout_mae},
                               step=i)
        gain = booster.get_score(importance_type="gain")
        log_plots({
            "predicted_vs_actual": predicted_vs_actual(y_holdout, predicted, "m"),
            "residuals_by_week": residuals_by_week(
                np.asarray(utc_week(holdout["snapshot_at"].to_numpy())), predicted - y_holdout, "m"),
            "feature_importance": feature_importance(gain),
            "training_curve": training_curve(curves, "MAE (m)"),
        })
        mlflow.log_dict({name: float(value) for name, value in gain.items()},
                        "feature_importance.json")
        step("plots", 4)

        inputs = ["user_id", AS_OF, *service]
        example = holdout[inputs].head(5).astype({AS_OF: "int64"}).reset_index(drop=True)
        example[service] = example[service].astype("float64")
        with tempfile.TemporaryDirectory() as folder:
            booster_path = Path(folder) / "booster.json"
            booster.save_model(booster_path)
            logged_holdout = holdout[[*inputs, "snapshot_at", LABEL]].reset_index(drop=True)
            logged_holdout[service] = logged_holdout[service].astype("float64")
            logged_holdout[AS_OF] = logged_holdout[AS_OF].astype("int64")
            holdout_path = Path(folder) / Path(HOLDOUT_ARTIFACT).name
            logged_holdout.to_parquet(holdout_path, index=False)
            mlflow.log_artifact(str(holdout_path), str(Path(HOLDOUT_ARTIFACT).parent))
            output = WeeklyDistancePyfunc()
            output.booster = booster
            signature = infer_signature(example, output.predict(None, example))
            mlflow.pyfunc.log_model(
                name=MODEL_ARTIFACT, python_model=WeeklyDistancePyfunc(),
                artifacts={BOOSTER_ARTIFACT: str(booster_path)}, signature=signature,
                input_example=example, pip_requirements=_requirements())
        step("log model", 5)
        run_id = run.info.run_id
    version = register_challenger(settings, FORECAST, run_id)
    step("register", 6)
    return TrainingReport(FORECAST, run_id, version, metrics, len(train_rows), len(holdout))


def _requirements() -> list[str]:
    """Pinned as installed: a server loading the model builds the same environment."""
    from importlib.metadata import version

    return [f"{name}=={version(name)}" for name in
            ("xgboost-cpu", "pandas", "numpy", "mlflow-skinny", "cloudpickle")]


__all__ = ["DEFAULT_PARAMS", "LABEL", "holdout_score", "train"]
