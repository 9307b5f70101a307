from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="RaceTimes")


@_attrs_define
class RaceTimes:
    """
    Attributes:
        features_as_of (datetime.datetime): The as_of of the feature row it read.
        model_name (str): The registered model (MLflow).
        model_version (str): The registered version that scored.
        predicted_10k_s (float | None):
        predicted_5k_s (float | None):
        predicted_half_marathon_s (float | None):
        scored_at (datetime.datetime):
    """

    features_as_of: datetime.datetime
    model_name: str
    model_version: str
    predicted_10k_s: float | None
    predicted_5k_s: float | None
    predicted_half_marathon_s: float | None
    scored_at: datetime.datetime
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        features_as_of = self.features_as_of.isoformat()

        model_name = self.model_name

        model_version = self.model_version

        predicted_10k_s: float | None
        predicted_10k_s = self.predicted_10k_s

        predicted_5k_s: float | None
        predicted_5k_s = self.predicted_5k_s

        predicted_half_marathon_s: float | None
        predicted_half_marathon_s = self.predicted_half_marathon_s

        scored_at = self.scored_at.isoformat()

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "features_as_of": features_as_of,
                "model_name": model_name,
                "model_version": model_version,
                "predicted_10k_s": predicted_10k_s,
                "predicted_5k_s": predicted_5k_s,
                "predicted_half_marathon_s": predicted_half_marathon_s,
                "scored_at": scored_at,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        features_as_of = datetime.datetime.fromisoformat(d.pop("features_as_of"))

        model_name = d.pop("model_name")

        model_version = d.pop("model_version")

        def _parse_predicted_10k_s(data: object) -> float | None:
            if data is None:
                return data
            return cast(float | None, data)

        predicted_10k_s = _parse_predicted_10k_s(d.pop("predicted_10k_s"))

        def _parse_predicted_5k_s(data: object) -> float | None:
            if data is None:
                return data
            return cast(float | None, data)

        predicted_5k_s = _parse_predicted_5k_s(d.pop("predicted_5k_s"))

        def _parse_predicted_half_marathon_s(data: object) -> float | None:
            if data is None:
                return data
            return cast(float | None, data)

        predicted_half_marathon_s = _parse_predicted_half_marathon_s(d.pop("predicted_half_marathon_s"))

        scored_at = datetime.datetime.fromisoformat(d.pop("scored_at"))

        race_times = cls(
            features_as_of=features_as_of,
            model_name=model_name,
            model_version=model_version,
            predicted_10k_s=predicted_10k_s,
            predicted_5k_s=predicted_5k_s,
            predicted_half_marathon_s=predicted_half_marathon_s,
            scored_at=scored_at,
        )

        race_times.additional_properties = d
        return race_times

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
