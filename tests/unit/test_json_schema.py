"""The ingest body's JSON Schema (OpenAPI) says what ingest accepts: generated from the Avro
contracts, with event_bounds' numbers (issue 9 finding 16: "the ingest body has no event
schema in OpenAPI")."""

from __future__ import annotations

import copy
import json

import jsonschema_rs
import pytest

from api.ingest_schema import FIELD_BOUNDS, SERVER_SET_FIELDS, ingest_body_schema
from fitstream.contracts import AvroSerde
from fitstream.contracts.registry import RepoSchemaRegistry
from fitstream.domain.event_bounds import event_bound_problems
from fitstream.domain.events import EventType
from fitstream.domain.identifiers import is_valid_id
from fitstream.settings import SchemaRegistrySettings

REGISTRY = RepoSchemaRegistry(SchemaRegistrySettings().repo_registry_path)
SERDE = AvroSerde(REGISTRY)
BODY = jsonschema_rs.Draft202012Validator(ingest_body_schema(REGISTRY, 1000))

T0 = 1_793_606_400_000
COMMON = {"occurred_at": T0, "user_id": "user-1", "workout_id": "w-1", "device_id": "device-1"}
EVENTS = {
    "WorkoutStarted": {**COMMON, "seq": 0, "sport_type": "cycling", "start_time": T0,
                       "location": {"latitude": 52.5, "longitude": 13.4},
                       "device_model": "RunWatch Pro"},
    "WorkoutUpdated": {**COMMON, "seq": 1, "current_distance_meters": 14.2, "heart_rate": 131,
                       "avg_heart_rate": 120, "current_speed": 2.9,
                       "position": {"lat": 52.5, "lon": 13.4}, "elevation_meters": 40.0,
                       "samples": [{"offset_ms": 5000, "distance_meters": 14.2,
                                    "heart_rate": 131, "speed": 2.5, "lat": 52.5001,
                                    "lon": 13.4001, "elevation_meters": 41.0}]},
    "WorkoutPaused": {**COMMON, "seq": 2},
    "WorkoutResumed": {**COMMON, "seq": 3},
    "WorkoutCompleted": {**COMMON, "seq": 4, "end_time": T0, "duration_sec": 1800,
                         "distance_meters": 5000.0, "calories_burned": 350.0,
                         "route_coordinates": [{"lat": 52.5, "lon": 13.4}]},
    "WorkoutCancelled": {**COMMON, "seq": 5, "reason": "battery"},
}
for name, payload in EVENTS.items():
    payload.update({"type": name, "event_id": f"e-{name}"})


def body_ok(event: dict) -> bool:
    return BODY.is_valid({"events": [event]})


def ingest_ok(event: dict) -> bool:
    """What ingest decides without the clock: the strict contract, then the bounds."""
    subject = EventType(event["type"]).subject
    return not SERDE.problems(subject, event) and not event_bound_problems(event)


def test_one_schema_per_event_type_and_every_example_is_valid_for_both():
    one_of = ingest_body_schema(REGISTRY, 1000)["properties"]["events"]["items"]["oneOf"]
    assert [s["title"] for s in one_of] == [t.value for t in EventType]
    for event in EVENTS.values():
        assert body_ok(event) and ingest_ok(event), event["type"]


@pytest.mark.parametrize(("path", "value"), [
    ("seq", 0.9), ("seq", True), ("start_time", 1.5), ("location.latitude", "52.1"),
    ("device_model", None), ("sport_type", "golf"), ("extra", 1), ("location.x", 1),
    ("type", "WorkoutUpdated"),
])
def test_what_ingest_refuses_by_type_the_schema_refuses_too(path, value):
    event = set_path(EVENTS["WorkoutStarted"], path, value)
    assert not body_ok(event)
    assert not (ingest_ok(event) if event["type"] == "WorkoutStarted" else False)


@pytest.mark.parametrize("value", ["user-00042", "w:2026-11-30:1", "a" * 64, "a" * 65,
                                   "' OR 1=1 --", "O'Brien", "", "-x", "x y", "abc\n"])
def test_the_id_pattern_means_the_same_in_the_document_and_at_ingest(value):
    for field in ("event_id", "user_id", "workout_id", "device_id"):
        event = {**EVENTS["WorkoutPaused"], field: value}
        assert body_ok(event) == is_valid_id(value) == ingest_ok(event), (field, value)


def leaf_paths(value: object, prefix: str = "") -> list[tuple[str, str]]:
    """(path, field name) of every value under an event, into objects and first items."""
    found = []
    if isinstance(value, dict):
        for key, inner in value.items():
            path = f"{prefix}.{key}" if prefix else key
            found.append((path, key))
            found.extend(leaf_paths(inner, path))
    elif isinstance(value, list) and value:
        found.extend(leaf_paths(value[0], f"{prefix}.0"))
    return found


def set_path(event: dict, path: str, value: object) -> dict:
    changed = copy.deepcopy(event)
    *parents, last = path.split(".")
    target = changed
    for name in parents:
        target = target[int(name)] if isinstance(target, list) else target[name]
    target[last] = value
    return changed


BOUNDED = [(kind, path, name) for kind, event in EVENTS.items()
           for path, name in leaf_paths(event)
           if {"minimum", "maximum", "maxLength", "maxItems"} & set(FIELD_BOUNDS.get(name, {}))]


def test_every_bound_in_the_document_is_exercised():
    assert {name for _, _, name in BOUNDED} == {
        name for name, keywords in FIELD_BOUNDS.items()
        if {"minimum", "maximum", "maxLength", "maxItems"} & set(keywords)}


@pytest.mark.parametrize(("kind", "path", "name"), BOUNDED)
def test_each_documented_bound_is_where_ingest_draws_the_line(kind, path, name):
    """At the bound both accept; one step beyond, both refuse."""
    base = EVENTS[kind]
    if name in ("occurred_at", "start_time", "end_time"):
        # Payload times are bounded against occurred_at too; move them together.
        base = {**base, **{k: T0 for k in ("occurred_at", "start_time", "end_time") if k in base}}
    bound = FIELD_BOUNDS[name]
    cases = []
    if "minimum" in bound:
        low = bound["minimum"]
        step = 1 if isinstance(low, int) else max(abs(low), 1) * 1e-9
        cases += [(low, True), (low - step, False)]
    if "maximum" in bound:
        high = bound["maximum"]
        step = 1 if isinstance(high, int) else max(abs(high), 1) * 1e-9
        cases += [(high, True), (high + step, False)]
    if "maxLength" in bound:
        cases += [("m" * bound["maxLength"], True), ("m" * (bound["maxLength"] + 1), False)]
    if "maxItems" in bound:
        first = base[path][0]  # a list field at the top level; copies of its first item
        cases += [([first] * bound["maxItems"], True), ([first] * (bound["maxItems"] + 1), False)]
    for value, within in cases:
        if name in ("occurred_at", "start_time", "end_time"):
            event = {**base, **{k: value for k in ("occurred_at", "start_time", "end_time")
                                if k in base}}
        else:
            event = set_path(base, path, value)
        assert body_ok(event) == within, (path, value, "schema")
        assert ingest_ok(event) == within, (path, value, event_bound_problems(event))


def test_every_field_of_every_event_is_bounded_or_closed():
    """A field added to a contract must get a bound (event_bounds, FIELD_BOUNDS) or be
    closed by its type (an enum, a record whose fields are bounded, the type tag)."""
    def fields(schema: object) -> set[tuple[str, str]]:
        found = set()
        if isinstance(schema, list):
            for branch in schema:
                found |= fields(branch)
        elif isinstance(schema, dict) and schema["type"] == "record":
            for field in schema["fields"]:
                found.add((field["name"], json.dumps(field["type"])[:20]))
                found |= fields(field["type"])
        elif isinstance(schema, dict) and schema["type"] == "array":
            found |= fields(schema["items"])
        return found

    closed = {"type", "sport_type", "location", "position"}
    for event_type in EventType:
        for name, avro_type in fields(REGISTRY.latest(event_type.subject).schema):
            assert name in FIELD_BOUNDS or name in closed or name in SERVER_SET_FIELDS, (
                event_type.value, name, avro_type)


def test_fields_the_server_sets_are_not_in_the_ingest_document():
    document = json.dumps(ingest_body_schema(REGISTRY, 10))
    assert SERVER_SET_FIELDS and not [f for f in SERVER_SET_FIELDS if f in document]
