"""Coordinates are sealed with the user's data key in every record that carries them
(issue 9 finding 11): what is sealed opens to exactly what was sent, on its user's key
only, through the real Avro contracts; nothing of the coordinates is left in the bytes;
and erasing the key leaves nothing to open. Real local key store in a temp directory."""

from __future__ import annotations

import math
import struct

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from fitstream.contracts import AvroSerde
from fitstream.contracts.registry import RepoSchemaRegistry
from fitstream.domain.events import event_subject
from fitstream.privacy.coordinates import (
    COORDINATE_SUBJECTS,
    ROUTE,
    SEALED_FIELD,
    STARTED,
    UPDATED,
    CoordinatesUnreadable,
    open_coordinates,
    pack_points,
    put_coordinates,
    seal_coordinates,
    take_coordinates,
    unpack_points,
)
from fitstream.privacy.fields import FieldCipher
from fitstream.privacy.keys.local_file import LocalFileKeyStore
from fitstream.settings import LocalFileKeyStoreConfig, SchemaRegistrySettings
from fitstream.simulator.fleet import ChaosKnobs, FleetSpec, simulate_fleet

SERDE = AvroSerde(RepoSchemaRegistry(SchemaRegistrySettings().repo_registry_path))
START = 1_793_577_600_000
CLEAN = ChaosKnobs(duplicate=0, out_of_order=0, late=0, malformed=0)


@pytest.fixture
def cipher(tmp_path):
    return FieldCipher(LocalFileKeyStore(LocalFileKeyStoreConfig(), tmp_path))


def fleet_events(seed: int) -> list[tuple[str, dict]]:
    spec = FleetSpec(users=3, days=5, seed=seed, start_ms=START, chaos=CLEAN)
    return [(event_subject(r.event), r.event) for r in simulate_fleet(spec)
            if r.event is not None]


def as_logged(subject: str, record: dict) -> dict:
    """The record as a reader decodes it from the log."""
    return SERDE.decode(SERDE.encode(subject, record))[1]


def plain_doubles(subject: str, record: dict) -> list[bytes]:
    _, points = take_coordinates(subject, record)
    return [struct.pack("<d", v) for point in points for v in point
            if not math.isnan(v) and v != 0.0]  # NaN stands for "no position"


@settings(max_examples=5, deadline=None)
@given(seed=st.integers(0, 2**16))
def test_every_event_of_a_fleet_opens_to_what_was_sent_and_its_bytes_hold_no_coordinate(
        tmp_path_factory, seed):
    cipher = FieldCipher(LocalFileKeyStore(LocalFileKeyStoreConfig(),
                                           tmp_path_factory.mktemp("keys")))
    carrying = 0
    events = fleet_events(seed)
    assume(events)  # some seeds' athletes rest for the whole fleet's days
    for subject, event in events:
        sealed = seal_coordinates(cipher, subject, event)
        wire = SERDE.encode(subject, sealed)
        if subject in COORDINATE_SUBJECTS:
            carrying += 1
            assert sealed[SEALED_FIELD][:1] == b"\x01"
            assert not [d for d in plain_doubles(subject, event) if d in wire]
        assert open_coordinates(cipher, subject, SERDE.decode(wire)[1]) == as_logged(
            subject, {**event, SEALED_FIELD: None})
        # Readers that own the decoded record open it in place: the same record.
        decoded = SERDE.decode(wire)[1]
        assert open_coordinates(cipher, subject, decoded, in_place=True) == as_logged(
            subject, {**event, SEALED_FIELD: None})
        if subject in COORDINATE_SUBJECTS:
            assert decoded[SEALED_FIELD] is None  # filled, not copied
    assert carrying >= 3  # started, updated, completed at least


def test_a_route_round_trips_and_sealing_is_deterministic(cipher):
    route = {"workout_id": "w-1", "user_id": "user-a", "end_time": 5,
             "lats": [52.5, 52.6], "lons": [13.4, 13.5]}
    sealed = seal_coordinates(cipher, ROUTE, route)
    assert (sealed["lats"], sealed["lons"]) == ([], [])
    # The same route seals to the same text: a replay writes the same bytes as live.
    assert seal_coordinates(cipher, ROUTE, route) == sealed
    assert seal_coordinates(cipher, ROUTE, {**route, "lats": [52.5, 52.7]}) != sealed
    assert open_coordinates(cipher, ROUTE, sealed) == {**route, SEALED_FIELD: None}
    # Sealing twice does not seal the blanks over the sealed value.
    assert seal_coordinates(cipher, ROUTE, sealed) is sealed


def test_another_users_sealed_coordinates_do_not_open_as_theirs(cipher):
    route = {"workout_id": "w-1", "user_id": "user-a", "end_time": 5,
             "lats": [52.5], "lons": [13.4]}
    sealed = seal_coordinates(cipher, ROUTE, route)
    cipher.keys.get_or_create("user-b")
    with pytest.raises(CoordinatesUnreadable):
        open_coordinates(cipher, ROUTE, {**sealed, "user_id": "user-b"})
    with pytest.raises(CoordinatesUnreadable):  # altered
        open_coordinates(cipher, ROUTE, {**sealed, SEALED_FIELD: sealed[SEALED_FIELD][:-4]
                                         + b"AAAA"})
    with pytest.raises(CoordinatesUnreadable, match="unknown format"):
        open_coordinates(cipher, ROUTE, {**sealed, SEALED_FIELD: b"\x02"
                                         + sealed[SEALED_FIELD][1:]})


def test_an_erased_key_leaves_nothing_to_open(cipher):
    route = {"workout_id": "w-1", "user_id": "user-a", "end_time": 5,
             "lats": [52.5], "lons": [13.4]}
    sealed = seal_coordinates(cipher, ROUTE, route)
    assert cipher.keys.delete("user-a")
    with pytest.raises(CoordinatesUnreadable, match="erased"):
        open_coordinates(cipher, ROUTE, sealed)
    # Back with a new key: the old record still does not open.
    cipher.keys.get_or_create("user-a")
    with pytest.raises(CoordinatesUnreadable):
        open_coordinates(cipher, ROUTE, sealed)


def test_points_that_do_not_fit_the_record_are_unreadable_not_a_crash():
    updated = {"samples": [{"lat": 0.0, "lon": 0.0}], "position": None}
    for points in ([], [(1.0, 2.0)], [(1.0, 2.0)] * 3):
        with pytest.raises(CoordinatesUnreadable):
            put_coordinates(UPDATED, updated, points)
    with pytest.raises(CoordinatesUnreadable):
        put_coordinates(STARTED, {"location": {}}, [(1.0, 2.0)] * 2)
    with pytest.raises(CoordinatesUnreadable):
        unpack_points(b"\x00" * 17)


@settings(max_examples=200, deadline=None)
@given(position=st.none() | st.tuples(st.floats(-90, 90), st.floats(-180, 180)),
       samples=st.lists(st.tuples(st.floats(-90, 90), st.floats(-180, 180)), max_size=30))
def test_an_update_round_trips_exactly(position, samples):
    record = {"user_id": "u", "position": None if position is None else {
        "lat": position[0], "lon": position[1]},
        "samples": [{"offset_ms": i, "lat": lat, "lon": lon}
                    for i, (lat, lon) in enumerate(samples)]}
    blanked, points = take_coordinates(UPDATED, record)
    assert put_coordinates(UPDATED, blanked, unpack_points(pack_points(points))) == {
        **record, SEALED_FIELD: None}


def test_records_without_sealed_coordinates_are_read_as_they_are(cipher):
    # The log written before sealing, and producers that do not seal, stay valid.
    started = {"user_id": "user-a", "location": {"latitude": 1.0, "longitude": 2.0},
               SEALED_FIELD: None}
    assert open_coordinates(cipher, "fitstream.workouts.WorkoutStarted", started) is started
