"""Route simplification: what Douglas-Peucker promises, checked against the input."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from fitstream.domain.route import _distance_to_segment, _project, route_geojson, simplify

walks = st.lists(st.tuples(st.floats(-0.002, 0.002), st.floats(-0.002, 0.002)),
                 min_size=0, max_size=80).map(
    lambda steps: [(52.5 + sum(s[0] for s in steps[:i]), 13.4 + sum(s[1] for s in steps[:i]))
                   for i in range(len(steps) + 1)])


@settings(max_examples=200, deadline=None)
@given(points=walks, tolerance=st.sampled_from([0.0, 1.0, 5.0, 25.0, 200.0]))
def test_every_dropped_point_lies_within_the_tolerance_of_the_kept_line(points, tolerance):
    kept = simplify(points, tolerance)
    assert kept == sorted(set(kept))
    assert kept[0] == 0 and kept[-1] == len(points) - 1
    xy = _project(points)
    for a, b in itertools.pairwise(kept):
        for i in range(a + 1, b):
            assert _distance_to_segment(xy[i], xy[a], xy[b]) <= tolerance + 1e-6


def test_a_straight_line_keeps_its_ends_and_a_corner_is_kept():
    line = [(52.5, 13.4 + i * 0.001) for i in range(10)]
    assert simplify(line, 1.0) == [0, 9]
    corner = [(52.5, 13.4), (52.5, 13.41), (52.51, 13.41)]
    assert simplify(corner, 1.0) == [0, 1, 2]


def test_geojson_has_lon_lat_coordinates_and_the_bbox_of_all_points():
    points = [(52.5, 13.4), (52.5005, 13.4001), (52.501, 13.4), (52.52, 13.43)]
    feature = route_geojson("w1", points, 1000.0)
    assert feature["bbox"] == [13.4, 52.5, 13.43, 52.52]
    assert feature["geometry"]["coordinates"] == [[13.4, 52.5], [13.43, 52.52]]
    assert feature["properties"] == {"workout_id": "w1", "tolerance_m": 1000.0, "points": 4,
                                     "kept": 2}
    assert route_geojson("w0", [], 5.0)["bbox"] is None
