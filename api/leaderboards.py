"""Leaderboards: the top N of a board, or one user's rank with neighbours (public)."""

import time
from collections.abc import Callable, Hashable
from functools import lru_cache
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict

from api.caching import Rendered, conditional_json, conditional_rendered, render
from api.dependencies import BoardsOfCache
from api.errors import ApiError, ErrorBody
from api.view_cache import MISSING
from fitstream.domain.events import SPORT_TYPES
from fitstream.domain.identifiers import ID_PATTERN
from fitstream.domain.leaderboards import ALL_SPORTS, METRIC_FIELD, LeaderboardMetric
from fitstream.domain.windows import LeaderboardWindow
from stores.clickhouse import queries
from stores.clickhouse.store import ClickHouseStore

# The shapes of a period (day, ISO week, month, year, all time); that it is a period of
# the window asked for is checked by the window (400 invalid_period).
PERIOD_PATTERN = r"^(all|[0-9]{4}(-W[0-9]{2}|-[0-9]{2}(-[0-9]{2})?)?)$"
SPORT_PATTERN = f"^({'|'.join((ALL_SPORTS, *SPORT_TYPES))})$"

class LeaderboardRow(BaseModel):
    rank: int
    user_id: str
    value: float
    workouts: int


class Leaderboard(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"metric": "distance", "window": "week", "period": "2026-W48", "sport": "all",
         "entries": [{"rank": 1, "user_id": "user-2", "value": 42195.0, "workouts": 4},
                     {"rank": 2, "user_id": "user-1", "value": 15012.5, "workouts": 3}]}]})

    metric: LeaderboardMetric
    window: LeaderboardWindow
    period: str
    sport: str
    entries: list[LeaderboardRow]


def not_on_board(user_id: str) -> ApiError:
    return ApiError(404, "not_found", f"{user_id} has no entry on this leaderboard")


@lru_cache(maxsize=4096)
def _period_problem(window: LeaderboardWindow, period: str) -> str | None:
    """Why ``period`` is not a period of ``window``, or None. Cached: parsing it
    (strptime) cost 6% of the API under load, on every request, for a handful of keys."""
    try:
        window.bounds(period)
    except ValueError as exc:
        return str(exc)
    return None


def resolve_period(window: LeaderboardWindow, period: str | None) -> str:
    """The period asked for (default: the current one); ApiError 400 if malformed."""
    if period is None:
        return window.period_of(int(time.time() * 1000))
    problem = _period_problem(window, period)
    if problem is not None:
        raise ApiError(400, "invalid_period", problem)
    return period


class Renders:
    """Bodies rendered from a cached board, reused while the view cache hands out the
    same board object: a top-100 was encoded and hashed anew for every reader of the
    same answer. Per board, only the current object's bodies are kept (so no older
    board stays alive here); at most ``max_boards`` boards and ``max_answers`` bodies
    per board (the questions include ``around_user``), else that level starts empty."""

    def __init__(self, max_boards: int = 256, max_answers: int = 4096) -> None:
        self.max_boards = max_boards
        self.max_answers = max_answers
        self._boards: dict[Hashable, tuple[object, dict[Hashable, Rendered]]] = {}

    def get(self, board: Hashable, source: object, question: Hashable,
            make: Callable[[], dict[str, Any]]) -> Rendered:
        held = self._boards.get(board)
        if held is None or held[0] is not source:
            if len(self._boards) >= self.max_boards:
                self._boards = {}
            held = self._boards[board] = (source, {})
        answers = held[1]
        rendered = answers.get(question)
        if rendered is None:
            if len(answers) >= self.max_answers:
                answers.clear()
            rendered = answers[question] = render(make())
        return rendered


def sliced_in_store(store: ClickHouseStore, board: dict[str, Any], column: str, limit: int,
                    around_user: str | None, neighbours: int,
                    ) -> tuple[list[dict[str, Any]], int]:
    """The entries asked for and the rank of the first, ranked by ClickHouse."""
    if around_user is None:
        return queries.leaderboard_rows(store, board, column, limit=limit), 1
    mine = queries.leaderboard_entry(store, board, column, around_user)
    if mine is None:
        raise not_on_board(around_user)
    ahead = queries.leaderboard_ahead(store, board, column, mine, around_user)
    first_rank = max(1, ahead + 1 - neighbours)
    return queries.leaderboard_rows(store, board, column, offset=first_rank - 1,
                                    limit=ahead + 2 - first_rank + neighbours), first_rank


def answer(metric: LeaderboardMetric, board: dict[str, Any], found: list[dict[str, Any]],
           first_rank: int) -> dict[str, Any]:
    """The body, as plain dicts in the Leaderboard shape: validating a model per row cost
    more than the rest of a cached answer."""
    return {"metric": metric.value, "window": board["window"], "period": board["period"],
            "sport": board["sport"],
            "entries": [{"rank": first_rank + i, "user_id": r["user_id"],
                         "value": float(r["value"]), "workouts": r["workouts"]}
                        for i, r in enumerate(found)]}


def leaderboard_router() -> APIRouter:
    router = APIRouter(prefix="/api/v1", tags=["leaderboards"])
    renders = Renders()

    # async: a cached answer is served on the event loop, with no hop to a worker thread
    # (those hops, queued behind the GIL, were most of the latency at 1,000 requests/s);
    # reading the store always runs on a worker thread.
    @router.get("/leaderboards/{metric}", response_model=Leaderboard,
                responses={400: {"model": ErrorBody}, 404: {"model": ErrorBody}})
    async def get_leaderboard(
        metric: Annotated[LeaderboardMetric, Path(description="What is ranked.")],
        request: Request,
        window: Annotated[LeaderboardWindow, Query(description="Calendar window, UTC.")]
        = LeaderboardWindow.WEEK,
        period: Annotated[str | None, Query(
            pattern=PERIOD_PATTERN,
            description="2026-11-26, 2026-W48 (ISO week), 2026-11, 2026 or all, of the "
                        "window (else 400); default: the current one")] = None,
        sport: Annotated[str, Query(pattern=SPORT_PATTERN,
                                    description="A sport type, or all.")] = ALL_SPORTS,
        limit: Annotated[int, Query(ge=1, le=1000)] = 10,
        around_user: Annotated[str | None, Query(
            pattern=ID_PATTERN,
            description="Rank this user, with `neighbours` above and below.")] = None,
        neighbours: Annotated[int, Query(ge=0, le=100)] = 2,
        *, boards: BoardsOfCache,
    ) -> Response:
        """Top entries by metric, ties broken by who reached the value first, then user id."""
        period = resolve_period(window, period)
        if sport != ALL_SPORTS and sport not in SPORT_TYPES:
            raise ApiError(400, "invalid_sport", f"unknown sport {sport!r}",
                           {"allowed": [ALL_SPORTS, *SPORT_TYPES]})
        board = {"window": window.value, "period": period, "sport": sport}
        column = METRIC_FIELD[metric]
        whole = boards.held(column, window.value, period, sport)
        if whole is MISSING:
            whole = await boards.get(column, window.value, period, sport)
        if whole is None:
            found, first_rank = await run_in_threadpool(
                sliced_in_store, boards.store, board, column, limit, around_user, neighbours)
            return conditional_json(request, answer(metric, board, found, first_rank))
        if around_user is None:
            found, first_rank = whole[0][:limit], 1
        else:
            ordered, position = whole
            if around_user not in position:
                raise not_on_board(around_user)
            first_rank = max(1, position[around_user] + 1 - neighbours)
            found = ordered[first_rank - 1:position[around_user] + 1 + neighbours]
        # The same board object gives the same body: rendered once per board and question.
        return conditional_rendered(request, renders.get(
            (column, window.value, period, sport), whole, (limit, around_user, neighbours),
            lambda: answer(metric, board, found, first_rank)))

    return router
