"""What the routes need, as FastAPI dependencies: each reads what :func:`api.app.create_app`
put in ``app.state`` (the settings, the store, the view cache, its boards, the stats view,
the workout owners, the event publisher, the serde, the field cipher), so routers hold no
references of their own.

The providers are ``async``: FastAPI awaits them on the event loop, where a plain
function would be run on a worker thread, a hop per request (the reads are measured at
1,000 requests/s). They take only the request, so they add nothing to the OpenAPI
document. A test replaces one with ``app.dependency_overrides[provider]``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from api.boards import Boards
from api.event_publisher import EventPublisher
from api.stats_view import StatsView
from api.view_cache import ViewCache
from api.workout_owners import WorkoutOwners
from fitstream.contracts import AvroSerde
from fitstream.privacy.fields import FieldCipher
from fitstream.settings import FitStreamSettings
from stores.clickhouse.store import ClickHouseStore


async def settings_of(request: Request) -> FitStreamSettings:
    return request.app.state.settings


async def store_of(request: Request) -> ClickHouseStore:
    """The ClickHouse store this process reads (the read routers exist only with one)."""
    return request.app.state.store


async def view_cache_of(request: Request) -> ViewCache:
    return request.app.state.view_cache


async def boards_of(request: Request) -> Boards:
    """The leaderboards, loaded whole once per TTL (api/boards.py)."""
    return request.app.state.boards


async def stats_view_of(request: Request) -> StatsView:
    """A user's WorkoutStats from the boards in the view cache (api/stats_view.py)."""
    return request.app.state.stats_view


async def workout_owners_of(request: Request) -> WorkoutOwners | None:
    """Whose workout an id is; None in a process without a store (ingest only)."""
    return request.app.state.workout_owners


async def publisher_of(request: Request) -> EventPublisher | None:
    """The producer of the commands and of ingest; None in a process that does not write
    to the log."""
    return request.app.state.publisher


async def serde_of(request: Request) -> AvroSerde:
    return request.app.state.serde


async def field_cipher_of(request: Request) -> FieldCipher:
    """Seals personal fields with the user's data key before they reach the log."""
    return request.app.state.field_cipher


Settings = Annotated[FitStreamSettings, Depends(settings_of)]
Store = Annotated[ClickHouseStore, Depends(store_of)]
Cache = Annotated[ViewCache, Depends(view_cache_of)]
Stats = Annotated[StatsView, Depends(stats_view_of)]
BoardsOfCache = Annotated[Boards, Depends(boards_of)]
Owners = Annotated[WorkoutOwners | None, Depends(workout_owners_of)]
Publisher = Annotated[EventPublisher | None, Depends(publisher_of)]
Serde = Annotated[AvroSerde, Depends(serde_of)]
Cipher = Annotated[FieldCipher, Depends(field_cipher_of)]
