"""A track as the six workout events a device sends, and the ids of an upload.

Ids. The workout id is a keyed hash (HMAC with the server's upload key) of the owner
and the SHA-256 of the decompressed content: the same file from the same user is the
same workout, two users' copies of one file are two workouts, and nobody can compute
someone else's workout id to squat on it (the processor's claim goes to the first
WorkoutStarted). Each event id derives from the workout id and the event's ``seq``, so a
repeated upload repeats every event id and the processor ignores the repeats. The
upload id carries the workout key, the track's start and a MAC binding both to the
owner: the API reads an upload's state from the views with nothing kept in memory,
and an id checked against another user's MAC is not theirs (404).

Events. WorkoutStarted at the first point; the points, in order, as samples, flushed
in a WorkoutUpdated every ``samples_per_event`` points (a device syncs a batch at a
time; the update's ``occurred_at`` is its last sample's time); a gap between two
points longer than ``pause_gap_ms`` becomes WorkoutPaused at the point before it and
WorkoutResumed at the point after; WorkoutCompleted at the last point, with the moving
time, the distance, the file's calories (0 when it has none) and the route (at most
``max_route_points``, evenly spaced, first and last kept). The distance is the file's
own cumulative distance where it has one (FIT, TCX), else measured along the track
(haversine, gpxpy's).
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from dataclasses import dataclass
from typing import Any

from gpxpy.geo import haversine_distance

from fitstream.activity_files.track import ActivityFileError, FileKind, Track
from fitstream.domain.event_bounds import completion_problems
from fitstream.domain.events import EventType

# uuid5 namespace of upload event ids (any fixed UUID; this one is uuid5(URL, "fitstream
# uploads")).
EVENT_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://fitstream/uploads")
WORKOUT_PREFIX = "up-"
_KEY_HEX = 32  # 128 bits of the workout key
_MAC_HEX = 16  # 64 bits of MAC: an online guess per request, never an offline one


@dataclass(frozen=True, slots=True)
class UploadIds:
    upload_id: str
    workout_id: str


def content_sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def _mac(key: bytes, *parts: str) -> str:
    return hmac.new(key, "\0".join(parts).encode(), hashlib.sha256).hexdigest()


def upload_ids(key: bytes, user_id: str, sha256: str, start_ms: int) -> UploadIds:
    """The ids of ``user_id``'s upload of content ``sha256`` whose track starts at
    ``start_ms`` (in the upload id: GET judges lateness by it)."""
    workout_key = _mac(key, "workout", user_id, sha256)[:_KEY_HEX]
    mac = _mac(key, "upload", user_id, workout_key, str(start_ms))[:_MAC_HEX]
    return UploadIds(f"{workout_key}.{start_ms:x}.{mac}", WORKOUT_PREFIX + workout_key)


def open_upload_id(key: bytes, user_id: str, upload_id: str) -> tuple[str, int] | None:
    """(workout id, track start ms) of ``user_id``'s upload ``upload_id``; None if the id is
    malformed or not one issued to ``user_id``."""
    parts = upload_id.split(".") if isinstance(upload_id, str) and len(upload_id) <= 80 else []
    if len(parts) != 3:
        return None
    workout_key, start_hex, mac = parts
    if (len(workout_key) != _KEY_HEX or len(mac) != _MAC_HEX or not 0 < len(start_hex) <= 12
            or any(c not in "0123456789abcdef" for c in workout_key + start_hex + mac)):
        return None
    start_ms = int(start_hex, 16)
    expected = _mac(key, "upload", user_id, workout_key, str(start_ms))[:_MAC_HEX]
    if not hmac.compare_digest(expected, mac):
        return None
    return WORKOUT_PREFIX + workout_key, start_ms


def event_id(workout_id: str, seq: int) -> str:
    return str(uuid.uuid5(EVENT_NAMESPACE, f"{workout_id}:{seq}"))


def cumulative_distances(track: Track) -> list[float]:
    """Metres from the start at each point: the file's own where it has one (never
    going back), else the previous plus the haversine step."""
    distances: list[float] = []
    previous = None
    total = 0.0
    for point in track.points:
        if point.distance_m is not None:
            total = max(total, point.distance_m)
        elif previous is not None:
            total += haversine_distance(previous.lat, previous.lon, point.lat, point.lon)
        distances.append(total)
        previous = point
    return distances


def route_indices(count: int, max_points: int) -> list[int]:
    """At most ``max_points`` indices of ``count`` points, evenly spaced, ends kept."""
    if count <= max_points:
        return list(range(count))
    return sorted({round(i * (count - 1) / (max_points - 1)) for i in range(max_points)})


def workout_events(track: Track, user_id: str, device_id: str, workout_id: str, *,
                   samples_per_event: int, pause_gap_ms: int,
                   max_route_points: int) -> list[dict[str, Any]]:
    """The events of ``track`` (checked by :func:`track.check_track`) as a device would
    send them; :class:`ActivityFileError` if the distance is beyond any speed."""
    points = track.points
    start = track.start_ms
    distances = cumulative_distances(track)
    problems = completion_problems(start, track.end_ms, distances[-1])
    if problems:
        raise ActivityFileError(FileKind.INVALID, problems[0])
    events: list[dict[str, Any]] = []

    def event(kind: EventType, occurred_at: int, **payload: Any) -> None:
        seq = len(events)
        events.append({"event_id": event_id(workout_id, seq), "type": kind.value,
                       "occurred_at": occurred_at, "user_id": user_id,
                       "workout_id": workout_id, "device_id": device_id, "seq": seq,
                       **payload})

    first = points[0]
    event(EventType.STARTED, start, sport_type=track.sport, start_time=start,
          location={"latitude": first.lat, "longitude": first.lon},
          device_model=f"{track.format.upper()} file upload")
    samples: list[dict[str, Any]] = []

    def flush() -> None:
        if samples:
            last = samples[-1]
            event(EventType.UPDATED, start + last["offset_ms"],
                  current_distance_meters=last["distance_meters"], avg_heart_rate=None,
                  heart_rate=last["heart_rate"], current_speed=last["speed"],
                  position={"lat": last["lat"], "lon": last["lon"]},
                  elevation_meters=last["elevation_meters"], samples=list(samples))
            samples.clear()

    moving_ms = 0
    for index, point in enumerate(points):
        if index:
            gap = point.time_ms - points[index - 1].time_ms
            if gap > pause_gap_ms:
                flush()
                event(EventType.PAUSED, points[index - 1].time_ms)
                event(EventType.RESUMED, point.time_ms)
            else:
                moving_ms += gap
        samples.append({"offset_ms": point.time_ms - start, "distance_meters": distances[index],
                        "heart_rate": point.heart_rate, "speed": point.speed_mps,
                        "lat": point.lat, "lon": point.lon,
                        "elevation_meters": point.elevation_m})
        if len(samples) >= samples_per_event:
            flush()
    flush()
    route = [{"lat": points[i].lat, "lon": points[i].lon}
             for i in route_indices(len(points), max_route_points)]
    event(EventType.COMPLETED, track.end_ms, end_time=track.end_ms,
          duration_sec=moving_ms // 1000, distance_meters=distances[-1],
          calories_burned=float(track.calories or 0.0), route_coordinates=route)
    return events
