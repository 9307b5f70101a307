"""The race-time model as an MLflow pyfunc: takes user_id, as_of and the race_time_v1
features, returns RACE_TIME.outputs (NaN where the user has no known best effort)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mlflow.pyfunc
import pandas as pd

from models.race_time.model import RaceTimeModel

ARTIFACT = "race_time_model"


class RaceTimePyfunc(mlflow.pyfunc.PythonModel):
    """Loads the booster from the logged artifact directory :data:`ARTIFACT`."""

    def __init__(self) -> None:
        self.model: RaceTimeModel | None = None

    def load_context(self, context: Any) -> None:
        self.model = RaceTimeModel.load(Path(context.artifacts[ARTIFACT]))

    def predict(self, context: Any, model_input: pd.DataFrame,
                params: dict[str, Any] | None = None) -> pd.DataFrame:
        assert self.model is not None, "load_context first"
        return self.model.predict(model_input.reset_index(drop=True))
