from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="RecommendedWorkout")


@_attrs_define
class RecommendedWorkout:
    """
    Attributes:
        duration_band (str): under_30_min, 30_to_60_min or over_60_min.
        intensity (str): easy, moderate or hard.
        rank (int): 1 is the best.
        score (float):
        sport (str):
    """

    duration_band: str
    intensity: str
    rank: int
    score: float
    sport: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        duration_band = self.duration_band

        intensity = self.intensity

        rank = self.rank

        score = self.score

        sport = self.sport

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "duration_band": duration_band,
                "intensity": intensity,
                "rank": rank,
                "score": score,
                "sport": sport,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        duration_band = d.pop("duration_band")

        intensity = d.pop("intensity")

        rank = d.pop("rank")

        score = d.pop("score")

        sport = d.pop("sport")

        recommended_workout = cls(
            duration_band=duration_band,
            intensity=intensity,
            rank=rank,
            score=score,
            sport=sport,
        )

        recommended_workout.additional_properties = d
        return recommended_workout

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
