"""Best efforts: the fastest time a workout covered 1 km, 5 km and 10 km, anywhere inside it.

Fed one telemetry sample at a time, in order. It keeps the trailing points that
span the longest target distance (one point per ``RESOLUTION_M`` of distance, so
state stays small) and, for every new point, interpolates the time at which the
athlete was exactly one target distance behind. Times are elapsed times (a pause
inside the segment counts), in milliseconds.
"""

from __future__ import annotations

from bisect import bisect_right
from typing import Any

TARGETS_M = (1000, 5000, 10_000)
RESOLUTION_M = 10.0


class BestEfforts:
    """``resolution_m`` bounds state: a start point is kept every that many metres."""

    __slots__ = ("best", "distances", "resolution_m", "times")

    def __init__(self, resolution_m: float = RESOLUTION_M) -> None:
        self.resolution_m = resolution_m
        self.distances: list[float] = []
        self.times: list[int] = []
        self.best: dict[str, int] = {}  # str(target) -> ms; JSON keys are strings

    def to_state(self) -> dict[str, Any]:
        return {"distances": self.distances, "times": self.times, "best": self.best,
                "resolution_m": self.resolution_m}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> BestEfforts:
        efforts = cls(state["resolution_m"])
        efforts.distances = state["distances"]
        efforts.times = state["times"]
        efforts.best = state["best"]
        return efforts

    def add(self, distance_m: float, offset_ms: int) -> None:
        distances, times = self.distances, self.times
        if distances and distance_m <= distances[-1]:
            return  # standing still or a sensor glitch: no new distance
        for target in TARGETS_M:
            start = distance_m - target
            if not distances or start < distances[0]:
                continue
            i = bisect_right(distances, start) - 1
            d0, t0 = distances[i], times[i]
            if i + 1 < len(distances):
                d1, t1 = distances[i + 1], times[i + 1]
            else:
                d1, t1 = distance_m, offset_ms
            at = t0 + (t1 - t0) * (start - d0) / (d1 - d0) if d1 > d0 else t0
            elapsed = round(offset_ms - at)
            key = str(target)
            if key not in self.best or elapsed < self.best[key]:
                self.best[key] = elapsed
        if not distances or distance_m - distances[-1] >= self.resolution_m:
            distances.append(distance_m)
            times.append(offset_ms)
            # Keep one point at or before the longest target behind the newest.
            horizon = distance_m - TARGETS_M[-1]
            drop = bisect_right(distances, horizon) - 1
            if drop > 0:
                del distances[:drop]
                del times[:drop]

    def best_ms(self, target_m: int) -> int | None:
        return self.best.get(str(target_m))
