"""Next-workout recommender: its examples, baselines and metrics on hand-made sequences,
and a deterministic network."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from fitstream.domain.features import NEXT_WORKOUT_FEATURES
from fitstream.domain.workout_kind import KINDS, WorkoutKind, kind_index
from fitstream.model_catalogue import NEXT_WORKOUT
from models.recommender.network import DEFAULT_PARAMS, FeatureEncoder, fit_network
from models.recommender.pyfunc import recommendation_frame
from models.recommender.sequences import (
    examples,
    most_frequent_ranking,
    most_recent_ranking,
    ranking_metrics,
)

START = 1_796_083_200_000  # 2026-12-01 00:00 UTC
HOUR = 3_600_000
EASY_RUN = kind_index(WorkoutKind("running", "30_to_60_min", "easy"))
HARD_RUN = kind_index(WorkoutKind("running", "under_30_min", "hard"))
LONG_RIDE = kind_index(WorkoutKind("cycling", "over_60_min", "moderate"))
SWIM = kind_index(WorkoutKind("swimming", "30_to_60_min", "moderate"))


def test_most_frequent_is_the_top_sport_then_its_top_kind():
    # Cycling once; running three times, easy twice: running/easy first, though the
    # single ride is the most recent workout.
    history = [EASY_RUN, HARD_RUN, EASY_RUN, LONG_RIDE]
    ranking = most_frequent_ranking(history)
    assert ranking[:3] == [EASY_RUN, HARD_RUN, 0]  # then running's unseen kinds, KINDS order
    assert ranking.index(LONG_RIDE) == 9  # every running kind before any cycling one
    assert sorted(ranking) == list(range(len(KINDS)))


def test_most_frequent_breaks_ties_by_sport_order_then_kind_order():
    assert most_frequent_ranking([SWIM, LONG_RIDE])[:2] == [LONG_RIDE, 9]
    assert most_frequent_ranking([HARD_RUN, EASY_RUN])[:2] == [min(HARD_RUN, EASY_RUN),
                                                                max(HARD_RUN, EASY_RUN)]


def test_most_recent_is_the_distinct_kinds_latest_first():
    ranking = most_recent_ranking([EASY_RUN, HARD_RUN, EASY_RUN, LONG_RIDE])
    assert ranking[:3] == [LONG_RIDE, EASY_RUN, HARD_RUN]
    assert ranking[3] == 0
    assert sorted(ranking) == list(range(len(KINDS)))


def workout(i: int, start_h: float, minutes: float, sport: str, hr: float | None,
            user: str = "u1", status: str = "completed") -> dict:
    start = START + int(start_h * HOUR)
    return {"workout_id": f"w{i}", "user_id": user, "sport_type": sport, "status": status,
            "start_time": start, "end_time": start + int(minutes * 60_000),
            "moving_duration_ms": int(minutes * 60_000), "distance_meters": 1000.0,
            "avg_heart_rate": hr}


def test_examples_read_only_workouts_that_ended_before_the_start():
    frame = examples(pd.DataFrame([
        workout(1, 0, 45, "running", 130),     # easy run, 30-60 min
        workout(2, 24, 20, "running", 170),    # hard run, under 30
        workout(3, 24.1, 90, "cycling", 150),  # starts before w2 ended: w2 not yet known
        workout(4, 48, 40, "swimming", None),  # no heart rate: moderate
        workout(5, 72, 40, "running", 130, status="active"),
        workout(6, 0, 30, "rowing", 120, user="u2"),  # alone: no history, no example
    ]))
    assert list(frame["workout_id"]) == ["w2", "w3", "w4"]
    assert list(frame["label_kind"]) == [HARD_RUN, LONG_RIDE, SWIM]
    assert list(frame["lookup_at"]) == [START + 24 * HOUR - 1, START + int(24.1 * HOUR) - 1,
                                    START + 48 * HOUR - 1]
    assert frame.loc[1, "most_recent_1"] == EASY_RUN  # w2 had not ended
    assert frame.loc[2, "most_recent_1"] == LONG_RIDE  # latest by end time
    assert frame.loc[2, "most_frequent_1"] == min(EASY_RUN, HARD_RUN)
    assert list(frame["most_recent_rank"]) == [
        most_recent_ranking([EASY_RUN]).index(HARD_RUN) + 1,
        most_recent_ranking([EASY_RUN]).index(LONG_RIDE) + 1,
        most_recent_ranking([EASY_RUN, HARD_RUN, LONG_RIDE]).index(SWIM) + 1]
    assert frame.loc[0, "label_sport"] == "running"
    assert frame.loc[2, "label_intensity"] == "moderate"


def test_ranking_metrics_exact_values():
    # The actual kind at rank 1, 2, 3 and nowhere in the top 3.
    ranked = [[EASY_RUN, SWIM, 0], [LONG_RIDE, EASY_RUN, 1], [EASY_RUN, HARD_RUN, LONG_RIDE],
              [HARD_RUN, 2, 3]]
    metrics = ranking_metrics([EASY_RUN, EASY_RUN, LONG_RIDE, SWIM], np.array(ranked))
    assert metrics["top1_accuracy"] == 0.25
    assert metrics["ndcg_at_3"] == pytest.approx((1 + 1 / math.log2(3) + 0.5 + 0) / 4, abs=1e-12)
    # Sports of the first kinds: running, cycling, running, running against running,
    # running, cycling, swimming.
    assert metrics["sport_accuracy"] == 0.25


def test_recommendations_are_the_three_most_probable_kinds():
    probs = np.full((1, len(KINDS)), 0.01)
    probs[0, [SWIM, EASY_RUN, LONG_RIDE]] = [0.3, 0.2, 0.2]
    frame = recommendation_frame(probs)
    assert list(frame.columns) == list(NEXT_WORKOUT.outputs)
    row = frame.iloc[0]
    first, second = sorted([EASY_RUN, LONG_RIDE])  # a tie goes to the KINDS order
    assert (row["rec_1_sport"], row["rec_1_duration_band"], row["rec_1_intensity"]) == SWIM_KIND
    assert row["rec_1_score"] == pytest.approx(0.3)
    assert (row["rec_2_sport"], row["rec_3_sport"]) == (KINDS[first].sport, KINDS[second].sport)


SWIM_KIND = tuple(KINDS[SWIM])


def feature_rows(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    rows = {name: rng.integers(0, 3, n).astype(float) if name.endswith("_index")
            else rng.uniform(0, 5000, n) for name in NEXT_WORKOUT_FEATURES}
    rows["last_3_sport_index"] = np.where(rng.random(n) < 0.3, np.nan, rows["last_3_sport_index"])
    labels = (rows["last_1_sport_index"] * 9).astype(int)
    return pd.DataFrame(rows), labels


def test_two_trainings_with_one_seed_give_identical_weights():
    features, labels = feature_rows(300, seed=1)
    encoder = FeatureEncoder().fit(features)
    x = encoder.transform(features)
    params = {**DEFAULT_PARAMS, "epochs": 3}
    first = fit_network(x[:250], labels[:250], x[250:], labels[250:], seed=11, params=params)
    second = fit_network(x[:250], labels[:250], x[250:], labels[250:], seed=11, params=params)
    for (name, a), (_, b) in zip(first.net.state_dict().items(),
                                 second.net.state_dict().items(), strict=True):
        assert torch.equal(a, b), name
    assert first.train_loss == second.train_loss
    other = fit_network(x[:250], labels[:250], x[250:], labels[250:], seed=12, params=params)
    assert not torch.equal(other.net.state_dict()["layers.0.weight"],
                           first.net.state_dict()["layers.0.weight"])
