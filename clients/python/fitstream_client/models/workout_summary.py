from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.best_efforts import BestEfforts


T = TypeVar("T", bound="WorkoutSummary")


@_attrs_define
class WorkoutSummary:
    """The owner's full summary of one workout; ``version`` is the last event's seq.

    Attributes:
        avg_heart_rate (float | None):
        avg_speed_mps (float | None):
        best_efforts (BestEfforts): Fastest elapsed seconds over each distance inside the workout (10 m resolution).
        calories_burned (float | None):
        device_id (str):
        distance_meters (float):
        end_time (datetime.datetime | None):
        moving_duration_s (float):
        sample_count (int):
        sport_type (str):
        start_time (datetime.datetime):
        status (str):
        user_id (str):
        version (int):
        workout_id (str):
    """

    avg_heart_rate: float | None
    avg_speed_mps: float | None
    best_efforts: BestEfforts
    calories_burned: float | None
    device_id: str
    distance_meters: float
    end_time: datetime.datetime | None
    moving_duration_s: float
    sample_count: int
    sport_type: str
    start_time: datetime.datetime
    status: str
    user_id: str
    version: int
    workout_id: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        avg_heart_rate: float | None
        avg_heart_rate = self.avg_heart_rate

        avg_speed_mps: float | None
        avg_speed_mps = self.avg_speed_mps

        best_efforts = self.best_efforts.to_dict()

        calories_burned: float | None
        calories_burned = self.calories_burned

        device_id = self.device_id

        distance_meters = self.distance_meters

        end_time: None | str
        if isinstance(self.end_time, datetime.datetime):
            end_time = self.end_time.isoformat()
        else:
            end_time = self.end_time

        moving_duration_s = self.moving_duration_s

        sample_count = self.sample_count

        sport_type = self.sport_type

        start_time = self.start_time.isoformat()

        status = self.status

        user_id = self.user_id

        version = self.version

        workout_id = self.workout_id

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "avg_heart_rate": avg_heart_rate,
                "avg_speed_mps": avg_speed_mps,
                "best_efforts": best_efforts,
                "calories_burned": calories_burned,
                "device_id": device_id,
                "distance_meters": distance_meters,
                "end_time": end_time,
                "moving_duration_s": moving_duration_s,
                "sample_count": sample_count,
                "sport_type": sport_type,
                "start_time": start_time,
                "status": status,
                "user_id": user_id,
                "version": version,
                "workout_id": workout_id,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.best_efforts import BestEfforts  # noqa: PLC0415

        d = dict(src_dict)

        def _parse_avg_heart_rate(data: object) -> float | None:
            if data is None:
                return data
            return cast(float | None, data)

        avg_heart_rate = _parse_avg_heart_rate(d.pop("avg_heart_rate"))

        def _parse_avg_speed_mps(data: object) -> float | None:
            if data is None:
                return data
            return cast(float | None, data)

        avg_speed_mps = _parse_avg_speed_mps(d.pop("avg_speed_mps"))

        best_efforts = BestEfforts.from_dict(d.pop("best_efforts"))

        def _parse_calories_burned(data: object) -> float | None:
            if data is None:
                return data
            return cast(float | None, data)

        calories_burned = _parse_calories_burned(d.pop("calories_burned"))

        device_id = d.pop("device_id")

        distance_meters = d.pop("distance_meters")

        def _parse_end_time(data: object) -> datetime.datetime | None:
            if data is None:
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                end_time_type_0 = datetime.datetime.fromisoformat(data)

                return end_time_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None, data)

        end_time = _parse_end_time(d.pop("end_time"))

        moving_duration_s = d.pop("moving_duration_s")

        sample_count = d.pop("sample_count")

        sport_type = d.pop("sport_type")

        start_time = datetime.datetime.fromisoformat(d.pop("start_time"))

        status = d.pop("status")

        user_id = d.pop("user_id")

        version = d.pop("version")

        workout_id = d.pop("workout_id")

        workout_summary = cls(
            avg_heart_rate=avg_heart_rate,
            avg_speed_mps=avg_speed_mps,
            best_efforts=best_efforts,
            calories_burned=calories_burned,
            device_id=device_id,
            distance_meters=distance_meters,
            end_time=end_time,
            moving_duration_s=moving_duration_s,
            sample_count=sample_count,
            sport_type=sport_type,
            start_time=start_time,
            status=status,
            user_id=user_id,
            version=version,
            workout_id=workout_id,
        )

        workout_summary.additional_properties = d
        return workout_summary

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
