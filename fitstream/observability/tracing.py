"""OpenTelemetry traces with W3C ``traceparent``: from the ingest request into each Kafka
record's headers, through the processor to the records it derives, and to the sinks.

Lifecycle: a role calls :func:`configure` once at start (``cli/common.py``), from
``settings.tracing``: ``none`` (the embedded default) leaves no tracer, ``console``
prints each span as one JSON line on stdout, ``otlp`` exports over OTLP/HTTP. Tests
install their own provider with :func:`use_provider`. Everything else here reads that
module state at call time.

Cost with tracing off: no span is ever created (``enabled()`` is False), but a record's
validated ``traceparent`` (and ``tracestate``) is still copied to what is derived from
it, so turning tracing on in one role only (say, the sinks) still sees whole traces.
Records without trace headers cost one empty-tuple check each.

Headers are attacker-influenced (a device sets them on its HTTP request): only a
``traceparent`` that parses (and is not all zeros, and not version ``ff``) is carried,
with its ``tracestate`` only if both are within their caps and the latter is a list of
well-formed members; anything else is ignored, so a new trace starts. No other header of
a request or a record is ever copied.

Kafka headers are lists of ``(str, bytes)`` in both clients used here (confluent-kafka's
``Message.headers()`` and ``produce(headers=...)``; aiokafka's ``ConsumerRecord.headers``
and Faust's ``send(headers=...)``); HTTP headers in an ASGI scope are ``(bytes, bytes)``.
:func:`trace_headers` reads any of them; :data:`KAFKA_HEADERS` is the propagator's
getter and setter for the Kafka shape.
"""

from __future__ import annotations

import random
import re
import sys
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from contextvars import ContextVar
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.propagators.textmap import Getter, Setter
from opentelemetry.trace import Link, Span, SpanKind, Status, StatusCode, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from fitstream.settings import TracingSettings

TRACEPARENT = "traceparent"
TRACESTATE = "tracestate"
# Version 00 is 55 characters; a later version may append fields, within reason.
MAX_TRACEPARENT_BYTES = 128
# The W3C limit is 32 members; 512 bytes is what vendors are asked to keep at least.
MAX_TRACESTATE_BYTES = 512
MAX_TRACESTATE_MEMBERS = 32

_TRACEPARENT_RE = re.compile(
    rb"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-[\x21-\x7e]*)?")
_TRACESTATE_MEMBER_RE = re.compile(
    rb"[ \t]*(?:[a-z0-9][a-z0-9_\-*/]{0,255}|[a-z0-9][a-z0-9_\-*/]{0,240}@[a-z0-9][a-z0-9_\-*/]{0,13})"
    rb"=[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e][ \t]*")
_ZERO_TRACE = b"0" * 32
_ZERO_SPAN = b"0" * 16

_PROPAGATOR = TraceContextTextMapPropagator()
_tracer: Tracer | None = None
_provider: Any = None

Headers = Sequence[tuple[str, bytes]]
"""Kafka record headers as both clients give and take them."""


# -- validation --------------------------------------------------------------------


def valid_traceparent(value: bytes | str) -> bytes | None:
    """``value`` if it is a W3C traceparent we may carry, else None."""
    if isinstance(value, str):
        value = value.encode("latin-1", "replace")
    if len(value) > MAX_TRACEPARENT_BYTES:
        return None
    match = _TRACEPARENT_RE.fullmatch(value)
    if match is None:
        return None
    version, trace_id, span_id, _, rest = match.groups()
    if version == b"ff" or (version == b"00" and rest) or trace_id == _ZERO_TRACE \
            or span_id == _ZERO_SPAN:
        return None
    return value


def valid_tracestate(value: bytes | str) -> bytes | None:
    """``value`` if it is a well-formed tracestate within the caps, else None."""
    if isinstance(value, str):
        value = value.encode("latin-1", "replace")
    if not value or len(value) > MAX_TRACESTATE_BYTES:
        return None
    members = [m for m in value.split(b",") if m.strip(b" \t")]
    if not members or len(members) > MAX_TRACESTATE_MEMBERS or not all(
            _TRACESTATE_MEMBER_RE.fullmatch(m) for m in members):
        return None
    return value


def trace_headers(headers: Iterable[tuple[Any, Any]] | None) -> list[tuple[str, bytes]]:
    """The validated ``traceparent`` (and ``tracestate``) of Kafka or ASGI ``headers``,
    ready to be put on a record; ``[]`` if there is none or it is malformed (two
    traceparents are malformed too). Nothing else of ``headers`` is ever returned."""
    if not headers:
        return []
    parent = state = None
    parents = 0
    for key, value in headers:
        name = key.lower() if isinstance(key, str) else key.decode("latin-1").lower()
        if name == TRACEPARENT:
            parents += 1
            parent = value
        elif name == TRACESTATE and state is None:
            state = value
    if parents != 1 or parent is None:
        return []
    carried = valid_traceparent(parent)
    if carried is None:
        return []
    found = [(TRACEPARENT, carried)]
    if state is not None and (kept := valid_tracestate(state)) is not None:
        found.append((TRACESTATE, kept))
    return found


# -- the propagator over Kafka headers ----------------------------------------------


class KafkaHeaders(Getter[Headers], Setter[list[tuple[str, bytes]]]):
    """The W3C propagator's getter and setter for Kafka's list of ``(str, bytes)``."""

    def get(self, carrier: Headers, key: str) -> list[str] | None:
        values = [v.decode("latin-1") if isinstance(v, bytes) else str(v)
                  for k, v in carrier if k.lower() == key]
        return values or None

    def keys(self, carrier: Headers) -> list[str]:
        return [k for k, _ in carrier]

    def set(self, carrier: list[tuple[str, bytes]], key: str, value: str) -> None:
        carrier.append((key, value.encode("latin-1")))


KAFKA_HEADERS = KafkaHeaders()


def context_of(carried: Headers) -> Context | None:
    """The remote context of already validated headers (:func:`trace_headers`)."""
    if not carried:
        return None
    context = _PROPAGATOR.extract(carried, getter=KAFKA_HEADERS)
    return context if trace.get_current_span(context).get_span_context().is_valid else None


def headers_of(context: Context | None = None) -> list[tuple[str, bytes]]:
    """The trace headers of ``context`` (the current one by default) for a record;
    ``[]`` if there is no valid span in it."""
    span = trace.get_current_span(context)
    if not span.get_span_context().is_valid:
        return []
    carrier: list[tuple[str, bytes]] = []
    _PROPAGATOR.inject(carrier, context, setter=KAFKA_HEADERS)
    return carrier


def trace_id_of(context: Context | None = None) -> str | None:
    """The 32-hex trace id of ``context`` (the current one by default), or None."""
    span_context = trace.get_current_span(context).get_span_context()
    return f"{span_context.trace_id:032x}" if span_context.is_valid else None


# -- the tracer ---------------------------------------------------------------------


def configure(settings: TracingSettings, role: str) -> None:
    """Set this process's tracer from ``settings`` (once, at a role's start)."""
    if settings.exporter == "none":
        use_provider(None)
        return
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import SpanLimits, TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

    provider = TracerProvider(
        resource=Resource.create({"service.name": f"{settings.service_name}-{role}",
                                  "service.namespace": settings.service_name}),
        sampler=sampler_for(role, settings.sample_ratio),
        # What BatchLinks splits a sink batch's links by, whatever OTEL_* says.
        span_limits=SpanLimits(max_links=LINKS_PER_SPAN))
    if settings.exporter == "console":
        # One line per span, so a log reader (or a test) can take them apart.
        exporter: Any = ConsoleSpanExporter(out=sys.stdout,  # today's, not the import's
                                            formatter=lambda s: s.to_json(indent=None) + "\n")
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        exporter = OTLPSpanExporter(endpoint=settings.endpoint)
    provider.add_span_processor(BatchSpanProcessor(exporter))
    use_provider(provider)


def sampler_for(role: str, ratio: float) -> Any:
    """Which traces a role keeps. The API is where traces enter from outside: it keeps
    ``ratio`` of its requests whatever their ``traceparent`` says, so a client's sampled
    flag cannot force every request to be traced (nor its chosen trace id: a trace-id
    ratio sampler keeps every id below its bound, and the client picks the id, so for a
    remote parent the API draws at random). Every other role follows its parent (the
    records' sampled flag is the API's decision) and keeps ``ratio`` of the traces it
    starts, except a sink batch with a sampled record (:data:`SAMPLED_RECORDS`): always
    kept, or its records' links would be lost. The SDK is imported here, as in
    :func:`configure`: only roles that trace load it."""
    from opentelemetry.sdk.trace.sampling import (
        Decision,
        ParentBased,
        Sampler,
        SamplingResult,
        TraceIdRatioBased,
    )

    by_trace_id = TraceIdRatioBased(ratio)

    class RootRatio(Sampler):
        """Keeps ``ratio`` of new traces by trace id, and every sink batch that links a
        sampled record."""

        def should_sample(self, parent_context: Any, trace_id: int, name: str,
                          kind: Any = None, attributes: Any = None, links: Any = None,
                          trace_state: Any = None) -> Any:
            if attributes and attributes.get(SAMPLED_RECORDS):
                return SamplingResult(Decision.RECORD_AND_SAMPLE, attributes, None)
            return by_trace_id.should_sample(parent_context, trace_id, name, kind,
                                             attributes, links, trace_state)

        def get_description(self) -> str:
            return f"RootRatio{{{ratio}}}"

    if role != "api":
        return ParentBased(RootRatio())

    class DrawnRatio(Sampler):
        """Keeps ``ratio`` of a remote parent's spans by a random draw."""

        def should_sample(self, parent_context: Any, trace_id: int, name: str,
                          kind: Any = None, attributes: Any = None, links: Any = None,
                          trace_state: Any = None) -> Any:
            state = trace.get_current_span(parent_context).get_span_context().trace_state
            if random.random() < ratio:  # a sampling draw, not a secret
                return SamplingResult(Decision.RECORD_AND_SAMPLE, attributes, state)
            return SamplingResult(Decision.DROP, None, state)

        def get_description(self) -> str:
            return f"DrawnRatio{{{ratio}}}"

    return ParentBased(RootRatio(), remote_parent_sampled=DrawnRatio(),
                       remote_parent_not_sampled=DrawnRatio())


def use_provider(provider: Any) -> None:
    """Trace with ``provider`` (an SDK ``TracerProvider``) from now on; None: off. The
    provider it replaces is shut down (its spans exported, its export thread ended)."""
    global _tracer, _provider  # noqa: PLW0603 (read on every record: a plain global is cheapest)
    replaced, _provider = _provider, provider
    _tracer = provider.get_tracer("fitstream") if provider is not None else None
    if replaced is not None and replaced is not provider:
        replaced.shutdown()


def enabled() -> bool:
    """Whether spans are made at all (False: only headers are carried)."""
    return _tracer is not None


def tracer() -> Tracer:
    """The tracer; only when :func:`enabled`."""
    assert _tracer is not None, "tracing is off"
    return _tracer


def flush() -> None:
    """Export what is buffered (tests, and a role before it exits)."""
    if _provider is not None:
        _provider.force_flush()


# -- a request ----------------------------------------------------------------------


@contextmanager
def request_span(headers: Iterable[tuple[bytes, bytes]], method: str,
                 ) -> Iterator[Span | None]:
    """The context of one HTTP request, current inside: a SERVER span (tracing on) whose
    parent is the request's valid ``traceparent``, or (tracing off) the request's own
    traceparent as a non-recording span, so that records produced for it still carry it.
    Yields the span (None with tracing off). The path is not recorded (it holds user and
    workout ids): the caller names the span by its route template (``http.route``)."""
    from opentelemetry import context as otel_context

    parent = context_of(trace_headers(headers))
    if _tracer is None:
        if parent is None:
            yield None
            return
        token = otel_context.attach(parent)
        try:
            yield None
        finally:
            otel_context.detach(token)
        return
    with _tracer.start_as_current_span(
            method, context=parent, kind=SpanKind.SERVER,
            attributes={"http.request.method": method}) as span:
        yield span


def responded(span: Span, status: int) -> None:
    """A request's response status on its span; a 5xx marks the span as an error (a
    4xx is the client's, not ours: OpenTelemetry's HTTP server convention)."""
    span.set_attribute("http.response.status_code", status)
    if status >= 500:
        span.set_status(Status(StatusCode.ERROR))


def routed(span: Span, method: str, route: str) -> None:
    """Name a request's span by its route template (``/users/{user_id}``), never the
    path, which holds ids."""
    span.update_name(f"{method} {route}")
    span.set_attribute("http.route", route)


def producer_span(topic: str, records: int) -> AbstractContextManager[Any]:
    """A PRODUCER span around sending a batch of records (nothing with tracing off)."""
    if _tracer is None:
        return nullcontext()
    return _tracer.start_as_current_span(
        f"send {topic}", kind=SpanKind.PRODUCER,
        attributes={"messaging.system": "kafka", "messaging.destination.name": topic,
                    "messaging.batch.message_count": records})


# -- a processor batch --------------------------------------------------------------


class BatchTraces:
    """The trace context of a processor batch's input records, and the headers of each
    record derived from them.

    Lifecycle: one per batch, as a context manager around the batch's processing
    (``with BatchTraces() as traces``): :meth:`consumed` for each accepted input record
    (in log order); :meth:`headers_for` for each derived record; leaving the block ends
    the spans, also when the batch fails (:meth:`end` directly otherwise). A derived
    record takes the context of the last traced input record of its workout
    (``user_id`` and ``workout_id``), else of its user: the pipeline core folds a batch
    per entity, so that is the event that changed it.

    With tracing on, each input record gets a CONSUMER span (child of its record's
    context, or a new trace) and derived records point at that span. With tracing off,
    derived records carry the input record's validated headers unchanged.
    """

    __slots__ = ("_by_entity", "_spans")

    def __init__(self) -> None:
        self._by_entity: dict[Any, list[tuple[str, bytes]]] = {}
        self._spans: list[Span] = []

    def consumed(self, headers: Headers | None, topic: str, partition: int, offset: int,
                 user_id: str, workout_id: str | None) -> None:
        if _tracer is None:
            if not headers:
                return
            carried = trace_headers(headers)
            if not carried:
                return
        else:
            span = _tracer.start_span(
                f"process {topic}", context=context_of(trace_headers(headers)),
                kind=SpanKind.CONSUMER,
                attributes={"messaging.system": "kafka", "messaging.destination.name": topic,
                            "messaging.destination.partition.id": str(partition),
                            "messaging.kafka.offset": offset})
            self._spans.append(span)
            carried = headers_of(trace.set_span_in_context(span))
        self._by_entity[(user_id, workout_id)] = carried
        self._by_entity[user_id] = carried

    def headers_for(self, record: dict[str, Any]) -> list[tuple[str, bytes]] | None:
        """The trace headers a derived record is sent with (None: none)."""
        by_entity = self._by_entity
        if not by_entity:
            return None
        user_id = record.get("user_id")
        return by_entity.get((user_id, record.get("workout_id"))) or by_entity.get(user_id)

    def end(self) -> None:
        for span in self._spans:
            span.end()
        self._spans.clear()

    def __enter__(self) -> BatchTraces:
        return self

    def __exit__(self, kind: Any, error: BaseException | None, _: Any) -> None:
        """Ends the spans however the batch ends: a failed batch's spans are exported
        too, marked as errors (the batch is retried, in new spans)."""
        if error is not None:
            for span in self._spans:
                span.set_status(Status(StatusCode.ERROR, f"{kind.__name__}: {error}"[:256]))
        self.end()


# -- a sink batch -------------------------------------------------------------------


# The SDK keeps at most this many links on a span and silently drops the rest; a sink
# batch holds up to 10,000 records (the lakehouse 50,000), so a batch's links are split
# over spans of at most this many (configure() pins the limit so the environment cannot
# lower it under this).
LINKS_PER_SPAN = 128


def _message_attributes(message: Any) -> dict[str, Any]:
    return {"messaging.destination.name": message.topic(),
            "messaging.destination.partition.id": str(message.partition()),
            "messaging.kafka.offset": message.offset()}


class BatchLinks:
    """The links of one sink batch, one per distinct record context (the first record of
    a context names it: a processor span's derived records all point at it).

    Lifecycle: made by :func:`sink_batch_span`, filled by :func:`link_record` (or by the
    span itself for sinks that do not name rows), attached by the span as it ends: the
    batch span takes the first :data:`LINKS_PER_SPAN`, and each further
    :data:`LINKS_PER_SPAN` go on a child span ``link <sink>``, so no link is dropped."""

    __slots__ = ("_links",)

    def __init__(self) -> None:
        self._links: dict[tuple[int, int], Link] = {}

    def add(self, message: Any, attributes: dict[str, Any]) -> None:
        context = context_of(trace_headers(message.headers()))
        if context is None:
            return
        span_context = trace.get_current_span(context).get_span_context()
        if not span_context.trace_flags.sampled:
            return  # a trace nobody kept: nothing to follow the link to
        key = (span_context.trace_id, span_context.span_id)
        if key not in self._links:
            self._links[key] = Link(span_context, {**_message_attributes(message), **attributes})

    def attach(self, span: Span, sink: str) -> None:
        links = list(self._links.values())
        for link in links[:LINKS_PER_SPAN]:
            span.add_link(link.context, link.attributes)
        if len(links) <= LINKS_PER_SPAN or _tracer is None:
            return
        parent = trace.set_span_in_context(span)
        parts = range(LINKS_PER_SPAN, len(links), LINKS_PER_SPAN)
        for number, start in enumerate(parts, 2):
            _tracer.start_span(
                f"link {sink}", context=parent, kind=SpanKind.INTERNAL,
                links=links[start:start + LINKS_PER_SPAN],
                attributes={"fitstream.sink": sink, "fitstream.links.part": number,
                            "fitstream.links.parts": len(parts) + 1}).end()


# A sink batch span's attribute: some record of the batch is in a sampled trace, so the
# batch span is kept whatever the sample ratio (sampler_for).
SAMPLED_RECORDS = "fitstream.batch.sampled_records"


def _sampled(headers: Headers | None) -> bool:
    """Whether a record's valid traceparent has its sampled flag set."""
    carried = trace_headers(headers)
    return bool(carried) and int(carried[0][1][53:55], 16) & 1 == 1


_batch_links: ContextVar[BatchLinks | None] = ContextVar("fitstream_batch_links", default=None)


@contextmanager
def _batch_span(sink: str, batch: Sequence[Any], link_records: bool) -> Iterator[Span]:
    assert _tracer is not None
    links = BatchLinks()
    token = _batch_links.set(links)
    try:
        with _tracer.start_as_current_span(
                f"write {sink}", kind=SpanKind.CONSUMER,
                attributes={"messaging.system": "kafka", "fitstream.sink": sink,
                            "messaging.batch.message_count": len(batch),
                            SAMPLED_RECORDS: any(_sampled(m.headers()) for m in batch)},
                ) as span:
            if link_records and span.is_recording():
                for message in batch:
                    links.add(message, {})
            try:
                yield span
            finally:
                if span.is_recording():
                    links.attach(span, sink)
    finally:
        _batch_links.reset(token)


def sink_batch_span(sink: str, batch: Sequence[Any], link_records: bool,
                    ) -> AbstractContextManager[Any]:
    """A CONSUMER span around one sink batch write, current inside (nothing with tracing
    off). A batch mixes many traces, so the span is a root linked to each record's
    context (OpenTelemetry's idiom for batch consumers), split over child spans beyond
    :data:`LINKS_PER_SPAN` (:class:`BatchLinks`); ``link_records`` False: the sink
    links its records itself (:func:`link_record`, naming the view row)."""
    if _tracer is None:
        return nullcontext()
    return _batch_span(sink, batch, link_records)


def recording() -> bool:
    """Whether the current span records (a sink's cue to call :func:`link_record`)."""
    return _tracer is not None and trace.get_current_span().is_recording()


def link_record(message: Any, attributes: dict[str, Any]) -> None:
    """Link the current sink batch to a consumed record's context (if it has one), with
    the record's position and ``attributes`` (e.g. the view row it wrote). Outside a
    :func:`sink_batch_span`, links the current span directly."""
    links = _batch_links.get()
    if links is not None:
        links.add(message, attributes)
        return
    context = context_of(trace_headers(message.headers()))
    if context is not None:
        trace.get_current_span().add_link(
            trace.get_current_span(context).get_span_context(),
            {**_message_attributes(message), **attributes})
