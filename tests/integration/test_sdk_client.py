"""The generated client SDK (clients/python) against a running API: real uvicorn
(``fitstream serve``: ingest, reads and the sinks), the real processor and broker.

The SDK drives the user's story: a device ingests a run with its token, its user
reads the run back (summary and list), finds the achievement notification the run
unlocked and marks it read; errors arrive as the SDK's ErrorBody; the deprecated alias
answers with its lifecycle headers, its owner check included. One check asks the
running API with raw httpx instead: that every operation the document secures answers
401 without a token, and no other does. The client is imported from clients/python (put on
sys.path below) rather than installed: the test then always drives the committed
client, never a stale installed copy, and `make test` needs no install step (its
runtime dependencies, httpx and attrs, are in the app venv).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import httpx
import pytest

from cli.dev.local_stack import LocalStack, wait_for_api
from fitstream.api_client import api_url
from fitstream.tokens import TokenKeys, issue_device_token, issue_user_token
from tests.conftest import isolated
from tests.harness import wait_until

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "clients" / "python"))

from fitstream_client import AuthenticatedClient
from fitstream_client.api.ingest import ingest_events
from fitstream_client.api.notifications import get_notifications, mark_read
from fitstream_client.api.workouts import (
    get_private_workout_summary,
    get_workout_summary_legacy,
    list_private_user_workouts,
)
from fitstream_client.models import (
    ErrorBody,
    Inbox,
    IngestAccepted,
    IngestBatch,
    WorkoutCompleted,
    WorkoutPage,
    WorkoutStarted,
    WorkoutStartedLocation,
    WorkoutSummary,
    WorkoutUpdated,
    WorkoutUpdatedTelemetrySample,
)

pytestmark = pytest.mark.e2e

USER = "sdk-user-1"
DEVICE = "sdk-watch-1"
WORKOUT = "sdk-run-0001"


@pytest.fixture(scope="module")
def api(broker, tmp_path_factory):
    settings = isolated(broker, tmp_path_factory.mktemp("sdk"), "sdk")
    stack = LocalStack()
    stack.start(settings, "processor", "process")
    stack.start(settings, "api", "serve")
    try:
        wait_for_api(settings, stack)
        keys = TokenKeys.from_settings(settings.api)
        yield (stack, api_url(settings), issue_device_token(keys, USER, DEVICE, 3600),
               issue_user_token(keys, USER, 3600), issue_user_token(keys, "sdk-user-2", 3600))
    finally:
        stack.stop()


def a_run(start_ms: int) -> IngestBatch:
    """A 2 km run in 12 minutes, as the SDK's types spell it."""
    ids = {"user_id": USER, "workout_id": WORKOUT, "device_id": DEVICE}
    samples = [WorkoutUpdatedTelemetrySample(offset_ms=i * 60_000, distance_meters=i * 1000.0,
                                             lat=52.52 + i * 0.005, lon=13.405, heart_rate=140,
                                             speed=2.78)
               for i in (1, 2)]
    return IngestBatch(events=[
        WorkoutStarted(event_id="sdk-e-0", type_="WorkoutStarted", occurred_at=start_ms,
                       seq=0, sport_type="running", start_time=start_ms,
                       location=WorkoutStartedLocation(latitude=52.52, longitude=13.405),
                       device_model="sdk-test", **ids),
        WorkoutUpdated(event_id="sdk-e-1", type_="WorkoutUpdated",
                       occurred_at=start_ms + 120_000, seq=1, current_distance_meters=2000.0,
                       heart_rate=140, samples=samples, **ids),
        WorkoutCompleted(event_id="sdk-e-2", type_="WorkoutCompleted",
                         occurred_at=start_ms + 720_000, seq=2, end_time=start_ms + 720_000,
                         duration_sec=720, distance_meters=2000.0, calories_burned=150.0, **ids),
    ])


def test_ingest_read_and_notifications_through_the_sdk(api):
    stack, url, device_token, user_token, other_token = api
    start_ms = (int(time.time()) - 3600) * 1000
    with AuthenticatedClient(base_url=url, token=device_token) as device:
        accepted = ingest_events.sync_detailed(client=device, body=a_run(start_ms))
    assert accepted.status_code == 202
    assert accepted.parsed == IngestAccepted(accepted=3)

    with AuthenticatedClient(base_url=url, token=user_token) as user:
        def completed() -> bool:
            summary = get_private_workout_summary.sync(WORKOUT, client=user)
            return isinstance(summary, WorkoutSummary) and summary.status == "completed"

        wait_until(completed, "the run's completed summary", alive=stack.check)
        summary = get_private_workout_summary.sync(WORKOUT, client=user)
        assert (summary.user_id, summary.device_id, summary.sport_type) == (
            USER, DEVICE, "running")
        assert summary.distance_meters == 2000.0
        assert summary.moving_duration_s == 720.0
        assert summary.calories_burned == 150.0
        assert summary.version == 2
        assert summary.start_time.timestamp() * 1000 == start_ms

        page = list_private_user_workouts.sync(USER, client=user)
        assert isinstance(page, WorkoutPage)
        assert [w.workout_id for w in page.items] == [WORKOUT]
        assert page.items[0] == summary

        def inbox() -> Inbox:
            answer = get_notifications.sync(USER, client=user)
            assert isinstance(answer, Inbox), answer
            return answer

        wait_until(lambda: any(n.kind == "achievement" for n in inbox().items),
                   "the first workout's achievement notification", alive=stack.check)
        first = next(n for n in inbox().items if n.kind == "achievement")
        assert (first.user_id, first.workout_id, first.read) == (USER, WORKOUT, False)
        read = mark_read.sync(USER, first.id, client=user)
        assert read.read is True
        assert read.read_at is not None
        assert next(n for n in inbox().items if n.id == first.id).read is True

        # The deprecated alias: the same summary, and its lifecycle in the headers.
        legacy = get_workout_summary_legacy.sync_detailed(WORKOUT, client=user)
        assert legacy.parsed == summary
        assert legacy.headers["Deprecation"] == "@1796083200"  # 2026-12-01T00:00:00Z
        assert legacy.headers["Sunset"] == "Tue, 01 Jun 2027 00:00:00 GMT"
        assert legacy.headers["Link"] == (
            f'</api/v1/workouts/{WORKOUT}/private>; rel="successor-version"')

    with AuthenticatedClient(base_url=url, token=other_token) as other:
        refused = get_private_workout_summary.sync_detailed(WORKOUT, client=other)
        # The alias keeps /private's owner check, and its refusal names its lifecycle.
        legacy_refused = get_workout_summary_legacy.sync_detailed(WORKOUT, client=other)
    forbidden = ErrorBody(error="forbidden", code=403,
                          message="only its owner may read this workout", details=None)
    assert (refused.status_code, refused.parsed) == (403, forbidden)
    assert (legacy_refused.status_code, legacy_refused.parsed) == (403, forbidden)
    assert legacy_refused.headers["Deprecation"] == "@1796083200"
    assert legacy_refused.headers["Link"] == (
        f'</api/v1/workouts/{WORKOUT}/private>; rel="successor-version"')


def test_every_route_that_asks_for_a_token_declares_its_scheme(api):
    """Asked without a token, exactly the operations that name a bearer scheme in the
    document (the SDK then sends the token) answer 401: judged on the running API, so a
    route that reads the token in its handler cannot hide from the document, and a
    declared scheme the route does not enforce shows too."""
    _, url, *_ = api
    document = httpx.get(f"{url}/openapi.json", timeout=10).json()
    values = {"user_id": USER, "workout_id": WORKOUT, "notification_id": "n:sdk-user-1:x",
              "metric": "distance"}
    answered = {}
    for path, item in document["paths"].items():
        for method, operation in item.items():
            concrete = path.format_map({**dict.fromkeys(
                [p["name"] for p in operation.get("parameters", []) if p["in"] == "path"],
                "sdk-x1"), **values})
            status = httpx.request(method, f"{url}{concrete}", timeout=10).status_code
            answered[f"{method.upper()} {path}"] = (status == 401, bool(operation.get("security")))
    assert len(answered) >= 20
    assert {label: said for label, said in answered.items() if said[0] != said[1]} == {}
