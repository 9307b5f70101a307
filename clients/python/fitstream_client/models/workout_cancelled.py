from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

T = TypeVar("T", bound="WorkoutCancelled")


@_attrs_define
class WorkoutCancelled:
    """The user discarded the workout.

    Attributes:
        device_id (str):
        event_id (str): A UUID, unique per event; a duplicate repeats it.
        occurred_at (int): Device time, epoch milliseconds UTC.
        seq (int): Per-workout sequence number from the device; WorkoutStarted is 0.
        type_ (Literal['WorkoutCancelled']): The event type, equal to the record name.
        user_id (str): Partition key of the events topic.
        workout_id (str):
        reason (None | str | Unset):
    """

    device_id: str
    event_id: str
    occurred_at: int
    seq: int
    type_: Literal["WorkoutCancelled"]
    user_id: str
    workout_id: str
    reason: None | str | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        device_id = self.device_id

        event_id = self.event_id

        occurred_at = self.occurred_at

        seq = self.seq

        type_ = self.type_

        user_id = self.user_id

        workout_id = self.workout_id

        reason: None | str | Unset
        if isinstance(self.reason, Unset):
            reason = UNSET
        else:
            reason = self.reason

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
        if reason is not UNSET:
            field_dict["reason"] = reason

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        device_id = d.pop("device_id")

        event_id = d.pop("event_id")

        occurred_at = d.pop("occurred_at")

        seq = d.pop("seq")

        type_ = cast(Literal["WorkoutCancelled"], d.pop("type"))
        if type_ != "WorkoutCancelled":
            raise ValueError(f"type must match const 'WorkoutCancelled', got '{type_}'")

        user_id = d.pop("user_id")

        workout_id = d.pop("workout_id")

        def _parse_reason(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        reason = _parse_reason(d.pop("reason", UNSET))

        workout_cancelled = cls(
            device_id=device_id,
            event_id=event_id,
            occurred_at=occurred_at,
            seq=seq,
            type_=type_,
            user_id=user_id,
            workout_id=workout_id,
            reason=reason,
        )

        return workout_cancelled
