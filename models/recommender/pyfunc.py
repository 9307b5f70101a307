"""The next-workout recommender as an MLflow pyfunc: takes user_id, as_of and the
next_workout_v1 features, returns NEXT_WORKOUT.outputs: the 3 most probable kinds,
best first, each as sport, duration band, intensity and its probability (score)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import mlflow.pyfunc
import numpy as np
import pandas as pd
import torch

from fitstream.domain.workout_kind import KINDS
from fitstream.model_catalogue import NEXT_WORKOUT, RECOMMENDATIONS
from models.recommender.network import FeatureEncoder, NextWorkoutNet, probabilities

ARTIFACT = "next_workout_model"


def top_kinds(probs: np.ndarray, k: int = RECOMMENDATIONS) -> np.ndarray:
    """The ``k`` most probable kind indices per row, best first (ties: KINDS order)."""
    return np.argsort(-probs, axis=1, kind="stable")[:, :k]


def recommendation_frame(probs: np.ndarray) -> pd.DataFrame:
    """NEXT_WORKOUT.outputs from kind probabilities (one row per input row)."""
    top = top_kinds(probs)
    columns: dict[str, list[Any]] = {name: [] for name in NEXT_WORKOUT.outputs}
    for row, kinds in enumerate(top):
        for rank, kind in enumerate(kinds, start=1):
            columns[f"rec_{rank}_sport"].append(KINDS[kind].sport)
            columns[f"rec_{rank}_duration_band"].append(KINDS[kind].duration_band)
            columns[f"rec_{rank}_intensity"].append(KINDS[kind].intensity)
            columns[f"rec_{rank}_score"].append(float(probs[row, kind]))
    return pd.DataFrame(columns, columns=list(NEXT_WORKOUT.outputs))


def save_model(directory: Path, net: NextWorkoutNet, encoder: FeatureEncoder,
               params: dict[str, Any]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    torch.save(net.state_dict(), directory / "state_dict.pt")
    (directory / "encoder.json").write_text(json.dumps(
        {"mean": encoder.mean, "std": encoder.std}, sort_keys=True))
    (directory / "params.json").write_text(json.dumps(params, sort_keys=True))
    return directory


def load_model(directory: Path) -> tuple[NextWorkoutNet, FeatureEncoder]:
    params = json.loads((directory / "params.json").read_text())
    encoder = FeatureEncoder(**json.loads((directory / "encoder.json").read_text()))
    net = NextWorkoutNet(encoder.width, int(params["hidden"]), float(params["dropout"]))
    net.load_state_dict(torch.load(directory / "state_dict.pt", weights_only=True))
    net.eval()
    return net, encoder


class NextWorkoutPyfunc(mlflow.pyfunc.PythonModel):
    """Loads the network and its encoder from the logged artifact :data:`ARTIFACT`."""

    def __init__(self) -> None:
        self.net: NextWorkoutNet | None = None
        self.encoder: FeatureEncoder | None = None

    def load_context(self, context: Any) -> None:
        torch.set_num_threads(1)
        self.net, self.encoder = load_model(Path(context.artifacts[ARTIFACT]))

    def predict(self, context: Any, model_input: pd.DataFrame,
                params: dict[str, Any] | None = None) -> pd.DataFrame:
        assert self.net is not None and self.encoder is not None, "load_context first"
        frame = model_input.reset_index(drop=True)
        return recommendation_frame(probabilities(self.net, self.encoder.transform(frame)))
