"""Race-time model: Riegel, the label rules, and the correction it learns over Riegel."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fitstream.domain.features import RACE_TIME_FEATURES
from fitstream.model_catalogue import RACE_DISTANCES_M, RACE_TIME
from models.race_time.model import RaceTimeModel, pooled_mape, riegel_outputs
from models.race_time.riegel import anchor, race_labels, riegel, riegel_predictions

START = 1_796_083_200_000  # 2026-12-01 00:00 UTC


def test_riegel_exact_values():
    assert riegel(1000.0, 5000.0, 10_000.0) == pytest.approx(2084.931521682243, abs=1e-9)
    assert riegel(1200.0, 10_000.0, 21_097.5) == pytest.approx(2647.683697282228, abs=1e-9)
    assert riegel(300.0, 1000.0, 5000.0) == pytest.approx(1652.0738588629804, abs=1e-9)
    assert riegel(1500.0, 5000.0, 5000.0) == 1500.0


@given(st.floats(60, 20_000), st.sampled_from([1000.0, 5000.0, 10_000.0]),
       st.sampled_from(list(RACE_DISTANCES_M.values())))
def test_riegel_there_and_back_is_the_identity(seconds, from_m, to_m):
    assert riegel(riegel(seconds, from_m, to_m), to_m, from_m) == pytest.approx(seconds, rel=1e-12)


def test_anchor_is_the_best_closest_in_ratio():
    bests = {"1k": 200.0, "5k": 1200.0, "10k": 2500.0}
    assert anchor(bests, 5000.0) == (1200.0, 5000.0)
    assert anchor(bests, 21_097.5) == (2500.0, 10_000.0)
    # 10 km is twice 5 km, 1 km a fifth: 10 km is closer in ratio though not in metres.
    assert anchor({"1k": 200.0, "10k": 2500.0}, 5000.0) == (2500.0, 10_000.0)
    assert anchor({"1k": 200.0, "5k": None, "10k": float("nan")}, 5000.0) == (200.0, 1000.0)
    assert anchor({"1k": None, "5k": None, "10k": None}, 5000.0) is None


def test_riegel_predictions_per_distance():
    features = pd.DataFrame({"best_1k_s_90d": [300.0, None], "best_5k_s_90d": [1200.0, None],
                             "best_10k_s_90d": [None, None]})
    riegel_frame = riegel_predictions(features)
    assert riegel_frame.loc[0, "riegel_5k_s"] == 1200.0
    assert riegel_frame.loc[0, "riegel_10k_s"] == pytest.approx(1200.0 * 2 ** 1.06, abs=1e-9)
    assert riegel_frame.loc[0, "anchor_half_marathon_m"] == 5000.0
    assert riegel_frame.loc[1].isna().all()
    assert list(riegel_outputs(features).columns) == list(RACE_TIME.outputs)


def summary(workout_id: str, *, sport: str = "running", status: str = "completed",
            distance: float = 5200.0, elapsed_s: int = 1500, best_5k_ms: int | None = 1_400_000,
            best_10k_ms: int | None = None, user: str = "u1", start: int = START) -> dict:
    return {"workout_id": workout_id, "user_id": user, "sport_type": sport, "status": status,
            "start_time": start, "end_time": start + elapsed_s * 1000 if status == "completed"
            else None, "moving_duration_ms": elapsed_s * 1000, "distance_meters": distance,
            "avg_heart_rate": 150.0, "best_1k_ms": None, "best_5k_ms": best_5k_ms,
            "best_10k_ms": best_10k_ms}


def test_labels_come_from_completed_runs_only():
    labels = race_labels(pd.DataFrame([
        summary("run5", start=START),
        summary("run10", distance=10_400.0, elapsed_s=3000, best_5k_ms=1_430_000,
                best_10k_ms=2_900_000, start=START + 1000),
        summary("half", distance=22_000.0, elapsed_s=7200, best_5k_ms=1_600_000,
                best_10k_ms=3_300_000, start=START + 2000),
        summary("ride", sport="cycling", distance=30_000.0, elapsed_s=3600, start=START + 3000),
        summary("open", status="active", start=START + 4000),
        summary("short", distance=3000.0, elapsed_s=900, best_5k_ms=None, start=START + 5000),
    ]))
    assert list(labels["workout_id"]) == ["run5", "run10", "half"]
    assert list(labels["label_5k_s"]) == [1400.0, 1430.0, 1600.0]
    assert labels["label_10k_s"].tolist()[1:] == [2900.0, 3300.0]
    assert math.isnan(labels["label_10k_s"][0])
    # The half: elapsed time at the run's pace over 21.0975 km.
    assert labels["label_half_marathon_s"][2] == pytest.approx(7200 * 21_097.5 / 22_000, abs=1e-9)
    assert labels["label_half_marathon_s"][:2].isna().all()
    assert list(labels["start_time"]) == [START, START + 1000, START + 2000]


def test_a_run_just_short_of_the_half_gives_no_half_label():
    labels = race_labels(pd.DataFrame([
        summary("a", distance=21_097.4, elapsed_s=6000, best_10k_ms=2_700_000),
        summary("b", distance=21_097.5, elapsed_s=6000, best_10k_ms=2_700_000, start=START + 1)]))
    assert math.isnan(labels["label_half_marathon_s"][0])
    assert labels["label_half_marathon_s"][1] == 6000.0


def test_pooled_mape_counts_every_label_and_a_missing_prediction_as_100_percent():
    labels = pd.DataFrame({"label_5k_s": [1000.0, 1200.0], "label_10k_s": [2000.0, np.nan],
                           "label_half_marathon_s": [np.nan, 5000.0]})
    predictions = pd.DataFrame({"predicted_5k_s": [1100.0, 1200.0],
                                "predicted_10k_s": [1900.0, 999.0],
                                "predicted_half_marathon_s": [1.0, np.nan]})
    # 5k: 0.1, 0.0; 10k: 0.05; half: missing -> 1.0.
    assert pooled_mape(predictions, labels) == pytest.approx((0.1 + 0.0 + 0.05 + 1.0) / 4)


def synthetic_users(users: int, rows_per_user: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Feature rows whose true race times are Riegel from the 5 km best with a per-user
    bias over longer distances that low-mileage runners show (slower than Riegel at
    10 km and the half), plus 1% noise."""
    rng = np.random.default_rng(seed)
    rows, labels = [], []
    for _ in range(users):
        best_5k = rng.uniform(1100, 2000)
        weekly_km = rng.uniform(5, 80)
        fade = 0.12 * (1 - weekly_km / 80)  # log slowdown per doubling of distance
        for _ in range(rows_per_user):
            row = dict.fromkeys(RACE_TIME_FEATURES, np.nan)
            row.update(best_5k_s_90d=best_5k, best_1k_s_90d=best_5k / 5 ** 1.06 * 0.97,
                       running_distance_28d_m=weekly_km * 4000 * rng.uniform(0.9, 1.1),
                       longest_run_28d_m=weekly_km * 300)
            rows.append(row)
            label = {}
            for name, metres in RACE_DISTANCES_M.items():
                bias = fade * math.log2(metres / 5000) + rng.normal(0, 0.01)
                label[f"label_{name}_s"] = riegel(best_5k, 5000, metres) * math.exp(bias)
            labels.append(label)
    return pd.DataFrame(rows), pd.DataFrame(labels)


def test_the_model_beats_riegel_when_runners_fade_with_low_mileage():
    train_x, train_y = synthetic_users(80, 5, seed=1)
    test_x, test_y = synthetic_users(30, 3, seed=2)
    model = RaceTimeModel.fit(train_x, train_y, seed=7)
    model_mape = pooled_mape(model.predict(test_x), test_y)
    riegel_mape = pooled_mape(riegel_outputs(test_x), test_y)
    assert riegel_mape > 0.04
    assert model_mape < riegel_mape / 2


def test_the_model_is_deterministic_and_predicts_nan_without_a_best_effort():
    train_x, train_y = synthetic_users(20, 3, seed=3)
    first = RaceTimeModel.fit(train_x, train_y, seed=7).predict(train_x)
    second = RaceTimeModel.fit(train_x, train_y, seed=7).predict(train_x)
    pd.testing.assert_frame_equal(first, second)
    nobody = pd.DataFrame([dict.fromkeys(RACE_TIME_FEATURES, np.nan)])
    predicted = RaceTimeModel.fit(train_x, train_y, seed=7).predict(nobody)
    assert list(predicted.columns) == list(RACE_TIME.outputs)
    assert predicted.isna().all(axis=None)
