from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="WorkoutSample")


@_attrs_define
class WorkoutSample:
    """One telemetry sample as the owner's device sent it.

    Attributes:
        distance_meters (float):
        elevation_meters (float | None):
        heart_rate (float | None):
        lat (float | None):
        lon (float | None):
        offset_ms (int): Since the workout's start
        speed (float | None): Metres per second
    """

    distance_meters: float
    elevation_meters: float | None
    heart_rate: float | None
    lat: float | None
    lon: float | None
    offset_ms: int
    speed: float | None
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        distance_meters = self.distance_meters

        elevation_meters: float | None
        elevation_meters = self.elevation_meters

        heart_rate: float | None
        heart_rate = self.heart_rate

        lat: float | None
        lat = self.lat

        lon: float | None
        lon = self.lon

        offset_ms = self.offset_ms

        speed: float | None
        speed = self.speed

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "distance_meters": distance_meters,
                "elevation_meters": elevation_meters,
                "heart_rate": heart_rate,
                "lat": lat,
                "lon": lon,
                "offset_ms": offset_ms,
                "speed": speed,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        distance_meters = d.pop("distance_meters")

        def _parse_elevation_meters(data: object) -> float | None:
            if data is None:
                return data
            return cast(float | None, data)

        elevation_meters = _parse_elevation_meters(d.pop("elevation_meters"))

        def _parse_heart_rate(data: object) -> float | None:
            if data is None:
                return data
            return cast(float | None, data)

        heart_rate = _parse_heart_rate(d.pop("heart_rate"))

        def _parse_lat(data: object) -> float | None:
            if data is None:
                return data
            return cast(float | None, data)

        lat = _parse_lat(d.pop("lat"))

        def _parse_lon(data: object) -> float | None:
            if data is None:
                return data
            return cast(float | None, data)

        lon = _parse_lon(d.pop("lon"))

        offset_ms = d.pop("offset_ms")

        def _parse_speed(data: object) -> float | None:
            if data is None:
                return data
            return cast(float | None, data)

        speed = _parse_speed(d.pop("speed"))

        workout_sample = cls(
            distance_meters=distance_meters,
            elevation_meters=elevation_meters,
            heart_rate=heart_rate,
            lat=lat,
            lon=lon,
            offset_ms=offset_ms,
            speed=speed,
        )

        workout_sample.additional_properties = d
        return workout_sample

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
