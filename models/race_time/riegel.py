"""Riegel's formula and the race-time labels a completed workout gives (pure).

Riegel (1981): a time T1 over D1 predicts T2 = T1 · (D2 / D1) ** 1.06 over D2. It is the
anchor of the race-time model and its baseline: the model predicts a correction to it.

Labels come only from what the log shows (a workout's summary), never from the
simulator's hidden state. A completed *running* workout with a start and an end gives:

- ``label_5k_s`` / ``label_10k_s``: its best 5 km / 10 km effort (``best_5k_ms`` /
  ``best_10k_ms``, elapsed time inside the workout) in seconds;
- ``label_half_marathon_s``: for a run of at least 21.0975 km, its elapsed time
  (end - start, like the best efforts, pauses included) scaled linearly to 21.0975 km:
  the time at that run's average pace, since no best effort over the half is tracked.

A workout gives no label for a distance it did not cover (NaN).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from fitstream.model_catalogue import RACE_DISTANCES_M

RIEGEL_EXPONENT = 1.06
HALF_MARATHON_M = RACE_DISTANCES_M["half_marathon"]
# The best efforts the features carry (best_<name>_s_90d), by their distance.
KNOWN_BESTS_M = {"1k": 1000.0, "5k": 5000.0, "10k": 10000.0}
LABEL_COLUMNS = tuple(f"label_{name}_s" for name in RACE_DISTANCES_M)


def riegel(time_s: float, from_m: float, to_m: float) -> float:
    """Riegel's prediction over ``to_m`` from ``time_s`` over ``from_m``."""
    return time_s * (to_m / from_m) ** RIEGEL_EXPONENT


def anchor(bests_s: Mapping[str, float | None], target_m: float) -> tuple[float, float] | None:
    """The known best effort to extrapolate from for ``target_m``: (seconds, metres) of
    the best closest to the target in ratio terms (|log(D2/D1)|: a 5 km best predicts
    a 10 km better than a 1 km one does), the longer on a tie; None without any.
    ``bests_s`` maps "1k"/"5k"/"10k" to seconds (None or NaN when unknown)."""
    known = [(abs(math.log(target_m / metres)), -metres, bests_s.get(name), metres)
             for name, metres in KNOWN_BESTS_M.items()
             if _present(bests_s.get(name))]
    if not known:
        return None
    _, _, seconds, metres = min(known)
    return float(seconds), metres


def _present(value: float | None) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value)) and value > 0


def riegel_predictions(features: pd.DataFrame) -> pd.DataFrame:
    """Riegel from each row's closest known best, per race distance: columns
    ``riegel_<name>_s`` and ``anchor_<name>_m`` (NaN where no best effort is known)."""
    out = {}
    bests = features[[f"best_{name}_s_90d" for name in KNOWN_BESTS_M]].astype(float).to_numpy()
    for name, target_m in RACE_DISTANCES_M.items():
        times, anchors = np.full(len(features), np.nan), np.full(len(features), np.nan)
        for i, row in enumerate(bests):
            found = anchor(dict(zip(KNOWN_BESTS_M, row, strict=True)), target_m)
            if found is not None:
                times[i] = riegel(found[0], found[1], target_m)
                anchors[i] = found[1]
        out[f"riegel_{name}_s"] = times
        out[f"anchor_{name}_m"] = anchors
    return pd.DataFrame(out, index=features.index)


def race_labels(workouts: pd.DataFrame) -> pd.DataFrame:
    """One row per completed running workout that gives at least one label: user_id,
    workout_id, start_time (epoch ms) and :data:`LABEL_COLUMNS` (see the module doc).
    ``workouts`` holds WorkoutSummary columns (silver.workouts)."""
    runs = workouts[(workouts["status"] == "completed") & (workouts["sport_type"] == "running")
                    & workouts["start_time"].notna() & workouts["end_time"].notna()]
    elapsed_s = (runs["end_time"].astype("float64") - runs["start_time"].astype("float64")) / 1000
    distance = runs["distance_meters"].astype("float64")
    half = (elapsed_s * HALF_MARATHON_M / distance).where(distance >= HALF_MARATHON_M)
    labels = pd.DataFrame({
        "user_id": runs["user_id"].astype(str),
        "workout_id": runs["workout_id"].astype(str),
        "start_time": runs["start_time"].astype("int64"),
        "label_5k_s": runs["best_5k_ms"].astype("float64") / 1000,
        "label_10k_s": runs["best_10k_ms"].astype("float64") / 1000,
        "label_half_marathon_s": half.astype("float64"),
    })
    labels = labels[labels[list(LABEL_COLUMNS)].notna().any(axis=1)]
    return labels.sort_values(["start_time", "user_id", "workout_id"]).reset_index(drop=True)
