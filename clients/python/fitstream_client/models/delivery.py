from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.delivery_channel import DeliveryChannel, check_delivery_channel
from ..models.delivery_status import DeliveryStatus, check_delivery_status

T = TypeVar("T", bound="Delivery")


@_attrs_define
class Delivery:
    """
    Attributes:
        at (datetime.datetime):
        attempts (int):
        channel (DeliveryChannel):
        detail (None | str):
        status (DeliveryStatus):
    """

    at: datetime.datetime
    attempts: int
    channel: DeliveryChannel
    detail: None | str
    status: DeliveryStatus
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        at = self.at.isoformat()

        attempts = self.attempts

        channel: str = self.channel

        detail: None | str
        detail = self.detail

        status: str = self.status

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "at": at,
                "attempts": attempts,
                "channel": channel,
                "detail": detail,
                "status": status,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        at = datetime.datetime.fromisoformat(d.pop("at"))

        attempts = d.pop("attempts")

        channel = check_delivery_channel(d.pop("channel"))

        def _parse_detail(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        detail = _parse_detail(d.pop("detail"))

        status = check_delivery_status(d.pop("status"))

        delivery = cls(
            at=at,
            attempts=attempts,
            channel=channel,
            detail=detail,
            status=status,
        )

        delivery.additional_properties = d
        return delivery

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
