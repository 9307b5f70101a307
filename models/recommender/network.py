"""The next-workout network: the service's features encoded into a fixed vector, a
small MLP, 63 logits (one per KINDS entry). CPU only, deterministic for a seed.

Encoding, per latest workout k = 1..3: its kind one-hot (63: sport, the band of its
moving time, intensity; all zero when the user has no k-th workout), its sport and
intensity one-hots with a "missing" slot, log moving minutes, and its start hour on the
clock (sin, cos). The recency and volume features are log1p-scaled and standardised
with the training set's mean and deviation; a missing one is 0 plus a missing flag.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from fitstream.domain.events import SPORT_TYPES
from fitstream.domain.features import NEXT_WORKOUT_FEATURES
from fitstream.domain.workout_kind import INTENSITIES, KINDS, WorkoutKind, duration_band, kind_index

LAST_K = 3
CONTEXT = tuple(name for name in NEXT_WORKOUT_FEATURES if not name.startswith("last_"))
DEFAULT_PARAMS: dict[str, Any] = {
    "hidden": 64, "epochs": 40, "batch_size": 128, "learning_rate": 3e-3,
    "weight_decay": 1e-4, "dropout": 0.1, "patience": 6, "validation_share": 0.15,
}


def _value(row: dict[str, Any], name: str) -> float | None:
    value = row.get(name)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return float(value)


@dataclass
class FeatureEncoder:
    """Feature rows -> float32 matrix; the context's scaling is fitted on training rows."""

    mean: list[float] = field(default_factory=list)
    std: list[float] = field(default_factory=list)

    def fit(self, features: pd.DataFrame) -> FeatureEncoder:
        raw = self._context(features)
        with warnings.catch_warnings():  # a column with no value at all scales as 0 / 1
            warnings.simplefilter("ignore", RuntimeWarning)
            means = np.nan_to_num(np.nanmean(raw, axis=0)) if len(raw) else np.zeros(len(CONTEXT))
            stds = np.nan_to_num(np.nanstd(raw, axis=0)) if len(raw) else np.ones(len(CONTEXT))
        self.mean, self.std = means.tolist(), np.where(stds > 1e-9, stds, 1.0).tolist()
        return self

    @staticmethod
    def _context(features: pd.DataFrame) -> np.ndarray:
        raw = features[list(CONTEXT)].astype("float64").to_numpy()
        return np.log1p(np.clip(raw, 0, None))

    def transform(self, features: pd.DataFrame) -> np.ndarray:
        rows = features[list(NEXT_WORKOUT_FEATURES)].to_dict("records")
        last = np.zeros((len(rows), LAST_K, len(KINDS) + len(SPORT_TYPES) + 1
                         + len(INTENSITIES) + 1 + 3), dtype="float32")
        for i, row in enumerate(rows):
            for k in range(LAST_K):
                sport = _value(row, f"last_{k + 1}_sport_index")
                level = _value(row, f"last_{k + 1}_intensity_index")
                seconds = _value(row, f"last_{k + 1}_duration_s")
                hour = _value(row, f"last_{k + 1}_start_hour")
                slot = last[i, k]
                offset = len(KINDS)
                if sport is not None and level is not None and seconds is not None:
                    kind = WorkoutKind(SPORT_TYPES[int(sport)],
                                       duration_band(round(seconds * 1000)),
                                       INTENSITIES[int(level)])
                    slot[kind_index(kind)] = 1.0
                slot[offset + (len(SPORT_TYPES) if sport is None else int(sport))] = 1.0
                offset += len(SPORT_TYPES) + 1
                slot[offset + (len(INTENSITIES) if level is None else int(level))] = 1.0
                offset += len(INTENSITIES) + 1
                slot[offset] = 0.0 if seconds is None else math.log1p(seconds / 60) / 5
                if hour is not None:
                    slot[offset + 1] = math.sin(2 * math.pi * hour / 24)
                    slot[offset + 2] = math.cos(2 * math.pi * hour / 24)
        context = self._context(features)
        missing = np.isnan(context)
        scaled = np.where(missing, 0.0, (context - np.array(self.mean)) / np.array(self.std))
        return np.concatenate([last.reshape(len(rows), -1), scaled.astype("float32"),
                               missing.astype("float32")], axis=1).astype("float32")

    @property
    def width(self) -> int:
        return LAST_K * (len(KINDS) + len(SPORT_TYPES) + 1 + len(INTENSITIES) + 1 + 3) \
            + 2 * len(CONTEXT)


class NextWorkoutNet(nn.Module):
    """Two hidden layers, ReLU and dropout, one logit per kind."""

    def __init__(self, width: int, hidden: int, dropout: float) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.Linear(width, hidden), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(hidden, hidden), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(hidden, len(KINDS)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


@dataclass
class FitResult:
    net: NextWorkoutNet
    train_loss: list[float]
    validation_loss: list[float]
    best_epoch: int


def seed_everything(seed: int) -> None:
    """Seeds torch and numpy, one CPU thread, deterministic kernels: two fits with one
    seed give identical weights."""
    torch.manual_seed(seed)
    np.random.seed(seed)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)


def _mean_loss(net: NextWorkoutNet, x: torch.Tensor, y: torch.Tensor) -> float:
    net.eval()
    with torch.no_grad():
        return float(nn.functional.cross_entropy(net(x), y)) if len(y) else float("nan")


def fit_network(x_train: np.ndarray, y_train: np.ndarray, x_valid: np.ndarray,
                y_valid: np.ndarray, *, seed: int, params: dict[str, Any],
                on_epoch: Any = None) -> FitResult:
    """Adam on cross-entropy; the weights of the epoch with the lowest validation loss
    are kept (every epoch if there is no validation set). ``on_epoch(epoch, epochs)``
    reports progress."""
    seed_everything(seed)
    net = NextWorkoutNet(x_train.shape[1], int(params["hidden"]), float(params["dropout"]))
    optimiser = torch.optim.Adam(net.parameters(), lr=float(params["learning_rate"]),
                                 weight_decay=float(params["weight_decay"]))
    xt, yt = torch.from_numpy(x_train), torch.from_numpy(y_train.astype("int64"))
    xv, yv = torch.from_numpy(x_valid), torch.from_numpy(y_valid.astype("int64"))
    shuffle = torch.Generator().manual_seed(seed)
    epochs, batch = int(params["epochs"]), int(params["batch_size"])
    train_curve, valid_curve = [], []
    best, best_epoch, best_state, waited = math.inf, 0, None, 0
    for epoch in range(1, epochs + 1):
        net.train()
        order = torch.randperm(len(yt), generator=shuffle)
        for start in range(0, len(order), batch):
            chosen = order[start:start + batch]
            optimiser.zero_grad()
            nn.functional.cross_entropy(net(xt[chosen]), yt[chosen]).backward()
            optimiser.step()
        train_curve.append(_mean_loss(net, xt, yt))
        valid_curve.append(_mean_loss(net, xv, yv))
        if on_epoch is not None:
            on_epoch(epoch, epochs)
        score = valid_curve[-1] if len(yv) else -epoch
        if score < best:
            best, best_epoch, waited = score, epoch, 0
            best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
        else:
            waited += 1
            if waited >= int(params["patience"]):
                break
    assert best_state is not None
    net.load_state_dict(best_state)
    net.eval()
    return FitResult(net, train_curve, valid_curve, best_epoch)


def probabilities(net: NextWorkoutNet, x: np.ndarray) -> np.ndarray:
    """Softmax over the kinds, one row per input row."""
    net.eval()
    with torch.no_grad():
        return torch.softmax(net(torch.from_numpy(x)), dim=1).numpy()
