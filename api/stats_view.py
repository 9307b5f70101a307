"""A user's WorkoutStats, read from the totals the processor keeps.

The totals and the 12 weeks of activity are the user's leaderboard entries
(fitstream/domain/stats.py: they are the same sums), so a stats answer reads the boards
the leaderboard endpoint already loads whole and ranks once per TTL (api/boards.py, the
same view-cache keys): a board load serves every user's stats and every reader of the
board, instead of one query of the user's summaries per user per TTL.

Only the personal records need the summaries. They change only when the user's count of
completed runs does (their running all-time entry), so they are read again when that
count moves, or after ``RECORDS_MAX_AGE_S``, not every TTL; a user with no completed run
has none, with no query at all.

Where the entries cannot answer, the answer is computed from the summaries as before
(cached per TTL): the all-time window (its weeks end at the latest workout, which no
entry holds), a board too big to hold (``ranked_board_max_rows``), entries of one board
read at different moments (their workout counts differ until the next load: the three
metrics are three loads), or the view cache turned off.
"""

from __future__ import annotations

import asyncio
import random
import time
from functools import lru_cache
from typing import Any

import structlog
from fastapi.concurrency import run_in_threadpool

from api.boards import Boards
from api.view_cache import MISSING, refresh_slot
from fitstream.domain.leaderboards import ALL_SPORTS
from fitstream.domain.stats import (
    RECORD_FIELDS,
    RECORD_SPORT,
    Totals,
    activity_weeks,
    personal_records,
    stats_from_totals,
    user_stats,
)
from fitstream.domain.windows import LeaderboardWindow
from stores.clickhouse import queries

log = structlog.get_logger("api.stats_view")

# The board columns a stats answer needs (each board's rows also carry the workouts).
TOTAL_COLUMNS = ("distance_meters", "moving_time_s", "calories")
RECORDS_MAX_AGE_S = 60.0
CANNOT = object()
"""What a lookup returns when the entries cannot answer (see the module docstring)."""

Board = tuple[str, str]
"""(window value, period)."""
WEEK = LeaderboardWindow.WEEK.value


@lru_cache(maxsize=4096)
def _boards_of(window: str, period: str) -> tuple[Board, ...]:
    """The period's board and its 12 weeks' boards."""
    return ((window, period), *((WEEK, week) for week in activity_weeks(
        LeaderboardWindow(window), period)))


class StatsView:
    def __init__(self, boards: Boards, max_users: int = 100_000) -> None:
        self.boards = boards
        self.max_users = max_users
        # user -> (completed runs counted, read at, records, max age)
        self._records: dict[str, tuple[int, float, dict[str, Any], float]] = {}
        self._refreshing: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    def _entry(self, user_id: str, window: str, period: str, sport: str) -> Any:
        """The user's entry on the board (None if they have none), ``CANNOT``, or
        ``MISSING`` if a board is not in memory."""
        values: dict[str, float] = {}
        workouts = set()
        for column in TOTAL_COLUMNS:
            ranked = self.boards.held(column, window, period, sport)
            if ranked is None or ranked is MISSING:
                return CANNOT if ranked is None else MISSING
            rows, position = ranked
            at = position.get(user_id)
            if at is None:
                workouts.add(0)
                continue
            values[column] = rows[at]["value"]
            workouts.add(rows[at]["workouts"])
        if len(workouts) != 1:
            return CANNOT
        count = workouts.pop()
        return None if count == 0 else {"workouts": count, **values}

    async def _held_entry(self, user_id: str, window: str, period: str, sport: str) -> Any:
        """:meth:`_entry`, loading the boards (on worker threads) that are not held."""
        entry = self._entry(user_id, window, period, sport)
        if entry is MISSING:
            for column in TOTAL_COLUMNS:
                await self.boards.get(column, window, period, sport)
            entry = self._entry(user_id, window, period, sport)
        return CANNOT if entry is MISSING else entry

    async def _records_of(self, user_id: str) -> dict[str, Any]:
        runs = await self._held_entry(user_id, "all", "all", RECORD_SPORT)
        if runs is None:  # no completed run (or erased): nothing of theirs is kept
            self._records.pop(user_id, None)
            return dict.fromkeys(RECORD_FIELDS)
        if runs is CANNOT:  # no count to follow: read once per TTL, as every view
            return await self.boards.cache.get_async(
                ("records", user_id), lambda: personal_records(
                    queries.user_stats_summaries(self.boards.store, user_id)))
        count = runs["workouts"]
        held = self._records.get(user_id)
        if held is not None and held[0] == count:
            if (time.monotonic() - held[1] >= held[3] and user_id not in self._refreshing):
                # Old but of the same runs: answered while one read runs on a thread.
                self._refreshing.add(user_id)
                task = asyncio.get_running_loop().create_task(self._refresh(user_id, count))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            return held[2]
        return await self._read_records(user_id, count)

    async def _read_records(self, user_id: str, count: int) -> dict[str, Any]:
        summaries = await run_in_threadpool(queries.user_stats_summaries, self.boards.store,
                                            user_id)
        records = personal_records(summaries)
        stored_runs = sum(1 for s in summaries if s["status"] == "completed"
                          and s["sport_type"] == RECORD_SPORT)
        # Kept only once the summaries hold every run the entry counts (the two views
        # are written by different sinks); until then read again on the next request.
        if stored_runs >= count:
            if len(self._records) >= self.max_users:
                self._records = {}
            # A max age of 1 to 1.5 times RECORDS_MAX_AGE_S: users first read together
            # are not all read again together.
            self._records[user_id] = (count, time.monotonic(), records,
                                      RECORDS_MAX_AGE_S * (1 + random.random() / 2))
        return records

    async def _refresh(self, user_id: str, count: int) -> None:
        try:
            async with refresh_slot():
                await self._read_records(user_id, count)
        except Exception:
            # The old records age on; the next reader after a count change reads inline.
            log.exception("records_refresh_failed", user_id=user_id)
        finally:
            self._refreshing.discard(user_id)

    async def _entries(self, user_id: str, window: str, period: str,
                       sport: str) -> dict[Board, Totals | None] | None:
        """The user's entries on the period's and its weeks' boards; None if the entries
        cannot answer."""
        entries = {}
        for board in _boards_of(window, period):
            entry = self._entry(user_id, *board, sport)
            if entry is MISSING:
                entry = await self._held_entry(user_id, *board, sport)
            if entry is CANNOT:
                return None
            entries[board] = entry
        return entries

    async def stats(self, user_id: str, sport: str, window: LeaderboardWindow,
                    period: str) -> dict[str, Any]:
        if window is not LeaderboardWindow.ALL and self.boards.cache.ttl_s > 0:
            entries = await self._entries(user_id, window.value, period, sport)
            if entries is not None:
                records = (await self._records_of(user_id)
                           if sport in (ALL_SPORTS, RECORD_SPORT)
                           else dict.fromkeys(RECORD_FIELDS))
                return {"user_id": user_id, **stats_from_totals(
                    lambda w, p: entries[(w.value, p)], records, sport, window, period)}
        return await self.boards.cache.get_async(
            ("stats", user_id, sport, window, period),
            lambda: self.from_summaries(user_id, sport, window, period))

    def from_summaries(self, user_id: str, sport: str, window: LeaderboardWindow,
                       period: str) -> dict[str, Any]:
        rows = queries.user_stats_summaries(self.boards.store, user_id)
        summaries = [{**row, "start_time": row["start_ms"]} for row in rows]
        return {"user_id": user_id, **user_stats(summaries, sport, window, period)}
