"""The physical and contractual bounds of a workout event, checked at ingest and again
in the processor (a record can reach the log without ingest: a raw producer, a replay).

Every bound is a constant here, so ingest, the processor and the tests agree on one
number. :func:`event_bound_problems` returns one message per field out of bounds
(empty: the event is within bounds); it never raises, whatever the types, so ingest
can call it on untrusted JSON and the processor on decoded Avro.

| field                         | bound                                                   |
|-------------------------------|---------------------------------------------------------|
| user_id, workout_id,          | ``identifiers.ID_PATTERN``                              |
| device_id, event_id           |                                                         |
| type                          | one of the six workout events                           |
| occurred_at                   | ``EARLIEST_EVENT_MS`` (2000-01-01) or later             |
| seq                           | 0 to ``MAX_SEQ``                                        |
| sport_type                    | one of ``events.SPORT_TYPES``                           |
| device_model, reason          | at most ``MAX_TEXT_LENGTH`` characters                  |
| start_time                    | occurred_at - ``MAX_START_LAG_MS`` to occurred_at +     |
|                               | ``CLOCK_TOLERANCE_MS``                                  |
| end_time                      | occurred_at - ``MAX_END_LAG_MS`` to occurred_at +       |
|                               | ``CLOCK_TOLERANCE_MS``                                  |
| duration_sec                  | 0 to ``MAX_WORKOUT_DURATION_MS`` / 1000                 |
| distances (metres)            | 0 to ``MAX_DISTANCE_METERS``                            |
| heart rates (bpm)             | ``MIN_HEART_RATE`` to ``MAX_HEART_RATE``, or null       |
| speeds (m/s)                  | 0 to ``MAX_SPEED_MPS``, or null                         |
| latitude / longitude          | -90 to 90 / -180 to 180                                 |
| elevation (metres)            | ``MIN_ELEVATION_METERS`` to ``MAX_ELEVATION_METERS``,   |
|                               | or null                                                 |
| samples                       | at most ``MAX_SAMPLES_PER_EVENT``; offsets 0 to         |
|                               | ``MAX_WORKOUT_DURATION_MS``                             |
| route_coordinates             | at most ``MAX_ROUTE_POINTS``                            |
| calories_burned (kcal)        | 0 to ``MAX_CALORIES``                                   |

Numbers must be finite (no NaN, no infinity). A completed workout also needs
``start_time <= end_time <= start_time + MAX_WORKOUT_DURATION_MS``, and a distance
that ``MAX_SPEED_MPS`` covers in that span (plus ``DISTANCE_SLACK_METERS``); only the
session knows its start, so :func:`completion_problems` is what it calls.

Time. ``occurred_at`` is the device's clock, judged twice: ingest refuses an event
more than ``MAX_FUTURE_SKEW_MS`` ahead of the server's clock, and the processor
dead-letters one that far ahead of its Kafka record's timestamp (``from_future``),
which a replay reads again from the record, so it decides the same. Lateness is
judged on ``occurred_at`` too, but boards bucket a completed workout by its
``start_time``; these bounds tie the one to the other. A workout's start is at most
``MAX_WORKOUT_DURATION_MS`` before its end, and its end at most ``MAX_END_LAG_MS``
before its WorkoutCompleted's ``occurred_at``, which lateness has judged. So a
completion that is not late buckets at most :func:`bucket_reach_ms` behind its
user's clock minus the allowed lateness: a device can no longer put a workout into any
past period (a ``start_time`` of 1 in 1970 is refused), and the leaderboards keep
every period that reach can touch (see leaderboards.py).
"""

from __future__ import annotations

import math
from typing import Any

from fitstream.domain.events import SPORT_TYPES, EventType
from fitstream.domain.identifiers import ID_MAX_LENGTH, is_valid_id

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS

# -- time ------------------------------------------------------------------------------
# Ingest refuses, and the processor dead-letters, an event this far ahead of the clock
# that judges it (the server's, or the Kafka record's timestamp).
MAX_FUTURE_SKEW_MS = 5 * 60_000
# No device recorded a workout before this (2000-01-01 UTC); earlier is a reset clock.
EARLIEST_EVENT_MS = 946_684_800_000
# A payload time (start_time, end_time) may be this far after its event's occurred_at:
# a sensor reading and the event stamp come from slightly different clocks.
CLOCK_TOLERANCE_MS = 5 * 60_000
# How long before its WorkoutStarted's occurred_at a workout may have started (a device
# that waits for a GPS fix, or a phone app that creates the workout after the fact).
MAX_START_LAG_MS = 48 * HOUR_MS
# How long before its WorkoutCompleted's occurred_at a workout may have ended.
MAX_END_LAG_MS = 48 * HOUR_MS
# The longest workout a device can record: a multi-day ultra, or a watch left on over
# a weekend. A longer one is a device fault; its completion is refused (the device can
# still cancel it).
MAX_WORKOUT_DURATION_MS = 7 * DAY_MS

# -- counts and sizes ------------------------------------------------------------------
MAX_SEQ = 1_000_000  # an update a second for the longest workout is 604,800
MAX_TEXT_LENGTH = 200  # device_model, a cancellation reason
MAX_SAMPLES_PER_EVENT = 10_000  # nearly 3 h of 1 Hz samples from an offline stretch
MAX_ROUTE_POINTS = 200_000

# -- physics -----------------------------------------------------------------------------
MAX_DISTANCE_METERS = 5_000_000.0  # 5,000 km: a week of riding across a continent
MAX_SPEED_MPS = 100.0  # 360 km/h: above any human-powered record, downhill included
# A completed workout covers at most MAX_SPEED_MPS over its span, plus this much GPS
# drift (a workout stopped seconds after it started can still show some distance).
DISTANCE_SLACK_METERS = 1_000.0
MIN_HEART_RATE = 20
MAX_HEART_RATE = 250
MIN_ELEVATION_METERS = -1_000.0  # below the Dead Sea shore, with GPS noise
MAX_ELEVATION_METERS = 9_000.0  # above Everest
MAX_CALORIES = 100_000.0  # kcal: a week-long ultra burns well under this

_EVENT_TYPES = frozenset(t.value for t in EventType)
_ID_FIELDS = ("event_id", "user_id", "workout_id", "device_id")


def _is_number(value: object) -> bool:
    if isinstance(value, bool):
        return False
    # An int is always finite (math.isfinite overflows on a huge one).
    return isinstance(value, int) or (isinstance(value, float) and math.isfinite(value))


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _shown(value: object) -> str:
    if isinstance(value, str) and len(value) > 40:
        return f"a string of {len(value)} characters"
    try:
        text = repr(value)
    except ValueError:  # an int too long to print (Python's 4,300-digit limit)
        return "a number too long to print"
    return text if len(text) <= 40 else f"{text[:37]}..."


class _Checker:
    """Collects one message per field out of bounds."""

    __slots__ = ("problems",)

    def __init__(self) -> None:
        self.problems: list[str] = []

    def number(self, name: str, value: object, low: float, high: float,
               nullable: bool = False, integer: bool = False) -> bool:
        if value is None and nullable:
            return True
        if not (_is_int(value) if integer else _is_number(value)):
            kind = "an integer" if integer else "a finite number"
            self.problems.append(f"{name}: {_shown(value)} is not {kind}")
            return False
        if not low <= value <= high:
            self.problems.append(f"{name}: {_shown(value)} is outside {low:g} to {high:g}")
            return False
        return True

    def text(self, name: str, value: object, nullable: bool = False) -> None:
        if value is None and nullable:
            return
        if not isinstance(value, str):
            self.problems.append(f"{name}: {_shown(value)} is not a string")
        elif len(value) > MAX_TEXT_LENGTH:
            self.problems.append(
                f"{name}: {len(value)} characters, at most {MAX_TEXT_LENGTH}")

    def position(self, name: str, value: object, lat_key: str, lon_key: str) -> None:
        if not isinstance(value, dict):
            self.problems.append(f"{name}: {_shown(value)} is not a position")
            return
        self.number(f"{name}.{lat_key}", value.get(lat_key), -90.0, 90.0)
        self.number(f"{name}.{lon_key}", value.get(lon_key), -180.0, 180.0)

    def payload_time(self, name: str, value: object, occurred_at: object,
                     lag_ms: int) -> None:
        if not self.number(name, value, EARLIEST_EVENT_MS, 2**63 - 1, integer=True):
            return
        if not _is_int(occurred_at):
            return  # occurred_at has its own message
        if value > occurred_at + CLOCK_TOLERANCE_MS:
            self.problems.append(
                f"{name}: {value} is {value - occurred_at} ms after occurred_at; "
                f"at most {CLOCK_TOLERANCE_MS} ms")
        elif value < occurred_at - lag_ms:
            self.problems.append(
                f"{name}: {value} is {occurred_at - value} ms before occurred_at; "
                f"at most {lag_ms} ms ({lag_ms // HOUR_MS} h)")


def event_bound_problems(event: dict[str, Any]) -> list[str]:
    """One message per field of ``event`` outside its bounds; empty if all are within.

    Checks the fields that are present: a missing required field is the contract's
    to report (ingest's schema validation, the processor's Avro decode).
    """
    check = _Checker()
    problems = check.problems
    for name in _ID_FIELDS:
        if name in event and not is_valid_id(event[name]):
            problems.append(f"{name}: {_shown(event[name])} is not a valid id (1 to "
                            f"{ID_MAX_LENGTH} letters, digits, '_', '-', '.' or ':')")
    kind = event.get("type")
    if "type" in event and not (isinstance(kind, str) and kind in _EVENT_TYPES):
        problems.append(f"type: {_shown(kind)} is not a workout event type")
    occurred_at = event.get("occurred_at")
    if "occurred_at" in event:
        check.number("occurred_at", occurred_at, EARLIEST_EVENT_MS, 2**63 - 1, integer=True)
    if "seq" in event:
        check.number("seq", event["seq"], 0, MAX_SEQ, integer=True)

    sport = event.get("sport_type")
    if "sport_type" in event and not (isinstance(sport, str) and sport in SPORT_TYPES):
        problems.append(f"sport_type: {_shown(event['sport_type'])} is not one of "
                        f"{', '.join(SPORT_TYPES)}")
    if "device_model" in event:
        check.text("device_model", event["device_model"])
    if "reason" in event:
        check.text("reason", event["reason"], nullable=True)
    if "start_time" in event:
        check.payload_time("start_time", event["start_time"], occurred_at, MAX_START_LAG_MS)
    if "end_time" in event:
        check.payload_time("end_time", event["end_time"], occurred_at, MAX_END_LAG_MS)
    if "location" in event:
        check.position("location", event["location"], "latitude", "longitude")

    # WorkoutUpdated
    if "current_distance_meters" in event:
        check.number("current_distance_meters", event["current_distance_meters"],
                     0.0, MAX_DISTANCE_METERS)
    for name in ("heart_rate", "avg_heart_rate"):
        if name in event:
            check.number(name, event[name], MIN_HEART_RATE, MAX_HEART_RATE,
                         nullable=True, integer=True)
    if "current_speed" in event:
        check.number("current_speed", event["current_speed"], 0.0, MAX_SPEED_MPS,
                     nullable=True)
    if event.get("position") is not None:
        check.position("position", event["position"], "lat", "lon")
    if "elevation_meters" in event:
        check.number("elevation_meters", event["elevation_meters"], MIN_ELEVATION_METERS,
                     MAX_ELEVATION_METERS, nullable=True)
    if "samples" in event:
        _check_samples(check, event["samples"])

    # WorkoutCompleted
    if "duration_sec" in event:
        check.number("duration_sec", event["duration_sec"], 0,
                     MAX_WORKOUT_DURATION_MS // 1000, integer=True)
    if "distance_meters" in event:
        check.number("distance_meters", event["distance_meters"], 0.0, MAX_DISTANCE_METERS)
    if "calories_burned" in event:
        check.number("calories_burned", event["calories_burned"], 0.0, MAX_CALORIES)
    if "route_coordinates" in event:
        route = event["route_coordinates"]
        if not isinstance(route, list):
            problems.append(f"route_coordinates: {_shown(route)} is not a list")
        elif len(route) > MAX_ROUTE_POINTS:
            problems.append(f"route_coordinates: {len(route)} points, at most "
                            f"{MAX_ROUTE_POINTS}")
        elif not all(map(_point_ok, route)):
            for i, point in enumerate(route):
                before = len(problems)
                check.position(f"route_coordinates[{i}]", point, "lat", "lon")
                if len(problems) > before:
                    break  # one bad point is enough to refuse; do not list thousands
    return problems


def _check_samples(check: _Checker, samples: object) -> None:
    problems = check.problems
    if not isinstance(samples, list):
        problems.append(f"samples: {_shown(samples)} is not a list")
        return
    if len(samples) > MAX_SAMPLES_PER_EVENT:
        problems.append(f"samples: {len(samples)} samples, at most {MAX_SAMPLES_PER_EVENT}")
        return
    if all(map(_sample_ok, samples)):
        return
    for i, sample in enumerate(samples):
        if _sample_ok(sample):
            continue
        before = len(problems)
        name = f"samples[{i}]"
        if not isinstance(sample, dict):
            problems.append(f"{name}: {_shown(sample)} is not a sample")
            break
        check.number(f"{name}.offset_ms", sample.get("offset_ms"), 0,
                     MAX_WORKOUT_DURATION_MS, integer=True)
        check.number(f"{name}.distance_meters", sample.get("distance_meters"), 0.0,
                     MAX_DISTANCE_METERS)
        check.number(f"{name}.heart_rate", sample.get("heart_rate"), MIN_HEART_RATE,
                     MAX_HEART_RATE, nullable=True, integer=True)
        check.number(f"{name}.speed", sample.get("speed"), 0.0, MAX_SPEED_MPS, nullable=True)
        check.position(name, sample, "lat", "lon")
        check.number(f"{name}.elevation_meters", sample.get("elevation_meters"),
                     MIN_ELEVATION_METERS, MAX_ELEVATION_METERS, nullable=True)
        if len(problems) > before:
            break  # the first bad sample names the problem; do not list thousands


_REAL = (float, int)


def _sample_ok(sample: object) -> bool:
    """The common case, fast (samples are most of the processor's input): a sample
    within every bound. NaN fails every comparison, so it falls to the slow path."""
    try:
        heart_rate = sample["heart_rate"]  # type: ignore[index]
        speed = sample["speed"]  # type: ignore[index]
        elevation = sample["elevation_meters"]  # type: ignore[index]
        offset = sample["offset_ms"]  # type: ignore[index]
        distance = sample["distance_meters"]  # type: ignore[index]
        lat = sample["lat"]  # type: ignore[index]
        lon = sample["lon"]  # type: ignore[index]
    except (KeyError, TypeError):
        return False
    return (type(offset) is int and 0 <= offset <= MAX_WORKOUT_DURATION_MS
            and type(distance) in _REAL and 0.0 <= distance <= MAX_DISTANCE_METERS
            and type(lat) in _REAL and -90.0 <= lat <= 90.0
            and type(lon) in _REAL and -180.0 <= lon <= 180.0
            and (heart_rate is None or (type(heart_rate) is int
                                        and MIN_HEART_RATE <= heart_rate <= MAX_HEART_RATE))
            and (speed is None or (type(speed) in _REAL and 0.0 <= speed <= MAX_SPEED_MPS))
            and (elevation is None or (type(elevation) in _REAL
                                       and MIN_ELEVATION_METERS <= elevation
                                       <= MAX_ELEVATION_METERS)))


def _point_ok(point: object) -> bool:
    try:
        lat = point["lat"]  # type: ignore[index]
        lon = point["lon"]  # type: ignore[index]
    except (KeyError, TypeError):
        return False
    return (type(lat) in _REAL and -90.0 <= lat <= 90.0
            and type(lon) in _REAL and -180.0 <= lon <= 180.0)


def completion_problems(start_time: int, end_time: int,
                        distance_meters: float | None = None) -> list[str]:
    """What is wrong with a completed workout's span (and the distance covered in it),
    given the start its session holds."""
    if end_time < start_time:
        return [f"end_time: {end_time} is before the workout's start_time {start_time}"]
    span_ms = end_time - start_time
    if span_ms > MAX_WORKOUT_DURATION_MS:
        return [f"end_time: the workout lasted {span_ms} ms; at most "
                f"{MAX_WORKOUT_DURATION_MS} ms ({MAX_WORKOUT_DURATION_MS // DAY_MS} days)"]
    reachable = MAX_SPEED_MPS * span_ms / 1000 + DISTANCE_SLACK_METERS
    if distance_meters is not None and distance_meters > reachable:
        return [f"distance_meters: {distance_meters:g} m in {span_ms // 1000} s is faster "
                f"than {MAX_SPEED_MPS:g} m/s"]
    return []


def ahead_of(event: dict[str, Any], now_ms: int, skew_ms: int = MAX_FUTURE_SKEW_MS) -> bool:
    """True if the event happened more than ``skew_ms`` after ``now_ms`` (the server's
    clock at ingest, the Kafka record's timestamp in the processor): from the future."""
    occurred_at = event.get("occurred_at")
    return _is_int(occurred_at) and occurred_at - now_ms > skew_ms


def future_problem(event: dict[str, Any], now_ms: int,
                   skew_ms: int = MAX_FUTURE_SKEW_MS) -> str | None:
    """The message for an event :func:`ahead_of` ``now_ms``; None if it is not."""
    if not ahead_of(event, now_ms, skew_ms):
        return None
    return (f"occurred_at: {event['occurred_at']} is {event['occurred_at'] - now_ms} ms "
            f"ahead of {now_ms}; at most {skew_ms} ms")


def bucket_reach_ms() -> int:
    """How far a workout's ``start_time`` (its board bucket) can lie before the
    ``occurred_at`` of a WorkoutCompleted within bounds: the longest workout plus the
    longest end lag. Leaderboards keep every period this far behind their horizon."""
    return MAX_WORKOUT_DURATION_MS + MAX_END_LAG_MS
