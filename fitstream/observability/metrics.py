"""Prometheus metrics, defined once. Each process exposes the ones it moves on /metrics.

Names follow Prometheus's conventions: a ``fitstream_`` prefix, base units as the last
word (``_seconds``, ``_records``, ``_rows``), ``_total`` on counters. The Grafana
dashboard (deploy/grafana/dashboards/) queries these names; tests/unit/test_compose.py
fails if it queries one that is not defined here.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable

from prometheus_client import Counter, Gauge, Histogram

EVENTS_INGESTED = Counter(
    "fitstream_events_ingested_total", "Events accepted over HTTP and acknowledged by Kafka",
    ["type"])
INGEST_REJECTED = Counter(
    "fitstream_ingest_rejected_total", "Ingest requests refused", ["status"])
EVENTS_PROCESSED = Counter(
    "fitstream_events_processed_total", "Records the workout-session processor consumed")
SAMPLES_PROCESSED = Counter(
    "fitstream_samples_processed_total", "Telemetry samples inside processed records")
EVENTS_DUPLICATE = Counter(
    "fitstream_events_duplicate_total", "Records ignored as duplicates by event_id")
EVENTS_DEAD_LETTERED = Counter(
    "fitstream_events_dead_lettered_total", "Records sent to the dead-letter topic", ["reason"])
CONSUMER_LAG = Gauge(
    "fitstream_consumer_lag_records",
    "Records between a group's position and the end of a partition",
    ["group", "topic", "partition"])


def forget_consumer_lag(group: str, partitions: Iterable[tuple[str, int]]) -> None:
    """Drop the lag series of (topic, partition)s this process no longer reads (revoked
    in a rebalance): their new owner reports them, and a last value left here would be
    counted twice by a sum over the group, and never fall."""
    for topic, partition in partitions:
        with contextlib.suppress(KeyError):  # never reported here
            CONSUMER_LAG.remove(group, topic, str(partition))


SINK_BATCH_ROWS = Histogram(
    "fitstream_sink_batch_rows", "Rows per sink batch", ["sink"],
    buckets=(1, 10, 100, 500, 1000, 5000, 10000, 50000))
SINK_BATCH_SECONDS = Histogram(
    "fitstream_sink_batch_seconds", "Time to write one sink batch", ["sink"],
    buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5))
SINK_REJECTED = Counter(
    "fitstream_sink_rejected_total", "Records a sink could not decode", ["sink"])
NOTIFICATION_DELIVERIES = Counter(
    "fitstream_notification_deliveries_total",
    "Delivery outcomes per external channel (sent, dead_lettered, unreachable)",
    ["channel", "status"])
NOTIFICATION_SEND_FAILURES = Counter(
    "fitstream_notification_send_failures_total", "Failed send attempts per channel",
    ["channel"])

# The API's requests (api/http_metrics.py). ``route`` is the route's template
# (/api/v1/workouts/{workout_id}), never the path a client sent: ids in paths would make
# a series per id. Paths no route matched share one label.
HTTP_REQUESTS = Counter(
    "fitstream_http_requests_total", "HTTP requests answered, by route template",
    ["method", "route", "status"])
HTTP_REQUEST_SECONDS = Histogram(
    "fitstream_http_request_duration_seconds",
    "From a request's arrival to the end of its response body, by route template",
    ["method", "route", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
RATE_LIMITED = Counter(
    "fitstream_rate_limited_total",
    "Requests refused with 429, by the limit that refused them (device, user, failed_auth, "
    "anonymous)",
    ["limit"])
RATE_LIMIT_ERRORS = Counter(
    "fitstream_rate_limit_errors_total",
    "Rate-limit storage (Redis) errors; each serves requests unlimited for storage_retry_s")

# The scorer (streams/scoring/scorer.py).
SCORING_ROWS = Counter("fitstream_scoring_rows_total",
                       "Feature rows the scorer consumed, by outcome",
                       ["outcome"])
PREDICTIONS = Counter("fitstream_predictions_total", "Predictions produced",
                      ["model", "version"])
SCORING_DEAD_LETTERS = Counter("fitstream_scoring_dead_letters_total",
                               "Rows dead-lettered by the scorer, by reason (model apart)",
                               ["reason", "model"])
SCORING_LATENCY = Histogram(
    "fitstream_scoring_latency_seconds",
    "From a feature row's record time to its predictions handed to the broker",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
