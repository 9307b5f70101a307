"""The ingest body as JSON Schema, generated from the Avro contracts, for the OpenAPI document.

Devices send JSON, so the OpenAPI document describes each workout event as the JSON
that :mod:`fitstream.contracts.strict` and :mod:`fitstream.domain.event_bounds` accept:
the latest version of each of the six ``.avsc`` contracts, translated type by type, plus
the per-field bounds whose numbers live in ``event_bounds`` (ids and their pattern, seq,
distances, heart rates, speeds, coordinates, elevations, text lengths, list sizes).

What JSON Schema cannot say, and ingest still refuses with a 400: a ``start_time`` or
``end_time`` too far from its event's ``occurred_at``, and an ``occurred_at`` more than
``api.max_future_skew_ms`` ahead of the server's clock (both relative to another value).
One more difference: JSON Schema counts ``1.0`` as an integer; ingest does not.

| Avro                     | JSON Schema                                                 |
|--------------------------|-------------------------------------------------------------|
| int / long               | ``integer`` within 32 / 64 bits                             |
| float / double           | ``number`` (float: within single precision)                 |
| string, boolean          | ``string``, ``boolean``                                     |
| enum                     | ``string`` with ``enum``                                    |
| ``["null", X]``          | ``anyOf`` null or X                                         |
| array                    | ``array`` of the items                                      |
| record                   | ``object``, fields without a default ``required``,          |
|                          | ``additionalProperties: false`` (ingest refuses unknown keys) |
"""

from __future__ import annotations

from typing import Any, Protocol

from fitstream.contracts.registry import RegisteredSchema
from fitstream.contracts.strict import FLOAT_MAX, INT_RANGE, LONG_RANGE, SERVER_SET_FIELDS
from fitstream.domain import event_bounds as b
from fitstream.domain.events import EventType
from fitstream.domain.identifiers import ID_MAX_LENGTH, ID_PATTERN


class LatestSchemas(Protocol):
    def latest(self, subject: str) -> RegisteredSchema: ...


_ID = {"pattern": ID_PATTERN, "minLength": 1, "maxLength": ID_MAX_LENGTH}


def _between(low: float, high: float) -> dict[str, float]:
    return {"minimum": low, "maximum": high}


# Field name -> the JSON Schema keywords of its bound, on the non-null branch. The numbers
# are event_bounds' constants; tests/unit/test_json_schema.py checks each one against
# event_bound_problems, so the document cannot drift from what ingest refuses.
FIELD_BOUNDS: dict[str, dict[str, Any]] = {
    "event_id": _ID, "user_id": _ID, "workout_id": _ID, "device_id": _ID,
    "occurred_at": {"minimum": b.EARLIEST_EVENT_MS},
    "start_time": {"minimum": b.EARLIEST_EVENT_MS},
    "end_time": {"minimum": b.EARLIEST_EVENT_MS},
    "seq": _between(0, b.MAX_SEQ),
    "device_model": {"maxLength": b.MAX_TEXT_LENGTH},
    "reason": {"maxLength": b.MAX_TEXT_LENGTH},
    "duration_sec": _between(0, b.MAX_WORKOUT_DURATION_MS // 1000),
    "offset_ms": _between(0, b.MAX_WORKOUT_DURATION_MS),
    "current_distance_meters": _between(0, b.MAX_DISTANCE_METERS),
    "distance_meters": _between(0, b.MAX_DISTANCE_METERS),
    "calories_burned": _between(0, b.MAX_CALORIES),
    "heart_rate": _between(b.MIN_HEART_RATE, b.MAX_HEART_RATE),
    "avg_heart_rate": _between(b.MIN_HEART_RATE, b.MAX_HEART_RATE),
    "current_speed": _between(0, b.MAX_SPEED_MPS),
    "speed": _between(0, b.MAX_SPEED_MPS),
    "latitude": _between(-90, 90), "lat": _between(-90, 90),
    "longitude": _between(-180, 180), "lon": _between(-180, 180),
    "elevation_meters": _between(b.MIN_ELEVATION_METERS, b.MAX_ELEVATION_METERS),
    "samples": {"maxItems": b.MAX_SAMPLES_PER_EVENT},
    "route_coordinates": {"maxItems": b.MAX_ROUTE_POINTS},
}

_PRIMITIVES: dict[str, dict[str, Any]] = {
    "null": {"type": "null"},
    "boolean": {"type": "boolean"},
    "string": {"type": "string"},
    "int": {"type": "integer", "minimum": INT_RANGE[0], "maximum": INT_RANGE[1]},
    "long": {"type": "integer", "minimum": LONG_RANGE[0], "maximum": LONG_RANGE[1]},
    "float": {"type": "number", "minimum": -FLOAT_MAX, "maximum": FLOAT_MAX},
    "double": {"type": "number"},
}


def avro_to_json_schema(schema: Any, bounds: dict[str, Any] | None = None,
                        named: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """The JSON Schema of JSON values that match the Avro ``schema`` (as in a .avsc).

    ``bounds`` (JSON Schema keywords) narrow the value itself, or the non-null branch of a
    ``["null", X]`` union; record fields take theirs from :data:`FIELD_BOUNDS`.
    """
    named = {} if named is None else named
    if isinstance(schema, list):
        branches = [avro_to_json_schema(branch, bounds if branch != "null" else None, named)
                    for branch in schema]
        return {"anyOf": branches}
    if isinstance(schema, str):
        if schema in _PRIMITIVES:
            return {**_PRIMITIVES[schema], **(bounds or {})}
        if schema in named:
            return {**named[schema], **(bounds or {})}
        raise TypeError(f"Avro type {schema!r} has no JSON form at ingest")
    kind = schema["type"]
    if kind == "record":
        result = _record(schema, named)
    elif kind == "enum":
        result = {"type": "string", "enum": list(schema["symbols"])}
        named[schema["name"]] = result
    elif kind == "array":
        result = {"type": "array", "items": avro_to_json_schema(schema["items"], None, named)}
    elif kind == "map":
        result = {"type": "object",
                  "additionalProperties": avro_to_json_schema(schema["values"], None, named)}
    else:
        return avro_to_json_schema(kind, bounds, named)
    return {**result, **(bounds or {})}


def _record(schema: dict[str, Any], named: dict[str, dict[str, Any]]) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    required: list[str] = []
    for field in schema["fields"]:
        if field["name"] in SERVER_SET_FIELDS:
            continue
        prop = avro_to_json_schema(field["type"], FIELD_BOUNDS.get(field["name"]), named)
        if "doc" in field:
            prop["description"] = field["doc"]
        if "default" in field:
            prop["default"] = field["default"]
        else:
            required.append(field["name"])
        properties[field["name"]] = prop
    result: dict[str, Any] = {"type": "object", "title": schema["name"],
                              "properties": properties, "required": required,
                              "additionalProperties": False}
    if "doc" in schema:
        result["description"] = schema["doc"]
    named[schema["name"]] = result
    if "namespace" in schema:
        named[f"{schema['namespace']}.{schema['name']}"] = result
    return result


def event_json_schema(registry: LatestSchemas, event_type: EventType) -> dict[str, Any]:
    """One workout event's JSON Schema; ``type`` is required and fixed to the event's name
    (the Avro default only fills it for the log; ingest needs it to pick the contract)."""
    result = avro_to_json_schema(registry.latest(event_type.subject).schema)
    result["properties"]["type"] = {"type": "string", "const": event_type.value,
                                    "description": "The event type, equal to the record name."}
    if "type" not in result["required"]:
        result["required"].insert(1, "type")
    return result


_EXAMPLE_START_MS = 1_796_022_720_000  # 2026-11-30T07:12:00Z
_EXAMPLE_IDS = {"user_id": "user-1", "workout_id": "w-20261130-0712", "device_id": "watch-1"}
# A run as a watch sends it: started, one update with its batched samples, completed.
# tests/unit/test_openapi_document.py checks it against the strict contract check and
# the bounds, as ingest would.
INGEST_EXAMPLE: dict[str, Any] = {"events": [
    {"event_id": "e-1", "type": "WorkoutStarted", "occurred_at": _EXAMPLE_START_MS,
     **_EXAMPLE_IDS, "seq": 0, "sport_type": "running", "start_time": _EXAMPLE_START_MS,
     "location": {"latitude": 52.52, "longitude": 13.405}, "device_model": "Forerunner 265"},
    {"event_id": "e-2", "type": "WorkoutUpdated", "occurred_at": _EXAMPLE_START_MS + 10_000,
     **_EXAMPLE_IDS, "seq": 1, "current_distance_meters": 28.4, "avg_heart_rate": 118,
     "heart_rate": 121, "current_speed": 2.84, "position": {"lat": 52.5202, "lon": 13.4053},
     "elevation_meters": 34.0,
     "samples": [{"offset_ms": 5000, "distance_meters": 14.2, "heart_rate": 117, "speed": 2.84,
                  "lat": 52.5201, "lon": 13.4051, "elevation_meters": 34.0},
                 {"offset_ms": 10000, "distance_meters": 28.4, "heart_rate": 121, "speed": 2.84,
                  "lat": 52.5202, "lon": 13.4053, "elevation_meters": 34.0}]},
    {"event_id": "e-3", "type": "WorkoutCompleted", "occurred_at": _EXAMPLE_START_MS + 1_770_000,
     **_EXAMPLE_IDS, "seq": 2, "end_time": _EXAMPLE_START_MS + 1_770_000, "duration_sec": 1770,
     "distance_meters": 5012.5, "calories_burned": 372.0,
     "route_coordinates": [{"lat": 52.52, "lon": 13.405}, {"lat": 52.5231, "lon": 13.4112}]},
]}


def ingest_body_schema(registry: LatestSchemas, max_events: int) -> dict[str, Any]:
    """``{"events": [...]}``: 1 to ``max_events`` events, each one of the six types."""
    events = [event_json_schema(registry, t) for t in EventType]
    return {
        "type": "object", "title": "IngestBatch",
        "description": "Workout events from one device, all accepted or none. Ingest also "
                       "refuses a start_time or end_time far from its occurred_at, and an "
                       "occurred_at ahead of the server's clock (api.max_future_skew_ms), "
                       "and an integer field written with a fraction (1.0): JSON Schema "
                       "counts 1.0 as an integer, ingest never converts a number.",
        "properties": {"events": {"type": "array", "minItems": 1, "maxItems": max_events,
                                  "items": {"oneOf": events}}},
        "required": ["events"], "additionalProperties": False,
        "examples": [INGEST_EXAMPLE],
    }
