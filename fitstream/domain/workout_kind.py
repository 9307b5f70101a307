"""What kind of workout a completed session was: sport, duration band and intensity
(pure, engine-free).

The recommender ranks these kinds, and the next-workout features describe the latest
workouts with the same indices, so both read one definition:

- intensity by the summary's average heart rate (bpm): below 140 easy, below 160
  moderate, else hard. No heart rate reads as moderate: the middle class is the least
  wrong guess, and a recommendation must still have a kind.
- duration band by moving time: under 30 minutes, 30 up to (not including) 60 minutes,
  60 minutes or more.
- sport: the summary's sport; a sport outside :data:`SPORT_TYPES` counts as ``other``.

:data:`KINDS` lists all 7 * 3 * 3 = 63 kinds, sport-major in :data:`SPORT_TYPES` order,
then band, then intensity; :func:`kind_index` is a kind's position there (a stable
class id for models).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from fitstream.domain.events import SPORT_TYPES

INTENSITIES = ("easy", "moderate", "hard")
DURATION_BANDS = ("under_30_min", "30_to_60_min", "over_60_min")
EASY_BELOW_BPM = 140.0
MODERATE_BELOW_BPM = 160.0
_BAND_LIMITS_MS = (30 * 60_000, 60 * 60_000)


class WorkoutKind(NamedTuple):
    """A workout's kind: every field is one of its catalogue's names."""

    sport: str
    duration_band: str
    intensity: str


def intensity(avg_heart_rate: float | None) -> str:
    """``easy`` below 140 bpm, ``moderate`` below 160, else ``hard``; None is moderate."""
    if avg_heart_rate is None:
        return "moderate"
    if avg_heart_rate < EASY_BELOW_BPM:
        return "easy"
    return "moderate" if avg_heart_rate < MODERATE_BELOW_BPM else "hard"


def duration_band(moving_duration_ms: int) -> str:
    """The band of a moving time: under 30 min, 30 to under 60 min, 60 min or more."""
    if moving_duration_ms < _BAND_LIMITS_MS[0]:
        return "under_30_min"
    return "30_to_60_min" if moving_duration_ms < _BAND_LIMITS_MS[1] else "over_60_min"


def sport_of(sport_type: str) -> str:
    """The catalogue's sport: ``sport_type`` itself, or ``other`` if it is not listed."""
    return sport_type if sport_type in SPORT_TYPES else "other"


def workout_kind(summary: Mapping[str, Any]) -> WorkoutKind:
    """The kind of a WorkoutSummary (or any mapping with its ``sport_type``,
    ``moving_duration_ms`` and ``avg_heart_rate``)."""
    return WorkoutKind(sport_of(summary["sport_type"]),
                       duration_band(summary["moving_duration_ms"]),
                       intensity(summary["avg_heart_rate"]))


KINDS: tuple[WorkoutKind, ...] = tuple(
    WorkoutKind(sport, band, level)
    for sport in SPORT_TYPES for band in DURATION_BANDS for level in INTENSITIES)
"""All kinds: sport-major in SPORT_TYPES order, then duration band, then intensity."""

_INDEX = {kind: i for i, kind in enumerate(KINDS)}


def kind_index(kind: WorkoutKind) -> int:
    """The kind's position in :data:`KINDS` (KeyError for a kind not in the catalogue)."""
    return _INDEX[WorkoutKind(*kind)]
