"""Every role serves Prometheus's /metrics (issue 14, item 5): each `fitstream <role>`
started for real against the session broker answers on the port its settings give it,
with samples it produced itself from one uploaded workout (a labelled series or a count
above zero: a metric's HELP line alone is in every process that imports metrics.py);
the consumers report their lag once their partitions are assigned, and the API counts
real requests per route template (never the raw path)."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest

from cli.dev.local_stack import LocalStack, wait_for_api
from fitstream.api_client import api_url
from fitstream.observability.metrics_server import role_metrics_port
from fitstream.settings import FitStreamSettings
from fitstream.tokens import TokenKeys, issue_device_token
from tests.activity_fixtures import gpx_file, track_points
from tests.conftest import isolated
from tests.harness import wait_until

pytestmark = pytest.mark.e2e

# role -> (the `fitstream` command, the metrics it moves)
ROLES = {
    "processor": (["process"], ["fitstream_events_processed_total",
                                "fitstream_samples_processed_total",
                                "fitstream_events_duplicate_total",
                                "fitstream_events_dead_lettered_total"]),
    "sink": (["sink"], ["fitstream_sink_batch_rows", "fitstream_sink_batch_seconds",
                        "fitstream_sink_rejected_total", "fitstream_consumer_lag_records"]),
    "lakehouse": (["lakehouse"], ["fitstream_sink_batch_rows", "fitstream_sink_batch_seconds",
                                  "fitstream_consumer_lag_records"]),
    "delivery": (["deliver"], ["fitstream_notification_deliveries_total",
                               "fitstream_notification_send_failures_total"]),
    "score": (["score"], ["fitstream_scoring_rows_total", "fitstream_predictions_total",
                          "fitstream_scoring_dead_letters_total",
                          "fitstream_consumer_lag_records"]),
    "api": (["serve", "--no-reads", "--no-sink"], [
        "fitstream_http_requests_total", "fitstream_http_request_duration_seconds",
        "fitstream_events_ingested_total", "fitstream_ingest_rejected_total",
        "fitstream_rate_limited_total"]),
}


# role -> samples only that role produces from the uploaded workout (regular expressions
# over its /metrics lines; "[1-9]" = a value above zero).
ABOVE_ZERO = r" [1-9][0-9]*(\.[0-9]+)?(e\+[0-9]+)?$"
PRODUCED = {
    "api": [r'fitstream_http_requests_total\{method="POST",route="/api/v1/uploads",'
            r'status="202"\}' + ABOVE_ZERO,
            # The upload's events are counted as ingested, one WorkoutCompleted.
            r'fitstream_events_ingested_total\{type="WorkoutCompleted"\} 1\.0$'],
    "processor": [r"fitstream_events_processed_total" + ABOVE_ZERO,
                  r"fitstream_samples_processed_total" + ABOVE_ZERO],
    "sink": [r'fitstream_sink_batch_rows_count\{sink="[^"]+"\}' + ABOVE_ZERO,
             r'fitstream_consumer_lag_records\{group="[^"]+",'],
    "lakehouse": [r'fitstream_consumer_lag_records\{group="[^"]+",'],
    "delivery": [r"fitstream_notification_deliveries_total\{"],
    "score": [r'fitstream_consumer_lag_records\{group="[^"]+",'],
}


def metrics_url(settings: FitStreamSettings, role: str) -> str:
    if role == "api":
        return f"{api_url(settings)}/metrics"
    if role == "processor":
        return f"http://127.0.0.1:{settings.processor.web_port}/metrics"
    return f"http://{settings.metrics.host}:{role_metrics_port(settings, role)}/metrics"


def scrape(url: str) -> str | None:
    try:
        response = httpx.get(url, timeout=5)
    except httpx.HTTPError:
        return None
    return response.text if response.status_code == 200 else None


@pytest.fixture(scope="module")
def roles(broker, tmp_path_factory) -> Iterator[tuple[FitStreamSettings, LocalStack]]:
    """Every role at once (they start in parallel: most of their time is imports)."""
    settings = isolated(broker, tmp_path_factory.mktemp("role-metrics"), "role-metrics")
    stack = LocalStack()
    try:
        for role, (command, _) in ROLES.items():
            stack.start(settings, role, *command)
        wait_for_api(settings, stack)
        # One workout through every role: an uploaded GPX file (the upload counts its
        # events as ingested), processed, written by the sinks, scored, notified.
        token = issue_device_token(TokenKeys.from_settings(settings.api),
                                   f"user-{uuid.uuid4().hex[:8]}", "watch-1", 3600)
        now_ms = int(time.time()) * 1000
        sent = httpx.post(f"{api_url(settings)}/api/v1/uploads",
                          headers={"Authorization": f"Bearer {token}"}, timeout=30,
                          files={"file": ("run.gpx", gpx_file(track_points(
                              now_ms - 3_600_000, 40)), "application/octet-stream")})
        assert sent.status_code == 202, sent.text
        yield settings, stack
    finally:
        stack.stop()


@pytest.mark.parametrize("role", sorted(ROLES))
def test_the_role_serves_its_metrics(roles, role):
    settings, stack = roles
    url = metrics_url(settings, role)
    texts: list[str] = []

    def answered() -> bool:
        text = scrape(url)
        if text is not None:
            texts.append(text)
        return text is not None

    wait_until(answered, f"{role}'s /metrics at {url}", alive=stack.check, stall_s=180)
    for name in ROLES[role][1]:
        assert f"# HELP {name} " in texts[-1], f"{role}: no {name}"
    patterns = [re.compile(f"^{pattern}", re.MULTILINE) for pattern in PRODUCED[role]]

    def produced() -> bool:
        text = scrape(url) or ""
        texts.append(text)
        return all(pattern.search(text) for pattern in patterns)

    try:
        wait_until(produced, f"{role}'s own samples", alive=stack.check, stall_s=90)
    except AssertionError as exc:
        lines = [x for x in texts[-1].splitlines()
                 if x.startswith("fitstream_") and not x.endswith(" 0.0")]
        missing = [p.pattern for p in patterns if not p.search(texts[-1])]
        raise AssertionError(f"{exc}; missing {missing}; its samples: {lines[:30]}") from None


@pytest.mark.parametrize(("role", "group"), [
    ("sink", lambda s: s.sink.group_id), ("lakehouse", lambda s: s.lakehouse.group_id),
    ("score", lambda s: s.models.score_group_id)])
def test_a_consumer_role_reports_its_lag_once_assigned(roles, role, group):
    settings, stack = roles
    series = re.compile(r'^fitstream_consumer_lag_records\{[^}]*group="'
                        + re.escape(group(settings)) + r'[^"]*"[^}]*\} \d+\.\d+$', re.MULTILINE)
    seen: list[str] = [""]

    def reported() -> bool:
        seen[0] = scrape(metrics_url(settings, role)) or ""
        return series.search(seen[0]) is not None

    try:
        wait_until(reported, f"{role}'s lag series", alive=stack.check, stall_s=60)
    except AssertionError as exc:
        lines = [x for x in seen[0].splitlines() if "consumer_lag" in x]
        raise AssertionError(f"{exc}; its lag lines: {lines[:5]}") from None


def test_the_api_counts_requests_per_route_template_never_the_raw_path(roles):
    settings, _ = roles
    url = api_url(settings)
    token = issue_device_token(TokenKeys.from_settings(settings.api),
                               f"user-{uuid.uuid4().hex[:8]}", "watch-1", 3600)
    ingest_400 = ('fitstream_http_requests_total{method="POST",'
                  'route="/api/v1/ingest/events",status="400"}')

    def count(text: str, series: str) -> float:
        found = re.search(rf"^{re.escape(series)} (\S+)$", text, re.MULTILINE)
        return float(found.group(1)) if found else 0.0

    before = httpx.get(f"{url}/metrics").text
    for _ in range(2):  # authenticated, then refused: the batch is empty
        assert httpx.post(f"{url}/api/v1/ingest/events", json={"events": []},
                          headers={"Authorization": f"Bearer {token}"}).status_code == 400
    hostile = f"/api/v1/workouts/{uuid.uuid4().hex}/nothing-here"
    assert httpx.get(f"{url}{hostile}").status_code == 404
    after = httpx.get(f"{url}/metrics").text
    assert count(after, ingest_400) == count(before, ingest_400) + 2
    latency = ingest_400.replace("requests_total", "request_duration_seconds_count")
    assert count(after, latency) == count(before, latency) + 2
    unmatched = 'fitstream_http_requests_total{method="GET",route="unmatched",status="404"}'
    assert count(after, unmatched) == count(before, unmatched) + 1
    assert hostile not in after and "nothing-here" not in after
