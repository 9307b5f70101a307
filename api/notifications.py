"""A user's notifications: the in-app inbox with read state, and channel preferences.

Owner only. Marking a notification read and changing preferences are commands:
they go to the log first (the system of record, so a replay rebuilds them), and
are then written to the store at once so the caller reads their own write.
"""

import re
import time
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field, model_validator

from api.auth import PathOwner
from api.bodies import json_body, json_body_openapi
from api.dependencies import Cipher, Publisher, Serde, Settings, Store
from api.errors import ApiError, ErrorBody
from api.event_publisher import BrokerUnavailable, EventPublisher
from api.workout_views import decode_cursor, encode_cursor
from fitstream.contracts import AvroSerde, subjects
from fitstream.domain.notifications import Channel
from fitstream.privacy.fields import PREFERENCE_FIELDS
from fitstream.settings import FitStreamSettings
from stores.clickhouse import queries
from stores.clickhouse.store import ClickHouseStore

READ_SUBJECT = subjects.NOTIFICATION_READ
PREFERENCES_SUBJECT = subjects.NOTIFICATION_PREFERENCES
ExternalChannel = Literal["push", "email", "sms"]
# Notification ids are made by the processor from ids and board names
# (n:user-1:top10:week|2026-W48|all, n:user-1:goal-1e+06:w-1), so they have their own
# pattern, not ID_PATTERN.
NOTIFICATION_ID_PATTERN = r"^n:[A-Za-z0-9_.:|+\-]{1,320}$"


def path_notification_id(notification_id: Annotated[str, Path(
        description="A notification's id",
        json_schema_extra={"pattern": NOTIFICATION_ID_PATTERN})]) -> str:
    """400 ``invalid_id`` for an id of no notification, as for every id in a path
    (api/auth.py)."""
    if re.fullmatch(NOTIFICATION_ID_PATTERN, notification_id) is None:
        raise ApiError(400, "invalid_id", f"notification_id {notification_id[:80]!r} "
                       "is not a notification id")
    return notification_id


NotificationIdPath = Annotated[str, Depends(path_notification_id)]


class Delivery(BaseModel):
    channel: ExternalChannel
    status: Literal["sent", "dead_lettered", "unreachable"]
    attempts: int
    at: datetime
    detail: str | None


_NOTIFICATION_EXAMPLE = {
    "id": "n:user-1:top10:week|2026-W48|all", "user_id": "user-1", "kind": "leaderboard_top",
    "title": "Top 10 this week", "body": "You are 7th on this week's distance board.",
    "workout_id": "w-20261130-0712", "channel": "in_app", "sent_at": "2026-11-30T07:41:30Z",
    "read": False, "read_at": None,
    "deliveries": [{"channel": "push", "status": "sent", "attempts": 1,
                    "at": "2026-11-30T07:41:31Z", "detail": None}]}


class Notification(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_NOTIFICATION_EXAMPLE]})

    id: str
    user_id: str
    kind: str
    title: str
    body: str
    workout_id: str | None
    channel: Literal["in_app"] = "in_app"
    sent_at: datetime = Field(description="When the cause happened (event time)")
    read: bool
    read_at: datetime | None
    deliveries: list[Delivery] = Field(description="Outcomes on the external channels")


class Inbox(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"user_id": "user-1", "unread": 1, "items": [_NOTIFICATION_EXAMPLE],
         "next_cursor": None}]})

    user_id: str
    unread: int
    items: list[Notification]
    next_cursor: str | None


def _address_for(channel: str, field: str) -> dict[str, Any]:
    """JSON Schema: choosing ``channel`` requires a non-null ``field`` (the rule of
    Preferences' validator, stated in the schema so clients can see it)."""
    return {"if": {"properties": {"channels": {"contains": {"const": channel}}},
                   "required": ["channels"]},
            "then": {"required": [field], "properties": {field: {"type": "string"}}}}


class Preferences(BaseModel):
    model_config = ConfigDict(json_schema_extra={"allOf": [
        _address_for("email", "email"), _address_for("sms", "phone")], "examples": [
        {"channels": ["push", "email"], "email": "runner@example.com", "phone": None}]})

    channels: list[ExternalChannel] = Field(
        max_length=3, description="External channels; the in-app inbox always gets everything")
    # Printable ASCII without spaces around one @ (0x40 sits between the two ranges):
    # the same set in Python's and ECMAScript's regex engines, unlike \s.
    email: str | None = Field(None, pattern=r"^[!-?A-~]+@[!-?A-~]+\.[!-?A-~]+$",
                              max_length=254)
    phone: str | None = Field(None, pattern=r"^\+[1-9][0-9]{6,14}$",
                              description="E.164, e.g. +4915112345678")

    @model_validator(mode="after")
    def _addresses_for_chosen_channels(self) -> "Preferences":
        if "email" in self.channels and not self.email:
            raise ValueError("the email channel needs an email address")
        if "sms" in self.channels and not self.phone:
            raise ValueError("the sms channel needs a phone number")
        return self


class UserPreferences(Preferences):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"user_id": "user-1", "channels": ["push", "email"], "email": "runner@example.com",
         "phone": None, "updated_at": "2026-11-30T08:00:00Z"}]})

    user_id: str
    updated_at: datetime | None = Field(description="None: the defaults, never changed")


def _at(ms: int | None) -> datetime | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, UTC)


async def command(publisher: EventPublisher | None, serde: AvroSerde, topic: str,
                  subject: str, record: dict[str, Any]) -> None:
    """Write a command to the log first (the system of record); 503 without a producer
    in this process or when the broker does not acknowledge it."""
    if publisher is None:
        raise ApiError(503, "unavailable", "this API process does not write to the log")
    try:
        await publisher.publish([(record["user_id"].encode(),
                                  serde.encode(subject, record))], topic)
    except BrokerUnavailable as exc:
        raise ApiError(503, "unavailable", str(exc)) from exc


def inbox_rows(store: ClickHouseStore, user_id: str, *, unread: bool | None = None,
               before: tuple[int, str] | None = None, notification_id: str | None = None,
               limit: int = 1) -> list[Notification]:
    """The user's notifications (:func:`stores.clickhouse.queries.notifications`) with
    their read state and external deliveries."""
    rows = queries.notifications(store, user_id, unread=unread, before=before,
                                 notification_id=notification_id, limit=limit)
    if not rows:
        return []
    ids = [r["notification_id"] for r in rows]
    reads = queries.notification_reads(store, user_id, ids)
    deliveries: dict[str, list[Delivery]] = {}
    for d in queries.notification_deliveries(store, user_id, ids):
        deliveries.setdefault(d["notification_id"], []).append(Delivery(
            channel=d["channel"], status=d["status"], attempts=d["attempts"],
            at=_at(d["at_ms"]), detail=d["detail"]))
    return [Notification(
        id=r["notification_id"], user_id=user_id, kind=r["kind"], title=r["title"],
        body=r["body"], workout_id=r["workout_id"], sent_at=_at(r["created_ms"]),
        read=r["notification_id"] in reads, read_at=_at(reads.get(r["notification_id"])),
        deliveries=deliveries.get(r["notification_id"], [])) for r in rows]


def notification_router(settings: FitStreamSettings) -> APIRouter:
    """The inbox and preferences; ``settings`` give the documented page limits."""
    router = APIRouter(prefix="/api/v1/users/{user_id}", tags=["notifications"])
    api = settings.api

    @router.get("/notifications", response_model=Inbox,
                responses={s: {"model": ErrorBody} for s in (400, 401, 403)})
    def get_notifications(
        user_id: PathOwner,
        unread: Annotated[bool | None, Query(
            description="true: only unread; false: only read; absent: all")] = None,
        limit: Annotated[int, Query(ge=1, le=api.page_limit_max)] = api.page_limit_default,
        cursor: Annotated[str | None, Query(description="next_cursor of the previous page")]
        = None,
        *, store: Store,
    ) -> Inbox:
        """The in-app inbox, newest first, with read state and external deliveries;
        400 for a cursor this API did not issue."""
        before = decode_cursor(cursor) if cursor is not None else None
        items = inbox_rows(store, user_id, unread=unread, before=before, limit=limit + 1)
        more = len(items) > limit
        items = items[:limit]
        unread_count = queries.unread_count(store, user_id)
        last = items[-1] if more else None
        return Inbox(user_id=user_id, unread=unread_count, items=items,
                     next_cursor=encode_cursor(round(last.sent_at.timestamp() * 1000), last.id)
                     if last else None)

    @router.post("/notifications/{notification_id}/read", response_model=Notification,
                 responses={s: {"model": ErrorBody} for s in (400, 401, 403, 404, 503)})
    async def mark_read(user_id: PathOwner, notification_id: NotificationIdPath,
                        store: Store, publisher: Publisher, serde: Serde,
                        settings: Settings) -> Notification:
        """Mark one notification read; marking it again keeps the first read time."""
        # The store blocks: off the event loop, which serves the cached reads.
        found = await run_in_threadpool(inbox_rows, store, user_id,
                                        notification_id=notification_id)
        if not found:
            raise ApiError(404, "not_found", f"no notification {notification_id}")
        if found[0].read:
            return found[0]
        record = {"notification_id": notification_id, "user_id": user_id,
                  "read_at": int(time.time() * 1000)}
        await command(publisher, serde, settings.kafka.notification_reads_topic, READ_SUBJECT,
                      record)
        await run_in_threadpool(queries.record_read, store, record)
        return found[0].model_copy(update={"read": True, "read_at": _at(record["read_at"])})

    @router.get("/notification-preferences", response_model=UserPreferences,
                responses={s: {"model": ErrorBody} for s in (400, 401, 403)})
    def get_preferences(user_id: PathOwner, store: Store, settings: Settings,
                        ) -> UserPreferences:
        """The user's external channels, or the defaults if they never chose."""
        row = queries.notification_preferences(store, user_id)
        if row is None:
            return UserPreferences(user_id=user_id, updated_at=None,
                                   channels=settings.notifications.default_channels)
        return UserPreferences(user_id=user_id, channels=row["channels"], email=row["email"],
                               phone=row["phone"], updated_at=_at(row["updated_ms"]))

    @router.put("/notification-preferences", response_model=UserPreferences,
                openapi_extra=json_body_openapi(Preferences),
                responses={s: {"model": ErrorBody} for s in (400, 401, 403, 413, 422, 503)})
    async def put_preferences(
        user_id: PathOwner,
        preferences: Annotated[Preferences, Depends(json_body(Preferences))],
        store: Store, publisher: Publisher, serde: Serde, cipher: Cipher, settings: Settings,
    ) -> UserPreferences:
        """Replace the user's channels and addresses; the delivery worker follows at once.
        The caller is authenticated (401) and must be the user (403) before the body is
        read (400 not JSON, 413 too large, 422 not valid preferences)."""
        record = {"user_id": user_id,
                  "channels": sorted({Channel(c).value for c in preferences.channels}),
                  "email": preferences.email, "phone": preferences.phone,
                  "updated_at": int(time.time() * 1000)}
        # Email and phone are sealed with the user's data key before they reach the log
        # (crypto-shredding, fitstream/privacy/fields.py); this process's store row is plain.
        sealed = await run_in_threadpool(cipher.seal_fields, user_id, record,
                                         PREFERENCE_FIELDS)
        await command(publisher, serde, settings.kafka.notification_preferences_topic,
                      PREFERENCES_SUBJECT, sealed)
        await run_in_threadpool(queries.record_preferences, store, record)
        return UserPreferences(user_id=user_id, channels=record["channels"],
                               email=record["email"], phone=record["phone"],
                               updated_at=_at(record["updated_at"]))

    return router
