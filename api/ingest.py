"""POST /api/v1/ingest/events: devices send JSON batches; the log gets Avro.

Order of checks: token (401), size (413), JSON shape (400), then each event (400
listing every bad index with its reasons):

1. strictly against its Avro contract (:mod:`fitstream.contracts.strict`): the
   encoder would turn ``seq: 0.9`` into 0 and drop unknown keys, so nothing is
   encoded before the JSON types match exactly;
2. within its bounds (:mod:`fitstream.domain.event_bounds`: ids, text lengths,
   physics, ``start_time`` against ``occurred_at``);
3. not more than ``api.max_future_skew_ms`` ahead of the server's clock: an event
   dated 2100 would move its user's clock and make their later events late.

Then ownership of every event by the token's user and device (403); then each event's
coordinates are sealed with its user's data key (:mod:`fitstream.privacy.coordinates`:
a device never sends ``sealed_coordinates``, the server sets it) and Kafka
acknowledges all of them (202) or the batch fails whole (503) and the device
retries; duplicates are harmless downstream because the processor ignores repeated
event ids. A refused batch writes nothing.
"""

import time
from typing import Any

import orjson
from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from api.auth import require_device
from api.dependencies import Cipher, Owners, Publisher, Serde
from api.errors import ApiError, ErrorBody
from api.event_publisher import BrokerUnavailable
from api.ingest_schema import ingest_body_schema
from api.workout_owners import refuse_taken_workouts
from fitstream.contracts import AvroSerde, SerdeError
from fitstream.contracts.registry import RepoSchemaRegistry
from fitstream.domain.event_bounds import event_bound_problems, future_problem
from fitstream.domain.events import EventType
from fitstream.domain.identifiers import is_valid_id
from fitstream.observability import metrics
from fitstream.privacy.coordinates import seal_coordinates
from fitstream.privacy.fields import FieldCipher, KeyStoreUnavailable
from fitstream.settings import FitStreamSettings


class IngestAccepted(BaseModel):
    """The batch is in the log: every event acknowledged by Kafka."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"accepted": 3}]})

    accepted: int = Field(description="Events written to the log")


def _fail(status: int, error: str, message: str, details: Any = None) -> ApiError:
    metrics.INGEST_REJECTED.labels(status=str(status)).inc()
    return ApiError(status, error, message, details)


# Events named in one 400: each names at most MAX_PROBLEMS (fitstream.contracts.strict),
# so a refused batch's body stays small whatever was sent.
MAX_LISTED_EVENTS = 50


def event_problems(serde: AvroSerde, event: Any, now_ms: int, max_future_skew_ms: int,
                   ) -> tuple[str, list[str]]:
    """(subject, problems) of one event from a device; no problems: it may be encoded.

    Bounds are judged only on an event whose types match its contract, so that one
    wrong value gets one message, not one from each layer.
    """
    if not isinstance(event, dict):
        return "", ["an event must be a JSON object"]
    try:
        subject = EventType(event.get("type")).subject
    except ValueError:
        return "", [f"unknown type {event.get('type')!r}"[:80]]
    problems = serde.problems(subject, event)
    if not problems:
        problems = event_bound_problems(event)
        future = future_problem(event, now_ms, max_future_skew_ms)  # now_ms: the server's
        if future:
            problems.append(future)
    return subject, problems


def sealed_values(serde: AvroSerde, cipher: FieldCipher,
                  accepted: list[tuple[str, dict[str, Any]]]) -> list[bytes]:
    """Each accepted event with its coordinates sealed, encoded for the log."""
    # Key store I/O (a file or PostgreSQL, cached per process): off the event loop.
    return [serde.encode(subject, seal_coordinates(cipher, subject, event))
            for subject, event in accepted]


def ingest_router(settings: FitStreamSettings) -> APIRouter:
    """``settings`` give the documented body (its contracts and batch size) and the limits."""
    router = APIRouter(prefix="/api/v1/ingest", tags=["ingest"])
    api = settings.api
    secret = api.token_secret.get_secret_value()
    # The schemas always come from the repo (a schema registry only assigns ids), so the
    # OpenAPI document is built from them without asking a registry server at start.
    contracts = RepoSchemaRegistry(settings.schema_registry.repo_registry_path)

    @router.post(
        "/events", status_code=202, response_model=IngestAccepted,
        openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
            "schema": ingest_body_schema(contracts, api.ingest_max_events)}}}},
        # 409: a workout id another user owns (refuse_taken_workouts); 503: the broker or
        # the key store did not answer, or the revocations are not loaded yet.
        responses={s: {"model": ErrorBody} for s in (400, 401, 403, 409, 413, 503)},
    )
    async def ingest_events(request: Request, serde: Serde, publisher: Publisher,
                            owners: Owners, cipher: Cipher) -> IngestAccepted:
        """Accept up to ``ingest_max_events`` events once Kafka has acknowledged all of them."""
        device = require_device(request, secret)
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > api.ingest_max_bytes:
            raise _fail(413, "payload_too_large",
                        f"request body over {api.ingest_max_bytes} bytes")
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > api.ingest_max_bytes:
                raise _fail(413, "payload_too_large",
                            f"request body over {api.ingest_max_bytes} bytes")
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise _fail(400, "invalid_json", f"body is not JSON: {exc}") from exc
        events = payload.get("events") if isinstance(payload, dict) else None
        if not isinstance(events, list) or not events or len(payload) != 1:
            raise _fail(400, "invalid_batch",
                        'body must be {"events": [...]} with 1+ events and no other key')
        if len(events) > api.ingest_max_events:
            raise _fail(413, "too_many_events",
                        f"{len(events)} events; at most {api.ingest_max_events} per batch")
        problems, accepted, foreign = [], [], []
        now_ms = time.time_ns() // 1_000_000
        for index, event in enumerate(events):
            subject, reasons = event_problems(serde, event, now_ms, api.max_future_skew_ms)
            if reasons:
                bad = {"index": index, "reason": "; ".join(reasons)}
                if is_valid_id(event.get("event_id") if isinstance(event, dict) else None):
                    bad["event_id"] = event["event_id"]
                problems.append(bad)
                continue
            if event["user_id"] != device.user_id or event["device_id"] != device.device_id:
                foreign.append({"index": index, "user_id": event["user_id"],
                                "device_id": event["device_id"]})
            accepted.append((subject, event))
        if problems:
            listed = problems[:MAX_LISTED_EVENTS]
            raise _fail(400, "invalid_events",
                        f"{len(problems)} of {len(events)} events break their contract"
                        + (f"; the first {len(listed)} are listed"
                           if len(listed) < len(problems) else ""),
                        listed)
        if foreign:
            raise _fail(403, "forbidden",
                        f"the token is for user {device.user_id} on device {device.device_id}",
                        foreign)
        # 409 for a workout id another user started (the processor's claims).
        await refuse_taken_workouts(owners, events, device.user_id)
        try:
            values = await run_in_threadpool(sealed_values, serde, cipher, accepted)
        except SerdeError as exc:  # the strict check should have caught it
            raise _fail(400, "invalid_events", str(exc)) from exc
        except KeyStoreUnavailable as exc:
            raise _fail(503, "unavailable", "the key store did not answer; retry") from exc
        records = [(event["user_id"].encode(), value)
                   for (_, event), value in zip(accepted, values, strict=True)]
        try:
            await publisher.publish(records)
        except BrokerUnavailable as exc:
            raise _fail(503, "unavailable", str(exc)) from exc
        for event in events:
            metrics.EVENTS_INGESTED.labels(type=event["type"]).inc()
        return IngestAccepted(accepted=len(records))

    return router
