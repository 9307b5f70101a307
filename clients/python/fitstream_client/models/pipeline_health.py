from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.dead_letter_count import DeadLetterCount
    from ..models.recent_dead_letter import RecentDeadLetter
    from ..models.role_lag import RoleLag


T = TypeVar("T", bound="PipelineHealth")


@_attrs_define
class PipelineHealth:
    """
    Attributes:
        dead_letters (list[DeadLetterCount]):
        dead_letters_complete (bool):
        events_per_s (float | None):
        events_topic (str):
        events_total (int):
        lag (list[RoleLag]):
        measured_at (datetime.datetime):
        recent_dead_letters (list[RecentDeadLetter]):
    """

    dead_letters: list[DeadLetterCount]
    dead_letters_complete: bool
    events_per_s: float | None
    events_topic: str
    events_total: int
    lag: list[RoleLag]
    measured_at: datetime.datetime
    recent_dead_letters: list[RecentDeadLetter]
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        dead_letters = []
        for dead_letters_item_data in self.dead_letters:
            dead_letters_item = dead_letters_item_data.to_dict()
            dead_letters.append(dead_letters_item)

        dead_letters_complete = self.dead_letters_complete

        events_per_s: float | None
        events_per_s = self.events_per_s

        events_topic = self.events_topic

        events_total = self.events_total

        lag = []
        for lag_item_data in self.lag:
            lag_item = lag_item_data.to_dict()
            lag.append(lag_item)

        measured_at = self.measured_at.isoformat()

        recent_dead_letters = []
        for recent_dead_letters_item_data in self.recent_dead_letters:
            recent_dead_letters_item = recent_dead_letters_item_data.to_dict()
            recent_dead_letters.append(recent_dead_letters_item)

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "dead_letters": dead_letters,
                "dead_letters_complete": dead_letters_complete,
                "events_per_s": events_per_s,
                "events_topic": events_topic,
                "events_total": events_total,
                "lag": lag,
                "measured_at": measured_at,
                "recent_dead_letters": recent_dead_letters,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.dead_letter_count import DeadLetterCount  # noqa: PLC0415
        from ..models.recent_dead_letter import RecentDeadLetter  # noqa: PLC0415
        from ..models.role_lag import RoleLag  # noqa: PLC0415

        d = dict(src_dict)
        dead_letters = []
        _dead_letters = d.pop("dead_letters")
        for dead_letters_item_data in _dead_letters:
            dead_letters_item = DeadLetterCount.from_dict(dead_letters_item_data)

            dead_letters.append(dead_letters_item)

        dead_letters_complete = d.pop("dead_letters_complete")

        def _parse_events_per_s(data: object) -> float | None:
            if data is None:
                return data
            return cast(float | None, data)

        events_per_s = _parse_events_per_s(d.pop("events_per_s"))

        events_topic = d.pop("events_topic")

        events_total = d.pop("events_total")

        lag = []
        _lag = d.pop("lag")
        for lag_item_data in _lag:
            lag_item = RoleLag.from_dict(lag_item_data)

            lag.append(lag_item)

        measured_at = datetime.datetime.fromisoformat(d.pop("measured_at"))

        recent_dead_letters = []
        _recent_dead_letters = d.pop("recent_dead_letters")
        for recent_dead_letters_item_data in _recent_dead_letters:
            recent_dead_letters_item = RecentDeadLetter.from_dict(recent_dead_letters_item_data)

            recent_dead_letters.append(recent_dead_letters_item)

        pipeline_health = cls(
            dead_letters=dead_letters,
            dead_letters_complete=dead_letters_complete,
            events_per_s=events_per_s,
            events_topic=events_topic,
            events_total=events_total,
            lag=lag,
            measured_at=measured_at,
            recent_dead_letters=recent_dead_letters,
        )

        pipeline_health.additional_properties = d
        return pipeline_health

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
