"""One device event followed by its W3C trace from the ingest request to the view row it
changed (issue 14, item 5), against the session broker.

The API (ingest) and the ClickHouse summary sink run in this process, with an in-memory
span exporter; the processor is the real role (a Faust worker, a child process) with the
console exporter, whose one-line JSON spans are read back from its log. The chain:
ingest's SERVER span (parent: the request's traceparent) → its PRODUCER span → the
event's record header → the processor's CONSUMER span (same trace, child of the producer
span) → the summary record's header → the sink's batch span, linked to it, naming the
view row. A malformed traceparent starts a trace of its own.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from cli.dev.local_stack import LocalStack
from fitstream.observability import tracing
from fitstream.settings import TracingSettings
from sinks.clickhouse.topic_sink import ClickHouseTopicSink, view_runner
from stores.clickhouse.store import open_store
from stores.clickhouse.tables import apply_ddl, view_tables
from tests.conftest import isolated
from tests.harness import wait_until
from tests.integration.test_ingest import STARTED, UPDATED, auth, client_for
from tests.integration.test_pipeline_e2e import read_topic

pytestmark = pytest.mark.e2e

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"
COMPLETED = {
    "event_id": "7d7c0c62-3a55-4a43-9c8e-5b1f7f0a0003", "type": "WorkoutCompleted",
    "occurred_at": STARTED["occurred_at"] + 600_000, "user_id": "user-7", "workout_id": "w-7",
    "device_id": "watch-7", "seq": 2, "end_time": STARTED["occurred_at"] + 600_000,
    "duration_sec": 600, "distance_meters": 2000.0, "calories_burned": 80.0,
    "route_coordinates": [],
}


def other_user(event: dict) -> dict:
    return {**event, "event_id": event["event_id"][:-4] + "9" + event["event_id"][-3:],
            "user_id": "user-8", "workout_id": "w-8", "device_id": "watch-8"}


def console_spans(log_text: str) -> list[dict[str, Any]]:
    """The spans a role's console exporter wrote (one JSON object a line)."""
    spans = []
    for line in log_text.splitlines():
        if line.startswith('{"name"'):
            span = json.loads(line)
            if "context" in span:
                spans.append(span)
    return spans


def hex_id(value: str) -> str:
    return value.removeprefix("0x")


def traceparent_of(message: Any) -> str:
    return dict(message.headers() or [])["traceparent"].decode()


@pytest.fixture
def exporter():
    spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    tracing.use_provider(provider)
    yield spans
    tracing.use_provider(None)


def test_an_event_is_followed_from_its_request_to_the_view_row_it_changed(
        broker, tmp_path, monkeypatch, exporter):
    settings = isolated(broker, tmp_path, "tracing")
    client, publisher, serde = client_for(settings)
    stack = LocalStack()
    store = open_store(settings)
    runner = sink_thread = None
    try:
        # -- ingest: the request's traceparent, and a malformed one ------------------
        sent = client.post("/api/v1/ingest/events", json={"events": [STARTED, UPDATED, COMPLETED]},
                           headers={**auth(settings), "traceparent": f"00-{TRACE}-{CALLER_SPAN}-01",
                                    "tracestate": "fitstream=t1"})
        assert sent.status_code == 202
        assert sent.headers["x-trace-id"] == TRACE
        malformed = client.post(
            "/api/v1/ingest/events", json={"events": [other_user(STARTED)]},
            headers={**auth(settings, "user-8", "watch-8"),
                     "traceparent": f"00-{TRACE}-{CALLER_SPAN}-01-injected",
                     "x-device-header": "never copied"})
        assert malformed.status_code == 202
        # Spans end children first: the producer span, then the request's.
        producer, server, producer_8, server_8 = exporter.get_finished_spans()
        assert (server.name, server.kind) == ("POST /api/v1/ingest/events", SpanKind.SERVER)
        assert f"{server.context.trace_id:032x}" == TRACE
        assert f"{server.parent.span_id:016x}" == CALLER_SPAN
        assert server.attributes["http.response.status_code"] == 202
        assert server.attributes["http.route"] == "/api/v1/ingest/events"
        assert "url.path" not in server.attributes  # paths hold ids
        assert (producer.name, producer.kind) == (f"send {settings.kafka.events_topic}",
                                                   SpanKind.PRODUCER)
        assert producer.parent.span_id == server.context.span_id
        assert producer.attributes["messaging.batch.message_count"] == 3
        # The malformed traceparent was ignored: a trace of its own, no parent.
        assert server_8.parent is None and f"{server_8.context.trace_id:032x}" != TRACE
        assert malformed.headers["x-trace-id"] == f"{server_8.context.trace_id:032x}"

        events = read_topic(settings, settings.kafka.events_topic)
        by_user = {m.key(): m for m in events}
        assert [traceparent_of(m) for m in events if m.key() == b"user-7"] == [
            f"00-{TRACE}-{producer.context.span_id:016x}-01"] * 3
        # Only the validated trace headers ride on a record, nothing else of the request.
        assert dict(by_user[b"user-7"].headers()) == {
            "traceparent": f"00-{TRACE}-{producer.context.span_id:016x}-01".encode(),
            "tracestate": b"fitstream=t1"}
        assert by_user[b"user-8"].headers() == [("traceparent", (
            f"00-{server_8.context.trace_id:032x}-{producer_8.context.span_id:016x}"
            f"-{producer_8.context.trace_flags:02x}").encode())]  # 03: sampled, random id

        # -- the processor (a child process, console exporter) -----------------------
        monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "100")  # export within 0.1 s
        processor = stack.start(settings.model_copy(update={
            "tracing": TracingSettings(exporter="console")}), "processor", "process")

        def processed() -> list[dict[str, Any]]:
            return [s for s in console_spans(processor.log_path.read_text(errors="replace"))
                    if hex_id(s["context"]["trace_id"]) == TRACE]

        wait_until(lambda: len(processed()) == 3, "the processor's spans of the 3 events",
                   progress=lambda: len(processed()), alive=stack.check, stall_s=90)
        process_spans = processed()
        assert {s["name"] for s in process_spans} == {f"process {settings.kafka.events_topic}"}
        assert {s["kind"] for s in process_spans} == {"SpanKind.CONSUMER"}
        assert {hex_id(s["parent_id"]) for s in process_spans} == {
            f"{producer.context.span_id:016x}"}
        assert sorted(s["attributes"]["messaging.kafka.offset"] for s in process_spans) == \
            sorted(m.offset() for m in events if m.key() == b"user-7")
        process_ids = {hex_id(s["context"]["span_id"]) for s in process_spans}

        # Every summary record of the workout carries the trace, from one of those spans.
        summaries = [m for m in read_topic(settings, settings.kafka.summaries_topic)
                     if m.key() == b"user-7"]
        assert summaries
        for message in summaries:
            version, trace_id, span_id, flags = traceparent_of(message).split("-")
            assert (version, trace_id, flags) == ("00", TRACE, "01")
            assert span_id in process_ids

        # -- the summary sink (in this process): linked to the record, naming the row --
        apply_ddl(store)
        view = next(v for v in view_tables(settings) if v.name == "workout-summary")
        runner = view_runner(settings, ClickHouseTopicSink(settings, store, serde, view))
        sink_thread = threading.Thread(target=runner.run, daemon=True)
        sink_thread.start()

        def sink_links() -> list[Any]:
            return [link for span in exporter.get_finished_spans()
                    if span.name == "write workout-summary" for link in span.links
                    if f"{link.context.trace_id:032x}" == TRACE]

        wait_until(lambda: len(sink_links()) >= 1, "the sink's linked batch span",
                   progress=lambda: runner.records_written, stall_s=60)
        write = next(s for s in exporter.get_finished_spans()
                     if s.name == "write workout-summary")
        assert write.kind == SpanKind.CONSUMER and write.parent is None
        for link in sink_links():
            assert f"{link.context.span_id:016x}" in process_ids
            assert link.attributes["fitstream.view.table"] == "workout_summary"
            assert link.attributes["fitstream.view.row"] == "user_id=user-7/workout_id=w-7"
            assert link.attributes["messaging.destination.name"] == \
                settings.kafka.summaries_topic
    finally:
        if runner is not None and sink_thread is not None:
            runner.stop()
            sink_thread.join(30)
        stack.stop()
        publisher.close()
        store.close()


def test_with_tracing_off_ingest_carries_the_requests_own_traceparent(broker, tmp_path):
    """No spans at all (the embedded default), yet the device's valid traceparent reaches
    its records unchanged, and the response and logs use its trace id."""
    assert not tracing.enabled()
    settings = isolated(broker, tmp_path, "tracing-off")
    client, publisher, _ = client_for(settings)
    try:
        parent = f"00-{TRACE}-{CALLER_SPAN}-01"
        sent = client.post("/api/v1/ingest/events", json={"events": [STARTED]},
                           headers={**auth(settings), "traceparent": parent,
                                    "tracestate": "a=1,Bad Key=1"})
        assert sent.status_code == 202
        assert sent.headers["x-trace-id"] == TRACE
        untraced = client.post("/api/v1/ingest/events", json={"events": [UPDATED]},
                               headers={**auth(settings), "x-trace-id": "client-42"})
        assert untraced.headers["x-trace-id"] == "client-42"  # as before traceparent
        started, updated = read_topic(settings, settings.kafka.events_topic)
        # The tracestate was malformed: dropped, the traceparent kept.
        assert started.headers() == [("traceparent", parent.encode())]
        assert updated.headers() is None
    finally:
        publisher.close()
