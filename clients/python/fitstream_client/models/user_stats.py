from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.leaderboard_window import LeaderboardWindow, check_leaderboard_window

if TYPE_CHECKING:
    from ..models.personal_records import PersonalRecords
    from ..models.totals import Totals
    from ..models.week_totals import WeekTotals


T = TypeVar("T", bound="UserStats")


@_attrs_define
class UserStats:
    """Totals of a sport in a period, personal records and 12 weeks of activity.

    Attributes:
        period (str):
        personal_records (PersonalRecords): The fastest 1, 5 and 10 km of completed runs; null: none yet (or not a run).
        sport (str):
        totals (Totals):
        user_id (str):
        weekly_activity (list[WeekTotals]): 12 ISO weeks, oldest first
        window (LeaderboardWindow):
    """

    period: str
    personal_records: PersonalRecords
    sport: str
    totals: Totals
    user_id: str
    weekly_activity: list[WeekTotals]
    window: LeaderboardWindow
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        period = self.period

        personal_records = self.personal_records.to_dict()

        sport = self.sport

        totals = self.totals.to_dict()

        user_id = self.user_id

        weekly_activity = []
        for weekly_activity_item_data in self.weekly_activity:
            weekly_activity_item = weekly_activity_item_data.to_dict()
            weekly_activity.append(weekly_activity_item)

        window: str = self.window

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "period": period,
                "personal_records": personal_records,
                "sport": sport,
                "totals": totals,
                "user_id": user_id,
                "weekly_activity": weekly_activity,
                "window": window,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.personal_records import PersonalRecords  # noqa: PLC0415
        from ..models.totals import Totals  # noqa: PLC0415
        from ..models.week_totals import WeekTotals  # noqa: PLC0415

        d = dict(src_dict)
        period = d.pop("period")

        personal_records = PersonalRecords.from_dict(d.pop("personal_records"))

        sport = d.pop("sport")

        totals = Totals.from_dict(d.pop("totals"))

        user_id = d.pop("user_id")

        weekly_activity = []
        _weekly_activity = d.pop("weekly_activity")
        for weekly_activity_item_data in _weekly_activity:
            weekly_activity_item = WeekTotals.from_dict(weekly_activity_item_data)

            weekly_activity.append(weekly_activity_item)

        window = check_leaderboard_window(d.pop("window"))

        user_stats = cls(
            period=period,
            personal_records=personal_records,
            sport=sport,
            totals=totals,
            user_id=user_id,
            weekly_activity=weekly_activity,
            window=window,
        )

        user_stats.additional_properties = d
        return user_stats

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
