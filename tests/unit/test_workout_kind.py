"""Workout kinds: the recommender's classes and the next-workout features' indices."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from fitstream.domain.events import SPORT_TYPES
from fitstream.domain.workout_kind import (
    DURATION_BANDS,
    INTENSITIES,
    KINDS,
    WorkoutKind,
    kind_index,
    workout_kind,
)

MINUTE_MS = 60_000


def summary(sport: str = "running", moving_ms: int = 40 * MINUTE_MS,
            hr: float | None = 150.0) -> dict:
    return {"sport_type": sport, "moving_duration_ms": moving_ms, "avg_heart_rate": hr}


def test_intensity_zones_and_their_edges():
    assert [workout_kind(summary(hr=hr)).intensity
            for hr in (90.0, 139.9, 140.0, 159.99, 160.0, 195.0, None)] == [
        "easy", "easy", "moderate", "moderate", "hard", "hard", "moderate"]


def test_duration_bands_and_their_edges():
    assert [workout_kind(summary(moving_ms=ms)).duration_band
            for ms in (0, 30 * MINUTE_MS - 1, 30 * MINUTE_MS, 60 * MINUTE_MS - 1,
                       60 * MINUTE_MS, 300 * MINUTE_MS)] == [
        "under_30_min", "under_30_min", "30_to_60_min", "30_to_60_min",
        "over_60_min", "over_60_min"]


def test_the_catalogue_is_sport_major_then_band_then_intensity():
    assert len(KINDS) == 63 == len(set(KINDS))
    assert KINDS[0] == WorkoutKind("running", "under_30_min", "easy")
    assert KINDS[1] == WorkoutKind("running", "under_30_min", "moderate")
    assert KINDS[3] == WorkoutKind("running", "30_to_60_min", "easy")
    assert KINDS[9] == WorkoutKind("cycling", "under_30_min", "easy")
    assert KINDS[-1] == WorkoutKind("other", "over_60_min", "hard")
    assert kind_index(WorkoutKind("cycling", "over_60_min", "hard")) == 17
    assert kind_index(("running", "under_30_min", "easy")) == 0  # a plain tuple works too


def test_an_unlisted_sport_is_other():
    assert workout_kind(summary(sport="yoga")) == WorkoutKind("other", "30_to_60_min",
                                                               "moderate")


@given(sport=st.sampled_from(SPORT_TYPES), moving_ms=st.integers(0, 10**8),
       hr=st.none() | st.floats(30, 230))
def test_every_summary_has_a_catalogued_kind_at_its_index(sport, moving_ms, hr):
    kind = workout_kind(summary(sport, moving_ms, hr))
    index = kind_index(kind)
    assert KINDS[index] == kind
    assert index == (SPORT_TYPES.index(kind.sport) * 9
                     + DURATION_BANDS.index(kind.duration_band) * 3
                     + INTENSITIES.index(kind.intensity))


@given(hr=st.floats(30, 230), more=st.floats(0, 100))
def test_intensity_never_falls_as_heart_rate_rises(hr, more):
    rank = INTENSITIES.index
    assert rank(workout_kind(summary(hr=hr + more)).intensity) >= \
        rank(workout_kind(summary(hr=hr)).intensity)


@given(ms=st.integers(0, 10**8), more=st.integers(0, 10**8))
def test_duration_band_never_falls_as_time_rises(ms, more):
    rank = DURATION_BANDS.index
    assert rank(workout_kind(summary(moving_ms=ms + more)).duration_band) >= \
        rank(workout_kind(summary(moving_ms=ms)).duration_band)
