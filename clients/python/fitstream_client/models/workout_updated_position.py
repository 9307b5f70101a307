from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define

T = TypeVar("T", bound="WorkoutUpdatedPosition")


@_attrs_define
class WorkoutUpdatedPosition:
    """
    Attributes:
        lat (float):
        lon (float):
    """

    lat: float
    lon: float

    def to_dict(self) -> dict[str, Any]:
        lat = self.lat

        lon = self.lon

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "lat": lat,
                "lon": lon,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        lat = d.pop("lat")

        lon = d.pop("lon")

        workout_updated_position = cls(
            lat=lat,
            lon=lon,
        )

        return workout_updated_position
