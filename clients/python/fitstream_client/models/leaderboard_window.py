from typing import Literal

LeaderboardWindow = Literal["all", "day", "month", "week", "year"]

LEADERBOARD_WINDOW_VALUES: set[LeaderboardWindow] = {
    "all",
    "day",
    "month",
    "week",
    "year",
}


def check_leaderboard_window(value: str) -> LeaderboardWindow:
    if value in LEADERBOARD_WINDOW_VALUES:
        return value
    raise TypeError(f"Unexpected value {value!r}. Expected one of {LEADERBOARD_WINDOW_VALUES!r}")
