"""Leaderboards: the top N of a board, or one user's rank with neighbours (public)."""

import time
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel

from api.caching import conditional_json
from api.errors import ApiError, ErrorBody
from api.view_cache import ViewCache
from fitstream.domain.events import SPORT_TYPES
from fitstream.domain.leaderboards import ALL_SPORTS, METRIC_FIELD, LeaderboardMetric
from fitstream.domain.windows import LeaderboardWindow
from sinks.clickhouse.store import ClickHouseStore

# Ranking order, as in fitstream.domain.leaderboards.ranking_key.
ORDER = "value DESC, reached_at_ms ASC, user_id ASC"


class LeaderboardRow(BaseModel):
    rank: int
    user_id: str
    value: float
    workouts: int


class Leaderboard(BaseModel):
    metric: LeaderboardMetric
    window: LeaderboardWindow
    period: str
    sport: str
    entries: list[LeaderboardRow]


def resolve_period(window: LeaderboardWindow, period: str | None) -> str:
    """The period asked for (default: the current one); ApiError 400 if malformed."""
    if period is None:
        return window.period_of(int(time.time() * 1000))
    try:
        window.bounds(period)
    except ValueError as exc:
        raise ApiError(400, "invalid_period", str(exc)) from exc
    return period


def leaderboard_router(store: ClickHouseStore, cache: ViewCache,
                       ranked_board_max_rows: int) -> APIRouter:
    router = APIRouter(prefix="/api/v1", tags=["leaderboards"])
    db = store.database

    def ranked_board(board: dict[str, Any], column: str,
                     ) -> tuple[list[dict[str, Any]], dict[str, int]] | None:
        """A whole board in rank order with each user's position, or None if too big to
        hold (readers of a big board query ClickHouse for their slice instead)."""
        found = rows(board, column, limit=ranked_board_max_rows + 1)
        if len(found) > ranked_board_max_rows:
            return None
        return found, {r["user_id"]: i for i, r in enumerate(found)}

    def rows(board: dict[str, Any], column: str, where: str = "", offset: int = 0,
             limit: int = 10, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        return store.query(
            f"SELECT user_id, {column} AS value, workouts, reached_at_ms"
            f" FROM {db}.leaderboard_entries FINAL"
            " WHERE time_window = %(window)s AND period = %(period)s AND sport = %(sport)s"
            f" {where} ORDER BY {ORDER} LIMIT %(offset)s, %(limit)s",
            {**board, **(params or {}), "offset": offset, "limit": limit})

    @router.get("/leaderboards/{metric}", response_model=Leaderboard,
                responses={400: {"model": ErrorBody}, 404: {"model": ErrorBody}})
    def get_leaderboard(
        metric: Annotated[LeaderboardMetric, Path(description="What is ranked.")],
        request: Request,
        window: Annotated[LeaderboardWindow, Query(description="Calendar window, UTC.")]
        = LeaderboardWindow.WEEK,
        period: Annotated[str | None, Query(
            description="2026-11-26, 2026-W48 (ISO week), 2026-11, 2026 or all; "
                        "default: the current one")] = None,
        sport: Annotated[str, Query(description="A sport type, or all.")] = ALL_SPORTS,
        limit: Annotated[int, Query(ge=1, le=1000)] = 10,
        around_user: Annotated[str | None, Query(
            description="Rank this user, with `neighbours` above and below.")] = None,
        neighbours: Annotated[int, Query(ge=0, le=100)] = 2,
    ) -> Response:
        """Top entries by metric, ties broken by who reached the value first, then user id."""
        period = resolve_period(window, period)
        if sport != ALL_SPORTS and sport not in SPORT_TYPES:
            raise ApiError(400, "invalid_sport", f"unknown sport {sport!r}",
                           {"allowed": [ALL_SPORTS, *SPORT_TYPES]})
        board = {"window": window.value, "period": period, "sport": sport}
        column = METRIC_FIELD[metric]
        first_rank = 1
        whole = cache.get(("board", column, window, period, sport),
                          lambda: ranked_board(board, column))
        if whole is not None:
            ordered, position = whole
            if around_user is None:
                found = ordered[:limit]
            else:
                if around_user not in position:
                    raise ApiError(404, "not_found",
                                   f"{around_user} has no entry on this leaderboard")
                first_rank = max(1, position[around_user] + 1 - neighbours)
                found = ordered[first_rank - 1:position[around_user] + 1 + neighbours]
        elif around_user is None:
            found = rows(board, column, limit=limit)
        else:
            mine = store.query(
                f"SELECT {column} AS value, reached_at_ms FROM {db}.leaderboard_entries FINAL"
                " WHERE time_window = %(window)s AND period = %(period)s AND sport = %(sport)s"
                " AND user_id = %(user)s", {**board, "user": around_user})
            if not mine:
                raise ApiError(404, "not_found",
                               f"{around_user} has no entry on this leaderboard")
            ahead = store.query(
                f"SELECT count() AS n FROM {db}.leaderboard_entries FINAL"
                " WHERE time_window = %(window)s AND period = %(period)s AND sport = %(sport)s"
                f" AND ({column} > %(value)s OR ({column} = %(value)s AND"
                " (reached_at_ms < %(reached)s OR (reached_at_ms = %(reached)s"
                " AND user_id < %(user)s))))",
                {**board, "value": mine[0]["value"], "reached": mine[0]["reached_at_ms"],
                 "user": around_user})[0]["n"]
            rank = ahead + 1
            first_rank = max(1, rank - neighbours)
            found = rows(board, column, offset=first_rank - 1,
                         limit=rank - first_rank + 1 + neighbours)
        # Plain dicts in the Leaderboard shape: validating a model per row cost more than
        # the rest of a cached answer.
        return conditional_json(request, {
            "metric": metric.value, "window": window.value, "period": period, "sport": sport,
            "entries": [{"rank": first_rank + i, "user_id": r["user_id"],
                         "value": float(r["value"]), "workouts": r["workouts"]}
                        for i, r in enumerate(found)]})

    return router
