from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.recommended_workout import RecommendedWorkout


T = TypeVar("T", bound="UserRecommendations")


@_attrs_define
class UserRecommendations:
    """
    Attributes:
        features_as_of (datetime.datetime): The as_of of the feature row it read.
        model_name (str): The registered model (MLflow).
        model_version (str): The registered version that scored.
        recommendations (list[RecommendedWorkout]):
        scored_at (datetime.datetime):
        user_id (str):
    """

    features_as_of: datetime.datetime
    model_name: str
    model_version: str
    recommendations: list[RecommendedWorkout]
    scored_at: datetime.datetime
    user_id: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        features_as_of = self.features_as_of.isoformat()

        model_name = self.model_name

        model_version = self.model_version

        recommendations = []
        for recommendations_item_data in self.recommendations:
            recommendations_item = recommendations_item_data.to_dict()
            recommendations.append(recommendations_item)

        scored_at = self.scored_at.isoformat()

        user_id = self.user_id

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "features_as_of": features_as_of,
                "model_name": model_name,
                "model_version": model_version,
                "recommendations": recommendations,
                "scored_at": scored_at,
                "user_id": user_id,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.recommended_workout import RecommendedWorkout  # noqa: PLC0415

        d = dict(src_dict)
        features_as_of = datetime.datetime.fromisoformat(d.pop("features_as_of"))

        model_name = d.pop("model_name")

        model_version = d.pop("model_version")

        recommendations = []
        _recommendations = d.pop("recommendations")
        for recommendations_item_data in _recommendations:
            recommendations_item = RecommendedWorkout.from_dict(recommendations_item_data)

            recommendations.append(recommendations_item)

        scored_at = datetime.datetime.fromisoformat(d.pop("scored_at"))

        user_id = d.pop("user_id")

        user_recommendations = cls(
            features_as_of=features_as_of,
            model_name=model_name,
            model_version=model_version,
            recommendations=recommendations,
            scored_at=scored_at,
            user_id=user_id,
        )

        user_recommendations.additional_properties = d
        return user_recommendations

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
