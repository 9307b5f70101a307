from typing import Literal

WorkoutStartedSportType = Literal["cycling", "hiking", "other", "rowing", "running", "swimming", "walking"]

WORKOUT_STARTED_SPORT_TYPE_VALUES: set[WorkoutStartedSportType] = {
    "cycling",
    "hiking",
    "other",
    "rowing",
    "running",
    "swimming",
    "walking",
}


def check_workout_started_sport_type(value: str) -> WorkoutStartedSportType:
    if value in WORKOUT_STARTED_SPORT_TYPE_VALUES:
        return value
    raise TypeError(f"Unexpected value {value!r}. Expected one of {WORKOUT_STARTED_SPORT_TYPE_VALUES!r}")
