"""W3C trace context on Kafka headers (fitstream/observability/tracing.py): what is carried,
what is refused, and what a processor batch gives its derived records, on and off."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from fitstream.observability import tracing

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = f"00-{TRACE}-00f067aa0ba902b7-01"


@pytest.fixture
def spans():
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.use_provider(provider)
    yield exporter
    tracing.use_provider(None)


def test_a_valid_traceparent_and_tracestate_are_all_that_is_carried():
    headers = [("x-device-secret", b"s3cret"), ("traceparent", PARENT.encode()),
               ("tracestate", b"vendor=abc,other@sys=1"), ("content-type", b"x")]
    assert tracing.trace_headers(headers) == [
        ("traceparent", PARENT.encode()), ("tracestate", b"vendor=abc,other@sys=1")]
    # HTTP (ASGI) headers: bytes names.
    assert tracing.trace_headers([(b"traceparent", PARENT.encode())]) == [
        ("traceparent", PARENT.encode())]


@pytest.mark.parametrize("value", [
    "", "garbage", PARENT.upper(), PARENT + "-extra",  # version 00 takes no more fields
    f"ff-{TRACE}-00f067aa0ba902b7-01",  # version ff is forbidden
    f"00-{'0' * 32}-00f067aa0ba902b7-01", f"00-{TRACE}-{'0' * 16}-01",  # zero ids
    f"00-{TRACE}-00f067aa0ba902b7", f"00-{TRACE[:-1]}-00f067aa0ba902b7-01",
    f"01-{TRACE}-00f067aa0ba902b7-01-" + "x" * 200,  # over the cap
])
def test_a_malformed_traceparent_is_ignored(value):
    assert tracing.trace_headers([("traceparent", value.encode())]) == []


def test_a_later_version_with_more_fields_is_carried():
    value = f"01-{TRACE}-00f067aa0ba902b7-01-what-comes-next".encode()
    assert tracing.trace_headers([("traceparent", value)]) == [("traceparent", value)]


def test_two_traceparents_are_malformed():
    other = f"00-{'1' * 32}-00f067aa0ba902b7-01".encode()
    assert tracing.trace_headers([("traceparent", PARENT.encode()),
                                  ("traceparent", other)]) == []


@pytest.mark.parametrize("state", [b"a" * 600, b"=novalue", b"UPPER=1", b"k=v\n", b",".join(
    [b"k%d=v" % i for i in range(33)])])
def test_a_bad_or_oversized_tracestate_is_dropped_and_the_traceparent_kept(state):
    assert tracing.trace_headers([("traceparent", PARENT.encode()), ("tracestate", state)]) \
        == [("traceparent", PARENT.encode())]


@given(st.lists(st.tuples(st.sampled_from(["traceparent", "tracestate", "x"]),
                          st.binary(max_size=300)), max_size=4))
def test_hostile_headers_never_raise_and_only_valid_ones_pass(headers):
    carried = tracing.trace_headers(headers)
    assert [name for name, _ in carried] in ([], ["traceparent"],
                                             ["traceparent", "tracestate"])
    for name, value in carried:
        assert len(value) <= (tracing.MAX_TRACEPARENT_BYTES if name == "traceparent"
                              else tracing.MAX_TRACESTATE_BYTES)
        assert (name, value) in headers
        if name == "traceparent":
            assert tracing.context_of(carried) is not None


def test_off_a_batch_copies_each_input_record_trace_to_what_it_derives():
    traces = tracing.BatchTraces()
    traces.consumed((), "events", 0, 1, "u-1", "w-1")  # no trace: costs nothing
    traces.consumed((("traceparent", PARENT.encode()), ("junk", b"x")), "events", 0, 2, "u-2",
                    "w-2")
    traces.consumed((("traceparent", b"00-bad"),), "events", 0, 3, "u-3", "w-3")
    carried = [("traceparent", PARENT.encode())]
    assert traces.headers_for({"user_id": "u-2", "workout_id": "w-2"}) == carried
    # A derived record of the user without a workout (a leaderboard row): the user's.
    assert traces.headers_for({"user_id": "u-2"}) == carried
    assert traces.headers_for({"user_id": "u-1", "workout_id": "w-1"}) is None
    assert traces.headers_for({"user_id": "u-3"}) is None
    traces.end()
    assert not tracing.enabled()


def test_on_each_input_record_gets_a_span_in_its_trace_and_derived_records_point_at_it(spans):
    traces = tracing.BatchTraces()
    traces.consumed((("traceparent", PARENT.encode()),), "events", 3, 9, "u-2", "w-2")
    traces.consumed((("traceparent", b"nonsense"),), "events", 3, 10, "u-4", "w-4")
    derived = traces.headers_for({"user_id": "u-2", "workout_id": "w-2"})
    traces.end()
    first, second = spans.get_finished_spans()
    assert first.kind == SpanKind.CONSUMER and first.name == "process events"
    assert f"{first.context.trace_id:032x}" == TRACE
    assert f"{first.parent.span_id:016x}" == "00f067aa0ba902b7"
    assert first.attributes["messaging.kafka.offset"] == 9
    assert derived == [("traceparent",
                        f"00-{TRACE}-{first.context.span_id:016x}-01".encode())]
    # The malformed one started a trace of its own.
    assert second.parent is None and f"{second.context.trace_id:032x}" != TRACE


def test_headers_of_round_trips_through_the_kafka_getter_and_setter(spans):
    with tracing.tracer().start_as_current_span("send") as span:
        headers = tracing.headers_of()
    context = tracing.context_of(tracing.trace_headers(headers))
    assert tracing.trace_id_of(context) == f"{span.get_span_context().trace_id:032x}"
    assert tracing.headers_of(None) == []  # no current span here


def test_settings_choose_the_exporter(capsys):
    from fitstream.settings import TracingSettings

    try:
        tracing.configure(TracingSettings(exporter="console", service_name="fs"), "processor")
        with tracing.tracer().start_as_current_span("one"):
            pass
        tracing.flush()
        line = capsys.readouterr().out.strip().splitlines()[-1]
        assert '"name": "one"' in line and '"service.name": "fs-processor"' in line
        tracing.configure(TracingSettings(exporter="otlp", endpoint="http://127.0.0.1:9/v1/traces"),
                          "api")
        assert tracing.enabled()
        tracing.configure(TracingSettings(), "api")  # none: the embedded default
        assert not tracing.enabled()
    finally:
        tracing.use_provider(None)


class Record:
    """A consumed Kafka record as confluent-kafka gives it (headers, topic, position)."""

    def __init__(self, offset: int, traceparent: bytes | None) -> None:
        self._offset = offset
        self._headers = [("traceparent", traceparent)] if traceparent else None

    def headers(self):
        return self._headers

    def topic(self):
        return "summaries"

    def partition(self):
        return 0

    def offset(self):
        return self._offset


def traced_batch(records: int) -> tuple[list[Record], set[tuple[int, int]]]:
    batch, contexts = [], set()
    for offset in range(records):
        trace_id, span_id = 0x1000 + offset, 0x2000 + offset
        contexts.add((trace_id, span_id))
        batch.append(Record(offset, f"00-{trace_id:032x}-{span_id:016x}-01".encode()))
    return batch, contexts


def linked(exported) -> list[tuple[int, int]]:
    return [(link.context.trace_id, link.context.span_id)
            for span in exported for link in span.links]


@pytest.mark.parametrize("sink_links", [False, True])
def test_every_record_of_a_large_sink_batch_is_linked_once(spans, sink_links):
    """The SDK keeps at most 128 links a span: a 300-record batch's links are split over
    the batch span and child spans, none dropped, a context linked once."""
    batch, contexts = traced_batch(300)
    # A context twice (two records from one processor span), and a record without one.
    batch += [Record(300, batch[7].headers()[0][1]), Record(301, None)]
    with tracing.sink_batch_span("workout-summary", batch, link_records=not sink_links):
        if sink_links:
            assert tracing.recording()
            for message in batch:
                tracing.link_record(message, {"fitstream.view.row": f"row-{message.offset()}"})
    exported = spans.get_finished_spans()
    assert sorted(linked(exported)) == sorted(contexts)
    write = next(s for s in exported if s.name == "write workout-summary")
    assert write.parent is None and len(write.links) == tracing.LINKS_PER_SPAN
    parts = [s for s in exported if s.name == "link workout-summary"]
    assert [len(s.links) for s in parts] == [128, 44]
    assert {s.parent.span_id for s in parts} == {write.context.span_id}
    assert {s.context.trace_id for s in parts} == {write.context.trace_id}
    if sink_links:
        first = next(link for link in write.links if link.context.span_id == 0x2000 + 7)
        assert first.attributes["fitstream.view.row"] == "row-7"  # the first record's


def sampled_requests(role: str, ratio: float, traceparent: str, requests: int) -> int:
    """How many of ``requests`` requests carrying ``traceparent`` the role's sampler
    traces (through the API's own request span)."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider(sampler=tracing.sampler_for(role, ratio))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.use_provider(provider)
    try:
        for _ in range(requests):
            with tracing.request_span([(b"traceparent", traceparent.encode())], "POST"):
                pass
        return len(exporter.get_finished_spans())
    finally:
        tracing.use_provider(None)


# A client's sampled flag, on the lowest trace id (a trace-id ratio sampler keeps it).
FORCED = f"00-{'0' * 31}1-00f067aa0ba902b7-01"


def test_a_client_cannot_force_the_api_to_trace_its_requests():
    assert sampled_requests("api", 0.0, FORCED, 50) == 0
    kept = sampled_requests("api", 0.25, FORCED, 2000)
    assert 400 <= kept <= 600  # a quarter, drawn: not all of them
    assert sampled_requests("api", 1.0, FORCED.replace("-01", "-00"), 20) == 20


def test_internal_roles_follow_their_parents_decision():
    # The records' sampled flag is the API's decision: the processor and sinks keep it.
    assert sampled_requests("processor", 0.0, FORCED, 5) == 5
    assert sampled_requests("sink", 1.0, FORCED.replace("-01", "-00"), 5) == 0


def test_a_request_span_names_its_route_not_the_path_and_a_5xx_is_an_error(spans):
    """No ids in request spans (the path holds them): the route template instead; a 5xx
    response marks the span as an error, a 4xx does not."""
    from fastapi import FastAPI
    from fastapi.testclient import TestClient
    from opentelemetry.trace import StatusCode

    from api.app import TraceIdMiddleware

    app = FastAPI()

    @app.get("/users/{user_id}/workouts/{workout_id}")
    def workout(user_id: str, workout_id: str, status: int = 200):
        from fastapi.responses import JSONResponse
        return JSONResponse({}, status_code=status)

    app.add_middleware(TraceIdMiddleware)
    client = TestClient(app)
    assert client.get("/users/u-secret/workouts/w-secret").status_code == 200
    assert client.get("/users/u-secret/workouts/w-secret?status=503").status_code == 503
    assert client.get("/users/u-secret/workouts/w-secret?status=404").status_code == 404
    ok, failed, missing = spans.get_finished_spans()
    for span in (ok, failed, missing):
        assert span.name == "GET /users/{user_id}/workouts/{workout_id}"
        assert span.attributes["http.route"] == "/users/{user_id}/workouts/{workout_id}"
        assert not any("secret" in str(v) for v in span.attributes.values())
    assert ok.status.status_code == StatusCode.UNSET
    assert failed.status.status_code == StatusCode.ERROR
    assert failed.attributes["http.response.status_code"] == 503
    assert missing.status.status_code == StatusCode.UNSET


def test_a_processor_span_holds_no_user_or_workout_id(spans):
    traces = tracing.BatchTraces()
    traces.consumed((("traceparent", PARENT.encode()),), "events", 3, 9, "u-secret", "w-secret")
    traces.end()
    (span,) = spans.get_finished_spans()
    assert not any("secret" in str(v) for v in span.attributes.values())


def test_a_failed_batchs_spans_are_ended_and_marked_as_errors(spans):
    from opentelemetry.trace import StatusCode

    with pytest.raises(RuntimeError), tracing.BatchTraces() as traces:
        traces.consumed((("traceparent", PARENT.encode()),), "events", 3, 9, "u-2", "w-2")
        raise RuntimeError("the broker went away")
    (span,) = spans.get_finished_spans()
    assert span.status.status_code == StatusCode.ERROR
    assert span.status.description == "RuntimeError: the broker went away"


def test_compose_sends_every_roles_spans_to_its_collector():
    """Production wiring (docker-compose.yml cannot run here): a pinned, unpublished
    collector with an OTLP/HTTP receiver where the roles send, keeping spans 7 days at
    most; every FitStream role exports to it."""
    import yaml

    from fitstream.settings import REPO_ROOT, TracingSettings

    services = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())["services"]
    collector = services["otel-collector"]
    image, _, tag = collector["image"].rpartition(":")
    assert image == "otel/opentelemetry-collector-contrib" and re.fullmatch(r"0\.\d+\.\d+", tag)
    assert "ports" not in collector
    (source, target) = next(v.split(":")[:2] for v in collector["volumes"]
                            if v.startswith("./deploy/"))
    assert collector["command"] == [f"--config={target}"]
    config = yaml.safe_load((REPO_ROOT / source).read_text())
    assert config["receivers"]["otlp"]["protocols"]["http"]["endpoint"] == "0.0.0.0:4318"
    pipeline = config["service"]["pipelines"]["traces"]
    assert pipeline["receivers"] == ["otlp"] and pipeline["exporters"] == ["file"]
    assert config["exporters"]["file"]["rotation"]["max_days"] <= 7
    trace_dir = config["exporters"]["file"]["path"].rpartition("/")[0]
    assert f"otel-traces:{trace_dir}" in collector["volumes"]
    owner = services[next(iter(collector["depends_on"]))]
    assert owner["command"] == ["chown", "10001:10001", trace_dir]

    roles = {name: s for name, s in services.items() if s.get("build") == "."}
    assert {"processor", "sink", "api", "lakehouse", "score", "delivery"} <= set(roles)
    for name, service in roles.items():
        environment = service.get("environment") or {}
        settings = TracingSettings(exporter=environment.get("FITSTREAM_TRACING__EXPORTER"),
                                   endpoint=environment.get("FITSTREAM_TRACING__ENDPOINT"))
        assert settings.exporter == "otlp", name
        assert settings.endpoint == "http://otel-collector:4318/v1/traces", name


def test_a_replaced_provider_is_shut_down():
    """No export thread outlives the provider it served (configure() again, a test's)."""
    from opentelemetry.sdk.trace import SpanProcessor

    class Shutdowns(SpanProcessor):
        def __init__(self) -> None:
            self.calls = 0

        def shutdown(self) -> None:
            self.calls += 1

    first, second = TracerProvider(), TracerProvider()
    first_calls, second_calls = Shutdowns(), Shutdowns()
    first.add_span_processor(first_calls)
    second.add_span_processor(second_calls)
    try:
        tracing.use_provider(first)
        tracing.use_provider(first)  # the same one again: kept
        assert first_calls.calls == 0
        tracing.use_provider(second)
        assert (first_calls.calls, second_calls.calls) == (1, 0)
    finally:
        tracing.use_provider(None)
    assert second_calls.calls == 1


def test_a_sink_batch_with_a_sampled_record_is_kept_whatever_the_ratio():
    """A sink batch span is a root: at sample_ratio 0 it is still kept when a record of
    the batch is in a sampled trace (else its links are lost); unsampled records'
    traces were never kept, so they are not linked, and alone they make no span."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider(sampler=tracing.sampler_for("sink", 0.0))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.use_provider(provider)
    try:
        sampled, _ = traced_batch(2)
        unsampled = [Record(9, f"00-{TRACE}-00f067aa0ba902b7-00".encode()), Record(10, None)]
        with tracing.sink_batch_span("workout-summary", unsampled, link_records=True):
            pass
        assert exporter.get_finished_spans() == ()
        with tracing.sink_batch_span("workout-summary", sampled + unsampled, link_records=True):
            pass
        (write,) = exporter.get_finished_spans()
        assert sorted(link.context.span_id for link in write.links) == [0x2000, 0x2001]
    finally:
        tracing.use_provider(None)
