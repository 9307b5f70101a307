from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.click_house_erasure_rows_deleted import ClickHouseErasureRowsDeleted


T = TypeVar("T", bound="ClickHouseErasure")


@_attrs_define
class ClickHouseErasure:
    """
    Attributes:
        rows_deleted (ClickHouseErasureRowsDeleted): Per view table: the user's rows before the delete (all now gone)
        user_id (str):
    """

    rows_deleted: ClickHouseErasureRowsDeleted
    user_id: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        rows_deleted = self.rows_deleted.to_dict()

        user_id = self.user_id

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "rows_deleted": rows_deleted,
                "user_id": user_id,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.click_house_erasure_rows_deleted import ClickHouseErasureRowsDeleted  # noqa: PLC0415

        d = dict(src_dict)
        rows_deleted = ClickHouseErasureRowsDeleted.from_dict(d.pop("rows_deleted"))

        user_id = d.pop("user_id")

        click_house_erasure = cls(
            rows_deleted=rows_deleted,
            user_id=user_id,
        )

        click_house_erasure.additional_properties = d
        return click_house_erasure

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
