from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="RouteProperties")


@_attrs_define
class RouteProperties:
    """
    Attributes:
        kept (int): Points left after simplification
        points (int): Points the device sent
        tolerance_m (float):
        workout_id (str):
    """

    kept: int
    points: int
    tolerance_m: float
    workout_id: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        kept = self.kept

        points = self.points

        tolerance_m = self.tolerance_m

        workout_id = self.workout_id

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "kept": kept,
                "points": points,
                "tolerance_m": tolerance_m,
                "workout_id": workout_id,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        kept = d.pop("kept")

        points = d.pop("points")

        tolerance_m = d.pop("tolerance_m")

        workout_id = d.pop("workout_id")

        route_properties = cls(
            kept=kept,
            points=points,
            tolerance_m=tolerance_m,
            workout_id=workout_id,
        )

        route_properties.additional_properties = d
        return route_properties

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
