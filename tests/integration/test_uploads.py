"""Activity-file uploads against the real broker, processor, sinks and API (chdb).

Four fixtures (FIT by fit-tool, GPX and TCX written by hand, one GPX gzipped) are
uploaded through POST /api/v1/uploads; each must become ready, and its summary must
equal, value for value, the summary of the same points sent as events through
/api/v1/ingest by another user (events built here, independently of the translation).
The same file uploaded twice (once while processing, once when ready) is one upload
and one workout; each refusal answers its status and produces nothing.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import pytest
from confluent_kafka import Consumer, TopicPartition
from gpxpy.geo import haversine_distance

from cli.dev.local_stack import LocalStack, wait_for_api
from fitstream.activity_files import TrackPoint
from fitstream.api_client import api_url
from fitstream.kafka.clients import consumer_config
from fitstream.settings import FitStreamSettings, UploadSettings
from fitstream.tokens import issue_device_token, issue_user_token
from tests.activity_fixtures import (
    fit_file,
    gpx_file,
    gzip_bomb,
    gzipped,
    tcx_file,
    track_points,
)
from tests.conftest import isolated
from tests.harness import wait_until

pytestmark = pytest.mark.e2e

UPLOADER, UPLOADER_DEVICE = "uploader-1", "watch-up-1"
REFERENCE, REFERENCE_DEVICE = "reference-1", "watch-ref-1"
STRANGER = "stranger-1"
# When the module is imported: the fixtures' tracks end in the past of it, which stays
# true however late the tests run. A time that must be ahead of the server's clock is
# taken right before its request (assert_refusals), never from here.
NOW = int(time.time()) * 1000
HOUR = 3_600_000
MINUTE = 60_000
LIMITS = UploadSettings(max_bytes=200_000, max_decompressed_bytes=1_000_000, max_points=2000)


def fixtures() -> dict[str, dict[str, Any]]:
    """name -> the points, the bytes, and what the file says beyond its points."""
    fit_points = track_points(NOW - 3 * HOUR, 80, pause_after=30)
    gpx_points = track_points(NOW - 2 * HOUR, 85, base_lat=626_100_000, distances=False,
                              speeds=False)
    tcx_points = track_points(NOW - 90 * MINUTE, 75, base_lon=159_200_000, pause_after=50,
                              pause_s=120)
    gz_points = track_points(NOW - HOUR, 66, base_lat=625_900_000, distances=False,
                             speeds=False, heart_rates=False)
    return {
        "fit": {"points": fit_points, "data": fit_file(fit_points, "running", calories=411),
                "sport": "running", "calories": 411.0},
        "gpx": {"points": gpx_points, "data": gpx_file(gpx_points, "walking"),
                "sport": "walking", "calories": 0.0},
        "tcx": {"points": tcx_points, "data": tcx_file(tcx_points, "cycling", calories=377),
                "sport": "cycling", "calories": 377.0},
        "gpx.gz": {"points": gz_points, "data": gzipped(gpx_file(gz_points, "running")),
                   "sport": "running", "calories": 0.0},
    }


def reference_events(points: list[TrackPoint], sport: str, calories: float) -> list[dict]:
    """The points as a device sends them: 10 samples per update, a pause for a stop over
    60 s, the distance the file's own or else measured (haversine, gpxpy's)."""
    workout = f"ref-{uuid.uuid4()}"
    events: list[dict] = []

    def add(kind: str, at: int, **payload: Any) -> None:
        events.append({"event_id": str(uuid.uuid4()), "type": kind, "occurred_at": at,
                       "user_id": REFERENCE, "workout_id": workout,
                       "device_id": REFERENCE_DEVICE, "seq": len(events), **payload})

    start = points[0].time_ms
    add("WorkoutStarted", start, sport_type=sport, start_time=start,
        location={"latitude": points[0].lat, "longitude": points[0].lon},
        device_model="reference")
    batch: list[dict] = []

    def flush() -> None:
        if batch:
            last = batch[-1]
            add("WorkoutUpdated", start + last["offset_ms"],
                current_distance_meters=last["distance_meters"], heart_rate=last["heart_rate"],
                current_speed=last["speed"], samples=list(batch))
            batch.clear()

    distance, moving = 0.0, 0
    for i, p in enumerate(points):
        if i:
            gap = p.time_ms - points[i - 1].time_ms
            if gap > MINUTE:
                flush()
                add("WorkoutPaused", points[i - 1].time_ms)
                add("WorkoutResumed", p.time_ms)
            else:
                moving += gap
            distance = (p.distance_m if p.distance_m is not None else distance
                        + haversine_distance(points[i - 1].lat, points[i - 1].lon, p.lat, p.lon))
        batch.append({"offset_ms": p.time_ms - start, "distance_meters": distance,
                      "heart_rate": p.heart_rate, "speed": p.speed_mps, "lat": p.lat,
                      "lon": p.lon, "elevation_meters": p.elevation_m})
        if len(batch) == 10:
            flush()
    flush()
    end = points[-1].time_ms
    add("WorkoutCompleted", end, end_time=end, duration_sec=moving // 1000,
        distance_meters=distance, calories_burned=calories,
        route_coordinates=[{"lat": p.lat, "lon": p.lon} for p in points])
    return events


@pytest.fixture(scope="module")
def stack(broker, tmp_path_factory):
    settings = isolated(broker, tmp_path_factory.mktemp("uploads"), "uploads")
    settings = settings.model_copy(update={"uploads": LIMITS})
    # This test polls and refuses in quick succession; the limits have their own test.
    settings = settings.model_copy(update={"rate_limits": settings.rate_limits.model_copy(
        update={"device": "", "user": ""})})
    stack = LocalStack()
    stack.start(settings, "processor", "process")
    stack.start(settings, "api-chdb", "serve")
    try:
        wait_for_api(settings, stack)
        yield settings, stack
    finally:
        stack.stop()


def user(settings: FitStreamSettings, user_id: str) -> dict[str, str]:
    token = issue_user_token(settings.api.token_secret.get_secret_value(), user_id, 600)
    return {"Authorization": f"Bearer {token}"}


def device(settings: FitStreamSettings, user_id: str, device_id: str) -> dict[str, str]:
    token = issue_device_token(settings.api.token_secret.get_secret_value(), user_id,
                               device_id, 600)
    return {"Authorization": f"Bearer {token}"}


def end_offsets(settings: FitStreamSettings) -> list[int]:
    consumer = Consumer(consumer_config(settings.kafka, "uploads-offsets"))
    try:
        topic = settings.kafka.events_topic
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        return [consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
                for p in sorted(partitions)]
    finally:
        consumer.close()


def upload(client: httpx.Client, headers: dict, data: bytes, name: str = "activity",
           **form: str) -> httpx.Response:
    return client.post("/api/v1/uploads", headers=headers, data=form,
                       files={"file": (name, data, "application/octet-stream")})


SAME = ("sport_type", "status", "start_time", "end_time", "moving_duration_s",
        "distance_meters", "calories_burned", "avg_heart_rate", "avg_speed_mps",
        "sample_count", "best_efforts", "version")


def test_uploaded_files_make_the_same_summaries_as_their_points_sent_as_events(stack):
    settings, roles = stack
    files = fixtures()
    with httpx.Client(base_url=api_url(settings), timeout=30) as client:
        uploader = user(settings, UPLOADER)
        uploads: dict[str, str] = {}
        for name, fixture in files.items():
            # The FIT file comes from the watch (a device token), the others from the app.
            headers = (device(settings, UPLOADER, UPLOADER_DEVICE) if name == "fit"
                       else uploader)
            answer = upload(client, headers, fixture["data"], f"morning.{name}")
            assert answer.status_code == 202, answer.text
            assert answer.json()["status"] == "processing"
            uploads[name] = answer.json()["upload_id"]
        again = upload(client, uploader, files["gpx"]["data"])  # while processing
        assert (again.status_code, again.json()["upload_id"]) == (202, uploads["gpx"])

        references = {}
        for name, fixture in files.items():
            events = reference_events(fixture["points"], fixture["sport"], fixture["calories"])
            sent = client.post("/api/v1/ingest/events", json={"events": events},
                               headers=device(settings, REFERENCE, REFERENCE_DEVICE))
            assert sent.status_code == 202, sent.text
            references[name] = events[0]["workout_id"]

        def statuses() -> dict[str, dict]:
            return {name: client.get(f"/api/v1/uploads/{upload_id}", headers=uploader).json()
                    for name, upload_id in uploads.items()}

        def summary(workout_id: str, owner: str) -> dict | None:
            answer = client.get(f"/api/v1/workouts/{workout_id}/private",
                                headers=user(settings, owner))
            return answer.json() if answer.status_code == 200 else None

        seen: dict[str, dict] = {}

        def all_ready() -> bool:
            seen.update(statuses())
            assert all(s["status"] in ("processing", "ready") for s in seen.values()), seen
            return all(s["status"] == "ready" for s in seen.values()) and all(
                (summary(w, REFERENCE) or {}).get("status") == "completed"
                for w in references.values())

        wait_until(all_ready, "every upload ready and every reference completed",
                   progress=lambda: sorted(s["status"] for s in seen.values()),
                   alive=roles.check, stall_s=90, poll_s=0.5)
        ready = statuses()
        for name, fixture in files.items():
            assert ready[name] == {"upload_id": uploads[name], "status": "ready",
                                   "workout_id": ready[name]["workout_id"], "reason": None}
            uploaded = summary(ready[name]["workout_id"], UPLOADER)
            reference = summary(references[name], REFERENCE)
            assert {k: uploaded[k] for k in SAME} == {k: reference[k] for k in SAME}, name
            assert uploaded["sample_count"] == len(fixture["points"])
        assert summary(ready["fit"]["workout_id"], UPLOADER)["device_id"] == UPLOADER_DEVICE
        assert summary(ready["tcx"]["workout_id"], UPLOADER)["device_id"] == "upload"
        for name in ("fit", "gpx", "tcx"):  # each long enough for a best kilometre
            assert summary(ready[name]["workout_id"], UPLOADER)["best_efforts"]["one_km_s"] > 0

        # Uploaded again when ready: the same upload, nothing produced, still one workout.
        before = end_offsets(settings)
        for name, fixture in files.items():
            answer = upload(client, uploader, fixture["data"])
            assert answer.status_code == 202
            assert answer.json() == ready[name]
        assert end_offsets(settings) == before
        listed = client.get(f"/api/v1/users/{UPLOADER}/workouts/private", headers=uploader)
        assert sorted(w["workout_id"] for w in listed.json()["items"]) == sorted(
            s["workout_id"] for s in ready.values())

        # Only the uploader sees an upload; a forged id is no upload.
        stranger = user(settings, STRANGER)
        for headers, upload_id in ((stranger, uploads["fit"]), (uploader, "a" * 61),
                                   (uploader, uploads["fit"][:-1] + "0")):
            answer = client.get(f"/api/v1/uploads/{upload_id}", headers=headers)
            assert (answer.status_code, answer.json()["error"]) == (404, "not_found")
        # Another user's copy of the same file is another workout.
        theirs = upload(client, stranger, files["tcx"]["data"])
        assert theirs.status_code == 202
        assert theirs.json()["upload_id"] != uploads["tcx"]
        assert_refusals(client, settings, files, uploader)


def assert_refusals(client: httpx.Client, settings: FitStreamSettings,
                    files: dict[str, dict], uploader: dict[str, str]) -> None:
    points = files["fit"]["points"]
    north = [TrackPoint(p.time_ms, 91.0 if i == 5 else p.lat, p.lon) for i, p in
             enumerate(points)]
    # The clock now, not at import: this module runs minutes after it is imported.
    ahead = track_points(int(time.time() * 1000) + 10 * MINUTE, 20)
    old = track_points(NOW - 5 * 24 * HOUR, 20)  # the uploader's newest is hours old
    cases = [
        (fit_file(points)[:-30], 422, "corrupt_file"),
        (b"name,time\nrun,12:00\n", 415, "unsupported_format"),
        (b"<kml><Document/></kml>", 415, "unsupported_format"),
        (bytes(LIMITS.max_bytes + 1), 413, "payload_too_large"),
        (gzip_bomb(5 * 1024 * 1024), 413, "file_too_large"),
        (gpx_file(north), 422, "invalid_track"),
        (gpx_file(ahead), 422, "invalid_track"),
        (gpx_file(points).replace(b"<time>", b"<name>").replace(b"</time>", b"</name>"),
         422, "invalid_track"),
        (tcx_file(old), 422, "too_late"),
        # A zone offset no clock has (datetime refuses it only when the time is used).
        (gpx_file(points).replace(b"Z</time>", b"+99:00</time>", 1), 422, "corrupt_file"),
    ]
    before = end_offsets(settings)
    answers = []
    for data, _, _ in cases:
        answer = upload(client, uploader, data)
        body = answer.json()
        answers.append((answer.status_code, body["error"]))
        assert set(body) == {"error", "message", "code", "details"}
    assert answers == [(status, error) for _, status, error in cases]
    nobody = upload(client, {}, files["gpx"]["data"])
    assert (nobody.status_code, nobody.json()["error"]) == (401, "unauthorized")
    # The token is checked before the body is read: a body the form parser refuses
    # (no boundary) gets a stranger 401, not the parser's 400.
    unparsed = client.post("/api/v1/uploads", content=b"x",
                           headers={"Content-Type": "multipart/form-data"})
    assert (unparsed.status_code, unparsed.json()["message"]) == (
        401, "a device or user bearer token is required")
    # An expired user token is told what is wrong with it, not what a device token lacks.
    expired = issue_user_token(settings.api.token_secret.get_secret_value(), UPLOADER, 60,
                               now=time.time() - 3600)
    answer = upload(client, {"Authorization": f"Bearer {expired}"}, files["gpx"]["data"])
    assert (answer.status_code, answer.json()["message"]) == (
        401, "invalid device or user token: Signature has expired")
    assert end_offsets(settings) == before
