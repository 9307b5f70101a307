"""The weekly-distance forecast as an MLflow pyfunc: takes ``user_id``, ``as_of`` and the
features of the model's feature service (bare names), returns ``predicted_distance_m``
(the next 7 days' metres, never negative), one row per input row.

The booster is an artifact in XGBoost's JSON format (portable across versions, no
pickle of the model itself); the feature order it was trained with is in its
``feature_names``, and how its output becomes metres is in its attributes:

- :data:`DERIVED` features are computed here from the service's own features (ratios a
  tree cannot form by itself from a few hundred rows), so training and scoring compute
  them the same way and the scorer needs nothing but the service's online vector;
- ``target`` = ``per_workout``: the booster predicts the next 7 days as a multiple of
  the user's typical workout (``distance_28d_m / workouts_28d``; the training median
  where the user has no workout in 28 days, attribute ``fallback_scale_m``), so the
  prediction is that multiple times the scale. A booster without the attribute
  predicts metres (the first versions).
"""

from __future__ import annotations

from typing import Any

import mlflow.pyfunc
import numpy as np
import pandas as pd

BOOSTER_ARTIFACT = "booster"
OUTPUT = "predicted_distance_m"
TARGET_ATTR = "target"
PER_WORKOUT = "per_workout"
FALLBACK_SCALE_ATTR = "fallback_scale_m"


def _ratio(numerator: pd.Series, denominator: pd.Series) -> pd.Series:
    return numerator / denominator.where(denominator > 0)


DERIVED = {
    # A typical workout's metres: window-length free, unlike the window sums (a user
    # with two weeks of history has a 28-day sum of two weeks).
    "distance_per_workout_28d_m": lambda f: _ratio(f["distance_28d_m"], f["workouts_28d"]),
    "distance_per_workout_7d_m": lambda f: _ratio(f["distance_7d_m"], f["workouts_7d"]),
    "speed_28d_m_per_s": lambda f: _ratio(f["distance_28d_m"], f["moving_time_28d_s"]),
    "distance_7d_share_of_28d": lambda f: _ratio(f["distance_7d_m"], f["distance_28d_m"]),
}
"""Features computed from the service's features, by name (NaN where undefined)."""


def model_frame(frame: pd.DataFrame, features: list[str]) -> pd.DataFrame:
    """``features`` as floats (missing values NaN, XGBoost's missing), plus every
    :data:`DERIVED` feature whose inputs are among them."""
    numeric = frame[features].apply(pd.to_numeric, errors="coerce").astype("float64")
    for name, derive in DERIVED.items():
        try:
            numeric[name] = derive(numeric).astype("float64")
        except KeyError:  # a service without its inputs
            continue
    return numeric


def feature_matrix(frame: pd.DataFrame, features: list[str]) -> np.ndarray:
    """The features as floats, missing values NaN (XGBoost's missing)."""
    return frame[features].apply(pd.to_numeric, errors="coerce").astype("float64").to_numpy()


def per_workout_scale(frame: pd.DataFrame, fallback_m: float) -> np.ndarray:
    """The metres of the user's typical workout over 28 days, ``fallback_m`` without one
    (or under a metre: a ratio to nothing says nothing)."""
    scale = _ratio(pd.to_numeric(frame["distance_28d_m"], errors="coerce").astype("float64"),
                   pd.to_numeric(frame["workouts_28d"], errors="coerce").astype("float64"))
    scale = scale.to_numpy(dtype="float64")
    return np.where(np.isfinite(scale) & (scale >= 1.0), scale, fallback_m)


def predict_metres(booster: Any, frame: pd.DataFrame) -> np.ndarray:
    """The booster's forecast in metres for ``frame`` (the service's features, any
    other columns ignored), clipped at zero."""
    import xgboost as xgb

    names = list(booster.feature_names)
    inputs = [n for n in names if n not in DERIVED]
    matrix = xgb.DMatrix(model_frame(frame, inputs)[names].to_numpy(), feature_names=names,
                         missing=np.nan)
    raw = booster.predict(matrix).astype("float64")
    if booster.attr(TARGET_ATTR) == PER_WORKOUT:
        raw = raw * per_workout_scale(frame, float(booster.attr(FALLBACK_SCALE_ATTR)))
    return np.clip(raw, 0.0, None)


class WeeklyDistancePyfunc(mlflow.pyfunc.PythonModel):
    """Loads the booster from :data:`BOOSTER_ARTIFACT` once, predicts in batches."""

    def __init__(self) -> None:
        self.booster: Any = None

    def load_context(self, context: Any) -> None:
        import xgboost as xgb

        self.booster = xgb.Booster()
        self.booster.load_model(context.artifacts[BOOSTER_ARTIFACT])

    def predict(self, context: Any, model_input: pd.DataFrame,
                params: dict[str, Any] | None = None) -> pd.DataFrame:
        assert self.booster is not None, "load_context first"
        return pd.DataFrame({OUTPUT: predict_metres(self.booster, model_input)})
