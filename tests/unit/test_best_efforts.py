"""Best efforts inside a workout, against a brute force over every pair of samples."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from fitstream.domain.best_efforts import TARGETS_M, BestEfforts


def brute_force(points: list[tuple[float, int]], target: float) -> int | None:
    """Fastest time over ``target`` metres, interpolating the start between samples."""
    best = None
    for (d_end, t_end) in points:
        start = d_end - target
        for (d0, t0), (d1, t1) in itertools.pairwise(points):
            if d0 <= start <= d1 and d1 > d0:
                at = t0 + (t1 - t0) * (start - d0) / (d1 - d0)
                elapsed = round(t_end - at)
                best = elapsed if best is None else min(best, elapsed)
    return best


def track(points, resolution_m):
    efforts = BestEfforts(resolution_m)
    for distance, offset in points:
        efforts.add(distance, offset)
    return efforts


runs = st.lists(st.tuples(st.floats(0.5, 12.0), st.integers(500, 3000)), min_size=2,
                max_size=600).map(lambda steps: list(itertools.accumulate(
                    steps, lambda acc, step: (acc[0] + step[0], acc[1] + step[1]),
                    initial=(0.0, 0))))


@settings(max_examples=60, deadline=None)
@given(points=runs)
def test_at_full_resolution_it_equals_the_brute_force(points):
    tracked = track(points, 0.0)
    for target in TARGETS_M:
        assert tracked.best_ms(target) == brute_force(points, target)


def test_a_fast_stretch_inside_a_longer_run_is_the_record():
    # 12 km: 4 km at 5:00/km, 5 km at 4:00/km, 3 km at 5:00/km, a sample every 5 m.
    points, t = [(0.0, 0)], 0
    for metre in range(5, 12_001, 5):
        pace_ms_per_m = 240 if 4000 < metre <= 9000 else 300
        t += 5 * pace_ms_per_m
        points.append((float(metre), t))
    efforts = track(points, 10.0)
    assert efforts.best_ms(5000) == 5000 * 240
    assert efforts.best_ms(1000) == 1000 * 240
    assert efforts.best_ms(10_000) == 5000 * 240 + 5000 * 300
    assert len(efforts.distances) <= 10_000 / 10 + 2


@settings(max_examples=40, deadline=None)
@given(points=runs)
def test_the_default_resolution_errs_by_at_most_ten_metres_of_time(points):
    exact, coarse = track(points, 0.0), track(points, 10.0)
    slowest_ms_per_m = max((t1 - t0) / (d1 - d0)
                           for (d0, t0), (d1, t1) in itertools.pairwise(points))
    for target in TARGETS_M:
        if exact.best_ms(target) is None:
            assert coarse.best_ms(target) is None
        else:
            assert abs(coarse.best_ms(target) - exact.best_ms(target)) <= (
                10 * slowest_ms_per_m + 1)


def test_state_round_trips():
    efforts = track([(0.0, 0), (600.0, 180_000), (1200.0, 360_000)], 10.0)
    assert BestEfforts.from_state(efforts.to_state()).to_state() == efforts.to_state()
    assert efforts.best_ms(1000) == 300_000
