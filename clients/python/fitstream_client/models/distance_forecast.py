from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="DistanceForecast")


@_attrs_define
class DistanceForecast:
    """
    Attributes:
        features_as_of (datetime.datetime): The as_of of the feature row it read.
        horizon_days (int): The days after features_as_of it covers.
        model_name (str): The registered model (MLflow).
        model_version (str): The registered version that scored.
        predicted_distance_m (float):
        scored_at (datetime.datetime):
    """

    features_as_of: datetime.datetime
    horizon_days: int
    model_name: str
    model_version: str
    predicted_distance_m: float
    scored_at: datetime.datetime
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        features_as_of = self.features_as_of.isoformat()

        horizon_days = self.horizon_days

        model_name = self.model_name

        model_version = self.model_version

        predicted_distance_m = self.predicted_distance_m

        scored_at = self.scored_at.isoformat()

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "features_as_of": features_as_of,
                "horizon_days": horizon_days,
                "model_name": model_name,
                "model_version": model_version,
                "predicted_distance_m": predicted_distance_m,
                "scored_at": scored_at,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        features_as_of = datetime.datetime.fromisoformat(d.pop("features_as_of"))

        horizon_days = d.pop("horizon_days")

        model_name = d.pop("model_name")

        model_version = d.pop("model_version")

        predicted_distance_m = d.pop("predicted_distance_m")

        scored_at = datetime.datetime.fromisoformat(d.pop("scored_at"))

        distance_forecast = cls(
            features_as_of=features_as_of,
            horizon_days=horizon_days,
            model_name=model_name,
            model_version=model_version,
            predicted_distance_m=predicted_distance_m,
            scored_at=scored_at,
        )

        distance_forecast.additional_properties = d
        return distance_forecast

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
