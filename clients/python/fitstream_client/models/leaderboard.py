from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.leaderboard_metric import LeaderboardMetric, check_leaderboard_metric
from ..models.leaderboard_window import LeaderboardWindow, check_leaderboard_window

if TYPE_CHECKING:
    from ..models.leaderboard_row import LeaderboardRow


T = TypeVar("T", bound="Leaderboard")


@_attrs_define
class Leaderboard:
    """
    Attributes:
        entries (list[LeaderboardRow]):
        metric (LeaderboardMetric):
        period (str):
        sport (str):
        window (LeaderboardWindow):
    """

    entries: list[LeaderboardRow]
    metric: LeaderboardMetric
    period: str
    sport: str
    window: LeaderboardWindow
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        entries = []
        for entries_item_data in self.entries:
            entries_item = entries_item_data.to_dict()
            entries.append(entries_item)

        metric: str = self.metric

        period = self.period

        sport = self.sport

        window: str = self.window

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "entries": entries,
                "metric": metric,
                "period": period,
                "sport": sport,
                "window": window,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.leaderboard_row import LeaderboardRow  # noqa: PLC0415

        d = dict(src_dict)
        entries = []
        _entries = d.pop("entries")
        for entries_item_data in _entries:
            entries_item = LeaderboardRow.from_dict(entries_item_data)

            entries.append(entries_item)

        metric = check_leaderboard_metric(d.pop("metric"))

        period = d.pop("period")

        sport = d.pop("sport")

        window = check_leaderboard_window(d.pop("window"))

        leaderboard = cls(
            entries=entries,
            metric=metric,
            period=period,
            sport=sport,
            window=window,
        )

        leaderboard.additional_properties = d
        return leaderboard

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
