from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.delivery import Delivery


T = TypeVar("T", bound="Notification")


@_attrs_define
class Notification:
    """
    Attributes:
        body (str):
        deliveries (list[Delivery]): Outcomes on the external channels
        id (str):
        kind (str):
        read (bool):
        read_at (datetime.datetime | None):
        sent_at (datetime.datetime): When the cause happened (event time)
        title (str):
        user_id (str):
        workout_id (None | str):
        channel (Literal['in_app'] | Unset):  Default: 'in_app'.
    """

    body: str
    deliveries: list[Delivery]
    id: str
    kind: str
    read: bool
    read_at: datetime.datetime | None
    sent_at: datetime.datetime
    title: str
    user_id: str
    workout_id: None | str
    channel: Literal["in_app"] | Unset = "in_app"
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        body = self.body

        deliveries = []
        for deliveries_item_data in self.deliveries:
            deliveries_item = deliveries_item_data.to_dict()
            deliveries.append(deliveries_item)

        id = self.id

        kind = self.kind

        read = self.read

        read_at: None | str
        if isinstance(self.read_at, datetime.datetime):
            read_at = self.read_at.isoformat()
        else:
            read_at = self.read_at

        sent_at = self.sent_at.isoformat()

        title = self.title

        user_id = self.user_id

        workout_id: None | str
        workout_id = self.workout_id

        channel = self.channel

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "body": body,
                "deliveries": deliveries,
                "id": id,
                "kind": kind,
                "read": read,
                "read_at": read_at,
                "sent_at": sent_at,
                "title": title,
                "user_id": user_id,
                "workout_id": workout_id,
            }
        )
        if channel is not UNSET:
            field_dict["channel"] = channel

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.delivery import Delivery  # noqa: PLC0415

        d = dict(src_dict)
        body = d.pop("body")

        deliveries = []
        _deliveries = d.pop("deliveries")
        for deliveries_item_data in _deliveries:
            deliveries_item = Delivery.from_dict(deliveries_item_data)

            deliveries.append(deliveries_item)

        id = d.pop("id")

        kind = d.pop("kind")

        read = d.pop("read")

        def _parse_read_at(data: object) -> datetime.datetime | None:
            if data is None:
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                read_at_type_0 = datetime.datetime.fromisoformat(data)

                return read_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None, data)

        read_at = _parse_read_at(d.pop("read_at"))

        sent_at = datetime.datetime.fromisoformat(d.pop("sent_at"))

        title = d.pop("title")

        user_id = d.pop("user_id")

        def _parse_workout_id(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        workout_id = _parse_workout_id(d.pop("workout_id"))

        channel = cast(Literal["in_app"] | Unset, d.pop("channel", UNSET))
        if channel != "in_app" and not isinstance(channel, Unset):
            raise ValueError(f"channel must match const 'in_app', got '{channel}'")

        notification = cls(
            body=body,
            deliveries=deliveries,
            id=id,
            kind=kind,
            read=read,
            read_at=read_at,
            sent_at=sent_at,
            title=title,
            user_id=user_id,
            workout_id=workout_id,
            channel=channel,
        )

        notification.additional_properties = d
        return notification

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
