from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="PersonalRecord")


@_attrs_define
class PersonalRecord:
    """
    Attributes:
        elapsed_s (float):
        workout_id (str):
    """

    elapsed_s: float
    workout_id: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        elapsed_s = self.elapsed_s

        workout_id = self.workout_id

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "elapsed_s": elapsed_s,
                "workout_id": workout_id,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        elapsed_s = d.pop("elapsed_s")

        workout_id = d.pop("workout_id")

        personal_record = cls(
            elapsed_s=elapsed_s,
            workout_id=workout_id,
        )

        personal_record.additional_properties = d
        return personal_record

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
