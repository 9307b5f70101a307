from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="Totals")


@_attrs_define
class Totals:
    """
    Attributes:
        avg_speed_mps (float | None):
        calories (float):
        distance_meters (float):
        moving_time_s (float):
        workouts (int):
    """

    avg_speed_mps: float | None
    calories: float
    distance_meters: float
    moving_time_s: float
    workouts: int
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        avg_speed_mps: float | None
        avg_speed_mps = self.avg_speed_mps

        calories = self.calories

        distance_meters = self.distance_meters

        moving_time_s = self.moving_time_s

        workouts = self.workouts

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "avg_speed_mps": avg_speed_mps,
                "calories": calories,
                "distance_meters": distance_meters,
                "moving_time_s": moving_time_s,
                "workouts": workouts,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)

        def _parse_avg_speed_mps(data: object) -> float | None:
            if data is None:
                return data
            return cast(float | None, data)

        avg_speed_mps = _parse_avg_speed_mps(d.pop("avg_speed_mps"))

        calories = d.pop("calories")

        distance_meters = d.pop("distance_meters")

        moving_time_s = d.pop("moving_time_s")

        workouts = d.pop("workouts")

        totals = cls(
            avg_speed_mps=avg_speed_mps,
            calories=calories,
            distance_meters=distance_meters,
            moving_time_s=moving_time_s,
            workouts=workouts,
        )

        totals.additional_properties = d
        return totals

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
