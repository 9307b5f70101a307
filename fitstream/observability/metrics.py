"""Prometheus metrics, defined once. Each process exposes the ones it moves on /metrics."""

from __future__ import annotations

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
    "fitstream_consumer_lag", "Records between a group's position and the end of a partition",
    ["group", "topic", "partition"])
SINK_BATCH_ROWS = Histogram(
    "fitstream_sink_batch_rows", "Rows per sink batch", ["sink"],
    buckets=(1, 10, 100, 500, 1000, 5000, 10000, 50000))
SINK_BATCH_SECONDS = Histogram(
    "fitstream_sink_batch_seconds", "Time to write one sink batch", ["sink"],
    buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5))
SINK_REJECTED = Counter(
    "fitstream_sink_rejected_total", "Records a sink could not decode", ["sink"])
NOTIFICATIONS_DELIVERED = Counter(
    "fitstream_notifications_delivered_total",
    "Delivery outcomes per external channel (sent, dead_lettered, unreachable)",
    ["channel", "status"])
NOTIFICATION_SEND_FAILURES = Counter(
    "fitstream_notification_send_failures_total", "Failed send attempts per channel",
    ["channel"])
