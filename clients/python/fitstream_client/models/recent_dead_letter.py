from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="RecentDeadLetter")


@_attrs_define
class RecentDeadLetter:
    """
    Attributes:
        at (datetime.datetime):
        offset (int):
        partition (int):
        reason (str):
        source_offset (int | None):
        source_partition (int | None):
        source_topic (None | str):
        topic (str):
    """

    at: datetime.datetime
    offset: int
    partition: int
    reason: str
    source_offset: int | None
    source_partition: int | None
    source_topic: None | str
    topic: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        at = self.at.isoformat()

        offset = self.offset

        partition = self.partition

        reason = self.reason

        source_offset: int | None
        source_offset = self.source_offset

        source_partition: int | None
        source_partition = self.source_partition

        source_topic: None | str
        source_topic = self.source_topic

        topic = self.topic

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "at": at,
                "offset": offset,
                "partition": partition,
                "reason": reason,
                "source_offset": source_offset,
                "source_partition": source_partition,
                "source_topic": source_topic,
                "topic": topic,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        at = datetime.datetime.fromisoformat(d.pop("at"))

        offset = d.pop("offset")

        partition = d.pop("partition")

        reason = d.pop("reason")

        def _parse_source_offset(data: object) -> int | None:
            if data is None:
                return data
            return cast(int | None, data)

        source_offset = _parse_source_offset(d.pop("source_offset"))

        def _parse_source_partition(data: object) -> int | None:
            if data is None:
                return data
            return cast(int | None, data)

        source_partition = _parse_source_partition(d.pop("source_partition"))

        def _parse_source_topic(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        source_topic = _parse_source_topic(d.pop("source_topic"))

        topic = d.pop("topic")

        recent_dead_letter = cls(
            at=at,
            offset=offset,
            partition=partition,
            reason=reason,
            source_offset=source_offset,
            source_partition=source_partition,
            source_topic=source_topic,
            topic=topic,
        )

        recent_dead_letter.additional_properties = d
        return recent_dead_letter

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
