"""Workout read models served from ClickHouse: one summary, and a user's list by cursor."""

import base64
from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel

from api.auth import require_owner, require_user
from api.caching import PRIVATE_VIEW, conditional_json
from api.errors import ApiError, ErrorBody
from api.leaderboards import resolve_period
from api.view_cache import ViewCache
from fitstream.domain.leaderboards import ALL_SPORTS
from fitstream.domain.route import route_geojson
from fitstream.domain.splits import km_splits
from fitstream.domain.stats import user_stats
from fitstream.domain.windows import LeaderboardWindow
from fitstream.settings import FitStreamSettings
from sinks.clickhouse.store import ClickHouseStore

SUMMARY_COLUMNS = (
    "workout_id, user_id, device_id, sport_type, status, start_ms, end_ms, moving_duration_ms,"
    " distance_meters, calories_burned, avg_heart_rate, avg_speed_mps, sample_count, last_seq,"
    " best_1k_ms, best_5k_ms, best_10k_ms")


class BestEfforts(BaseModel):
    """Fastest elapsed seconds over each distance inside the workout (10 m resolution)."""

    one_km_s: float | None
    five_km_s: float | None
    ten_km_s: float | None


class WorkoutSummary(BaseModel):
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
    items: list[WorkoutSummary]
    next_cursor: str | None


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


def _seconds(ms: int | None) -> float | None:
    return None if ms is None else ms / 1000


def encode_cursor(start_ms: int, workout_id: str) -> str:
    return base64.urlsafe_b64encode(orjson.dumps([start_ms, workout_id])).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[int, str]:
    try:
        start_ms, workout_id = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        return int(start_ms), str(workout_id)
    except (ValueError, TypeError) as exc:
        raise ApiError(400, "invalid_cursor", "cursor is not one this API issued") from exc


def workout_router(settings: FitStreamSettings, store: ClickHouseStore,
                   cache: ViewCache) -> APIRouter:
    router = APIRouter(prefix="/api/v1", tags=["workouts"])
    db = store.database
    api = settings.api
    secret = api.token_secret.get_secret_value()

    @router.get("/workouts/{workout_id}", response_model=WorkoutSummary,
                responses={404: {"model": ErrorBody}})
    def get_workout_summary(workout_id: str, request: Request) -> Response:
        """The latest summary of one workout (public; ETag, cached for 5 s)."""
        rows = store.query(
            f"SELECT {SUMMARY_COLUMNS} FROM {db}.workout_summary FINAL"
            " WHERE workout_id = %(workout_id)s LIMIT 1", {"workout_id": workout_id})
        if not rows:
            raise ApiError(404, "not_found", f"no workout {workout_id}")
        return conditional_json(request, to_summary(rows[0]))

    @router.get("/users/{user_id}/workouts", response_model=WorkoutPage,
                responses={400: {"model": ErrorBody}})
    def list_user_workouts(
        user_id: str,
        from_: Annotated[datetime | None, Query(alias="from",
                                                description="earliest start, inclusive")] = None,
        to: Annotated[datetime | None, Query(description="latest start, exclusive")] = None,
        limit: Annotated[int, Query(ge=1, le=api.page_limit_max)] = api.page_limit_default,
        cursor: Annotated[str | None, Query(description="next_cursor of the previous page")]
        = None,
    ) -> WorkoutPage:
        """One user's workouts, newest first, a page at a time."""
        where = ["user_id = %(user_id)s"]
        params: dict[str, Any] = {"user_id": user_id, "limit": limit + 1}
        if from_ is not None:
            where.append("start_ms >= %(from_ms)s")
            params["from_ms"] = _to_ms(from_)
        if to is not None:
            where.append("start_ms < %(to_ms)s")
            params["to_ms"] = _to_ms(to)
        if cursor:
            params["c_start"], params["c_id"] = decode_cursor(cursor)
            where.append("(start_ms < %(c_start)s OR (start_ms = %(c_start)s"
                         " AND workout_id < %(c_id)s))")
        rows = store.query(
            f"SELECT {SUMMARY_COLUMNS} FROM {db}.workout_summary FINAL"
            f" WHERE {' AND '.join(where)}"
            " ORDER BY start_ms DESC, workout_id DESC LIMIT %(limit)s", params)
        items = [to_summary(r) for r in rows[:limit]]
        next_cursor = None
        if len(rows) > limit:
            last = rows[limit - 1]
            next_cursor = encode_cursor(last["start_ms"], last["workout_id"])
        return WorkoutPage(items=items, next_cursor=next_cursor)

    @router.get("/workouts/{workout_id}/details", responses={
        s: {"model": ErrorBody} for s in (401, 403, 404)})
    def get_workout_details(workout_id: str, request: Request) -> dict[str, Any]:
        """Every sample, km splits with pace, max and average heart rate and speed; owner only."""
        user = require_user(request, secret)
        owner = store.query(f"SELECT user_id FROM {db}.workout_summary FINAL"
                            " WHERE workout_id = %(workout_id)s LIMIT 1",
                            {"workout_id": workout_id})
        if not owner:
            raise ApiError(404, "not_found", f"no workout {workout_id}")
        require_owner(user, owner[0]["user_id"], "workout's details")
        samples = store.query(
            f"SELECT offset_ms, distance_meters, heart_rate, speed, lat, lon, elevation_meters"
            f" FROM {db}.workout_samples FINAL WHERE workout_id = %(workout_id)s"
            " ORDER BY offset_ms", {"workout_id": workout_id})
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

    @router.get("/users/{user_id}/stats", responses={
        s: {"model": ErrorBody} for s in (400, 401, 403)})
    async def get_user_stats(
        user_id: str, request: Request,
        sport: Annotated[str, Query(description="A sport type, or all.")] = ALL_SPORTS,
        window: Annotated[LeaderboardWindow, Query()] = LeaderboardWindow.MONTH,
        period: Annotated[str | None, Query(description="default: the current one")] = None,
    ) -> Response:
        """Totals for a sport and period, personal records, 12 weeks of activity; owner only."""
        require_owner(require_user(request, secret), user_id, "user's stats")
        period = resolve_period(window, period)

        def stats() -> dict[str, Any]:
            rows = store.query(
                f"SELECT workout_id, sport_type, status, start_ms, moving_duration_ms,"
                f" distance_meters, calories_burned, best_1k_ms, best_5k_ms, best_10k_ms"
                f" FROM {db}.workout_summary FINAL WHERE user_id = %(user_id)s",
                {"user_id": user_id})
            summaries = [{**row, "start_time": row["start_ms"]} for row in rows]
            return {"user_id": user_id, **user_stats(summaries, sport, window, period)}

        # Cached per owner and question; only the owner gets past the check above.
        # async, like the leaderboards: a cached answer needs no worker thread.
        return conditional_json(request, await cache.get_async(
            ("stats", user_id, sport, window, period), stats), cache_control=PRIVATE_VIEW)

    @router.get("/workouts/{workout_id}/route", responses={
        s: {"model": ErrorBody} for s in (401, 403, 404)})
    def get_workout_route(
        workout_id: str, request: Request,
        tolerance_m: Annotated[float, Query(ge=0, le=1000, description=(
            "Douglas-Peucker tolerance in metres; 0 keeps every turn"))] = 5.0,
    ) -> dict[str, Any]:
        """The route as GeoJSON (simplified LineString and bounding box); owner only."""
        user = require_user(request, secret)
        rows = store.query(f"SELECT user_id, lats, lons FROM {db}.workout_routes FINAL"
                           " WHERE workout_id = %(workout_id)s LIMIT 1",
                           {"workout_id": workout_id})
        if not rows:
            raise ApiError(404, "not_found", f"no route for workout {workout_id}")
        require_owner(user, rows[0]["user_id"], "route")
        points = list(zip(rows[0]["lats"], rows[0]["lons"], strict=True))
        return route_geojson(workout_id, points, tolerance_m)

    return router


def _to_ms(moment: datetime) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)
