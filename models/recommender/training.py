"""Training the next-workout recommender: examples from the completed-workout log,
features from Feast's next_workout_v1 service as of just before each workout started, a
chronological holdout with the most-frequent and most-recent baselines in the same run,
the loss curve, everything logged to one MLflow run and the version registered as
@challenger."""

from __future__ import annotations

import tempfile
from importlib.metadata import version as installed
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fitstream.domain.features import NEXT_WORKOUT_FEATURES
from fitstream.model_catalogue import NEXT_WORKOUT, RECOMMENDATIONS
from fitstream.settings import FitStreamSettings
from models.evaluation import (
    Progress,
    TrainingReport,
    chronological_split,
    frame_digest,
    log_plots,
    ndcg_at_k,
    top_k_accuracy,
    training_curve,
)
from models.recommender.network import (
    DEFAULT_PARAMS,
    FeatureEncoder,
    FitResult,
    fit_network,
    probabilities,
)
from models.recommender.pyfunc import (
    ARTIFACT,
    NextWorkoutPyfunc,
    recommendation_frame,
    save_model,
    top_kinds,
)
from models.recommender.sequences import BASELINES, TOP_K, examples, ranking_metrics
from models.registry import HOLDOUT_ARTIFACT, MODEL_ARTIFACT, register_challenger
from models.tracking import training_run
from models.training_data import AS_OF, completed_workouts, historical_features, service_features

INPUT_COLUMNS = ("user_id", AS_OF, *NEXT_WORKOUT_FEATURES)
LABEL_COLUMNS = ("label_kind", "label_sport", "label_duration_band", "label_intensity")
LABEL_RULE = ("the kind (sport, duration band, intensity) of the user's next completed "
              "workout; features and baselines as of 1 ms before it started")


def training_frame(settings: FitStreamSettings) -> pd.DataFrame:
    """One row per example (sequences.examples: labels and baseline rankings) with the
    service's features at 1 ms before the workout started (Feast, point in time) and
    their row's as_of; rows with no feature row yet go. Sorted by lookup time."""
    rows = examples(completed_workouts(settings))
    rows["event_timestamp"] = pd.to_datetime(rows["lookup_at"], unit="ms", utc=True)
    frame = historical_features(settings, rows, NEXT_WORKOUT.feature_service)
    frame = frame[frame[AS_OF].notna()].reset_index(drop=True)
    frame[list(NEXT_WORKOUT_FEATURES)] = frame[list(NEXT_WORKOUT_FEATURES)].astype("float64")
    frame[AS_OF] = frame[AS_OF].astype("int64")
    return frame.sort_values(["lookup_at", "user_id", "workout_id"]).reset_index(drop=True)


def recommendation_metrics(predictions: pd.DataFrame, holdout: pd.DataFrame) -> dict[str, float]:
    """top1_accuracy, ndcg_at_3 and sport_accuracy of pyfunc output rows (rec_1..3)
    against the holdout's label columns, row for row."""
    predictions, holdout = predictions.reset_index(drop=True), holdout.reset_index(drop=True)
    fields = ("sport", "duration_band", "intensity")
    ranked = [list(zip(*(predictions[f"rec_{rank}_{field}"] for field in fields), strict=True))
              for rank in range(1, RECOMMENDATIONS + 1)]
    actual = list(zip(*(holdout[f"label_{field}"] for field in fields), strict=True))
    per_row = [list(row) for row in zip(*ranked, strict=True)]
    return {"top1_accuracy": top_k_accuracy(actual, per_row, 1),
            "ndcg_at_3": ndcg_at_k(actual, per_row, TOP_K),
            "sport_accuracy": float(np.mean(predictions["rec_1_sport"].to_numpy()
                                            == holdout["label_sport"].to_numpy()))}


def holdout_score(predictions: pd.DataFrame, holdout: pd.DataFrame) -> float:
    """The gate metric: NDCG@3 (one relevant kind, the workout that followed) of pyfunc
    output rows against the logged holdout's label columns, row for row."""
    return recommendation_metrics(predictions, holdout)["ndcg_at_3"]


def _loss_curve(fit: FitResult) -> Any:
    figure = training_curve({"train": fit.train_loss, "validation": fit.validation_loss},
                            "cross-entropy", "epoch")
    axes = figure.axes[0]
    axes.axvline(fit.best_epoch, color="grey", linestyle="--", linewidth=1,
                 label=f"kept: epoch {fit.best_epoch}")
    axes.legend()
    return figure


def _accuracy_by_sport(probs: np.ndarray, holdout: pd.DataFrame) -> Any:
    import matplotlib.pyplot as plt

    labels = holdout["label_kind"].to_numpy()
    hits = pd.DataFrame({"sport": holdout["label_sport"],
                         "model": top_kinds(probs, 1)[:, 0] == labels,
                         **{name: holdout[f"{name}_1"].to_numpy() == labels
                            for name in BASELINES}})
    figure, axes = plt.subplots(figsize=(8, 4))
    hits.groupby("sport").mean().plot.bar(ax=axes)
    axes.set(title="holdout top-1 accuracy by the next workout's sport", ylabel="accuracy")
    figure.tight_layout()
    return figure


def train(settings: FitStreamSettings, *, progress: Progress | None = None,
          params: dict[str, Any] | None = None) -> TrainingReport:
    """Train, evaluate against the baselines on the chronological holdout, log and
    register the version as @challenger; ``params`` override network.DEFAULT_PARAMS.

    The last ``validation_share`` of the training rows (by time) is the validation set:
    it draws the loss curve beside the training loss and picks the epoch whose weights
    are kept. The run logs the parameters, ``holdout_<metric>`` beside
    ``baseline_<name>_<metric>`` for top1_accuracy, ndcg_at_3 and sport_accuracy, the
    loss per epoch, the feature service and its references, the training set's digest,
    the plots, the holdout (for the gate) and the pyfunc with its signature and input
    example."""
    import mlflow
    from mlflow.models import infer_signature

    hyper = {**DEFAULT_PARAMS, **(params or {})}
    seed = settings.models.seed
    total = int(hyper["epochs"]) + 4

    def step(stage: str, done: int) -> None:
        if progress:
            progress(stage, done, total)

    step("training data", 0)
    frame = training_frame(settings)
    refs = service_features(settings, NEXT_WORKOUT.feature_service)
    train_rows, holdout = chronological_split(frame, "lookup_at", settings.models.holdout_share)
    train_rows, holdout = train_rows.reset_index(drop=True), holdout.reset_index(drop=True)
    cut = round(len(train_rows) * (1 - float(hyper["validation_share"])))
    fitting, validation = train_rows.iloc[:cut], train_rows.iloc[cut:]
    encoder = FeatureEncoder().fit(fitting)
    step("training data", 1)
    fit = fit_network(encoder.transform(fitting), fitting["label_kind"].to_numpy(),
                      encoder.transform(validation), validation["label_kind"].to_numpy(),
                      seed=seed, params=hyper,
                      on_epoch=lambda epoch, _: step("fit", 1 + epoch))
    step("fit", total - 3)
    probs = probabilities(fit.net, encoder.transform(holdout))
    actual = holdout["label_kind"].to_numpy()
    metrics = {f"holdout_{name}": value
               for name, value in ranking_metrics(actual, top_kinds(probs)).items()}
    for baseline in BASELINES:
        ranked = holdout[[f"{baseline}_{rank}" for rank in range(1, TOP_K + 1)]].to_numpy()
        metrics.update({f"baseline_{baseline}_{name}": value
                        for name, value in ranking_metrics(actual, ranked).items()})
    metrics.update(train_rows=float(len(train_rows)), holdout_rows=float(len(holdout)),
                   validation_rows=float(len(validation)), best_epoch=float(fit.best_epoch),
                   holdout_users=float(holdout["user_id"].nunique()))
    run_params = {**hyper, "seed": seed, "holdout_share": settings.models.holdout_share,
                  "feature_service": NEXT_WORKOUT.feature_service, "features": len(refs),
                  "classes": int(probs.shape[1]), "input_width": encoder.width}
    with training_run(settings, NEXT_WORKOUT, run_params) as run:
        mlflow.set_tags({"feature_refs": ",".join(refs), "label_rule": LABEL_RULE,
                         "training_set_digest": frame_digest(train_rows),
                         "holdout_digest": frame_digest(holdout)})
        mlflow.log_dict({"feature_service": NEXT_WORKOUT.feature_service, "feature_refs": refs},
                        "features.json")
        mlflow.log_metrics(metrics)
        for epoch, (train_loss, validation_loss) in enumerate(
                zip(fit.train_loss, fit.validation_loss, strict=True), start=1):
            mlflow.log_metrics({"train_loss": train_loss, "validation_loss": validation_loss},
                               step=epoch)
        log_plots({"loss_curve": _loss_curve(fit),
                   "accuracy_by_sport": _accuracy_by_sport(probs, holdout)})
        step("log", total - 2)
        with tempfile.TemporaryDirectory() as folder:
            logged = holdout[[*INPUT_COLUMNS, "workout_id", "lookup_at", *LABEL_COLUMNS]]
            path = Path(folder) / Path(HOLDOUT_ARTIFACT).name
            logged.to_parquet(path, index=False)
            mlflow.log_artifact(str(path), str(Path(HOLDOUT_ARTIFACT).parent))
            example = holdout[list(INPUT_COLUMNS)].head(5).reset_index(drop=True)
            output = recommendation_frame(probabilities(fit.net, encoder.transform(example)))
            mlflow.pyfunc.log_model(
                name=MODEL_ARTIFACT, python_model=NextWorkoutPyfunc(),
                artifacts={ARTIFACT: str(save_model(Path(folder) / ARTIFACT, fit.net, encoder,
                                                    hyper))},
                signature=infer_signature(example, output), input_example=example,
                pip_requirements=[f"{name}=={installed(name)}" for name in
                                  ("torch", "pandas", "numpy", "mlflow-skinny", "cloudpickle")])
        step("log model", total - 1)
        run_id = run.info.run_id
    version = register_challenger(settings, NEXT_WORKOUT, run_id)
    step("register", total)
    return TrainingReport(NEXT_WORKOUT, run_id, version, metrics, len(train_rows), len(holdout))
