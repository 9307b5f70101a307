from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.km_split import KmSplit
    from ..models.workout_sample import WorkoutSample


T = TypeVar("T", bound="WorkoutDetails")


@_attrs_define
class WorkoutDetails:
    """Every sample, km splits with pace, and heart rate and speed over the samples.

    Attributes:
        avg_heart_rate (float | None):
        avg_speed_mps (float | None):
        max_heart_rate (float | None):
        max_speed_mps (float | None):
        samples (list[WorkoutSample]):
        splits (list[KmSplit]):
        workout_id (str):
    """

    avg_heart_rate: float | None
    avg_speed_mps: float | None
    max_heart_rate: float | None
    max_speed_mps: float | None
    samples: list[WorkoutSample]
    splits: list[KmSplit]
    workout_id: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        avg_heart_rate: float | None
        avg_heart_rate = self.avg_heart_rate

        avg_speed_mps: float | None
        avg_speed_mps = self.avg_speed_mps

        max_heart_rate: float | None
        max_heart_rate = self.max_heart_rate

        max_speed_mps: float | None
        max_speed_mps = self.max_speed_mps

        samples = []
        for samples_item_data in self.samples:
            samples_item = samples_item_data.to_dict()
            samples.append(samples_item)

        splits = []
        for splits_item_data in self.splits:
            splits_item = splits_item_data.to_dict()
            splits.append(splits_item)

        workout_id = self.workout_id

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "avg_heart_rate": avg_heart_rate,
                "avg_speed_mps": avg_speed_mps,
                "max_heart_rate": max_heart_rate,
                "max_speed_mps": max_speed_mps,
                "samples": samples,
                "splits": splits,
                "workout_id": workout_id,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.km_split import KmSplit  # noqa: PLC0415
        from ..models.workout_sample import WorkoutSample  # noqa: PLC0415

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

        def _parse_max_heart_rate(data: object) -> float | None:
            if data is None:
                return data
            return cast(float | None, data)

        max_heart_rate = _parse_max_heart_rate(d.pop("max_heart_rate"))

        def _parse_max_speed_mps(data: object) -> float | None:
            if data is None:
                return data
            return cast(float | None, data)

        max_speed_mps = _parse_max_speed_mps(d.pop("max_speed_mps"))

        samples = []
        _samples = d.pop("samples")
        for samples_item_data in _samples:
            samples_item = WorkoutSample.from_dict(samples_item_data)

            samples.append(samples_item)

        splits = []
        _splits = d.pop("splits")
        for splits_item_data in _splits:
            splits_item = KmSplit.from_dict(splits_item_data)

            splits.append(splits_item)

        workout_id = d.pop("workout_id")

        workout_details = cls(
            avg_heart_rate=avg_heart_rate,
            avg_speed_mps=avg_speed_mps,
            max_heart_rate=max_heart_rate,
            max_speed_mps=max_speed_mps,
            samples=samples,
            splits=splits,
            workout_id=workout_id,
        )

        workout_details.additional_properties = d
        return workout_details

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
