from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="KmSplit")


@_attrs_define
class KmSplit:
    """
    Attributes:
        elapsed_s (float): Since the start, when this kilometre was reached
        km (int):
        pace_s_per_km (float):
    """

    elapsed_s: float
    km: int
    pace_s_per_km: float
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        elapsed_s = self.elapsed_s

        km = self.km

        pace_s_per_km = self.pace_s_per_km

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "elapsed_s": elapsed_s,
                "km": km,
                "pace_s_per_km": pace_s_per_km,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        elapsed_s = d.pop("elapsed_s")

        km = d.pop("km")

        pace_s_per_km = d.pop("pace_s_per_km")

        km_split = cls(
            elapsed_s=elapsed_s,
            km=km,
            pace_s_per_km=pace_s_per_km,
        )

        km_split.additional_properties = d
        return km_split

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
