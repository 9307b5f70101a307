"""Kilometre splits: when each full kilometre was reached, by linear interpolation
between the samples either side of it, and the pace of each."""

from __future__ import annotations

import itertools
from typing import Any

KM = 1000.0


def km_splits(track: list[tuple[float, int]]) -> list[dict[str, Any]]:
    """``track`` is (distance m, offset ms) in time order, starting at the workout's start.

    Returns one split per full kilometre: its number, the elapsed time at its end and
    its duration (the pace, in seconds per km), all in seconds.
    """
    splits: list[dict[str, Any]] = []
    previous_at = 0.0
    next_km = KM
    for (d0, t0), (d1, t1) in itertools.pairwise(track):
        while d0 < next_km <= d1:
            at = t0 + (t1 - t0) * (next_km - d0) / (d1 - d0)
            splits.append({"km": len(splits) + 1, "elapsed_s": round(at / 1000, 3),
                           "pace_s_per_km": round((at - previous_at) / 1000, 3)})
            previous_at = at
            next_km += KM
    return splits
