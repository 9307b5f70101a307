"""Judging a model honestly: a chronological split with a gap, the metrics the gate and
the reports use, a digest of the training set, the plots every run logs, and the report
a training returns.

The split is by whole UTC weeks (Monday to Sunday): the holdout is the last
``holdout_share`` of the weeks present, and training rows stop ``gap_days`` before the
holdout starts, so a label window (the next 7 days) that starts in training never
reaches into the holdout.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from fitstream.model_catalogue import ModelSpec

DAY_MS = 86_400_000
WEEK_MS = 7 * DAY_MS
# 1970-01-01 was a Thursday: the first Monday is day 4, so (day + 3) // 7 numbers weeks
# that begin on Mondays (week 0 holds the epoch's first days).
_MONDAY_OFFSET_DAYS = 3

Progress = Callable[[str, int, int], None]
"""``(stage, done, total)``: a training's progress (total 0 when not known); the CLI
draws it as bars."""


def _epoch_ms(column: pd.Series) -> np.ndarray:
    if pd.api.types.is_datetime64_any_dtype(column):
        utc = column.dt.tz_convert("UTC") if column.dt.tz is not None else column
        return (utc.astype("datetime64[ms, UTC]" if column.dt.tz is not None else "datetime64[ms]")
                .astype("int64").to_numpy())
    return column.astype("int64").to_numpy()


def utc_week(epoch_ms: np.ndarray | int) -> np.ndarray | int:
    """The Monday-based UTC week number of epoch milliseconds."""
    return (np.floor_divide(epoch_ms, DAY_MS) + _MONDAY_OFFSET_DAYS) // 7


def week_start_ms(week: int) -> int:
    """The Monday 00:00 UTC that begins ``week``, in epoch milliseconds."""
    return (int(week) * 7 - _MONDAY_OFFSET_DAYS) * DAY_MS


def chronological_split(frame: pd.DataFrame, time_col: str, holdout_share: float,
                        gap_days: int = 7) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(train, holdout): the holdout is every row in the last ``ceil(weeks *
    holdout_share)`` UTC weeks present (at least one, and at least one week left for
    training); train is every row at or before ``gap_days`` before the holdout's first
    Monday. ``time_col`` is epoch milliseconds or a datetime column. Raises ValueError
    with fewer than two weeks, or when the gap leaves no training rows."""
    if not 0 < holdout_share < 1:
        raise ValueError(f"holdout_share must be in (0, 1), not {holdout_share}")
    times = _epoch_ms(frame[time_col])
    weeks = utc_week(times)
    present = np.unique(weeks)
    if len(present) < 2:
        raise ValueError(f"{len(present)} UTC week(s) of data: a chronological split needs two")
    held = min(len(present) - 1, max(1, math.ceil(len(present) * holdout_share)))
    holdout_start = week_start_ms(present[-held])
    train = frame[times <= holdout_start - gap_days * DAY_MS]
    holdout = frame[times >= holdout_start]
    if train.empty:
        raise ValueError(f"no training rows {gap_days} days before the holdout starts "
                         f"({pd.Timestamp(holdout_start, unit='ms', tz='UTC'):%Y-%m-%d})")
    return train, holdout


def mae(actual: Sequence[float] | np.ndarray, predicted: Sequence[float] | np.ndarray) -> float:
    """Mean absolute error."""
    a, p = np.asarray(actual, dtype=float), np.asarray(predicted, dtype=float)
    if a.shape != p.shape or a.size == 0:
        raise ValueError(f"need equal, non-empty shapes, not {a.shape} and {p.shape}")
    return float(np.mean(np.abs(a - p)))


def mape(actual: Sequence[float] | np.ndarray, predicted: Sequence[float] | np.ndarray) -> float:
    """Mean absolute percentage error, as a fraction (0.05 is 5%), over rows whose actual
    value is not zero (undefined there). Raises ValueError if every actual is zero."""
    a, p = np.asarray(actual, dtype=float), np.asarray(predicted, dtype=float)
    if a.shape != p.shape:
        raise ValueError(f"need equal shapes, not {a.shape} and {p.shape}")
    nonzero = a != 0
    if not nonzero.any():
        raise ValueError("MAPE is undefined: every actual value is zero")
    return float(np.mean(np.abs(a[nonzero] - p[nonzero]) / np.abs(a[nonzero])))


def top_k_accuracy(actual: Sequence[Any], ranked: Sequence[Sequence[Any]], k: int) -> float:
    """The share of rows whose actual item is among the first ``k`` of its ranking."""
    _check_ranked(actual, ranked, k)
    return float(np.mean([truth in list(items)[:k] for truth, items in zip(actual, ranked,
                                                                            strict=True)]))


def ndcg_at_k(actual: Sequence[Any], ranked: Sequence[Sequence[Any]], k: int) -> float:
    """Mean NDCG@k with one relevant item per row (the actual one): 1 / log2(rank + 1)
    when it is at 1-based ``rank`` <= k, else 0 (the ideal DCG is 1). Between top-1 and
    top-k accuracy, within [0, 1]."""
    _check_ranked(actual, ranked, k)
    gains = []
    for truth, items in zip(actual, ranked, strict=True):
        top = list(items)[:k]
        gains.append(1.0 / math.log2(top.index(truth) + 2) if truth in top else 0.0)
    return float(np.mean(gains))


def _check_ranked(actual: Sequence[Any], ranked: Sequence[Sequence[Any]], k: int) -> None:
    if k < 1:
        raise ValueError(f"k must be at least 1, not {k}")
    if len(actual) != len(ranked) or len(actual) == 0:
        raise ValueError(f"need as many rankings as actual items (non-empty), not "
                         f"{len(ranked)} and {len(actual)}")


def frame_digest(frame: pd.DataFrame) -> str:
    """sha256 of a frame's columns (names, dtypes) and values in row order, independent
    of its index: the same training set gives the same digest in any process."""
    digest = hashlib.sha256()
    digest.update("|".join(f"{name}:{dtype}" for name, dtype in frame.dtypes.items()).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()


# --- Plots ---------------------------------------------------------------------------

def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")  # no display on servers and in tests
    import matplotlib.pyplot as plt

    return plt


def predicted_vs_actual(actual: np.ndarray, predicted: np.ndarray, unit: str) -> Any:
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(5, 5))
    axes.scatter(actual, predicted, s=6, alpha=0.4)
    high = float(max(np.max(actual, initial=0), np.max(predicted, initial=0)))
    axes.plot([0, high], [0, high], color="grey", linewidth=1)
    axes.set(xlabel=f"actual ({unit})", ylabel=f"predicted ({unit})",
             title="holdout: predicted vs actual")
    return figure


def residuals_by_week(weeks: np.ndarray, residuals: np.ndarray, unit: str) -> Any:
    """A box per holdout week of (predicted - actual)."""
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(7, 4))
    labels = sorted(set(np.asarray(weeks).tolist()))
    axes.boxplot([residuals[weeks == w] for w in labels], showfliers=False)
    axes.set_xticks(range(1, len(labels) + 1),
                    [pd.Timestamp(week_start_ms(w), unit="ms").strftime("%m-%d") for w in labels],
                    rotation=45)
    axes.axhline(0, color="grey", linewidth=1)
    axes.set(xlabel="week (Monday)", ylabel=f"predicted - actual ({unit})",
             title="holdout residuals by week")
    figure.tight_layout()
    return figure


def feature_importance(importance: Mapping[str, float], top: int = 25) -> Any:
    plt = _pyplot()
    ranked = sorted(importance.items(), key=lambda item: item[1])[-top:]
    figure, axes = plt.subplots(figsize=(7, max(3, 0.28 * len(ranked))))
    axes.barh([name for name, _ in ranked], [value for _, value in ranked])
    axes.set(xlabel="importance (gain)", title="feature importance")
    figure.tight_layout()
    return figure


def training_curve(curves: Mapping[str, Sequence[float]], ylabel: str,
                   xlabel: str = "iteration") -> Any:
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(6, 4))
    for name, values in curves.items():
        axes.plot(range(1, len(values) + 1), values, label=name)
    axes.set(xlabel=xlabel, ylabel=ylabel, title="training curve")
    axes.legend()
    return figure


def log_plots(figures: Mapping[str, Any], folder: str = "plots") -> list[str]:
    """Log each figure to the active run as ``<folder>/<name>.png`` and close it;
    returns the artifact paths."""
    import mlflow

    plt = _pyplot()
    paths = []
    for name, figure in figures.items():
        path = f"{folder}/{name}.png"
        mlflow.log_figure(figure, path)
        plt.close(figure)
        paths.append(path)
    return paths


@dataclass
class TrainingReport:
    """What a training returns: the run, the registered version (the new challenger),
    the logged metrics (``holdout_<metric>``, ``baseline_<name>_<metric>``, ...) and the
    split's sizes."""

    spec: ModelSpec
    run_id: str
    version: str
    metrics: dict[str, float] = field(default_factory=dict)
    train_rows: int = 0
    holdout_rows: int = 0
