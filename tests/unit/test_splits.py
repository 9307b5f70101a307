"""Kilometre splits by interpolation."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from fitstream.domain.splits import km_splits


def test_even_pace_gives_even_splits():
    track = [(i * 10.0, i * 3000) for i in range(301)]  # 3 km at 5:00/km
    assert km_splits(track) == [
        {"km": 1, "elapsed_s": 300.0, "pace_s_per_km": 300.0},
        {"km": 2, "elapsed_s": 600.0, "pace_s_per_km": 300.0},
        {"km": 3, "elapsed_s": 900.0, "pace_s_per_km": 300.0},
    ]


def test_a_split_boundary_between_samples_is_interpolated():
    track = [(0.0, 0), (900.0, 270_000), (1100.0, 350_000)]
    assert km_splits(track) == [{"km": 1, "elapsed_s": 310.0, "pace_s_per_km": 310.0}]
    assert km_splits([(0.0, 0), (999.9, 1000)]) == []


@given(steps=st.lists(st.tuples(st.floats(0.0, 40.0), st.integers(1, 20_000)), max_size=300))
def test_one_split_per_full_km_and_paces_add_up(steps):
    track, d, t = [(0.0, 0)], 0.0, 0
    for step_d, step_t in steps:
        d, t = d + step_d, t + step_t
        track.append((d, t))
    splits = km_splits(track)
    assert len(splits) == int(d // 1000)
    if splits:
        assert abs(sum(s["pace_s_per_km"] for s in splits) - splits[-1]["elapsed_s"]) < 0.01
