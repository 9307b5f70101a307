from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.personal_record import PersonalRecord


T = TypeVar("T", bound="PersonalRecords")


@_attrs_define
class PersonalRecords:
    """The fastest 1, 5 and 10 km of completed runs; null: none yet (or not a run).

    Attributes:
        field_10k (None | PersonalRecord):
        field_1k (None | PersonalRecord):
        field_5k (None | PersonalRecord):
    """

    field_10k: None | PersonalRecord
    field_1k: None | PersonalRecord
    field_5k: None | PersonalRecord
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.personal_record import PersonalRecord  # noqa: PLC0415

        field_10k: dict[str, Any] | None
        if isinstance(self.field_10k, PersonalRecord):
            field_10k = self.field_10k.to_dict()
        else:
            field_10k = self.field_10k

        field_1k: dict[str, Any] | None
        if isinstance(self.field_1k, PersonalRecord):
            field_1k = self.field_1k.to_dict()
        else:
            field_1k = self.field_1k

        field_5k: dict[str, Any] | None
        if isinstance(self.field_5k, PersonalRecord):
            field_5k = self.field_5k.to_dict()
        else:
            field_5k = self.field_5k

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "10k": field_10k,
                "1k": field_1k,
                "5k": field_5k,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.personal_record import PersonalRecord  # noqa: PLC0415

        d = dict(src_dict)

        def _parse_field_10k(data: object) -> None | PersonalRecord:
            if data is None:
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                field_10k_type_0 = PersonalRecord.from_dict(data)

                return field_10k_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | PersonalRecord, data)

        field_10k = _parse_field_10k(d.pop("10k"))

        def _parse_field_1k(data: object) -> None | PersonalRecord:
            if data is None:
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                field_1k_type_0 = PersonalRecord.from_dict(data)

                return field_1k_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | PersonalRecord, data)

        field_1k = _parse_field_1k(d.pop("1k"))

        def _parse_field_5k(data: object) -> None | PersonalRecord:
            if data is None:
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                field_5k_type_0 = PersonalRecord.from_dict(data)

                return field_5k_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | PersonalRecord, data)

        field_5k = _parse_field_5k(d.pop("5k"))

        personal_records = cls(
            field_10k=field_10k,
            field_1k=field_1k,
            field_5k=field_5k,
        )

        personal_records.additional_properties = d
        return personal_records

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
