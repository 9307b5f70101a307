"""Strict JSON checking against the Avro contracts (issue 9 finding 12): no coercion, no unknown keys."""

from __future__ import annotations

import copy

import orjson
import pytest
from fastavro.validation import validate
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fitstream.contracts import AvroSerde, SerdeError
from fitstream.contracts.registry import RepoSchemaRegistry
from fitstream.contracts.strict import StrictContract, compile_check
from fitstream.domain.events import EventType
from fitstream.settings import SchemaRegistrySettings
from tests.unit.test_contracts import STARTED

REGISTRY = RepoSchemaRegistry(SchemaRegistrySettings().repo_registry_path)
SERDE = AvroSerde(REGISTRY)
STARTED_SUBJECT = EventType.STARTED.subject
UPDATED_SUBJECT = EventType.UPDATED.subject

UPDATED = {
    "event_id": "2f1c7c1e-8a4b-4f7e-9d1e-1a2b3c4d5e70", "type": "WorkoutUpdated",
    "occurred_at": 1_793_606_405_000, "user_id": "user-1", "workout_id": "w-1",
    "device_id": "device-1", "seq": 1, "current_distance_meters": 14.2, "heart_rate": 131,
    "samples": [{"offset_ms": 5000, "distance_meters": 14.2, "heart_rate": 131, "speed": 2.5,
                 "lat": 52.5001, "lon": 13.4001, "elevation_meters": 41.0}],
}


def with_field(event: dict, path: str, value: object) -> dict:
    changed = copy.deepcopy(event)
    *parents, last = path.split(".")
    target = changed
    for name in parents:
        target = target[name]
    target[last] = value
    return changed


# The four cases of the finding: fastavro's encoder takes each of them and writes
# something else (or refuses the last only by accident of the type).
@pytest.mark.parametrize(("path", "value", "problem"), [
    ("seq", 0.9, "seq: expected int, got number 0.9"),
    ("seq", True, "seq: expected int, got boolean true"),
    ("start_time", 1.5, "start_time: expected long, got number 1.5"),
    ("location.latitude", "52.1", "location.latitude: expected double, got string '52.1'"),
])
def test_the_issue_cases_are_refused_by_name(path, value, problem):
    assert SERDE.problems(STARTED_SUBJECT, with_field(STARTED, path, value)) == [problem]
    with pytest.raises(SerdeError, match=problem.split(":")[0]):
        SERDE.validate(STARTED_SUBJECT, with_field(STARTED, path, value))


def test_the_encoder_alone_would_have_changed_the_values():
    """Why the strict check runs before encoding: fastavro coerces silently."""
    for path, value, stored in (("seq", 0.9, 0), ("seq", True, 1), ("start_time", 1.5, 1)):
        event = with_field(STARTED, path, value)
        _, record = SERDE.decode(SERDE.encode(STARTED_SUBJECT, event))
        assert record[path] == stored


@pytest.mark.parametrize(("subject", "event", "problems"), [
    (STARTED_SUBJECT, {**STARTED, "heartrate": 120}, ["heartrate: unknown field"]),
    (STARTED_SUBJECT, with_field(STARTED, "location.altitude", 30.0),
     ["location.altitude: unknown field"]),
    (UPDATED_SUBJECT, with_field(UPDATED, "samples", [{**UPDATED["samples"][0], "hr": 1}]),
     ["samples[0].hr: unknown field"]),
    (STARTED_SUBJECT, {k: v for k, v in STARTED.items() if k != "device_model"},
     ["device_model: missing"]),
    (STARTED_SUBJECT, {**STARTED, "seq": 2**31}, [
        "seq: 2147483648 is outside the int range [-2147483648, 2147483647]"]),
    (STARTED_SUBJECT, {**STARTED, "occurred_at": 1.0},
     ["occurred_at: expected long, got number 1.0"]),
    (STARTED_SUBJECT, {**STARTED, "location": None},
     ["location: expected Location object, got null"]),
    (STARTED_SUBJECT, {**STARTED, "sport_type": "golf"}, [
        "sport_type: expected one of running, cycling, walking, swimming, hiking, rowing, "
        "other, got string 'golf'"]),
    (UPDATED_SUBJECT, {**UPDATED, "heart_rate": "131", "position": {"lat": True, "lon": 1}},
     ["heart_rate: expected int, got string '131'",
      "position.lat: expected double, got boolean true"]),
    (UPDATED_SUBJECT, with_field(UPDATED, "samples", [{**UPDATED["samples"][0], "speed": 1e39}]),
     ["samples[0].speed: number 1e+39 is outside the float range"]),
    (UPDATED_SUBJECT, {**UPDATED, "samples": {"offset_ms": 1}},
     ["samples: expected array, got an object"]),
    (UPDATED_SUBJECT, {**UPDATED, "device_id": "d" * 500},
     []),  # a type check only; event_bounds bounds the length
])
def test_every_problem_is_named_with_its_json_path(subject, event, problems):
    assert SERDE.problems(subject, event) == problems


def test_nulls_and_defaults_are_accepted_where_the_contract_allows_them():
    event = {**UPDATED, "heart_rate": None, "position": None, "current_speed": 3}
    assert SERDE.problems(UPDATED_SUBJECT, event) == []
    assert SERDE.problems(UPDATED_SUBJECT, {k: v for k, v in event.items()
                                            if k not in ("samples", "heart_rate")}) == []


def test_a_type_without_a_json_form_is_refused_when_the_contract_loads():
    with pytest.raises(TypeError, match="bytes"):
        compile_check({"type": "record", "name": "R", "fields": [{"name": "b", "type": "bytes"}]})


def test_a_named_type_can_be_referenced_after_its_definition():
    contract = StrictContract({"type": "record", "name": "Pair", "fields": [
        {"name": "a", "type": {"type": "record", "name": "P", "fields": [
            {"name": "x", "type": "int"}]}},
        {"name": "b", "type": ["null", "P"]}]})
    assert contract.problems({"a": {"x": 1}, "b": {"x": 2}}) == []
    assert contract.problems({"a": {"x": 1}, "b": {"x": 0.5}}) == [
        "b.x: expected int, got number 0.5"]


# -- against fastavro: the same type decisions, and nothing accepted is changed -------------

JSON_SCALARS = (st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1)
                | st.floats(allow_nan=False, allow_infinity=False, min_value=-1e30,
                            max_value=1e30) | st.text(max_size=4))
JSON_VALUES = st.recursive(JSON_SCALARS, lambda inner: st.lists(inner, max_size=2) | st.dictionaries(
    st.sampled_from(["lat", "lon", "latitude", "longitude", "offset_ms", "x"]), inner,
    max_size=3), max_leaves=6)
# Mostly scalars, so that a fair share of the mutated events are still valid.
FIELD_VALUES = JSON_SCALARS | JSON_SCALARS | JSON_VALUES


def _paths(event: dict) -> list[str]:
    found = []
    for key, value in event.items():
        found.append(key)
        if isinstance(value, dict):
            found.extend(f"{key}.{inner}" for inner in value)
    return found


def _fastavro_accepts(subject: str, event: dict) -> bool:
    _, parsed = SERDE._writer(subject)
    return validate(event, parsed, raise_errors=False, strict=True,
                    disable_tuple_notation=True)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from([STARTED, UPDATED]), st.data())
def test_strict_agrees_with_fastavro_and_what_it_accepts_round_trips_unchanged(base, data):
    """Replace known fields with arbitrary JSON: the strict check accepts exactly what
    fastavro's own strict validation accepts (no unknown keys here), and an accepted event
    comes back from the log byte for byte, so nothing was coerced."""
    subject = EventType(base["type"]).subject
    event = copy.deepcopy(base)
    for path in data.draw(st.lists(st.sampled_from(_paths(base)), max_size=2, unique=True)):
        if path == "type" or ("." in path and not isinstance(event[path.split(".")[0]], dict)):
            continue
        event = with_field(event, path, data.draw(FIELD_VALUES))
    event = orjson.loads(orjson.dumps(event))  # as ingest sees it
    problems = SERDE.problems(subject, event)
    accepted = not problems
    # The one difference: fastavro accepts an integer a double cannot hold and rounds it.
    rounded = bool(problems) and all("has no exact double value" in p for p in problems)
    assert accepted == (_fastavro_accepts(subject, event) and not rounded), problems
    if accepted and subject == STARTED_SUBJECT:  # no single-precision field to round
        assert SERDE.decode(SERDE.encode(subject, event)) == (
            subject, {**event, "sealed_coordinates": None})


def test_a_value_wrong_in_millions_of_ways_gets_a_short_list():
    """Review of issue 9: a 4 MiB body of ``"samples": [0, 0, ...]`` (two million wrong
    samples) made two million problems, joined into a ~100 MB response."""
    updated = with_field(UPDATED, "samples", [0] * 2_000_000)
    found = SERDE.problems(UPDATED_SUBJECT, updated)
    assert found == [f"samples[{i}]: expected TelemetrySample object, got number 0" for i in range(20)] + [
        "and more: the check stopped after 20 problems"]
    # Exactly at the limit: no line about stopping.
    assert len(SERDE.problems(UPDATED_SUBJECT, with_field(UPDATED, "samples", [0] * 20))) == 20


def test_an_integer_a_double_cannot_hold_is_refused_not_rounded():
    """Found by the property above: 2**53 + 1 as a latitude was accepted and came back from
    the log as 2**53 (fastavro rounds it), a silent change like seq 0.9 → 0."""
    event = with_field(STARTED, "location", {"latitude": 2**53 + 1, "longitude": 13})
    assert SERDE.problems(STARTED_SUBJECT, event) == [
        "location.latitude: number 9007199254740993 has no exact double value"]
    exact = with_field(STARTED, "location", {"latitude": 52, "longitude": 13})
    assert SERDE.problems(STARTED_SUBJECT, exact) == []
