"""Calendar windows in UTC, named by period keys that sort in time order within a window.

| window | period key        | example       |
|--------|-------------------|---------------|
| day    | YYYY-MM-DD        | 2026-11-26    |
| week   | ISO week, YYYY-Www| 2026-W48      |
| month  | YYYY-MM           | 2026-11       |
| year   | YYYY              | 2026          |
| all    | all               | all           |

Weeks are ISO 8601 (Monday to Sunday; week 1 holds the year's first Thursday), so
the days around New Year belong to the ISO year of their week: 2026-12-31 is in
2026-W53 and 2027-01-01 in 2026-W53 too. UTC is used everywhere so that one
workout lands in one period for every reader, whatever their time zone.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import StrEnum


class LeaderboardWindow(StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    YEAR = "year"
    ALL = "all"

    def period_of(self, epoch_ms: int) -> str:
        """The key of the period that contains an instant."""
        if self is LeaderboardWindow.ALL:
            return "all"
        moment = datetime.fromtimestamp(epoch_ms / 1000, UTC)
        if self is LeaderboardWindow.DAY:
            return f"{moment:%Y-%m-%d}"
        if self is LeaderboardWindow.WEEK:
            iso = moment.isocalendar()
            return f"{iso.year}-W{iso.week:02d}"
        if self is LeaderboardWindow.MONTH:
            return f"{moment:%Y-%m}"
        return f"{moment:%Y}"

    def bounds(self, period: str) -> tuple[int, int] | None:
        """[start, end) of a period in epoch ms; None for all-time. ValueError if malformed."""
        if self is LeaderboardWindow.ALL:
            if period != "all":
                raise ValueError("the all-time window has one period, 'all'")
            return None
        if self is LeaderboardWindow.DAY:
            start = datetime.strptime(period, "%Y-%m-%d").replace(tzinfo=UTC)
            end = start + timedelta(days=1)
        elif self is LeaderboardWindow.WEEK:
            start = datetime.strptime(period + "-1", "%G-W%V-%u").replace(tzinfo=UTC)
            end = start + timedelta(weeks=1)
        elif self is LeaderboardWindow.MONTH:
            start = datetime.strptime(period, "%Y-%m").replace(tzinfo=UTC)
            end = (start + timedelta(days=32)).replace(day=1)
        else:
            start = datetime.strptime(period, "%Y").replace(tzinfo=UTC)
            end = start.replace(year=start.year + 1)
        if self.period_of(int(start.timestamp() * 1000)) != period:
            raise ValueError(f"{period!r} is not a {self.value} period key")
        return int(start.timestamp() * 1000), int(end.timestamp() * 1000)


def periods_of(epoch_ms: int) -> list[tuple[LeaderboardWindow, str]]:
    """Every (window, period) an instant belongs to."""
    return [(window, window.period_of(epoch_ms)) for window in LeaderboardWindow]
