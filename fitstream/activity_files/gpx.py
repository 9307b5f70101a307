"""GPX tracks, parsed by ``gpxpy``: every timed point of every track and segment, in
order; the heart rate from the Garmin TrackPointExtension (``gpxtpx:hr``)."""

from __future__ import annotations

from typing import Any

import gpxpy
import gpxpy.gpx

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
        document = gpxpy.parse(data.decode("utf-8"))
    except (gpxpy.gpx.GPXException, UnicodeDecodeError, ValueError) as exc:
        raise ActivityFileError(FileKind.CORRUPT, f"the GPX file is corrupt: "
                                f"{str(exc)[:200]}") from exc
    points: list[TrackPoint] = []
    for track in document.tracks:
        for segment in track.segments:
            for point in segment.points:
                lat, lon = finite(point.latitude), finite(point.longitude)
                if point.time is None or lat is None or lon is None:
                    if point.time is not None:
                        # A position that is not a finite number is out of range.
                        raise ActivityFileError(FileKind.INVALID, "a point's coordinates "
                                                                  "are not finite numbers")
                    continue
                elevation_m, heart_rate, _ = sensor_values(point.elevation,
                                                           _heart_rate(point.extensions), None)
                points.append(TrackPoint(epoch_ms(point.time), lat, lon, elevation_m,
                                         heart_rate))
                if len(points) > max_points:
                    raise ActivityFileError(FileKind.TOO_LARGE, f"more than {max_points} "
                                                                "track points")
    sport = document.tracks[0].type if document.tracks else None
    return Track("gpx", sport_of(sport), tuple(points))


def _heart_rate(extensions: list[Any]) -> int | None:
    for element in extensions:
        for node in element.iter():
            if isinstance(node.tag, str) and node.tag.rsplit("}", 1)[-1] == "hr" and node.text:
                try:
                    return int(node.text.strip())
                except ValueError:
                    return None
    return None
