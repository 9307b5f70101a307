"""Activity-file uploads (Strava's upload API is the convention): POST /api/v1/uploads
takes a FIT, GPX or TCX file, gzipped or not; GET /api/v1/uploads/{id} says where it is.

POST, in order: the token (401; a device token or a user token, and the owner is the
token's user, never anything in the file), checked by the route itself before the
multipart body is read (FastAPI reads a form body before it resolves dependencies, so
a dependency alone would let a stranger's body be parsed), then a parse slot (at most
``uploads.max_concurrent_parses`` files per process are read into memory and parsed
at once; the others wait for a slot before their file is read), the size as sent
(413, ``uploads.max_bytes``), then in a worker thread the file (fitstream/activity_files: gzip under
``uploads.max_decompressed_bytes`` (413), the format by content (415), the parser
(422 ``corrupt_file``), the track's checks (422 ``invalid_track``: coordinates out of
range, a clock ahead of the server's by more than ``api.max_future_skew_ms``, no
points, absurd spans or speeds; 413 over ``uploads.max_points``)), then every
translated event through ingest's own checks (contract, bounds, future skew: the same
guards as a device's batch), then the lateness rule below, then the events are sealed
and produced through the same publisher as ingest, acknowledged by Kafka before the 202.
A refused upload produces nothing.

Ids and state. The workout id and the event ids derive from (the owner, the SHA-256 of
the decompressed content) under a key derived from the token secret
(fitstream/activity_files/translation.py), so uploading a file again gives the same
upload id and the same events, which the processor ignores as duplicates: one
workout. The ``sport`` form field is deliberately not part of the ids: the same file is
the same activity whatever sport is claimed for it, so a repeat upload with another
sport is a repeat (its events are dropped as duplicates, or nothing is produced once
ready) and the workout keeps the sport of the first upload. Keying on the sport would
let one recording become several workouts, doubling the user's totals.
The upload id is self-describing and MACed for its owner, so GET keeps nothing in
memory and works on any replica, after any restart:

- ``ready`` with the workout id: the owner's summary of that workout is in the view and
  completed (the view the API already serves, stores/clickhouse);
- ``error`` with a reason: the summary is cancelled, the workout id is someone else's
  (impossible without the key, checked anyway), or the workout is late (below);
- ``processing`` otherwise;
- 404 for an id that is malformed or not the caller's (never 403: no existence leak).

Lateness. The processor dead-letters an event more than ``processor.allowed_lateness_ms``
(48 h) behind its user's clock (the newest event time of the user's accepted events).
A file recorded before that, uploaded after newer workouts, would be dead-lettered
whole. The API cannot see the processor's clock, but the view shows a lower bound of
it: the newest workout's start (minus the start-time tolerance). A file that starts more
than the allowed lateness before that is refused (422 ``too_late``, nothing produced);
one that becomes late while its events wait (a newer workout reached the log first) is
reported ``error`` by GET with the same reason. An ingest-only process (no store) can
judge neither and leaves it to the processor (the known limit: the upload then stays
``processing``, its events in the dead-letter topic as ``late``).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import jwt
from fastapi import APIRouter, Depends, File, Form, Request, Response, UploadFile
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from api.auth import Credentials, device_scheme, user_scheme, verifier_of
from api.dependencies import Cipher, Owners, Publisher, Serde, Settings
from api.errors import ApiError, ErrorBody
from api.event_publisher import BrokerUnavailable
from api.ingest import event_problems, sealed_values
from fitstream.activity_files import (
    ActivityFileError,
    FileKind,
    Track,
    check_track,
    content_sha256,
    open_upload_id,
    read_upload,
    upload_ids,
    workout_events,
)
from fitstream.contracts import AvroSerde, SerdeError
from fitstream.domain.event_bounds import CLOCK_TOLERANCE_MS
from fitstream.domain.events import SPORT_TYPES
from fitstream.observability import metrics
from fitstream.privacy.fields import KeyStoreUnavailable
from fitstream.settings import FitStreamSettings
from fitstream.tokens import USER_AUDIENCE, InvalidToken, bearer
from stores.clickhouse import queries
from stores.clickhouse.store import ClickHouseStore

# The device id of events uploaded with a user token (no device sent them).
UPLOAD_DEVICE = "upload"
_STATUS = {FileKind.CORRUPT: 422, FileKind.UNSUPPORTED: 415, FileKind.TOO_LARGE: 413,
           FileKind.INVALID: 422}


class UploadStatus(BaseModel):
    """Where an upload is: ``processing``, ``ready`` (``workout_id`` set) or ``error``
    (``reason`` set)."""

    upload_id: str
    status: Literal["processing", "ready", "error"]
    workout_id: str | None = None
    reason: str | None = None

    model_config = {"json_schema_extra": {"examples": [{
        "upload_id": "3f1c0e9a7b2d4c6e8f0a1b2c3d4e5f60.19ad7c3e800.9a8b7c6d5e4f3a2b",
        "status": "ready", "workout_id": "up-3f1c0e9a7b2d4c6e8f0a1b2c3d4e5f60",
        "reason": None}]}}


@dataclass(frozen=True, slots=True)
class Uploader:
    user_id: str
    device_id: str


def upload_key(settings: FitStreamSettings) -> bytes:
    """The key of upload ids, derived from the token secret (a rotated secret gives a
    re-uploaded file a new workout id: the README's known limit)."""
    return hmac.new(settings.api.token_secret.get_secret_value().encode(),
                    b"fitstream uploads v1", hashlib.sha256).digest()


def _identify(request: Request) -> Uploader:
    """The token's user (and device): a device token, or else a user token; 401 for
    neither. Verified (and rate-limited) once per request: the result is kept in
    ``request.state`` for the dependency below."""
    known = getattr(request.state, "uploader", None)
    if known is not None:
        return known
    token = bearer(request.headers.get("authorization"))
    if not token:
        raise ApiError(401, "unauthorized", "a device or user bearer token is required",
                       headers={"WWW-Authenticate": "Bearer"})
    verifier = verifier_of(request)
    try:
        device = verifier.device(token)
        uploader = Uploader(device.user_id, device.device_id)
    except InvalidToken as device_error:
        try:
            uploader = Uploader(verifier.user(token), UPLOAD_DEVICE)
        except InvalidToken as user_error:
            # Quote the error of the kind of token that was sent, not the other's.
            error = user_error if _audience(token) == USER_AUDIENCE else device_error
            raise ApiError(401, "unauthorized", f"invalid device or user token: {error}",
                           headers={"WWW-Authenticate": "Bearer"}) from device_error
    request.state.uploader = uploader
    return uploader


def _audience(token: str) -> object:
    """The audience a token claims (unverified: only to choose which error to quote)."""
    try:
        return jwt.decode(token, options={"verify_signature": False}).get("aud")
    except jwt.PyJWTError:
        return None


async def _uploader(request: Request,
                    device: Annotated[Credentials, Depends(device_scheme)],
                    user: Annotated[Credentials, Depends(user_scheme)]) -> Uploader:
    """The caller, identified by :class:`TokenFirstRoute` before the body was read.
    ``device`` and ``user`` are declared so the OpenAPI document names both bearer
    schemes a caller may use (a device's token or its user's)."""
    return _identify(request)


CurrentUploader = Annotated[Uploader, Depends(_uploader)]


class TokenFirstRoute(APIRoute):
    """A route that identifies the caller before FastAPI reads the request body.

    FastAPI reads a form (multipart) body, spooling its files, before it resolves any
    dependency, so a dependency's 401 comes after a stranger's body has been parsed.
    This route's handler checks the token first and answers 401 with the error body
    without reading the body; the OpenAPI document is the plain route's."""

    def get_route_handler(self) -> Callable[[Request], Awaitable[Response]]:
        handler = super().get_route_handler()

        async def token_first(request: Request) -> Response:
            _identify(request)
            return await handler(request)

        return token_first


def _refusal(exc: ActivityFileError) -> ApiError:
    return ApiError(_STATUS[exc.kind], exc.kind.value, exc.message)


@dataclass(frozen=True, slots=True)
class PreparedUpload:
    upload_id: str
    workout_id: str
    track: Track
    accepted: list[tuple[str, dict[str, Any]]]


def prepare_upload(settings: FitStreamSettings, serde: AvroSerde, uploader: Uploader,
                   data: bytes, sport: str | None, now_ms: int) -> PreparedUpload:
    """The upload's ids and checked events (CPU only: run it off the event loop)."""
    limits = settings.uploads
    try:
        content, track = read_upload(data, limits.max_decompressed_bytes, limits.max_points)
        if sport is not None:
            track = Track(track.format, sport, track.points, track.calories)
        check_track(track, now_ms, settings.api.max_future_skew_ms, limits.max_points)
        digest = content_sha256(content)
        ids = upload_ids(upload_key(settings), uploader.user_id, digest, track.start_ms)
        events = workout_events(
            track, uploader.user_id, uploader.device_id, ids.workout_id,
            samples_per_event=limits.samples_per_event,
            pause_gap_ms=int(limits.pause_gap_s * 1000),
            max_route_points=limits.max_route_points)
    except ActivityFileError as exc:
        raise _refusal(exc) from exc
    accepted = []
    for event in events:
        subject, problems = event_problems(serde, event, now_ms, settings.api.max_future_skew_ms)
        if problems:  # the track's checks should have caught it: say which event
            raise ApiError(422, FileKind.INVALID.value,
                           f"event {event['seq']} ({event['type']}): {'; '.join(problems)}"[:500])
        accepted.append((subject, event))
    return PreparedUpload(ids.upload_id, ids.workout_id, track, accepted)


def late_reason(start_ms: int, newest_start_ms: int | None, allowed_lateness_ms: int,
                ) -> str | None:
    """Why a workout starting at ``start_ms`` is surely late for a user whose newest
    workout in the view starts at ``newest_start_ms``; None if it may not be.

    The user's clock is at least the newest WorkoutStarted's ``occurred_at``, which is
    at least its ``start_time`` minus ``CLOCK_TOLERANCE_MS`` (event_bounds)."""
    if newest_start_ms is None:
        return None
    clock_at_least = newest_start_ms - CLOCK_TOLERANCE_MS
    if start_ms >= clock_at_least - allowed_lateness_ms:
        return None
    return (f"late: the file starts {(clock_at_least - start_ms) // 3_600_000} h before the "
            f"user's newest workout; the processor accepts events at most "
            f"{allowed_lateness_ms // 3_600_000} h behind the user's clock")


def upload_state(summary: dict[str, Any] | None, owner: str | None, user_id: str,
                 late: str | None) -> tuple[str, str | None]:
    """(status, reason) of an upload from what the views show (pure)."""
    if owner is not None and owner != user_id:
        return "error", "the workout id belongs to another user"
    if summary is not None and summary["status"] == "completed":
        return "ready", None
    if summary is not None and summary["status"] == "cancelled":
        return "error", "the workout was cancelled"
    if late is not None:
        return "error", late
    return "processing", None


def _newest_start_ms(store: ClickHouseStore, user_id: str) -> int | None:
    rows = queries.user_workouts(store, user_id, limit=1)
    return rows[0]["start_ms"] if rows else None


def read_state(store: ClickHouseStore, owners: Any, settings: FitStreamSettings,
               user_id: str, upload_id: str, workout_id: str, start_ms: int) -> UploadStatus:
    """The upload's status read from the views (blocking: run it in a thread)."""
    summary = queries.workout_summary(store, user_id, workout_id)
    owner = owners.owner_of(workout_id) if owners is not None else None
    late = None
    if summary is None or summary["status"] != "completed":
        late = late_reason(start_ms, _newest_start_ms(store, user_id),
                           settings.processor.allowed_lateness_ms)
    status, reason = upload_state(summary, owner, user_id, late)
    return UploadStatus(upload_id=upload_id, status=status, reason=reason,
                        workout_id=workout_id if status == "ready" else None)


def uploads_router(settings: FitStreamSettings) -> APIRouter:
    router = APIRouter(prefix="/api/v1/uploads", tags=["uploads"], route_class=TokenFirstRoute)
    limits = settings.uploads
    errors = {s: {"model": ErrorBody} for s in (401, 413, 415, 422, 503)}
    # Parsing holds a file's tree in memory and a core: bounded per process.
    parsing = asyncio.Semaphore(limits.max_concurrent_parses)

    @router.post("", status_code=202, response_model=UploadStatus, responses=errors)
    async def create_upload(
        request: Request, uploader: CurrentUploader, settings: Settings, serde: Serde,
        publisher: Publisher, cipher: Cipher, owners: Owners,
        file: Annotated[UploadFile, File(description="A FIT, GPX or TCX file, optionally "
                                                     "gzipped (the format is read from "
                                                     "its content)")],
        sport: Annotated[str | None, Form(
            description="Overrides the file's sport", json_schema_extra={
                "enum": list(SPORT_TYPES)})] = None,
    ) -> UploadStatus:
        """Upload an activity file: 202 once its events are in the log; poll the upload
        id until ``ready``. The same file again gives the same upload id and workout."""
        if sport is not None and sport not in SPORT_TYPES:
            raise ApiError(422, "validation_failed", f"sport must be one of "
                           f"{', '.join(SPORT_TYPES)}")
        if publisher is None:
            raise ApiError(503, "unavailable", "this process does not write to the log")
        # The slot is taken before the file is read into memory: the files waiting for
        # a slot stay where the form parser spooled them (a temporary file).
        async with parsing:
            data = await file.read(limits.max_bytes + 1)
            if len(data) > limits.max_bytes:
                raise ApiError(413, "payload_too_large",
                               f"the file is over {limits.max_bytes} bytes")
            now_ms = time.time_ns() // 1_000_000
            prepared = await run_in_threadpool(prepare_upload, settings, serde, uploader,
                                               data, sport, now_ms)
        store = request.app.state.store
        if store is not None:
            state = await run_in_threadpool(
                read_state, store, owners, settings, uploader.user_id, prepared.upload_id,
                prepared.workout_id, prepared.track.start_ms)
            if state.status == "ready":
                return state  # already in the views: nothing to produce again
            if state.reason is not None and state.reason.startswith("late"):
                raise ApiError(422, "too_late", state.reason)
        try:
            values = await run_in_threadpool(sealed_values, serde, cipher, prepared.accepted)
        except SerdeError as exc:
            raise ApiError(422, FileKind.INVALID.value, str(exc)[:500]) from exc
        except KeyStoreUnavailable as exc:
            raise ApiError(503, "unavailable", "the key store did not answer; retry") from exc
        key = uploader.user_id.encode()
        try:
            await publisher.publish([(key, value) for value in values])
        except BrokerUnavailable as exc:
            raise ApiError(503, "unavailable", str(exc)) from exc
        for _, event in prepared.accepted:  # acknowledged by Kafka, as ingest counts them
            metrics.EVENTS_INGESTED.labels(type=event["type"]).inc()
        return UploadStatus(upload_id=prepared.upload_id, status="processing")

    @router.get("/{upload_id}", response_model=UploadStatus,
                responses={s: {"model": ErrorBody} for s in (401, 404, 503)})
    async def get_upload(upload_id: str, request: Request, uploader: CurrentUploader,
                         settings: Settings, owners: Owners) -> UploadStatus:
        """``processing``, ``ready`` (with the workout id) or ``error`` (with the reason),
        read from the views; 404 for an upload that is not the caller's."""
        opened = open_upload_id(upload_key(settings), uploader.user_id, upload_id)
        if opened is None:
            raise ApiError(404, "not_found", "no such upload")
        store = request.app.state.store
        if store is None:
            raise ApiError(503, "unavailable", "this process serves no reads")
        workout_id, start_ms = opened
        return await run_in_threadpool(read_state, store, owners, settings, uploader.user_id,
                                       upload_id, workout_id, start_ms)

    return router
