"""POST /api/v1/ingest/events: devices send JSON batches; the log gets Avro.

Order of checks: token (401), size (413), JSON shape (400), each event against
its Avro contract (400 listing every bad index), ownership of every event by the
token's user and device (403), then Kafka acknowledges all of them (202) or the
batch fails whole (503) and the device retries; duplicates are harmless
downstream because the processor ignores repeated event ids.
"""

from typing import Any

import orjson
from fastapi import APIRouter, Request
from pydantic import BaseModel

from api.auth import require_device
from api.errors import ApiError, ErrorBody
from api.event_publisher import BrokerUnavailable, EventPublisher
from fitstream.contracts import AvroSerde, SerdeError
from fitstream.domain.events import EventType
from fitstream.observability import metrics
from fitstream.settings import FitStreamSettings


class IngestAccepted(BaseModel):
    accepted: int


class IngestBatch(BaseModel):
    """The request body: ``events`` is a list of workout events as JSON objects."""

    events: list[dict[str, Any]]


def _fail(status: int, error: str, message: str, details: Any = None) -> ApiError:
    metrics.INGEST_REJECTED.labels(status=str(status)).inc()
    return ApiError(status, error, message, details)


def ingest_router(settings: FitStreamSettings, serde: AvroSerde,
                  publisher: EventPublisher) -> APIRouter:
    router = APIRouter(prefix="/api/v1/ingest", tags=["ingest"])
    api = settings.api
    secret = api.token_secret.get_secret_value()

    @router.post(
        "/events", status_code=202, response_model=IngestAccepted,
        openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
            "schema": IngestBatch.model_json_schema()}}}},
        responses={s: {"model": ErrorBody} for s in (400, 401, 403, 413, 503)},
    )
    async def ingest_events(request: Request) -> IngestAccepted:
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
        if not isinstance(events, list) or not events:
            raise _fail(400, "invalid_batch", 'body must be {"events": [...]} with 1+ events')
        if len(events) > api.ingest_max_events:
            raise _fail(413, "too_many_events",
                        f"{len(events)} events; at most {api.ingest_max_events} per batch")
        problems, records, foreign = [], [], []
        for index, event in enumerate(events):
            try:
                if not isinstance(event, dict):
                    raise SerdeError("invalid_record", "an event must be a JSON object")
                try:
                    subject = EventType(event.get("type")).subject
                except ValueError:
                    raise SerdeError("invalid_record",
                                     f"unknown type {event.get('type')!r}") from None
                # Encoding checks the contract too; the slower validation runs only to
                # explain a failure field by field.
                try:
                    value = serde.encode(subject, event)
                except SerdeError:
                    serde.validate(subject, event)
                    raise
            except SerdeError as exc:
                problems.append({"index": index, "reason": str(exc)})
                continue
            if event["user_id"] != device.user_id or event["device_id"] != device.device_id:
                foreign.append({"index": index, "user_id": event["user_id"],
                                "device_id": event["device_id"]})
            records.append((event["user_id"].encode(), value))
        if problems:
            raise _fail(400, "invalid_events",
                        f"{len(problems)} of {len(events)} events break their contract",
                        problems)
        if foreign:
            raise _fail(403, "forbidden",
                        f"the token is for user {device.user_id} on device {device.device_id}",
                        foreign)
        try:
            await publisher.publish(records)
        except BrokerUnavailable as exc:
            raise _fail(503, "unavailable", str(exc)) from exc
        for event in events:
            metrics.EVENTS_INGESTED.labels(type=event["type"]).inc()
        return IngestAccepted(accepted=len(records))

    return router
