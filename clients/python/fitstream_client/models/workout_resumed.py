from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, TypeVar, cast

from attrs import define as _attrs_define

T = TypeVar("T", bound="WorkoutResumed")


@_attrs_define
class WorkoutResumed:
    """Recording resumed after a pause.

    Attributes:
        device_id (str):
        event_id (str): A UUID, unique per event; a duplicate repeats it.
        occurred_at (int): Device time, epoch milliseconds UTC.
        seq (int): Per-workout sequence number from the device; WorkoutStarted is 0.
        type_ (Literal['WorkoutResumed']): The event type, equal to the record name.
        user_id (str): Partition key of the events topic.
        workout_id (str):
    """

    device_id: str
    event_id: str
    occurred_at: int
    seq: int
    type_: Literal["WorkoutResumed"]
    user_id: str
    workout_id: str

    def to_dict(self) -> dict[str, Any]:
        device_id = self.device_id

        event_id = self.event_id

        occurred_at = self.occurred_at

        seq = self.seq

        type_ = self.type_

        user_id = self.user_id

        workout_id = self.workout_id

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "device_id": device_id,
                "event_id": event_id,
                "occurred_at": occurred_at,
                "seq": seq,
                "type": type_,
                "user_id": user_id,
                "workout_id": workout_id,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        device_id = d.pop("device_id")

        event_id = d.pop("event_id")

        occurred_at = d.pop("occurred_at")

        seq = d.pop("seq")

        type_ = cast(Literal["WorkoutResumed"], d.pop("type"))
        if type_ != "WorkoutResumed":
            raise ValueError(f"type must match const 'WorkoutResumed', got '{type_}'")

        user_id = d.pop("user_id")

        workout_id = d.pop("workout_id")

        workout_resumed = cls(
            device_id=device_id,
            event_id=event_id,
            occurred_at=occurred_at,
            seq=seq,
            type_=type_,
            user_id=user_id,
            workout_id=workout_id,
        )

        return workout_resumed
