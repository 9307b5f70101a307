from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="PublicWorkoutSummary")


@_attrs_define
class PublicWorkoutSummary:
    """What anyone may see of a workout: no device, heart rate, calories or exact times.

    Attributes:
        distance_meters (float):
        moving_duration_s (float):
        sport_type (str):
        start_date (datetime.date):
        status (str):
        user_id (str):
        workout_id (str):
    """

    distance_meters: float
    moving_duration_s: float
    sport_type: str
    start_date: datetime.date
    status: str
    user_id: str
    workout_id: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        distance_meters = self.distance_meters

        moving_duration_s = self.moving_duration_s

        sport_type = self.sport_type

        start_date = self.start_date.isoformat()

        status = self.status

        user_id = self.user_id

        workout_id = self.workout_id

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "distance_meters": distance_meters,
                "moving_duration_s": moving_duration_s,
                "sport_type": sport_type,
                "start_date": start_date,
                "status": status,
                "user_id": user_id,
                "workout_id": workout_id,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        distance_meters = d.pop("distance_meters")

        moving_duration_s = d.pop("moving_duration_s")

        sport_type = d.pop("sport_type")

        start_date = datetime.date.fromisoformat(d.pop("start_date"))

        status = d.pop("status")

        user_id = d.pop("user_id")

        workout_id = d.pop("workout_id")

        public_workout_summary = cls(
            distance_meters=distance_meters,
            moving_duration_s=moving_duration_s,
            sport_type=sport_type,
            start_date=start_date,
            status=status,
            user_id=user_id,
            workout_id=workout_id,
        )

        public_workout_summary.additional_properties = d
        return public_workout_summary

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())

    def __getitem__(self, key: str) -> Any:
        return self.additional_properties[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.additional_properties[key] = value

    def __delitem__(self, key: str) -> None:
        del self.additional_properties[key]

    def __contains__(self, key: str) -> bool:
        return key in self.additional_properties
