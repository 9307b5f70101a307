"""Workout read models served from ClickHouse: one summary, and a user's list by cursor.

Who may see what (README, HTTP API): a workout's public summary (sport, distance,
moving time, start day, status) is for anyone; device, heart rate, calories, exact
times, best efforts, samples and the route are its owner's. The owner of a workout id
is the processor's decision, read from its claims (api/workout_owners.py), and every
read of a workout's rows filters on that owner: another user who reuses the id, through
any producer, can neither read nor change what the owner sees.
"""

import base64
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

# user_scheme: the scheme alone, for the document of routes that check the owner themselves.
from api.auth import (
    UserIdPath,
    WorkoutIdPath,
    checked_id,
    require_owner,
    require_user,
    user_scheme,
)
from api.caching import PRIVATE_VIEW, conditional_json
from api.dependencies import Owners, Stats, Store
from api.deprecation import Deprecation, add_deprecated_route
from api.errors import ApiError, ErrorBody
from api.leaderboards import PERIOD_PATTERN, SPORT_PATTERN, resolve_period
from api.workout_owners import WorkoutOwners
from fitstream.domain.identifiers import check_id
from fitstream.domain.leaderboards import ALL_SPORTS
from fitstream.domain.route import route_geojson
from fitstream.domain.splits import km_splits
from fitstream.domain.windows import LeaderboardWindow
from fitstream.settings import FitStreamSettings
from stores.clickhouse import queries
from stores.clickhouse.store import ClickHouseStore

# ISO 8601 only, parsed by the handlers (400 invalid_time): pydantic's lax datetime also
# takes numbers as epoch seconds, so `to=0.5` was a valid date-time (finding 16).
FromQuery = Annotated[str | None, Query(
    alias="from", max_length=40, json_schema_extra={"format": "date-time"},
    description="earliest start, inclusive, ISO 8601 (public lists: its UTC day)")]
ToQuery = Annotated[str | None, Query(
    max_length=40, json_schema_extra={"format": "date-time"},
    description="latest start, exclusive, ISO 8601 (public lists: its UTC day, exclusive)")]


def parsed_time(field: str, value: str | None) -> datetime | None:
    """An ISO 8601 query value as a datetime (UTC when it names no zone); 400 if invalid."""
    if value is None:
        return None
    try:
        if not value[:4].isdigit() or value.isdigit():  # epoch numbers are not dates
            raise ValueError("it must start with a year")
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ApiError(400, "invalid_time", f"{field} is not an ISO 8601 date-time: {exc}",
                       {"field": field}) from exc
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
CursorQuery = Annotated[str | None, Query(description="next_cursor of the previous page")]


class BestEfforts(BaseModel):
    """Fastest elapsed seconds over each distance inside the workout (10 m resolution)."""

    one_km_s: float | None
    five_km_s: float | None
    ten_km_s: float | None


_SUMMARY_EXAMPLE = {
    "workout_id": "w-20261130-0712", "user_id": "user-1", "device_id": "watch-1",
    "sport_type": "running", "status": "completed", "start_time": "2026-11-30T07:12:00Z",
    "end_time": "2026-11-30T07:41:30Z", "moving_duration_s": 1740.0,
    "distance_meters": 5012.5, "calories_burned": 372.0, "avg_heart_rate": 151.2,
    "avg_speed_mps": 2.88, "sample_count": 354,
    "best_efforts": {"one_km_s": 331.2, "five_km_s": 1738.4, "ten_km_s": None},
    "version": 357}
_PUBLIC_EXAMPLE = {
    "workout_id": "w-20261130-0712", "user_id": "user-1", "sport_type": "running",
    "status": "completed", "start_date": "2026-11-30", "moving_duration_s": 1740.0,
    "distance_meters": 5012.5}


class WorkoutSummary(BaseModel):
    """The owner's full summary of one workout; ``version`` is the last event's seq."""

    model_config = ConfigDict(json_schema_extra={"examples": [_SUMMARY_EXAMPLE]})

    workout_id: str
    user_id: str
    device_id: str
    sport_type: str
    status: str
    start_time: datetime
    end_time: datetime | None
    moving_duration_s: float
    distance_meters: float
    calories_burned: float | None
    avg_heart_rate: float | None
    avg_speed_mps: float | None
    sample_count: int
    best_efforts: BestEfforts
    version: int


class WorkoutPage(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"items": [_SUMMARY_EXAMPLE], "next_cursor": "WzE3OTY0NTIzMjAwMDAsInctMSJd"}]})

    items: list[WorkoutSummary]
    next_cursor: str | None


class PublicWorkoutSummary(BaseModel):
    """What anyone may see of a workout: no device, heart rate, calories or exact times."""

    model_config = ConfigDict(json_schema_extra={"examples": [_PUBLIC_EXAMPLE]})

    workout_id: str
    user_id: str
    sport_type: str
    status: str
    start_date: date
    moving_duration_s: float
    distance_meters: float


class PublicWorkoutPage(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"items": [_PUBLIC_EXAMPLE], "next_cursor": None}]})

    items: list[PublicWorkoutSummary]
    next_cursor: str | None


class WorkoutSample(BaseModel):
    """One telemetry sample as the owner's device sent it."""

    offset_ms: int = Field(description="Since the workout's start")
    distance_meters: float
    heart_rate: float | None
    speed: float | None = Field(description="Metres per second")
    lat: float | None
    lon: float | None
    elevation_meters: float | None


class KmSplit(BaseModel):
    km: int
    elapsed_s: float = Field(description="Since the start, when this kilometre was reached")
    pace_s_per_km: float


class WorkoutDetails(BaseModel):
    """Every sample, km splits with pace, and heart rate and speed over the samples."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "workout_id": "w-20261130-0712",
        "samples": [{"offset_ms": 5000, "distance_meters": 14.2, "heart_rate": 121.0,
                     "speed": 2.84, "lat": 52.52, "lon": 13.405, "elevation_meters": 34.0}],
        "splits": [{"km": 1, "elapsed_s": 331.2, "pace_s_per_km": 331.2}],
        "max_heart_rate": 121.0, "avg_heart_rate": 121.0, "max_speed_mps": 2.84,
        "avg_speed_mps": 2.84}]})

    workout_id: str
    samples: list[WorkoutSample]
    splits: list[KmSplit]
    max_heart_rate: float | None
    avg_heart_rate: float | None
    max_speed_mps: float | None
    avg_speed_mps: float | None


class LineString(BaseModel):
    type: Literal["LineString"]
    coordinates: list[list[float]] = Field(description="[longitude, latitude] pairs")


class RouteProperties(BaseModel):
    workout_id: str
    tolerance_m: float
    points: int = Field(description="Points the device sent")
    kept: int = Field(description="Points left after simplification")


class WorkoutRoute(BaseModel):
    """A GeoJSON Feature (RFC 7946): the simplified route and its bounding box."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "type": "Feature", "bbox": [13.405, 52.52, 13.4112, 52.5231],
        "geometry": {"type": "LineString",
                     "coordinates": [[13.405, 52.52], [13.4112, 52.5231]]},
        "properties": {"workout_id": "w-20261130-0712", "tolerance_m": 5.0,
                       "points": 354, "kept": 2}}]})

    type: Literal["Feature"]
    bbox: list[float] | None = Field(description="[west, south, east, north]; null: no route")
    geometry: LineString
    properties: RouteProperties


class Totals(BaseModel):
    workouts: int
    distance_meters: float
    moving_time_s: float
    calories: float
    avg_speed_mps: float | None


class WeekTotals(Totals):
    week: str = Field(description="ISO week, e.g. 2026-W48")


class PersonalRecord(BaseModel):
    elapsed_s: float
    workout_id: str


class PersonalRecords(BaseModel):
    """The fastest 1, 5 and 10 km of completed runs; null: none yet (or not a run)."""

    one_km: PersonalRecord | None = Field(alias="1k")
    five_km: PersonalRecord | None = Field(alias="5k")
    ten_km: PersonalRecord | None = Field(alias="10k")


_TOTALS_EXAMPLE = {"workouts": 3, "distance_meters": 15012.5, "moving_time_s": 5220.0,
                   "calories": 1101.0, "avg_speed_mps": 2.876}


class UserStats(BaseModel):
    """Totals of a sport in a period, personal records and 12 weeks of activity."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "user_id": "user-1", "sport": "all", "window": "month", "period": "2026-11",
        "totals": _TOTALS_EXAMPLE,
        "personal_records": {"1k": {"elapsed_s": 331.2, "workout_id": "w-20261130-0712"},
                             "5k": None, "10k": None},
        "weekly_activity": [{"week": "2026-W48", **_TOTALS_EXAMPLE}]}]})

    user_id: str
    sport: str
    window: LeaderboardWindow
    period: str
    totals: Totals
    personal_records: PersonalRecords
    weekly_activity: list[WeekTotals] = Field(description="12 ISO weeks, oldest first")


def _ms_to_datetime(ms: int | None) -> datetime | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, UTC)


def to_summary(row: dict[str, Any]) -> WorkoutSummary:
    return WorkoutSummary(
        workout_id=row["workout_id"], user_id=row["user_id"], device_id=row["device_id"],
        sport_type=row["sport_type"], status=row["status"],
        start_time=_ms_to_datetime(row["start_ms"]), end_time=_ms_to_datetime(row["end_ms"]),
        moving_duration_s=row["moving_duration_ms"] / 1000,
        distance_meters=row["distance_meters"], calories_burned=row["calories_burned"],
        avg_heart_rate=row["avg_heart_rate"], avg_speed_mps=row["avg_speed_mps"],
        sample_count=row["sample_count"], version=row["last_seq"],
        best_efforts=BestEfforts(one_km_s=_seconds(row["best_1k_ms"]),
                                 five_km_s=_seconds(row["best_5k_ms"]),
                                 ten_km_s=_seconds(row["best_10k_ms"])))


def to_public_summary(row: dict[str, Any]) -> PublicWorkoutSummary:
    return PublicWorkoutSummary(
        workout_id=row["workout_id"], user_id=row["user_id"], sport_type=row["sport_type"],
        status=row["status"], start_date=_ms_to_datetime(row["start_ms"]).date(),
        moving_duration_s=row["moving_duration_ms"] / 1000,
        distance_meters=row["distance_meters"])


def _seconds(ms: int | None) -> float | None:
    return None if ms is None else ms / 1000


def encode_cursor(start_ms: int | None, workout_id: str) -> str:
    """A page's position; public pages name the workout only (None: no start time)."""
    return base64.urlsafe_b64encode(orjson.dumps([start_ms, workout_id])).decode().rstrip("=")


def decode_cursor(cursor: str, public: bool = False) -> tuple[int | None, str]:
    try:
        start_ms, workout_id = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if public:
            return None, check_id("workout_id", workout_id)
        return int(start_ms), str(workout_id)
    except (ValueError, TypeError) as exc:
        raise ApiError(400, "invalid_cursor", "cursor is not one this API issued") from exc


def owner_of(owners: WorkoutOwners, workout_id: str, what: str) -> str:
    """The workout's owner (from the claims); 400 for an invalid id, 404 if none."""
    owner = owners.owner_of(checked_id("workout_id", workout_id))
    if owner is None:
        raise ApiError(404, "not_found", f"no {what} {workout_id}")
    return owner


def owners_row(read: Callable[[ClickHouseStore, str, str], dict[str, Any] | None],
               store: ClickHouseStore, owners: WorkoutOwners, workout_id: str, what: str,
               user: str | None = None) -> dict[str, Any]:
    """The owner's row of the workout that ``read`` (a query of stores.clickhouse.queries)
    finds; with ``user``, 403 unless it is the owner. 404 without an owner or a row."""
    owner = owner_of(owners, workout_id, what)
    if user is not None:
        require_owner(user, owner, what)
    row = read(store, owner, workout_id)
    if row is None:
        raise ApiError(404, "not_found", f"no {what} {workout_id}")
    return row


def user_workouts(store: ClickHouseStore, user_id: str, from_: datetime | None,
                  to: datetime | None, limit: int, cursor: str | None, public: bool,
                  ) -> tuple[list[dict[str, Any]], str | None]:
    """A page of the user's summaries. ``public``: ``from`` and ``to`` count in whole
    UTC days and the cursor names only a workout id, so neither reveals an exact time."""
    to_ms = _day_ms if public else _to_ms
    before = None
    if cursor:
        before = (public_cursor_position(store, user_id, cursor) if public
                  else decode_cursor(cursor))
    rows = queries.user_workouts(
        store, user_id, from_ms=None if from_ is None else to_ms(from_),
        to_ms=None if to is None else to_ms(to), before=before, limit=limit + 1)
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = (encode_cursor(None, last["workout_id"]) if public
                       else encode_cursor(last["start_ms"], last["workout_id"]))
    return rows[:limit], next_cursor


def public_cursor_position(store: ClickHouseStore, user_id: str, cursor: str,
                           ) -> tuple[int, str]:
    """Where a public cursor's workout stands (its start is looked up, not sent)."""
    _, workout_id = decode_cursor(cursor, public=True)
    start_ms = queries.workout_start_ms(store, user_id, workout_id)
    if start_ms is None:
        raise ApiError(400, "invalid_cursor", "cursor is not one this API issued")
    return start_ms, workout_id


# The first route on the lifecycle (api/deprecation.py, docs/api-changelog.md).
SUMMARY_ALIAS = Deprecation(since=datetime(2026, 12, 1, tzinfo=UTC),
                            sunset=datetime(2027, 6, 1, tzinfo=UTC),
                            successor="/api/v1/workouts/{workout_id}/private")


def workout_router(settings: FitStreamSettings) -> APIRouter:
    """The workout views; ``settings`` give the documented page limits and the token
    secret of an app built without a verifier (api/auth.py)."""
    router = APIRouter(prefix="/api/v1", tags=["workouts"])
    api = settings.api
    secret = api.token_secret.get_secret_value()

    errors = {s: {"model": ErrorBody} for s in (400, 404)}
    owner_errors = {s: {"model": ErrorBody} for s in (400, 401, 403, 404)}
    # These routes verify the user token in the handler, after the path's ids; the
    # scheme as a dependency puts it in the OpenAPI document (and the generated client).
    signed_in = [Depends(user_scheme)]

    @router.get("/workouts/{workout_id}", response_model=PublicWorkoutSummary,
                responses=errors)
    def get_workout_summary(workout_id: WorkoutIdPath, request: Request, store: Store,
                            owners: Owners) -> Response:
        """A workout's public summary: sport, distance, moving time, start day, status
        (ETag, cached for 5 s). Its owner reads the full one at ``/private``."""
        row = owners_row(queries.workout_summary, store, owners, workout_id, "workout")
        return conditional_json(request, to_public_summary(row))

    @router.get("/workouts/{workout_id}/private", response_model=WorkoutSummary,
                responses=owner_errors, dependencies=signed_in)
    def get_private_workout_summary(workout_id: WorkoutIdPath, request: Request, store: Store,
                                    owners: Owners) -> Response:
        """The full latest summary of one of the caller's workouts (device, heart rate,
        calories, exact times, best efforts); owner only."""
        user = require_user(request, secret)
        row = owners_row(queries.workout_summary, store, owners, workout_id, "workout", user)
        return conditional_json(request, to_summary(row), cache_control=PRIVATE_VIEW)

    def get_workout_summary_legacy(workout_id: WorkoutIdPath, request: Request, store: Store,
                                   owners: Owners) -> Response:
        """Deprecated alias of ``/workouts/{workout_id}/private`` (the same answer), kept
        for app builds that call it until its sunset (docs/api-changelog.md)."""
        return get_private_workout_summary(workout_id, request, store, owners)

    add_deprecated_route(router, "/workouts/{workout_id}/summary", get_workout_summary_legacy,
                         SUMMARY_ALIAS, response_model=WorkoutSummary,
                         responses=owner_errors, dependencies=signed_in)

    page_limit = Query(ge=1, le=api.page_limit_max)

    @router.get("/users/{user_id}/workouts", response_model=PublicWorkoutPage,
                responses={400: {"model": ErrorBody}})
    def list_user_workouts(user_id: UserIdPath, store: Store, from_: FromQuery = None,
                           to: ToQuery = None,
                           limit: Annotated[int, page_limit] = api.page_limit_default,
                           cursor: CursorQuery = None) -> PublicWorkoutPage:
        """One user's workouts as public summaries, newest first, a page at a time."""
        rows, next_cursor = user_workouts(
            store, checked_id("user_id", user_id), parsed_time("from", from_),
            parsed_time("to", to), limit, cursor, public=True)
        return PublicWorkoutPage(items=[to_public_summary(r) for r in rows],
                                 next_cursor=next_cursor)

    @router.get("/users/{user_id}/workouts/private", response_model=WorkoutPage,
                responses={s: {"model": ErrorBody} for s in (400, 401, 403)},
                dependencies=signed_in)
    def list_private_user_workouts(
            user_id: UserIdPath, request: Request, store: Store, from_: FromQuery = None,
            to: ToQuery = None, limit: Annotated[int, page_limit] = api.page_limit_default,
            cursor: CursorQuery = None) -> WorkoutPage:
        """The caller's own workouts as full summaries, newest first; owner only."""
        checked_id("user_id", user_id)
        require_owner(require_user(request, secret), user_id, "user's workouts")
        rows, next_cursor = user_workouts(store, user_id, parsed_time("from", from_),
                                          parsed_time("to", to), limit, cursor, public=False)
        return WorkoutPage(items=[to_summary(r) for r in rows], next_cursor=next_cursor)

    @router.get("/workouts/{workout_id}/details", response_model=WorkoutDetails,
                responses=owner_errors, dependencies=signed_in)
    def get_workout_details(workout_id: WorkoutIdPath, request: Request, store: Store,
                            owners: Owners) -> dict[str, Any]:
        """Every sample, km splits with pace, max and average heart rate and speed; owner only."""
        user = require_user(request, secret)
        owner = owner_of(owners, workout_id, "workout")
        require_owner(user, owner, "workout's details")
        samples = queries.workout_samples(store, owner, workout_id)
        heart_rates = [s["heart_rate"] for s in samples if s["heart_rate"] is not None]
        speeds = [s["speed"] for s in samples if s["speed"] is not None]
        track = [(0.0, 0)] + [(s["distance_meters"], s["offset_ms"]) for s in samples]
        return {
            "workout_id": workout_id, "samples": samples, "splits": km_splits(track),
            "max_heart_rate": max(heart_rates, default=None),
            "avg_heart_rate": sum(heart_rates) / len(heart_rates) if heart_rates else None,
            "max_speed_mps": max(speeds, default=None),
            "avg_speed_mps": sum(speeds) / len(speeds) if speeds else None,
        }

    @router.get("/users/{user_id}/stats", response_model=UserStats, responses={
        s: {"model": ErrorBody} for s in (400, 401, 403)}, dependencies=signed_in)
    async def get_user_stats(
        user_id: UserIdPath, request: Request,
        sport: Annotated[str, Query(pattern=SPORT_PATTERN,
                                    description="A sport type, or all.")] = ALL_SPORTS,
        window: Annotated[LeaderboardWindow, Query()] = LeaderboardWindow.MONTH,
        period: Annotated[str | None, Query(pattern=PERIOD_PATTERN,
                                            description="default: the current one")] = None,
        *, view: Stats,
    ) -> Response:
        """Totals for a sport and period, personal records, 12 weeks of activity; owner only."""
        checked_id("user_id", user_id)
        require_owner(require_user(request, secret), user_id, "user's stats")
        period = resolve_period(window, period)
        # Only the owner gets past the check above. async, like the leaderboards: an
        # answer from cached boards needs no worker thread.
        return conditional_json(request, await view.stats(user_id, sport, window, period),
                                cache_control=PRIVATE_VIEW)

    @router.get("/workouts/{workout_id}/route", response_model=WorkoutRoute,
                responses=owner_errors, dependencies=signed_in)
    def get_workout_route(
        workout_id: WorkoutIdPath, request: Request,
        tolerance_m: Annotated[float, Query(ge=0, le=1000, description=(
            "Douglas-Peucker tolerance in metres; 0 keeps every turn"))] = 5.0,
        *, store: Store, owners: Owners,
    ) -> dict[str, Any]:
        """The route as GeoJSON (simplified LineString and bounding box); owner only."""
        user = require_user(request, secret)
        row = owners_row(queries.workout_route, store, owners, workout_id,
                         "route for workout", user)
        points = list(zip(row["lats"], row["lons"], strict=True))
        return route_geojson(workout_id, points, tolerance_m)

    return router


def _day_ms(moment: datetime) -> int:
    """The start of the moment's UTC day, in epoch ms."""
    return _to_ms(moment) // 86_400_000 * 86_400_000


def _to_ms(moment: datetime) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)
