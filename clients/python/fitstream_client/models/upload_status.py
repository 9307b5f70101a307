from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.upload_status_status import UploadStatusStatus, check_upload_status_status
from ..types import UNSET, Unset

T = TypeVar("T", bound="UploadStatus")


@_attrs_define
class UploadStatus:
    """Where an upload is: ``processing``, ``ready`` (``workout_id`` set) or ``error``
    (``reason`` set).

        Attributes:
            status (UploadStatusStatus):
            upload_id (str):
            reason (None | str | Unset):
            workout_id (None | str | Unset):
    """

    status: UploadStatusStatus
    upload_id: str
    reason: None | str | Unset = UNSET
    workout_id: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        status: str = self.status

        upload_id = self.upload_id

        reason: None | str | Unset
        if isinstance(self.reason, Unset):
            reason = UNSET
        else:
            reason = self.reason

        workout_id: None | str | Unset
        if isinstance(self.workout_id, Unset):
            workout_id = UNSET
        else:
            workout_id = self.workout_id

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "status": status,
                "upload_id": upload_id,
            }
        )
        if reason is not UNSET:
            field_dict["reason"] = reason
        if workout_id is not UNSET:
            field_dict["workout_id"] = workout_id

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        status = check_upload_status_status(d.pop("status"))

        upload_id = d.pop("upload_id")

        def _parse_reason(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        reason = _parse_reason(d.pop("reason", UNSET))

        def _parse_workout_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        workout_id = _parse_workout_id(d.pop("workout_id", UNSET))

        upload_status = cls(
            status=status,
            upload_id=upload_id,
            reason=reason,
            workout_id=workout_id,
        )

        upload_status.additional_properties = d
        return upload_status

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
