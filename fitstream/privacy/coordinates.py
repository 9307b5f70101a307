"""Coordinates sealed with the user's data key, in every record that carries them.

Where a person was is the most personal thing FitStream stores, and the Kafka log is
kept for good: so coordinates are sealed (AES-256-GCM with the user's data key,
:mod:`fitstream.privacy.fields`) before a record is produced, and erasing the user's
key erases them in every copy of the log, in replays and in backups at once.

One seal per record, over all of its coordinates, in the contract field
``sealed_coordinates`` (Avro bytes); the plain fields keep their shape and hold nothing:

===========================  ===================================  ======================
contract                     plain fields, when sealed            sealed points, in order
===========================  ===================================  ======================
WorkoutStarted v2            ``location`` = 0.0, 0.0              the location
WorkoutUpdated v3            ``position`` = null; every sample's  the position (NaN, NaN
                             ``lat``, ``lon`` = 0.0               if none), each sample's
WorkoutCompleted v2          ``route_coordinates`` = []           each route point
WorkoutRoute v2 (a view)     ``lats``, ``lons`` = []              each route point
===========================  ===================================  ======================

Format: ``0x01`` ‖ nonce ‖ AES-256-GCM(points as little-endian float64 pairs (lat, lon)),
with ``"<user_id>|coordinates"`` as associated data. Packed doubles, not JSON: a
WorkoutUpdated of 12 samples seals 200 bytes of points, not 500 of text. The seal is
deterministic (a synthetic nonce from the key and the points): a replay produces the
same bytes as the live run, and a device's retry the same record.

Who seals: ingest (a device's JSON never carries ``sealed_coordinates``: the field is
the server's, and ingest refuses it), the simulator's producer (as devices would through
ingest) and the processor, for the routes it produces and the events it dead-letters
re-encoded. Who opens: every reader that needs the values, right after decoding (the
processor, the samples and routes sinks, the tests' reference readers). A record whose
``sealed_coordinates`` is null is read as it is: the log written before sealing, and
producers that do not seal, stay valid. Bronze keeps the log as it was received, sealed.

Sealed points that do not open (the user's key was erased, or they were altered or
moved to another user) raise :class:`CoordinatesUnreadable`: the processor
dead-letters the event with its original bytes (reason ``unreadable_coordinates``),
sinks skip it; nobody reads another user's coordinates, or a guess.
"""

from __future__ import annotations

import math
import struct
from typing import Any, Final

from fitstream.contracts import subjects
from fitstream.privacy.fields import ERASED, FieldCipher, FieldTampered

SEALED_FIELD: Final = "sealed_coordinates"
FORMAT_V1: Final = b"\x01"
_AAD_FIELD: Final = "coordinates"
_NAN: Final = float("nan")

STARTED: Final = subjects.WORKOUT_STARTED
UPDATED: Final = subjects.WORKOUT_UPDATED
COMPLETED: Final = subjects.WORKOUT_COMPLETED
ROUTE: Final = subjects.WORKOUT_ROUTE
# The contracts whose records carry coordinates.
COORDINATE_SUBJECTS: Final = frozenset({STARTED, UPDATED, COMPLETED, ROUTE})

Points = list[tuple[float, float]]


class CoordinatesUnreadable(ValueError):
    """Sealed coordinates that do not open: erased, altered, or another user's."""


def take_coordinates(subject: str, record: dict[str, Any]) -> tuple[dict[str, Any], Points]:
    """(``record`` with its coordinates blanked, its points in sealing order). Pure;
    ``record`` is not changed."""
    out = dict(record)
    if subject == STARTED:
        location = record["location"]
        points = [(location["latitude"], location["longitude"])]
        out["location"] = {"latitude": 0.0, "longitude": 0.0}
    elif subject == UPDATED:
        samples = record.get("samples") or []
        position = record.get("position")
        points = [(_NAN, _NAN) if position is None else (position["lat"], position["lon"]),
                  *((s["lat"], s["lon"]) for s in samples)]
        out["position"] = None
        out["samples"] = [{**s, "lat": 0.0, "lon": 0.0} for s in samples]
    elif subject == COMPLETED:
        points = [(p["lat"], p["lon"]) for p in record.get("route_coordinates") or []]
        out["route_coordinates"] = []
    elif subject == ROUTE:
        points = list(zip(record["lats"], record["lons"], strict=True))
        out["lats"], out["lons"] = [], []
    else:
        raise ValueError(f"{subject} carries no coordinates")
    return out, points


def put_coordinates(subject: str, record: dict[str, Any], points: Points,
                    in_place: bool = False) -> dict[str, Any]:
    """``record`` with ``points`` (from :func:`take_coordinates`) back in their fields and
    ``sealed_coordinates`` null. Pure unless ``in_place`` (see :func:`open_coordinates`);
    CoordinatesUnreadable if the points do not fit the record (sealed for another
    record)."""
    out = record if in_place else dict(record)
    if subject == STARTED:
        if len(points) != 1:
            raise CoordinatesUnreadable(f"{len(points)} sealed points for one location")
        out["location"] = {"latitude": points[0][0], "longitude": points[0][1]}
    elif subject == UPDATED:
        samples = record.get("samples") or []
        if len(points) != len(samples) + 1:
            raise CoordinatesUnreadable(
                f"{len(points)} sealed points for a position and {len(samples)} samples")
        lat, lon = points[0]
        out["position"] = None if math.isnan(lat) else {"lat": lat, "lon": lon}
        if in_place:
            for sample, (lat, lon) in zip(samples, points[1:], strict=True):
                sample["lat"], sample["lon"] = lat, lon
        else:
            out["samples"] = [{**s, "lat": lat, "lon": lon}
                              for s, (lat, lon) in zip(samples, points[1:], strict=True)]
    elif subject == COMPLETED:
        out["route_coordinates"] = [{"lat": lat, "lon": lon} for lat, lon in points]
    elif subject == ROUTE:
        out["lats"], out["lons"] = [p[0] for p in points], [p[1] for p in points]
    else:
        raise CoordinatesUnreadable(f"{subject} carries no coordinates")
    out[SEALED_FIELD] = None
    return out


def pack_points(points: Points) -> bytes:
    return struct.pack(f"<{2 * len(points)}d", *(v for point in points for v in point))


def unpack_points(packed: bytes) -> Points:
    if len(packed) % 16:
        raise CoordinatesUnreadable(f"{len(packed)} bytes are not whole points")
    flat = struct.unpack(f"<{len(packed) // 8}d", packed)
    return list(zip(flat[0::2], flat[1::2], strict=True))


def seal_coordinates(cipher: FieldCipher, subject: str, record: dict[str, Any],
                     ) -> dict[str, Any]:
    """``record`` with its coordinates sealed for its user; records of other contracts,
    and records already sealed, as they are. Creates the user's key on first use."""
    if subject not in COORDINATE_SUBJECTS or record.get(SEALED_FIELD) is not None:
        return record
    blanked, points = take_coordinates(subject, record)
    blanked[SEALED_FIELD] = FORMAT_V1 + cipher.seal_bytes(
        record["user_id"], _AAD_FIELD, pack_points(points), deterministic=True)
    return blanked


def open_coordinates(cipher: FieldCipher, subject: str, record: dict[str, Any],
                     in_place: bool = False) -> dict[str, Any]:
    """``record`` with its sealed coordinates opened into their plain fields (and
    ``sealed_coordinates`` null); a record without sealed coordinates as it is.

    ``in_place``: fill ``record`` itself (and return it), for a record just decoded
    that nobody else holds. A copy of every sample dict per event was a tenth of the
    processor's CPU with the cyclic GC it drove (docs/speed-profile.md).

    CoordinatesUnreadable if they do not open; KeyStoreUnavailable if the key store did
    not answer (retry: :func:`fitstream.privacy.fields.patiently`)."""
    sealed = record.get(SEALED_FIELD)
    if sealed is None or subject not in COORDINATE_SUBJECTS:
        return record
    if sealed[:1] != FORMAT_V1:
        raise CoordinatesUnreadable("sealed coordinates of an unknown format")
    try:
        packed = cipher.open_bytes(record["user_id"], _AAD_FIELD, sealed[1:])
    except FieldTampered as exc:
        raise CoordinatesUnreadable(str(exc)) from exc
    if packed is ERASED:
        raise CoordinatesUnreadable(f"the data key of {record['user_id']} was erased")
    return put_coordinates(subject, record, unpack_points(packed), in_place)
