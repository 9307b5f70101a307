"""TCX activities, parsed by ``tcxreader``: every trackpoint with a time and a position,
the file's cumulative distance, the sport of the activity and its laps' calories."""

from __future__ import annotations

import io
from datetime import datetime

from tcxreader.tcxreader import TCXReader

from fitstream.activity_files.timestamps import epoch_ms
from fitstream.activity_files.track import (
    ActivityFileError,
    FileKind,
    Track,
    TrackPoint,
    finite,
    sensor_values,
    sport_of,
)


def read(data: bytes, max_points: int) -> Track:
    try:
        exercise = TCXReader().read(io.BytesIO(data), only_gps=False)
    except Exception as exc:  # ElementTree, float() and strptime errors, KeyError, ...
        raise ActivityFileError(FileKind.CORRUPT, f"the TCX file is corrupt: "
                                f"{type(exc).__name__}: {str(exc)[:200]}") from exc
    points: list[TrackPoint] = []
    for point in exercise.trackpoints or ():
        if not isinstance(point.time, datetime) or point.latitude is None or point.longitude is None:
            continue
        lat, lon = finite(point.latitude), finite(point.longitude)
        if lat is None or lon is None:
            raise ActivityFileError(FileKind.INVALID, "a point's coordinates are not finite "
                                                      "numbers")
        elevation_m, heart_rate, speed_mps = sensor_values(
            point.elevation, point.hr_value, (point.tpx_ext or {}).get("Speed"))
        points.append(TrackPoint(epoch_ms(point.time), lat, lon, elevation_m, heart_rate,
                                 finite(point.distance), speed_mps))
        if len(points) > max_points:
            raise ActivityFileError(FileKind.TOO_LARGE, f"more than {max_points} track points")
    calories = finite(exercise.calories) if exercise.calories else None
    return Track("tcx", sport_of(getattr(exercise, "activity_type", None)), tuple(points),
                 calories)
