"""Whole leaderboards in the view cache: loaded and ranked once per TTL, shared by the
leaderboard reads (api/leaderboards.py) and the stats reads (api/stats_view.py)."""

from __future__ import annotations

from functools import partial
from typing import Any

from api.view_cache import MISSING, ViewCache
from stores.clickhouse import queries
from stores.clickhouse.store import ClickHouseStore

Ranked = tuple[list[dict[str, Any]], dict[str, int]]
"""A board's rows in rank order (user_id, value, workouts, reached_at_ms), and each
user's position in them."""


def ranked_board(store: ClickHouseStore, board: dict[str, Any], column: str, max_rows: int,
                 ) -> Ranked | None:
    """A whole board in rank order with each user's position, or None if too big to
    hold (readers of a big board query ClickHouse for their slice instead)."""
    found = queries.leaderboard_rows(store, board, column, limit=max_rows + 1)
    if len(found) > max_rows:
        return None
    return found, {r["user_id"]: i for i, r in enumerate(found)}


class Boards:
    """The boards of the view cache (key ``("board", column, window, period, sport)``),
    each :func:`ranked_board` of the store, loaded once per TTL whoever reads it.

    ``window`` is the window's value (``"week"``), not the enum member: an enum member
    hashes in Python code, and a stats answer looks up 39 boards."""

    def __init__(self, store: ClickHouseStore, cache: ViewCache, max_rows: int) -> None:
        self.store = store
        self.cache = cache
        self.max_rows = max_rows

    def _load(self, column: str, window: str, period: str, sport: str) -> Ranked | None:
        board = {"window": window, "period": period, "sport": sport}
        return ranked_board(self.store, board, column, self.max_rows)

    def held(self, column: str, window: str, period: str, sport: str) -> Ranked | None:
        """The board from memory (None: too big to hold), or ``MISSING``: then
        :meth:`get` it. No coroutine, for readers of dozens of boards per request."""
        return self.cache.held(("board", column, window, period, sport),
                               partial(self._load, column, window, period, sport))

    async def get(self, column: str, window: str, period: str, sport: str,
                  ) -> Ranked | None:
        """The board (None: too big to hold), loaded on a worker thread if not held."""
        key = ("board", column, window, period, sport)
        load = partial(self._load, column, window, period, sport)
        held = self.cache.held(key, load)
        return held if held is not MISSING else await self.cache.get_async(key, load)
