"""Activity files: each format reads back the points its fixture was made from, refusals
name their kind, and a track becomes the six workout events with deterministic ids."""

from __future__ import annotations

import dataclasses
import re
import tracemalloc

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.ingest import event_problems
from api.uploads import late_reason, upload_state
from fitstream.activity_files import (
    ActivityFileError,
    FileKind,
    Track,
    TrackPoint,
    check_track,
    detect_format,
    open_upload_id,
    read_track,
    read_upload,
    unpack,
    upload_ids,
    workout_events,
)
from fitstream.activity_files.formats import ELEMENTS_PER_POINT, MAX_GZIP_MEMBERS
from fitstream.activity_files.track import sport_of
from fitstream.activity_files.translation import event_id, route_indices
from fitstream.contracts import AvroSerde
from fitstream.contracts.registry import RepoSchemaRegistry
from fitstream.domain.events import EventType
from fitstream.settings import SchemaRegistrySettings
from tests.activity_fixtures import (
    fit_file,
    gpx_file,
    gzip_bomb,
    gzipped,
    tcx_file,
    track_points,
)

SERDE = AvroSerde(RepoSchemaRegistry(SchemaRegistrySettings().repo_registry_path))
T0 = 1_764_590_000_000  # 2025-12-01 11:53:20 UTC
NOW = T0 + 86_400_000
BIG = 10**9
POINTS = track_points(T0, 40, pause_after=12)
KEY = b"k" * 32


def read(data: bytes) -> Track:
    return read_track(data, BIG, BIG)


def refusal(data: bytes, max_decompressed: int = BIG, max_points: int = BIG) -> ActivityFileError:
    with pytest.raises(ActivityFileError) as caught:
        track = read_track(data, max_decompressed, max_points)
        check_track(track, NOW, 300_000, max_points)
    return caught.value


def test_fit_and_tcx_read_back_every_field_of_every_point():
    fit, tcx = read(fit_file(POINTS, calories=321)), read(tcx_file(POINTS, calories=287))
    assert (fit.format, fit.sport, fit.calories, list(fit.points)) == ("fit", "running", 321.0,
                                                                       POINTS)
    assert (tcx.format, tcx.sport, tcx.calories, list(tcx.points)) == ("tcx", "running", 287.0,
                                                                       POINTS)


def test_gpx_reads_back_times_positions_elevation_and_heart_rate():
    gpx = read(gpx_file(POINTS, sport="running"))
    assert (gpx.format, gpx.sport, gpx.calories) == ("gpx", "running", None)
    # GPX carries no distance and no speed: the translation measures the distance.
    assert list(gpx.points) == [dataclasses.replace(p, distance_m=None, speed_mps=None)
                                for p in POINTS]


def test_gzip_is_read_by_content_and_a_bomb_stops_at_the_cap():
    assert read(gzipped(fit_file(POINTS))) == read(fit_file(POINTS))
    assert unpack(gzipped(b"abc") + gzipped(b"def"), 10) == b"abcdef"  # concatenated
    bomb = gzip_bomb(50 * 1024 * 1024)
    assert len(bomb) < 100_000
    # What is inflated is held in memory: the peak bounds the bytes inflated (the cap,
    # 1 MiB, and its copy), far below the bomb's 50 MiB.
    tracemalloc.start()
    try:
        error = refusal(bomb, max_decompressed=1024 * 1024)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert (error.kind, error.message) == (FileKind.TOO_LARGE,
                                           "the file inflates to more than 1048576 bytes")
    assert peak < 3 * 1024 * 1024, peak
    assert refusal(gzipped(gpx_file(POINTS))[:-20]).kind is FileKind.CORRUPT


def test_gzip_members_are_capped_and_the_content_is_inflated_once():
    members = b"".join(gzipped(bytes([65 + i])) for i in range(MAX_GZIP_MEMBERS))
    assert unpack(members + bytes(1000), 100) == b"ABCDEFGHIJKLMNOP"  # trailing zeros
    error = refusal(members + gzipped(b"Q"))
    assert (error.kind, error.message) == (FileKind.CORRUPT, "the gzip stream has more "
                                                             "than 16 members")
    data = gzipped(gpx_file(POINTS))
    content, track = read_upload(data, BIG, BIG)
    assert (content, track) == (gpx_file(POINTS), read(data))


WIDE = '<?xml version="1.0" encoding="{}"?><!DOCTYPE gpx [<!ENTITY a "{}">]><gpx>{}</gpx>'


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be", "utf-16", "utf-32"])
def test_xml_in_wide_encodings_is_refused_so_no_dtd_hides_in_it(encoding):
    name = encoding.split("-")[0] + encoding[-3:] if "-" in encoding else encoding
    entity = WIDE.format(name.upper(), "a" * 1000, "&a;" * 1000).encode(encoding)
    assert refusal(entity).kind is FileKind.CORRUPT
    plain = gpx_file(POINTS).decode().replace('encoding="UTF-8"', 'encoding="UTF-16"')
    assert refusal(plain.encode(encoding)).kind is FileKind.CORRUPT


def test_a_dtd_or_another_declared_encoding_is_refused_by_the_xml_parser():
    assert refusal(b'<?xml version="1.0" encoding="UTF-16"?><gpx/>').message == (
        "XML in encoding 'UTF-16' is refused; GPX and TCX are UTF-8")
    assert refusal(b'<!DOCTYPE gpx SYSTEM "file:///etc/passwd"><gpx/>').message == (
        "XML with a DTD (DOCTYPE or ENTITY) is refused")


def test_points_are_counted_before_the_parser_builds_a_tree():
    # Past the cap the file is refused as too large, not as the truncated file it is:
    # the parser never saw it.
    gpx = gpx_file(POINTS)[:-200]
    assert (refusal(gpx, max_points=30).kind, refusal(gpx).kind) == (FileKind.TOO_LARGE,
                                                                     FileKind.CORRUPT)
    untimed = b"<gpx><trk><trkseg>" + b"<trkpt lat='1' lon='1'/>" * 100
    assert refusal(untimed, max_points=99).message == "more than 99 track points"
    tcx = tcx_file(POINTS)[:-200]
    assert (refusal(tcx, max_points=30).kind, refusal(tcx).kind) == (FileKind.TOO_LARGE,
                                                                     FileKind.CORRUPT)
    assert refusal(tcx_file(POINTS), max_points=39).message == "more than 39 track points"
    elements = b"<gpx>" + b"<a/>" * (ELEMENTS_PER_POINT * 10 + 10_000) + b"</gpx>"
    assert refusal(elements, max_points=10).message == (
        f"{ELEMENTS_PER_POINT * 10 + 10_001} XML elements; at most 24 per track point of 10")


def test_every_fit_message_counts_while_decoding_not_only_positions():
    indoor = fit_file(POINTS, positions=False)
    assert refusal(indoor, max_points=39).message == "more than 39 track points"
    assert refusal(indoor).message == "the file has no track points with a time and a position"
    events = fit_file(POINTS[:2], timer_events=1100)
    assert refusal(events, max_points=2).message == (
        "more than 1008 FIT messages (for at most 2 points)")
    assert len(read_track(events, BIG, 100).points) == 2


@pytest.mark.parametrize(("data", "kind"), [
    (b"hello, world", FileKind.UNSUPPORTED),
    (b"", FileKind.UNSUPPORTED),
    (b"<html><body>hi</body></html>", FileKind.UNSUPPORTED),
    (b'<?xml version="1.0"?><!DOCTYPE gpx [<!ENTITY a "aaaa">]><gpx>&a;</gpx>', FileKind.CORRUPT),
    (b"<gpx><trk><trkseg><trkpt", FileKind.CORRUPT),
    (fit_file(POINTS)[:-40], FileKind.CORRUPT),  # truncated
    (gpx_file(POINTS)[:300], FileKind.CORRUPT),
    (tcx_file(POINTS).replace(b"<Time>2025", b"<Time>20x5", 1), FileKind.CORRUPT),
    # A zone offset no clock has: datetime refuses it only when the time is used.
    (re.sub(rb"Z</time>", b"+99:00</time>", gpx_file(POINTS), count=1), FileKind.CORRUPT),
    (re.sub(rb"Z</Time>", b"+24:00</Time>", tcx_file(POINTS), count=1), FileKind.CORRUPT),
])
def test_unknown_and_corrupt_files_are_refused_by_kind(data, kind):
    assert refusal(data).kind is kind


def test_a_fit_file_with_a_flipped_byte_fails_its_crc():
    data = bytearray(fit_file(POINTS))
    data[200] ^= 0xFF
    assert refusal(bytes(data)).kind is FileKind.CORRUPT
    assert detect_format(bytes(data)) == "fit"


def invalid(points: list[TrackPoint], max_points: int = BIG) -> str:
    error = refusal(gpx_file(points), max_points=max_points)
    return f"{error.kind.value}: {error.message}"


def test_tracks_no_device_could_record_are_refused():
    late = [dataclasses.replace(p, time_ms=p.time_ms + NOW - T0) for p in POINTS]
    assert invalid(late).startswith("invalid_track: point 25: recorded 305000 ms ahead")
    north = [dataclasses.replace(p, lat=95.0) if i == 3 else p for i, p in enumerate(POINTS)]
    assert invalid(north) == "invalid_track: point 3: coordinates (95, 13.3274) are out of range"
    old = [dataclasses.replace(p, time_ms=p.time_ms - 30 * 365 * 86_400_000) for p in POINTS]
    assert invalid(old) == "invalid_track: point 0: recorded before 2000"
    long = [POINTS[0], dataclasses.replace(POINTS[1], time_ms=T0 - 8 * 86_400_000)]
    assert invalid(long) == "invalid_track: point 1: earlier than the point before it"
    assert invalid(POINTS, max_points=10) == "file_too_large: more than 10 track points"
    untimed = gpx_file(POINTS).replace(b"<time>", b"<name>").replace(b"</time>", b"</name>")
    assert refusal(untimed).message == "the file has no track points with a time and a position"
    week = track_points(NOW - 9 * 86_400_000, 3, step_s=4 * 86_400)
    assert invalid(week) == "invalid_track: the track lasts 691200 s; at most 604800 s"


def test_a_distance_beyond_any_speed_is_refused():
    track = read(tcx_file([POINTS[0], dataclasses.replace(POINTS[1], distance_m=4_000_000.0)]))
    check_track(track, NOW, 300_000, BIG)
    with pytest.raises(ActivityFileError, match=r"faster than 100 m/s"):
        events_of(track)


def test_strings_of_the_file_never_reach_an_event():
    huge = gpx_file(POINTS, sport="x" * 100_000)
    track = read(huge)
    assert track.sport == "other"
    assert {e.get("device_model") for e in events_of(track)} == {None, "GPX file upload"}
    assert [sport_of(s) for s in ("Running", "Biking", "VirtualRide", "golf", None, 7)] == [
        "running", "cycling", "cycling", "other", "other", "other"]


def events_of(track: Track, user: str = "user-1", samples: int = 10) -> list[dict]:
    ids = upload_ids(KEY, user, "ab" * 32, track.start_ms)
    return workout_events(track, user, "watch-1", ids.workout_id, samples_per_event=samples,
                          pause_gap_ms=60_000, max_route_points=25)


def test_a_track_becomes_the_six_events_batched_as_a_device_syncs():
    events = events_of(read(fit_file(POINTS)))
    assert [(e["type"], e["seq"], len(e.get("samples", ()))) for e in events] == [
        ("WorkoutStarted", 0, 0), ("WorkoutUpdated", 1, 10), ("WorkoutUpdated", 2, 3),
        ("WorkoutPaused", 3, 0), ("WorkoutResumed", 4, 0), ("WorkoutUpdated", 5, 10),
        ("WorkoutUpdated", 6, 10), ("WorkoutUpdated", 7, 7), ("WorkoutCompleted", 8, 0)]
    started, first_update, paused, resumed, completed = (events[0], events[1], events[3],
                                                         events[4], events[-1])
    assert started["start_time"] == started["occurred_at"] == T0
    assert started["location"] == {"latitude": POINTS[0].lat, "longitude": POINTS[0].lon}
    assert first_update["occurred_at"] == POINTS[9].time_ms
    assert first_update["samples"][9] == {
        "offset_ms": 45_000, "distance_meters": POINTS[9].distance_m,
        "heart_rate": POINTS[9].heart_rate, "speed": POINTS[9].speed_mps,
        "lat": POINTS[9].lat, "lon": POINTS[9].lon, "elevation_meters": POINTS[9].elevation_m}
    assert (paused["occurred_at"], resumed["occurred_at"]) == (POINTS[12].time_ms,
                                                               POINTS[13].time_ms)
    # 39 steps of 5 s, one of them (the 180 s stop) paused.
    assert completed["duration_sec"] == 38 * 5
    assert completed["end_time"] == completed["occurred_at"] == POINTS[-1].time_ms
    assert completed["distance_meters"] == POINTS[-1].distance_m
    assert completed["calories_burned"] == 321.0
    assert len(completed["route_coordinates"]) == 25
    assert completed["route_coordinates"][-1] == {"lat": POINTS[-1].lat, "lon": POINTS[-1].lon}
    for event in events:
        assert event_problems(SERDE, event, NOW, 300_000)[1] == [], event["type"]


def test_ids_are_the_same_for_the_same_upload_and_never_another_users():
    track = read(gpx_file(POINTS))
    again, other = events_of(track), events_of(track, user="user-2")
    assert events_of(track) == again
    assert again[0]["workout_id"].startswith("up-")
    assert len(again[0]["workout_id"]) == 35
    assert {e["workout_id"] for e in again}.isdisjoint({e["workout_id"] for e in other})
    assert {e["event_id"] for e in again}.isdisjoint({e["event_id"] for e in other})
    assert [e["event_id"] for e in again] == [event_id(again[0]["workout_id"], s)
                                              for s in range(len(again))]


def test_an_upload_id_opens_only_for_its_owner():
    ids = upload_ids(KEY, "user-1", "cd" * 32, T0)
    assert len(ids.upload_id) <= 64
    assert open_upload_id(KEY, "user-1", ids.upload_id) == (ids.workout_id, T0)
    assert open_upload_id(KEY, "user-2", ids.upload_id) is None
    assert open_upload_id(b"x" * 32, "user-1", ids.upload_id) is None
    workout_key, start, mac = ids.upload_id.split(".")
    for forged in (f"{workout_key}.{start}.{'0' * 16}", f"{workout_key}.{T0 + 1:x}.{mac}",
                   "", "a.b.c", ids.upload_id + "0", "x" * 10_000):
        assert open_upload_id(KEY, "user-1", forged) is None


def test_route_indices_keep_both_ends_and_the_cap():
    assert route_indices(5, 10) == [0, 1, 2, 3, 4]
    picked = route_indices(10_001, 100)
    assert (len(picked), picked[0], picked[-1]) == (100, 0, 10_000)


HOUR = 3_600_000


def test_an_upload_is_ready_processing_or_error_from_what_the_views_show():
    assert upload_state({"status": "completed"}, "u", "u", None) == ("ready", None)
    assert upload_state({"status": "active"}, "u", "u", None) == ("processing", None)
    assert upload_state(None, None, "u", None) == ("processing", None)
    assert upload_state(None, None, "u", "late: ...") == ("error", "late: ...")
    assert upload_state({"status": "cancelled"}, "u", "u", None) == (
        "error", "the workout was cancelled")
    assert upload_state({"status": "completed"}, "v", "u", None)[0] == "error"
    assert late_reason(T0, None, 48 * HOUR) is None
    assert late_reason(T0, T0 + 48 * HOUR, 48 * HOUR) is None
    assert late_reason(T0, T0 + 48 * HOUR + 300_000, 48 * HOUR) is None
    assert late_reason(T0, T0 + 50 * HOUR, 48 * HOUR) == (
        "late: the file starts 49 h before the user's newest workout; the processor "
        "accepts events at most 48 h behind the user's clock")


# Any valid track: strictly increasing times in whole milliseconds, positions anywhere
# on Earth, optional elevation and heart rate within their bounds.
points_strategy = st.lists(
    st.tuples(st.integers(1, 120_000), st.floats(-90, 90), st.floats(-180, 180),
              st.one_of(st.none(), st.floats(-1000, 9000)),
              st.one_of(st.none(), st.integers(20, 250))),
    min_size=1, max_size=40)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(points=points_strategy, samples=st.integers(1, 12))
def test_any_valid_track_round_trips_through_gpx_into_the_same_events(points, samples):
    time_ms, track_points_ = T0, []
    for step, lat, lon, elevation, heart_rate in points:
        time_ms += step
        track_points_.append(TrackPoint(time_ms, lat, lon, elevation, heart_rate))
    track = Track("gpx", "hiking", tuple(track_points_))
    parsed = read(gpx_file(track_points_, sport="hiking"))
    assert parsed == track
    try:
        expected = events_of(track, samples=samples)
    except ActivityFileError:  # across the globe in seconds: refused either way
        with pytest.raises(ActivityFileError):
            events_of(parsed, samples=samples)
        return
    assert events_of(parsed, samples=samples) == expected
    updates = [e for e in expected if e["type"] == EventType.UPDATED]
    assert sum(len(e["samples"]) for e in updates) == len(points)
    assert all(len(e["samples"]) <= samples for e in updates)
