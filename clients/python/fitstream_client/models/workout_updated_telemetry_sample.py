from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

T = TypeVar("T", bound="WorkoutUpdatedTelemetrySample")


@_attrs_define
class WorkoutUpdatedTelemetrySample:
    """One sensor reading.

    Attributes:
        distance_meters (float): Distance since the start at this point.
        lat (float):
        lon (float):
        offset_ms (int): Milliseconds since the workout's start_time.
        elevation_meters (float | None | Unset):
        heart_rate (int | None | Unset):
        speed (float | None | Unset): Metres per second.
    """

    distance_meters: float
    lat: float
    lon: float
    offset_ms: int
    elevation_meters: float | None | Unset = UNSET
    heart_rate: int | None | Unset = UNSET
    speed: float | None | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        distance_meters = self.distance_meters

        lat = self.lat

        lon = self.lon

        offset_ms = self.offset_ms

        elevation_meters: float | None | Unset
        if isinstance(self.elevation_meters, Unset):
            elevation_meters = UNSET
        else:
            elevation_meters = self.elevation_meters

        heart_rate: int | None | Unset
        if isinstance(self.heart_rate, Unset):
            heart_rate = UNSET
        else:
            heart_rate = self.heart_rate

        speed: float | None | Unset
        if isinstance(self.speed, Unset):
            speed = UNSET
        else:
            speed = self.speed

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "distance_meters": distance_meters,
                "lat": lat,
                "lon": lon,
                "offset_ms": offset_ms,
            }
        )
        if elevation_meters is not UNSET:
            field_dict["elevation_meters"] = elevation_meters
        if heart_rate is not UNSET:
            field_dict["heart_rate"] = heart_rate
        if speed is not UNSET:
            field_dict["speed"] = speed

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        distance_meters = d.pop("distance_meters")

        lat = d.pop("lat")

        lon = d.pop("lon")

        offset_ms = d.pop("offset_ms")

        def _parse_elevation_meters(data: object) -> float | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(float | None | Unset, data)

        elevation_meters = _parse_elevation_meters(d.pop("elevation_meters", UNSET))

        def _parse_heart_rate(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        heart_rate = _parse_heart_rate(d.pop("heart_rate", UNSET))

        def _parse_speed(data: object) -> float | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(float | None | Unset, data)

        speed = _parse_speed(d.pop("speed", UNSET))

        workout_updated_telemetry_sample = cls(
            distance_meters=distance_meters,
            lat=lat,
            lon=lon,
            offset_ms=offset_ms,
            elevation_meters=elevation_meters,
            heart_rate=heart_rate,
            speed=speed,
        )

        return workout_updated_telemetry_sample
