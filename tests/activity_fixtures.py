"""Activity-file fixtures for the upload tests: FIT written by ``fit-tool`` (a maintained
encoder, not our code), GPX and TCX written by hand as strings.

Every fixture is made from one list of :class:`TrackPoint` whose values survive each
format exactly: whole seconds (FIT stores seconds), positions on FIT's semicircle grid,
altitude on FIT's 1/5 m grid (offset 500), distance in centimetres, speed in mm/s.
GPX and TCX write each float with ``repr`` (which reads back to the same float). So a
parser that is right reads back exactly the points the fixture was made from.
"""

from __future__ import annotations

import gzip
import math
from datetime import UTC, datetime

from fit_tool.fit_file_builder import FitFileBuilder
from fit_tool.profile.messages.event_message import EventMessage
from fit_tool.profile.messages.file_id_message import FileIdMessage
from fit_tool.profile.messages.record_message import RecordMessage
from fit_tool.profile.messages.session_message import SessionMessage
from fit_tool.profile.messages.sport_message import SportMessage
from fit_tool.profile.profile_type import Event, EventType, FileType, Manufacturer, Sport

from fitstream.activity_files import TrackPoint

SEMICIRCLE = 180.0 / 2**31
FIT_SPORTS = {"running": Sport.RUNNING, "cycling": Sport.CYCLING, "walking": Sport.WALKING,
              "hiking": Sport.HIKING, "rowing": Sport.ROWING, "swimming": Sport.SWIMMING}
TCX_SPORTS = {"running": "Running", "cycling": "Biking"}


def track_points(start_ms: int, count: int, *, step_s: int = 5, pause_after: int | None = None,
                 pause_s: int = 180, distances: bool = True, speeds: bool = True,
                 heart_rates: bool = True, base_lat: int = 626_000_000,
                 base_lon: int = 159_000_000) -> list[TrackPoint]:
    """A run north-east from Berlin at about 3 m/s, on every format's grid; a stop of
    ``pause_s`` after point ``pause_after``; every 7th point has no heart rate."""
    start_ms -= start_ms % 1000
    points, time_ms, distance_cm = [], start_ms, 0
    for i in range(count):
        if i:
            time_ms += step_s * 1000 + (pause_s * 1000 if i - 1 == pause_after else 0)
            distance_cm += 1500 + 37 * (i % 5)
        points.append(TrackPoint(
            time_ms=time_ms,
            lat=(base_lat + 1400 * i) * SEMICIRCLE,
            lon=(base_lon + 600 * i + (i * i) % 17) * SEMICIRCLE,
            elevation_m=(2700 + (i * 7) % 23) / 5 - 500,
            heart_rate=(130 + i % 20) if heart_rates and i % 7 else None,
            distance_m=distance_cm / 100 if distances else None,
            speed_mps=(3000 + 13 * (i % 11)) / 1000 if speeds else None))
    return points


def fit_file(points: list[TrackPoint], sport: str = "running", calories: int | None = 321,
             *, positions: bool = True, timer_events: int = 0) -> bytes:
    """An activity FIT file: file id, sport, timer start, records, timer stop, session.
    ``positions=False`` writes the records without a position (indoor);
    ``timer_events`` more timer events before the records (messages that are no point)."""
    builder = FitFileBuilder(auto_define=True, min_string_size=50)
    file_id = FileIdMessage()
    file_id.type = FileType.ACTIVITY
    file_id.manufacturer = Manufacturer.DEVELOPMENT.value
    file_id.product = 0
    file_id.time_created = points[0].time_ms
    file_id.serial_number = 0x1234
    builder.add(file_id)
    sport_message = SportMessage()
    sport_message.sport = FIT_SPORTS[sport]
    builder.add(sport_message)
    builder.add(_timer(EventType.START, points[0].time_ms))
    for _ in range(timer_events):
        builder.add(_timer(EventType.START, points[0].time_ms))
    for point in points:
        record = RecordMessage()
        record.timestamp = point.time_ms
        if positions:
            record.position_lat = point.lat
            record.position_long = point.lon
        if point.elevation_m is not None:
            record.altitude = point.elevation_m
        if point.heart_rate is not None:
            record.heart_rate = point.heart_rate
        if point.distance_m is not None:
            record.distance = point.distance_m
        if point.speed_mps is not None:
            record.speed = point.speed_mps
        builder.add(record)
    builder.add(_timer(EventType.STOP, points[-1].time_ms))
    session = SessionMessage()
    session.timestamp = points[-1].time_ms
    session.sport = FIT_SPORTS[sport]
    if calories is not None:
        session.total_calories = calories
    builder.add(session)
    return builder.build().to_bytes()


def _timer(kind: EventType, at_ms: int) -> EventMessage:
    message = EventMessage()
    message.event = Event.TIMER
    message.event_type = kind
    message.timestamp = at_ms
    return message


def iso(ms: int) -> str:
    moment = datetime.fromtimestamp(ms // 1000, UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{ms % 1000:03d}Z"


def gpx_file(points: list[TrackPoint], sport: str | None = "running") -> bytes:
    """GPX 1.1 with the Garmin TrackPointExtension heart rate (as Strava exports it)."""
    rows = []
    for p in points:
        ele = f"<ele>{p.elevation_m!r}</ele>" if p.elevation_m is not None else ""
        hr = (f"<extensions><gpxtpx:TrackPointExtension><gpxtpx:hr>{p.heart_rate}</gpxtpx:hr>"
              "</gpxtpx:TrackPointExtension></extensions>" if p.heart_rate is not None else "")
        rows.append(f'<trkpt lat="{p.lat!r}" lon="{p.lon!r}">{ele}<time>{iso(p.time_ms)}'
                    f"</time>{hr}</trkpt>")
    kind = f"<type>{sport}</type>" if sport else ""
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<gpx version="1.1" creator="fitstream tests" '
            'xmlns="http://www.topografix.com/GPX/1/1" '
            'xmlns:gpxtpx="http://www.garmin.com/xmlschemas/TrackPointExtension/v1">\n'
            f"<trk><name>Morning run</name>{kind}<trkseg>\n" + "\n".join(rows)
            + "\n</trkseg></trk></gpx>\n").encode()


def tcx_file(points: list[TrackPoint], sport: str = "running", calories: int = 287) -> bytes:
    """TCX v2, one lap, the speed in the ActivityExtension TPX."""
    rows = []
    for p in points:
        parts = [f"<Time>{iso(p.time_ms)}</Time>",
                 f"<Position><LatitudeDegrees>{p.lat!r}</LatitudeDegrees>"
                 f"<LongitudeDegrees>{p.lon!r}</LongitudeDegrees></Position>"]
        if p.elevation_m is not None:
            parts.append(f"<AltitudeMeters>{p.elevation_m!r}</AltitudeMeters>")
        if p.distance_m is not None:
            parts.append(f"<DistanceMeters>{p.distance_m!r}</DistanceMeters>")
        if p.heart_rate is not None:
            parts.append(f"<HeartRateBpm><Value>{p.heart_rate}</Value></HeartRateBpm>")
        if p.speed_mps is not None:
            parts.append(f'<Extensions><ns3:TPX><ns3:Speed>{p.speed_mps!r}</ns3:Speed>'
                         "</ns3:TPX></Extensions>")
        rows.append("<Trackpoint>" + "".join(parts) + "</Trackpoint>")
    total_s = (points[-1].time_ms - points[0].time_ms) / 1000
    distance = points[-1].distance_m or 0.0
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<TrainingCenterDatabase '
            'xmlns="http://www.garmin.com/xmlschemas/TrainingCenterDatabase/v2" '
            'xmlns:ns3="http://www.garmin.com/xmlschemas/ActivityExtension/v2">\n'
            f'<Activities><Activity Sport="{TCX_SPORTS.get(sport, "Other")}">'
            f"<Id>{iso(points[0].time_ms)}</Id>"
            f'<Lap StartTime="{iso(points[0].time_ms)}"><TotalTimeSeconds>{total_s}'
            f"</TotalTimeSeconds><DistanceMeters>{distance!r}</DistanceMeters>"
            f"<Calories>{calories}</Calories><Track>\n" + "\n".join(rows)
            + "\n</Track></Lap></Activity></Activities></TrainingCenterDatabase>\n").encode()


def gzipped(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def gzip_bomb(inflated_bytes: int) -> bytes:
    """A small gzip that inflates to ``inflated_bytes`` zeros (written in chunks, so the
    test itself never holds the inflated size)."""
    import io
    import zlib

    deflater = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    out = io.BytesIO()
    chunk = bytes(1 << 20)
    for _ in range(math.ceil(inflated_bytes / len(chunk))):
        out.write(deflater.compress(chunk))
    out.write(deflater.flush())
    return out.getvalue()
