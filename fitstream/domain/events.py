"""Workout events as decoded from their Avro contracts (plain dicts, typed for readers).

Events stay dicts on the hot path: building objects per record would cost more than
the Avro decode itself.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, NotRequired, TypedDict

NAMESPACE = "fitstream.workouts"


class EventType(StrEnum):
    STARTED = "WorkoutStarted"
    UPDATED = "WorkoutUpdated"
    PAUSED = "WorkoutPaused"
    RESUMED = "WorkoutResumed"
    COMPLETED = "WorkoutCompleted"
    CANCELLED = "WorkoutCancelled"

    @property
    def subject(self) -> str:
        return f"{NAMESPACE}.{self.value}"


SPORT_TYPES = ("running", "cycling", "walking", "swimming", "hiking", "rowing", "other")


class TelemetrySample(TypedDict):
    offset_ms: int
    distance_meters: float
    heart_rate: int | None
    speed: float | None
    lat: float
    lon: float
    elevation_meters: float | None


class WorkoutEvent(TypedDict):
    event_id: str
    type: str
    occurred_at: int
    user_id: str
    workout_id: str
    device_id: str
    seq: int
    # Payload fields, present according to ``type``.
    sport_type: NotRequired[str]
    start_time: NotRequired[int]
    current_distance_meters: NotRequired[float]
    heart_rate: NotRequired[int | None]
    samples: NotRequired[list[TelemetrySample]]
    end_time: NotRequired[int]
    distance_meters: NotRequired[float]
    calories_burned: NotRequired[float]
    reason: NotRequired[str | None]


def event_subject(event: dict[str, Any]) -> str:
    """The schema subject of an event, from its ``type`` field; ValueError if unknown."""
    return EventType(event["type"]).subject


# The schema subjects of the six workout events (a record of any other is not one).
WORKOUT_SUBJECTS = frozenset(t.subject for t in EventType)
