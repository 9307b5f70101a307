from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.achievement import Achievement


T = TypeVar("T", bound="UserAchievementList")


@_attrs_define
class UserAchievementList:
    """
    Attributes:
        achievements (list[Achievement]):
        unlocked (int):
        user_id (str):
    """

    achievements: list[Achievement]
    unlocked: int
    user_id: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        achievements = []
        for achievements_item_data in self.achievements:
            achievements_item = achievements_item_data.to_dict()
            achievements.append(achievements_item)

        unlocked = self.unlocked

        user_id = self.user_id

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "achievements": achievements,
                "unlocked": unlocked,
                "user_id": user_id,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.achievement import Achievement  # noqa: PLC0415

        d = dict(src_dict)
        achievements = []
        _achievements = d.pop("achievements")
        for achievements_item_data in _achievements:
            achievements_item = Achievement.from_dict(achievements_item_data)

            achievements.append(achievements_item)

        unlocked = d.pop("unlocked")

        user_id = d.pop("user_id")

        user_achievement_list = cls(
            achievements=achievements,
            unlocked=unlocked,
            user_id=user_id,
        )

        user_achievement_list.additional_properties = d
        return user_achievement_list

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
