"""models/evaluation.py: the chronological split (whole UTC weeks, no overlap, the gap),
the metrics on known values, and NDCG/top-k bounds (hypothesis)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from models.evaluation import (
    DAY_MS,
    chronological_split,
    frame_digest,
    mae,
    mape,
    ndcg_at_k,
    top_k_accuracy,
    utc_week,
)

MONDAY = 1_780_272_000_000  # 2026-06-01 00:00 UTC, a Monday


def daily(days: int, start: int = MONDAY) -> pd.DataFrame:
    return pd.DataFrame({"at": [start + d * DAY_MS for d in range(days)], "x": range(days)})


def test_the_split_holds_out_the_last_weeks_after_a_gap():
    train, holdout = chronological_split(daily(56), "at", 0.25)  # 8 whole weeks
    assert holdout["at"].min() == MONDAY + 42 * DAY_MS  # the last 2 weeks, from a Monday
    assert len(holdout) == 14
    assert train["at"].max() == MONDAY + 35 * DAY_MS  # 7 days before the holdout
    assert holdout["at"].min() - train["at"].max() == 7 * DAY_MS
    assert set(train["x"]).isdisjoint(holdout["x"])


@given(st.integers(14, 120), st.integers(0, 6), st.floats(0.05, 0.6), st.integers(0, 14))
def test_the_split_never_overlaps_and_keeps_the_gap(days, shift, share, gap):
    frame = daily(days, MONDAY + shift * DAY_MS)
    try:
        train, holdout = chronological_split(frame, "at", share, gap)
    except ValueError:
        return  # too little data for this gap: refused, never a leaky split
    assert holdout["at"].min() - train["at"].max() >= gap * DAY_MS
    assert len(set(utc_week(holdout["at"].to_numpy()))) >= 1
    # Whole weeks: the holdout starts on a Monday and holds every later row.
    first = holdout["at"].min()
    assert (first // DAY_MS + 3) % 7 == 0 or first == frame["at"].min()
    assert (frame["at"] >= first).sum() == len(holdout)


def test_the_split_accepts_datetimes_and_refuses_one_week():
    frame = daily(28)
    frame["ts"] = pd.to_datetime(frame["at"], unit="ms", utc=True)
    by_ms = chronological_split(frame, "at", 0.25)
    by_ts = chronological_split(frame, "ts", 0.25)
    assert [len(p) for p in by_ms] == [len(p) for p in by_ts] == [15, 7]
    with pytest.raises(ValueError, match="two"):
        chronological_split(daily(7), "at", 0.25)


def test_metrics_on_known_values():
    assert mae([1, 2, 3], [2, 2, 5]) == 1.0
    assert mape([100, 200, 0], [110, 150, 5]) == pytest.approx((0.1 + 0.25) / 2)
    with pytest.raises(ValueError):
        mape([0, 0], [1, 2])
    ranked = [["a", "b", "c"], ["b", "a", "c"], ["c", "b", "a"]]
    assert top_k_accuracy(["a", "a", "a"], ranked, 1) == pytest.approx(1 / 3)
    assert top_k_accuracy(["a", "a", "a"], ranked, 2) == pytest.approx(2 / 3)
    assert ndcg_at_k(["a", "a", "a"], ranked, 3) == pytest.approx(
        (1 + 1 / math.log2(3) + 1 / math.log2(4)) / 3)
    assert ndcg_at_k(["a", "a", "a"], ranked, 2) == pytest.approx((1 + 1 / math.log2(3)) / 3)


@given(st.lists(st.tuples(st.integers(0, 5), st.permutations(list(range(6)))), min_size=1,
                max_size=30), st.integers(1, 6))
def test_ndcg_lies_between_top_1_and_top_k_accuracy(rows, k):
    actual = [truth for truth, _ in rows]
    ranked = [items for _, items in rows]
    ndcg = ndcg_at_k(actual, ranked, k)
    assert 0.0 <= ndcg <= 1.0
    assert top_k_accuracy(actual, ranked, 1) - 1e-12 <= ndcg <= top_k_accuracy(actual, ranked, k) + 1e-12


def test_the_digest_depends_on_values_not_the_index():
    frame = pd.DataFrame({"a": [1.0, 2.0, np.nan], "b": ["x", "y", "z"]})
    assert frame_digest(frame) == frame_digest(frame.set_axis([7, 8, 9]))
    changed = frame.copy()
    changed.loc[0, "a"] = 1.5
    assert frame_digest(frame) != frame_digest(changed)
