from typing import Literal

LeaderboardMetric = Literal["calories", "distance", "moving_time", "workouts"]

LEADERBOARD_METRIC_VALUES: set[LeaderboardMetric] = {
    "calories",
    "distance",
    "moving_time",
    "workouts",
}


def check_leaderboard_metric(value: str) -> LeaderboardMetric:
    if value in LEADERBOARD_METRIC_VALUES:
        return value
    raise TypeError(f"Unexpected value {value!r}. Expected one of {LEADERBOARD_METRIC_VALUES!r}")
