from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="BestEfforts")


@_attrs_define
class BestEfforts:
    """Fastest elapsed seconds over each distance inside the workout (10 m resolution).

    Attributes:
        five_km_s (float | None):
        one_km_s (float | None):
        ten_km_s (float | None):
    """

    five_km_s: float | None
    one_km_s: float | None
    ten_km_s: float | None
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        five_km_s: float | None
        five_km_s = self.five_km_s

        one_km_s: float | None
        one_km_s = self.one_km_s

        ten_km_s: float | None
        ten_km_s = self.ten_km_s

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "five_km_s": five_km_s,
                "one_km_s": one_km_s,
                "ten_km_s": ten_km_s,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)

        def _parse_five_km_s(data: object) -> float | None:
            if data is None:
                return data
            return cast(float | None, data)

        five_km_s = _parse_five_km_s(d.pop("five_km_s"))

        def _parse_one_km_s(data: object) -> float | None:
            if data is None:
                return data
            return cast(float | None, data)

        one_km_s = _parse_one_km_s(d.pop("one_km_s"))

        def _parse_ten_km_s(data: object) -> float | None:
            if data is None:
                return data
            return cast(float | None, data)

        ten_km_s = _parse_ten_km_s(d.pop("ten_km_s"))

        best_efforts = cls(
            five_km_s=five_km_s,
            one_km_s=one_km_s,
            ten_km_s=ten_km_s,
        )

        best_efforts.additional_properties = d
        return best_efforts

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
