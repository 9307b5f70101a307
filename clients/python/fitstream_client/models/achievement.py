from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="Achievement")


@_attrs_define
class Achievement:
    """
    Attributes:
        achieved_at (datetime.datetime | None):
        id (str):
        progress (float):
        rule_id (str):
        title (str):
        type_ (str):
        user_id (str):
    """

    achieved_at: datetime.datetime | None
    id: str
    progress: float
    rule_id: str
    title: str
    type_: str
    user_id: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        achieved_at: None | str
        if isinstance(self.achieved_at, datetime.datetime):
            achieved_at = self.achieved_at.isoformat()
        else:
            achieved_at = self.achieved_at

        id = self.id

        progress = self.progress

        rule_id = self.rule_id

        title = self.title

        type_ = self.type_

        user_id = self.user_id

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "achieved_at": achieved_at,
                "id": id,
                "progress": progress,
                "rule_id": rule_id,
                "title": title,
                "type": type_,
                "user_id": user_id,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)

        def _parse_achieved_at(data: object) -> datetime.datetime | None:
            if data is None:
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                achieved_at_type_0 = datetime.datetime.fromisoformat(data)

                return achieved_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None, data)

        achieved_at = _parse_achieved_at(d.pop("achieved_at"))

        id = d.pop("id")

        progress = d.pop("progress")

        rule_id = d.pop("rule_id")

        title = d.pop("title")

        type_ = d.pop("type")

        user_id = d.pop("user_id")

        achievement = cls(
            achieved_at=achieved_at,
            id=id,
            progress=progress,
            rule_id=rule_id,
            title=title,
            type_=type_,
            user_id=user_id,
        )

        achievement.additional_properties = d
        return achievement

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
