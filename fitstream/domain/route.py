"""Route maps: Douglas-Peucker simplification in metres, and the bounding box.

Distances use an equirectangular projection around the route's mean latitude:
exact enough for a city-sized route (errors well under a metre over 20 km), and
cheap. A tolerance of 0 keeps every point that is not exactly on the line between
its kept neighbours.
"""

from __future__ import annotations

import math
from typing import Any

EARTH_RADIUS_M = 6_371_008.8


def _project(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    mean_lat = math.radians(sum(p[0] for p in points) / len(points))
    scale_x = math.cos(mean_lat) * EARTH_RADIUS_M * math.pi / 180
    scale_y = EARTH_RADIUS_M * math.pi / 180
    return [(lon * scale_x, lat * scale_y) for lat, lon in points]


def _distance_to_segment(p: tuple[float, float], a: tuple[float, float],
                         b: tuple[float, float]) -> float:
    (px, py), (ax, ay), (bx, by) = p, a, b
    dx, dy = bx - ax, by - ay
    length_sq = dx * dx + dy * dy
    if length_sq == 0:
        return math.hypot(px - ax, py - ay)
    t = max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / length_sq))
    return math.hypot(px - (ax + t * dx), py - (ay + t * dy))


def simplify(points: list[tuple[float, float]], tolerance_m: float) -> list[int]:
    """Indices of the (lat, lon) points Douglas-Peucker keeps, in order."""
    if len(points) <= 2:
        return list(range(len(points)))
    xy = _project(points)
    keep = {0, len(points) - 1}
    stack = [(0, len(points) - 1)]
    while stack:
        first, last = stack.pop()
        worst, worst_at = -1.0, -1
        for i in range(first + 1, last):
            d = _distance_to_segment(xy[i], xy[first], xy[last])
            if d > worst:
                worst, worst_at = d, i
        if worst_at >= 0 and worst > tolerance_m:
            keep.add(worst_at)
            stack += [(first, worst_at), (worst_at, last)]
    return sorted(keep)


def route_geojson(workout_id: str, points: list[tuple[float, float]],
                  tolerance_m: float) -> dict[str, Any]:
    """A GeoJSON Feature: the simplified LineString ([lon, lat] pairs) and its bbox."""
    kept = [points[i] for i in simplify(points, tolerance_m)] if points else []
    bbox = ([min(p[1] for p in points), min(p[0] for p in points),
             max(p[1] for p in points), max(p[0] for p in points)] if points else None)
    return {
        "type": "Feature",
        "bbox": bbox,
        "geometry": {"type": "LineString", "coordinates": [[lon, lat] for lat, lon in kept]},
        "properties": {"workout_id": workout_id, "tolerance_m": tolerance_m,
                       "points": len(points), "kept": len(kept)},
    }
