"""The common track every format is read into, and the checks that refuse a track no
device could have recorded."""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

from fitstream.domain.event_bounds import (
    EARLIEST_EVENT_MS,
    MAX_DISTANCE_METERS,
    MAX_ELEVATION_METERS,
    MAX_HEART_RATE,
    MAX_SPEED_MPS,
    MAX_WORKOUT_DURATION_MS,
    MIN_ELEVATION_METERS,
    MIN_HEART_RATE,
)
from fitstream.domain.events import SPORT_TYPES


class FileKind(StrEnum):
    """Why a file is refused (the API answers 422, 415, 413 and 422 respectively)."""

    CORRUPT = "corrupt_file"
    UNSUPPORTED = "unsupported_format"
    TOO_LARGE = "file_too_large"
    INVALID = "invalid_track"


class ActivityFileError(ValueError):
    def __init__(self, kind: FileKind, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


@dataclass(frozen=True, slots=True)
class TrackPoint:
    """One recorded point. ``distance_m`` and ``speed_mps`` are the file's own (None
    when it has none: distance is then measured along the track)."""

    time_ms: int
    lat: float
    lon: float
    elevation_m: float | None = None
    heart_rate: int | None = None
    distance_m: float | None = None
    speed_mps: float | None = None


@dataclass(frozen=True, slots=True)
class Track:
    format: str  # "fit", "gpx" or "tcx"
    sport: str  # one of events.SPORT_TYPES
    points: tuple[TrackPoint, ...]
    calories: float | None = None

    @property
    def start_ms(self) -> int:
        return self.points[0].time_ms

    @property
    def end_ms(self) -> int:
        return self.points[-1].time_ms


# Sport names as FIT (fitdecode's enum names), TCX (Sport attribute) and GPX (<type>,
# free text; Strava writes these names) spell them, lower-cased.
_SPORTS = {
    "running": "running", "run": "running", "trail_running": "running",
    "treadmill_running": "running", "virtualrun": "running", "trailrun": "running",
    "cycling": "cycling", "biking": "cycling", "ride": "cycling", "bike": "cycling",
    "virtualride": "cycling", "mountain_biking": "cycling", "e_biking": "cycling",
    "walking": "walking", "walk": "walking",
    "swimming": "swimming", "swim": "swimming", "open_water": "swimming",
    "hiking": "hiking", "hike": "hiking",
    "rowing": "rowing", "row": "rowing", "indoor_rowing": "rowing",
}


def sport_of(name: object) -> str:
    """A file's sport name mapped onto ``SPORT_TYPES`` ("other" for anything else)."""
    if not isinstance(name, str) or len(name) > 64:
        return "other"
    key = name.strip().lower().replace(" ", "_").replace("-", "_")
    sport = _SPORTS.get(key, key if key in SPORT_TYPES else "other")
    return sport


def finite(value: object) -> float | None:
    """``value`` as a finite float, or None (missing, NaN, infinite, not a number)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def sensor_values(elevation: object, heart_rate: object, speed: object,
                  ) -> tuple[float | None, int | None, float | None]:
    """Optional sensor readings within their physical bounds, else None: a watch writes
    0 bpm or an altitude of -500 m for a sensor it lost, which is no reading, not a lie
    worth refusing the whole file for."""
    elevation_m = finite(elevation)
    if elevation_m is not None and not MIN_ELEVATION_METERS <= elevation_m <= MAX_ELEVATION_METERS:
        elevation_m = None
    hr = finite(heart_rate)
    bpm = int(hr) if hr is not None and hr == int(hr) and (
        MIN_HEART_RATE <= hr <= MAX_HEART_RATE) else None
    speed_mps = finite(speed)
    if speed_mps is not None and not 0.0 <= speed_mps <= MAX_SPEED_MPS:
        speed_mps = None
    return elevation_m, bpm, speed_mps


def check_track(track: Track, now_ms: int, max_future_skew_ms: int, max_points: int) -> None:
    """Raise :class:`ActivityFileError` for a track no device could have recorded.

    Coordinates must be finite and within -90..90 / -180..180; every time at or after
    2000-01-01 and at most ``max_future_skew_ms`` ahead of ``now_ms`` (the server's
    clock, ingest's rule); times in order; the span at most the longest workout; at
    most ``max_points`` points. (The distance against the span is judged on the
    translated events: :func:`translation.workout_events`.)
    """
    points = track.points
    if not points:
        raise ActivityFileError(FileKind.INVALID, "the file has no track points with a time "
                                                  "and a position")
    if len(points) > max_points:
        raise ActivityFileError(FileKind.TOO_LARGE, f"{len(points)} track points; at most "
                                                    f"{max_points}")
    for index, point in enumerate(points):
        if not (math.isfinite(point.lat) and math.isfinite(point.lon)
                and -90.0 <= point.lat <= 90.0 and -180.0 <= point.lon <= 180.0):
            raise ActivityFileError(FileKind.INVALID, f"point {index}: coordinates "
                                    f"({point.lat:.6g}, {point.lon:.6g}) are out of range")
        if point.time_ms < EARLIEST_EVENT_MS:
            raise ActivityFileError(FileKind.INVALID, f"point {index}: recorded before 2000")
        if point.time_ms - now_ms > max_future_skew_ms:
            raise ActivityFileError(
                FileKind.INVALID, f"point {index}: recorded {point.time_ms - now_ms} ms "
                f"ahead of the server's clock; at most {max_future_skew_ms} ms")
        if index and point.time_ms < points[index - 1].time_ms:
            raise ActivityFileError(FileKind.INVALID, f"point {index}: earlier than the "
                                                      "point before it")
        if point.distance_m is not None and not 0.0 <= point.distance_m <= MAX_DISTANCE_METERS:
            raise ActivityFileError(FileKind.INVALID, f"point {index}: distance "
                                                      f"{point.distance_m:g} m is out of range")
    span_ms = track.end_ms - track.start_ms
    if span_ms > MAX_WORKOUT_DURATION_MS:
        raise ActivityFileError(FileKind.INVALID, f"the track lasts {span_ms // 1000} s; at "
                                f"most {MAX_WORKOUT_DURATION_MS // 1000} s")
    calories = track.calories
    if calories is not None and not (math.isfinite(calories) and 0 <= calories <= 100_000):
        raise ActivityFileError(FileKind.INVALID, "calories out of range")
