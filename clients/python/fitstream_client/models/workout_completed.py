from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.workout_completed_position import WorkoutCompletedPosition


T = TypeVar("T", bound="WorkoutCompleted")


@_attrs_define
class WorkoutCompleted:
    """The workout finished; carries the device's totals and route.

    Attributes:
        calories_burned (float):
        device_id (str):
        distance_meters (float):
        duration_sec (int): Moving time as the device measured it.
        end_time (int): Epoch milliseconds, UTC.
        event_id (str): A UUID, unique per event; a duplicate repeats it.
        occurred_at (int): Device time, epoch milliseconds UTC.
        seq (int): Per-workout sequence number from the device; WorkoutStarted is 0.
        type_ (Literal['WorkoutCompleted']): The event type, equal to the record name.
        user_id (str): Partition key of the events topic.
        workout_id (str):
        route_coordinates (list[WorkoutCompletedPosition] | Unset):
    """

    calories_burned: float
    device_id: str
    distance_meters: float
    duration_sec: int
    end_time: int
    event_id: str
    occurred_at: int
    seq: int
    type_: Literal["WorkoutCompleted"]
    user_id: str
    workout_id: str
    route_coordinates: list[WorkoutCompletedPosition] | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        calories_burned = self.calories_burned

        device_id = self.device_id

        distance_meters = self.distance_meters

        duration_sec = self.duration_sec

        end_time = self.end_time

        event_id = self.event_id

        occurred_at = self.occurred_at

        seq = self.seq

        type_ = self.type_

        user_id = self.user_id

        workout_id = self.workout_id

        route_coordinates: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.route_coordinates, Unset):
            route_coordinates = []
            for route_coordinates_item_data in self.route_coordinates:
                route_coordinates_item = route_coordinates_item_data.to_dict()
                route_coordinates.append(route_coordinates_item)

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "calories_burned": calories_burned,
                "device_id": device_id,
                "distance_meters": distance_meters,
                "duration_sec": duration_sec,
                "end_time": end_time,
                "event_id": event_id,
                "occurred_at": occurred_at,
                "seq": seq,
                "type": type_,
                "user_id": user_id,
                "workout_id": workout_id,
            }
        )
        if route_coordinates is not UNSET:
            field_dict["route_coordinates"] = route_coordinates

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.workout_completed_position import WorkoutCompletedPosition  # noqa: PLC0415

        d = dict(src_dict)
        calories_burned = d.pop("calories_burned")

        device_id = d.pop("device_id")

        distance_meters = d.pop("distance_meters")

        duration_sec = d.pop("duration_sec")

        end_time = d.pop("end_time")

        event_id = d.pop("event_id")

        occurred_at = d.pop("occurred_at")

        seq = d.pop("seq")

        type_ = cast(Literal["WorkoutCompleted"], d.pop("type"))
        if type_ != "WorkoutCompleted":
            raise ValueError(f"type must match const 'WorkoutCompleted', got '{type_}'")

        user_id = d.pop("user_id")

        workout_id = d.pop("workout_id")

        _route_coordinates = d.pop("route_coordinates", UNSET)
        route_coordinates: list[WorkoutCompletedPosition] | Unset = UNSET
        if _route_coordinates is not UNSET:
            route_coordinates = []
            for route_coordinates_item_data in _route_coordinates:
                route_coordinates_item = WorkoutCompletedPosition.from_dict(route_coordinates_item_data)

                route_coordinates.append(route_coordinates_item)

        workout_completed = cls(
            calories_burned=calories_burned,
            device_id=device_id,
            distance_meters=distance_meters,
            duration_sec=duration_sec,
            end_time=end_time,
            event_id=event_id,
            occurred_at=occurred_at,
            seq=seq,
            type_=type_,
            user_id=user_id,
            workout_id=workout_id,
            route_coordinates=route_coordinates,
        )

        return workout_completed
