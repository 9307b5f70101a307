"""The weekly-distance forecast as an MLflow pyfunc: takes ``user_id``, ``as_of`` and the
weekly_distance_forecast_v1 features (bare names), returns ``predicted_distance_m`` (the
next 7 days' metres, never negative), one row per input row.

The booster is an artifact in XGBoost's JSON format (portable across versions, no
pickle of the model itself); the feature order it was trained with is in its
``feature_names``.
"""

from __future__ import annotations

from typing import Any

import mlflow.pyfunc
import numpy as np
import pandas as pd

BOOSTER_ARTIFACT = "booster"
OUTPUT = "predicted_distance_m"


def feature_matrix(frame: pd.DataFrame, features: list[str]) -> np.ndarray:
    """The features as floats, missing values NaN (XGBoost's missing)."""
    return frame[features].apply(pd.to_numeric, errors="coerce").astype("float64").to_numpy()


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
        import xgboost as xgb

        assert self.booster is not None, "load_context first"
        features = list(self.booster.feature_names)
        matrix = xgb.DMatrix(feature_matrix(model_input, features), feature_names=features,
                             missing=np.nan)
        predicted = np.clip(self.booster.predict(matrix), 0.0, None)
        return pd.DataFrame({OUTPUT: predicted.astype("float64")})
