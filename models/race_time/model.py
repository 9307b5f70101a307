"""The race-time model: XGBoost predicts the log of (actual / Riegel), one pooled model
for the three race distances, so a prediction is Riegel times a learned correction.

Starting from a base score of 0 (no correction) the boosting only moves away from
Riegel where the training set shows that it pays; a user without any known best effort
gets NaN, as Riegel would.

A row of the long design matrix is (feature row, race distance): the service's features
plus the target distance, how far the anchor best is from it (log ratio) and Riegel's
own prediction, all in log space.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xgboost as xgb

from fitstream.domain.features import RACE_TIME_FEATURES
from fitstream.model_catalogue import RACE_DISTANCES_M, RACE_TIME
from models.race_time.riegel import riegel_predictions

DERIVED = ("target_log_m", "anchor_log_ratio", "riegel_log_s")
MODEL_COLUMNS = (*RACE_TIME_FEATURES, *DERIVED)
DEFAULT_PARAMS: dict[str, Any] = {
    "n_estimators": 400, "max_depth": 3, "learning_rate": 0.05, "subsample": 0.8,
    "colsample_bytree": 0.8, "min_child_weight": 5.0, "reg_lambda": 1.0,
    "validation_share": 0.2, "early_stopping_rounds": 30,
}


def long_design(features: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(design matrix, keys): one design row per feature row and race distance with a
    Riegel anchor; keys hold ``row`` (the position in ``features``), ``distance``
    (a RACE_DISTANCES_M name) and ``riegel_s``."""
    riegel = riegel_predictions(features)
    parts, keys = [], []
    base = features[list(RACE_TIME_FEATURES)].astype("float64").reset_index(drop=True)
    for name, target_m in RACE_DISTANCES_M.items():
        times = riegel[f"riegel_{name}_s"].to_numpy()
        rows = np.flatnonzero(~np.isnan(times))
        part = base.iloc[rows].copy()
        part["target_log_m"] = np.log(target_m)
        part["anchor_log_ratio"] = np.log(target_m / riegel[f"anchor_{name}_m"].to_numpy()[rows])
        part["riegel_log_s"] = np.log(times[rows])
        parts.append(part)
        keys.append(pd.DataFrame({"row": rows, "distance": name, "riegel_s": times[rows]}))
    design = pd.concat(parts, ignore_index=True)[list(MODEL_COLUMNS)]
    return design, pd.concat(keys, ignore_index=True)


def _training_matrix(features: pd.DataFrame, labels: pd.DataFrame,
                     ) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """(design rows with a label, log(actual / Riegel), their feature row positions)."""
    design, keys = long_design(features)
    actual = np.array([labels[f"label_{d}_s"].to_numpy()[r]
                       for r, d in zip(keys["row"], keys["distance"], strict=True)],
                      dtype="float64")
    known = ~np.isnan(actual)
    target = np.log(actual[known] / keys["riegel_s"].to_numpy()[known])
    return design[known].reset_index(drop=True), target, keys["row"].to_numpy()[known]


@dataclass
class RaceTimeModel:
    """A fitted correction to Riegel; :meth:`predict` gives RACE_TIME.outputs."""

    booster: xgb.Booster
    params: dict[str, Any] = field(default_factory=dict)
    # Absolute log error per round of the early-stopping probe: train and validation.
    curve: dict[str, list[float]] = field(default_factory=dict)

    @classmethod
    def fit(cls, features: pd.DataFrame, labels: pd.DataFrame, *, seed: int,
            params: dict[str, Any] | None = None) -> RaceTimeModel:
        """Fit on feature rows and their label columns (label_<name>_s, NaN = none), rows
        in time order. The number of rounds is chosen on the last ``validation_share``
        of the rows (early stopping on the absolute log error, patience
        ``early_stopping_rounds``), then the model is refitted on every row with it: on
        data where Riegel is already right, few rounds survive and the model stays
        near Riegel."""
        chosen = {**DEFAULT_PARAMS, **(params or {})}
        design, target, rows = _training_matrix(features, labels)
        booster_params = {
            "objective": "reg:absoluteerror", "base_score": 0.0, "seed": seed, "nthread": 1,
            "tree_method": "hist", "max_depth": int(chosen["max_depth"]),
            "eta": float(chosen["learning_rate"]), "subsample": float(chosen["subsample"]),
            "colsample_bytree": float(chosen["colsample_bytree"]),
            "min_child_weight": float(chosen["min_child_weight"]),
            "lambda": float(chosen["reg_lambda"])}
        rounds = int(chosen["n_estimators"])
        cut = round(len(features) * (1 - float(chosen["validation_share"])))
        early, late = rows < cut, rows >= cut
        curve: dict[str, list[float]] = {}
        if early.any() and late.any() and int(chosen["early_stopping_rounds"]) > 0:
            fitting = xgb.DMatrix(design[early], label=target[early], missing=np.nan)
            results: dict[str, dict[str, list[float]]] = {}
            probe = xgb.train(
                booster_params, fitting, num_boost_round=rounds,
                evals=[(fitting, "train"),
                       (xgb.DMatrix(design[late], label=target[late], missing=np.nan),
                        "validation")],
                early_stopping_rounds=int(chosen["early_stopping_rounds"]),
                evals_result=results, verbose_eval=False)
            rounds = probe.best_iteration + 1
            curve = {name: [float(v) for v in values["mae"]] for name, values in results.items()}
        booster = xgb.train(booster_params, xgb.DMatrix(design, label=target, missing=np.nan),
                            num_boost_round=rounds)
        return cls(booster, {**chosen, "rounds": rounds}, curve)

    def predict(self, features: pd.DataFrame) -> pd.DataFrame:
        """RACE_TIME.outputs per feature row, in its order (NaN without a known best)."""
        out = pd.DataFrame(np.nan, index=range(len(features)), columns=list(RACE_TIME.outputs))
        design, keys = long_design(features)
        if len(design):
            correction = self.booster.predict(xgb.DMatrix(design, missing=np.nan))
            predicted = keys["riegel_s"].to_numpy() * np.exp(correction)
            for name in RACE_DISTANCES_M:
                mask = (keys["distance"] == name).to_numpy()
                out.loc[keys["row"].to_numpy()[mask], f"predicted_{name}_s"] = predicted[mask]
        return out

    def importance(self) -> dict[str, float]:
        """Total gain per design column (0 for a column no tree split on)."""
        gain = self.booster.get_score(importance_type="total_gain")
        return {name: float(gain.get(name, 0.0)) for name in MODEL_COLUMNS}

    def save(self, directory: Path) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        self.booster.save_model(directory / "booster.json")
        (directory / "params.json").write_text(json.dumps(self.params, sort_keys=True))
        return directory

    @classmethod
    def load(cls, directory: Path) -> RaceTimeModel:
        booster = xgb.Booster()
        booster.load_model(directory / "booster.json")
        return cls(booster, json.loads((directory / "params.json").read_text()))


def riegel_outputs(features: pd.DataFrame) -> pd.DataFrame:
    """The Riegel baseline in the pyfunc's output columns."""
    riegel = riegel_predictions(features).reset_index(drop=True)
    return pd.DataFrame({f"predicted_{name}_s": riegel[f"riegel_{name}_s"]
                         for name in RACE_DISTANCES_M})


def pooled_mape(predictions: pd.DataFrame, labels: pd.DataFrame) -> float:
    """MAPE over every (row, distance) with a label, pooled over the three distances.

    A missing prediction where a label exists counts as a 100% error, so a model cannot
    win by abstaining. NaN when there is no label at all."""
    errors = []
    for name in RACE_DISTANCES_M:
        actual = labels[f"label_{name}_s"].to_numpy(dtype="float64")
        predicted = predictions[f"predicted_{name}_s"].to_numpy(dtype="float64")
        known = ~np.isnan(actual)
        error = np.abs(predicted[known] - actual[known]) / actual[known]
        errors.append(np.where(np.isnan(error), 1.0, error))
    pooled = np.concatenate(errors)
    return float(pooled.mean()) if len(pooled) else float("nan")


def mape_by_distance(predictions: pd.DataFrame, labels: pd.DataFrame) -> dict[str, float]:
    """:func:`pooled_mape` per race distance name."""
    return {name: pooled_mape(predictions[[f"predicted_{name}_s"]].assign(
        **{f"predicted_{o}_s": np.nan for o in RACE_DISTANCES_M if o != name}),
        labels[[f"label_{name}_s"]].assign(
        **{f"label_{o}_s": np.nan for o in RACE_DISTANCES_M if o != name}))
        for name in RACE_DISTANCES_M}
