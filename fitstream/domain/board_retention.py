"""Retention of the weekly boards (the boards stage's state, keyed by board).

Each board (``week|<ISO week>|<sport>``) holds every completion of its week
(notifications.WeeklyBoard), and nothing ever touches a past week's board again but a
completion that arrives for it late, so without retention the stage keeps every week
of history. A board is dropped once its week has ended more than
:data:`BOARD_RETENTION_MS` (28 days) before the stage's clock, and from then on a
completion for that week is not considered (no state, no notification).

The stage's clock is per *scope* (the engine's unit of keyed state that is processed in
order: a partition of the board-completions topic in Faust): the latest ``end_time``
among the completions the scope has taken. Each scope keeps a :class:`BoardIndex`
under the key ``index|<scope>`` (no board key starts with ``index``): its clock, its
boards with the end of their week, and ``retired_before``, the week end before which
boards are gone. It is written by its own scope only, so in Faust it lands in that
partition's changelog, like the boards it lists.

Why 28 days, against a clock that runs on every user's completions: a completion is
the events stage's output, judged against its own user's clock (event_time.py), and a
user whose phone was offline for days is not late; the boards' clock has moved on
with everyone else meanwhile. 28 days is the allowed lateness (48 h) plus the bounds'
reach (9 days) plus more than two weeks for such syncs; a top-10 notice about a week
that ended more than four weeks ago is not news. The decision depends on the order in
which completions reach a board, as who enters a board's top places already does
(notifications.py): the differential tests leave these notifications out, and compare
the board completions, which retention does not change.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from fitstream.domain.windows import LeaderboardWindow

DAY_MS = 86_400_000
BOARD_RETENTION_MS = 28 * DAY_MS


def index_key(scope: str) -> str:
    return f"index|{scope}"


@lru_cache(maxsize=4096)
def week_end(board: str) -> int:
    """The end of a weekly board's week (``week|2026-W48|running``), epoch ms."""
    window, period, _ = board.split("|")
    bounds = LeaderboardWindow(window).bounds(period)
    assert bounds is not None  # a weekly board
    return bounds[1]


class BoardIndex:
    """One scope's boards, its clock, and how far its boards have been retired."""

    __slots__ = ("boards", "clock", "retired_before")

    def __init__(self, clock: int = 0, boards: dict[str, int] | None = None,
                 retired_before: int = 0) -> None:
        self.clock = clock
        self.boards: dict[str, int] = dict(boards or {})
        self.retired_before = retired_before

    def to_state(self) -> dict[str, Any]:
        return {"clock": self.clock, "boards": self.boards,
                "retired_before": self.retired_before}

    @classmethod
    def from_state(cls, state: dict[str, Any] | None) -> BoardIndex:
        if not state:
            return cls()
        return cls(state["clock"], state["boards"], state["retired_before"])

    def admits(self, board: str) -> bool:
        """False for a board already retired: its completion is not considered."""
        return week_end(board) >= self.retired_before

    def observe(self, board: str, end_time: int) -> None:
        self.clock = max(self.clock, end_time)
        self.boards.setdefault(board, week_end(board))

    def retire(self) -> list[str]:
        """The boards whose week ended more than the retention before the clock: to drop."""
        threshold = self.clock - BOARD_RETENTION_MS
        due = sorted(b for b, end in self.boards.items() if end < threshold)
        for board in due:
            del self.boards[board]
        self.retired_before = max(self.retired_before, threshold)
        return due
