from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal, TypeVar, cast

from attrs import define as _attrs_define

from ..models.workout_started_sport_type import WorkoutStartedSportType, check_workout_started_sport_type

if TYPE_CHECKING:
    from ..models.workout_started_location import WorkoutStartedLocation


T = TypeVar("T", bound="WorkoutStarted")


@_attrs_define
class WorkoutStarted:
    """A device began recording a workout.

    Attributes:
        device_id (str):
        device_model (str):
        event_id (str): A UUID, unique per event; a duplicate repeats it.
        location (WorkoutStartedLocation):
        occurred_at (int): Device time, epoch milliseconds UTC.
        seq (int): Per-workout sequence number from the device; WorkoutStarted is 0.
        sport_type (WorkoutStartedSportType):
        start_time (int): Epoch milliseconds, UTC.
        type_ (Literal['WorkoutStarted']): The event type, equal to the record name.
        user_id (str): Partition key of the events topic.
        workout_id (str):
    """

    device_id: str
    device_model: str
    event_id: str
    location: WorkoutStartedLocation
    occurred_at: int
    seq: int
    sport_type: WorkoutStartedSportType
    start_time: int
    type_: Literal["WorkoutStarted"]
    user_id: str
    workout_id: str

    def to_dict(self) -> dict[str, Any]:
        device_id = self.device_id

        device_model = self.device_model

        event_id = self.event_id

        location = self.location.to_dict()

        occurred_at = self.occurred_at

        seq = self.seq

        sport_type: str = self.sport_type

        start_time = self.start_time

        type_ = self.type_

        user_id = self.user_id

        workout_id = self.workout_id

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "device_id": device_id,
                "device_model": device_model,
                "event_id": event_id,
                "location": location,
                "occurred_at": occurred_at,
                "seq": seq,
                "sport_type": sport_type,
                "start_time": start_time,
                "type": type_,
                "user_id": user_id,
                "workout_id": workout_id,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.workout_started_location import WorkoutStartedLocation  # noqa: PLC0415

        d = dict(src_dict)
        device_id = d.pop("device_id")

        device_model = d.pop("device_model")

        event_id = d.pop("event_id")

        location = WorkoutStartedLocation.from_dict(d.pop("location"))

        occurred_at = d.pop("occurred_at")

        seq = d.pop("seq")

        sport_type = check_workout_started_sport_type(d.pop("sport_type"))

        start_time = d.pop("start_time")

        type_ = cast(Literal["WorkoutStarted"], d.pop("type"))
        if type_ != "WorkoutStarted":
            raise ValueError(f"type must match const 'WorkoutStarted', got '{type_}'")

        user_id = d.pop("user_id")

        workout_id = d.pop("workout_id")

        workout_started = cls(
            device_id=device_id,
            device_model=device_model,
            event_id=event_id,
            location=location,
            occurred_at=occurred_at,
            seq=seq,
            sport_type=sport_type,
            start_time=start_time,
            type_=type_,
            user_id=user_id,
            workout_id=workout_id,
        )

        return workout_started
