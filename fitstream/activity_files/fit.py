"""FIT activity files, decoded by ``fitdecode`` (CRC checked): ``record`` messages are
the points, ``sport``/``session`` messages name the sport and the calories."""

from __future__ import annotations

import io
from datetime import datetime

import fitdecode

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

SEMICIRCLE_DEGREES = 180.0 / 2**31
# Messages (definitions and data) a FIT file may hold per track point: a watch writes a
# record per point plus HRV, events, laps, device info. Every message costs decoding
# whether it has a position or not, so all of them count, while decoding.
MESSAGES_PER_POINT = 4
_SPARE_MESSAGES = 1000


def read(data: bytes, max_points: int) -> Track:
    points: list[TrackPoint] = []
    sport: object = None
    calories: float | None = None
    records, messages = 0, 0
    max_messages = max_points * MESSAGES_PER_POINT + _SPARE_MESSAGES
    try:
        with fitdecode.FitReader(io.BytesIO(data), check_crc=fitdecode.CrcCheck.RAISE) as reader:
            for frame in reader:
                if not isinstance(frame, fitdecode.FitDataMessage | fitdecode.FitDefinitionMessage):
                    continue
                messages += 1
                if messages > max_messages:
                    raise ActivityFileError(FileKind.TOO_LARGE, f"more than {max_messages} "
                                            f"FIT messages (for at most {max_points} points)")
                if isinstance(frame, fitdecode.FitDefinitionMessage):
                    continue
                if frame.name == "record":
                    # A record without a position is no point but costs as much: counted.
                    records += 1
                    if records > max_points:
                        raise ActivityFileError(FileKind.TOO_LARGE, "more than "
                                                f"{max_points} track points")
                    point = _point({f.name: f.value for f in frame.fields})
                    if point is not None:
                        points.append(point)
                elif frame.name in ("sport", "session"):
                    values = {f.name: f.value for f in frame.fields}
                    sport = sport if sport is not None else values.get("sport")
                    if frame.name == "session" and finite(values.get("total_calories")) is not None:
                        calories = (calories or 0.0) + float(values["total_calories"])
    except ActivityFileError:
        raise
    except Exception as exc:  # fitdecode raises FitError, but also struct and value errors
        raise ActivityFileError(FileKind.CORRUPT, f"the FIT file is corrupt: "
                                f"{type(exc).__name__}: {str(exc)[:200]}") from exc
    return Track("fit", sport_of(sport), tuple(points), calories)


def _point(values: dict[str, object]) -> TrackPoint | None:
    """A record with a time and a position; None for one without (indoor, no fix)."""
    timestamp, lat, lon = (values.get("timestamp"), values.get("position_lat"),
                           values.get("position_long"))
    if not isinstance(timestamp, datetime) or not isinstance(lat, int) or not isinstance(lon, int):
        return None
    elevation = values.get("enhanced_altitude", values.get("altitude"))
    speed = values.get("enhanced_speed", values.get("speed"))
    elevation_m, heart_rate, speed_mps = sensor_values(elevation, values.get("heart_rate"), speed)
    return TrackPoint(epoch_ms(timestamp), lat * SEMICIRCLE_DEGREES, lon * SEMICIRCLE_DEGREES,
                      elevation_m, heart_rate, finite(values.get("distance")), speed_mps)
