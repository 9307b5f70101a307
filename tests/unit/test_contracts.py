"""Avro contracts: the wire format, decode failures, and BACKWARD compatibility."""

from __future__ import annotations

import copy
import io
import itertools
import struct

import fastavro
import pytest
from fastavro.read import SchemaResolutionError

from fitstream.contracts import AvroSerde, SerdeError
from fitstream.contracts.registry import RepoSchemaRegistry, subject_name
from fitstream.domain.events import EventType
from fitstream.settings import SchemaRegistrySettings

REGISTRY = RepoSchemaRegistry(SchemaRegistrySettings().repo_registry_path)

STARTED = {
    "event_id": "2f1c7c1e-8a4b-4f7e-9d1e-1a2b3c4d5e6f", "type": "WorkoutStarted",
    "occurred_at": 1_793_606_400_000, "user_id": "user-1", "workout_id": "w-1",
    "device_id": "device-1", "seq": 0, "sport_type": "cycling",
    "start_time": 1_793_606_400_000, "location": {"latitude": 52.5, "longitude": 13.4},
    "device_model": "RunWatch Pro",
}


def test_every_workout_event_type_has_a_registered_subject():
    assert {t.subject for t in EventType} <= set(REGISTRY.subjects())


def test_encode_uses_the_confluent_wire_format_with_the_pinned_id():
    data = AvroSerde(REGISTRY).encode(EventType.STARTED.subject, STARTED)
    magic, schema_id = struct.unpack(">bI", data[:5])
    assert (magic, schema_id) == (0, 22)  # WorkoutStarted v2, the latest
    body = fastavro.schemaless_reader(io.BytesIO(data[5:]), REGISTRY.by_id(22).parsed, None)
    assert body == {**STARTED, "sealed_coordinates": None}


def test_round_trip_returns_the_subject_and_the_record():
    serde = AvroSerde(REGISTRY)
    assert serde.decode(serde.encode(EventType.STARTED.subject, STARTED)) == (
        "fitstream.workouts.WorkoutStarted", {**STARTED, "sealed_coordinates": None})


@pytest.mark.parametrize(("data", "reason", "fragment"), [
    (b"", "malformed", "shorter than"),
    (b"\x01\x00\x00\x00\x01abc", "malformed", "magic byte 1"),
    (b"\x00\x00\x00\x03\xe7\x02", "unknown_schema", "no schema id 999"),
    (b"\x00\x00\x00\x00\x01\x02", "malformed", "undecodable"),
])
def test_decode_failures_carry_a_reason(data, reason, fragment):
    with pytest.raises(SerdeError) as caught:
        AvroSerde(REGISTRY).decode(data)
    assert caught.value.reason == reason
    assert fragment in str(caught.value)


def test_trailing_bytes_are_malformed():
    serde = AvroSerde(REGISTRY)
    with pytest.raises(SerdeError, match="trailing bytes"):
        serde.decode(serde.encode(EventType.STARTED.subject, STARTED) + b"\x00")


def test_validate_names_the_bad_field():
    with pytest.raises(SerdeError, match="sport_type"):
        AvroSerde(REGISTRY).validate(EventType.STARTED.subject, {**STARTED, "sport_type": "golf"})


def test_a_v1_update_reads_as_the_latest_version_with_defaults():
    v1 = REGISTRY.subjects()["fitstream.workouts.WorkoutUpdated"][0]
    old = {"event_id": "e", "type": "WorkoutUpdated", "occurred_at": 1, "user_id": "u",
           "workout_id": "w", "device_id": "d", "seq": 3, "current_distance_meters": 12.5,
           "avg_heart_rate": None, "heart_rate": 140, "current_speed": 3.1,
           "position": {"lat": 52.5, "lon": 13.4}}
    buf = io.BytesIO()
    buf.write(struct.pack(">bI", 0, v1.schema_id))
    fastavro.schemaless_writer(buf, v1.parsed, old)
    subject, record = AvroSerde(REGISTRY).decode(buf.getvalue())
    assert subject == "fitstream.workouts.WorkoutUpdated"
    assert record == {**old, "elevation_meters": None, "samples": [],
                      "sealed_coordinates": None}


def backward_compatible(previous: dict, current: dict) -> None:
    """Raise unless ``current`` reads data written with ``previous`` (fastavro resolution)."""
    writer = fastavro.parse_schema(previous, named_schemas={})
    reader = fastavro.parse_schema(current, named_schemas={})
    for record in _examples(previous):
        buf = io.BytesIO()
        fastavro.schemaless_writer(buf, writer, record)
        buf.seek(0)
        fastavro.schemaless_reader(buf, writer, reader)


def _examples(schema: dict) -> list[dict]:
    """A record of the schema with every optional field null, and one with them set."""
    def value(avro_type, filled):
        if isinstance(avro_type, list):
            branch = next((t for t in avro_type if t != "null"), "null") if filled else "null"
            return value(branch, filled)
        if isinstance(avro_type, dict):
            kind = avro_type["type"]
            if kind == "record":
                return {f["name"]: value(f["type"], filled) for f in avro_type["fields"]}
            if kind == "enum":
                return avro_type["symbols"][0]
            if kind == "array":
                return [value(avro_type["items"], filled)] if filled else []
            return value(kind, filled)
        return {"null": None, "string": "x", "int": 1, "long": 2, "float": 1.5,
                "double": 2.5, "boolean": True, "bytes": b"b"}[avro_type]
    return [value(schema, False), value(schema, True)]


@pytest.mark.parametrize("subject", sorted(REGISTRY.subjects()))
def test_each_version_reads_data_written_by_the_previous_one(subject):
    versions = REGISTRY.subjects()[subject]
    assert [v.version for v in versions] == list(range(1, len(versions) + 1))
    for previous, current in itertools.pairwise(versions):
        backward_compatible(previous.schema, current.schema)
    assert subject_name(versions[-1].schema) == subject


def test_the_compatibility_check_catches_a_breaking_change():
    latest = REGISTRY.latest("fitstream.workouts.WorkoutUpdated").schema
    broken = copy.deepcopy(latest)
    broken["fields"].append({"name": "cadence", "type": "int"})  # no default
    with pytest.raises(SchemaResolutionError):
        backward_compatible(latest, broken)


def test_the_user_features_contract_carries_every_feature_and_round_trips():
    from fitstream.domain.features import FLAT_FEATURE_NAMES, UserFeatureHistory

    subject = "fitstream.features.UserFeatures"
    fields = [f["name"] for f in REGISTRY.latest(subject).schema["fields"]]
    assert fields == ["user_id", "as_of", *FLAT_FEATURE_NAMES]
    row = UserFeatureHistory("user-1").add_workout({
        "workout_id": "w-1", "user_id": "user-1", "sport_type": "rowing",
        "status": "completed", "start_time": 1_793_606_400_000,
        "end_time": 1_793_608_200_000, "moving_duration_ms": 1_700_000,
        "distance_meters": 6000.0, "avg_heart_rate": None})[-1]
    serde = AvroSerde(REGISTRY)
    encoded = serde.encode(subject, row)
    assert struct.unpack(">bI", encoded[:5]) == (0, 27)  # the processor writes v2
    assert serde.decode(encoded) == (subject, row)
    assert row["avg_heart_rate_28d_rowing"] is None and row["acute_chronic_ratio"] == 4.0
    assert (row["last_1_sport_index"], row["last_1_start_hour"], row["last_2_sport_index"],
            row["running_distance_28d_m"]) == (5, 8, None, 0.0)
    # A v1 row on the log reads as v2: no best efforts, no runs, no last workouts known.
    v1 = REGISTRY.subjects()[subject][0]
    old = {n: row[n] for n in fields if n in {f["name"] for f in v1.schema["fields"]}}
    buf = io.BytesIO()
    buf.write(struct.pack(">bI", 0, v1.schema_id))
    fastavro.schemaless_writer(buf, v1.parsed, old)
    assert serde.decode(buf.getvalue()) == (subject, {**row, "last_1_sport_index": None,
                                                      "last_1_duration_s": None,
                                                      "last_1_intensity_index": None,
                                                      "last_1_start_hour": None})
