from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from .. import types
from ..models.body_create_upload_sport import BodyCreateUploadSport, check_body_create_upload_sport
from ..types import UNSET, Unset

T = TypeVar("T", bound="BodyCreateUpload")


@_attrs_define
class BodyCreateUpload:
    """
    Attributes:
        file (str): A FIT, GPX or TCX file, optionally gzipped (the format is read from its content)
        sport (BodyCreateUploadSport | Unset): Overrides the file's sport
    """

    file: str
    sport: BodyCreateUploadSport | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        file = self.file

        sport: str | Unset = UNSET
        if not isinstance(self.sport, Unset):
            sport = self.sport

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "file": file,
            }
        )
        if sport is not UNSET:
            field_dict["sport"] = sport

        return field_dict

    def to_multipart(self) -> types.RequestFiles:
        files: types.RequestFiles = []

        files.append(("file", (None, str(self.file).encode(), "text/plain")))

        if not isinstance(self.sport, Unset):
            files.append(("sport", (None, str(self.sport).encode(), "text/plain")))

        for prop_name, prop in self.additional_properties.items():
            files.append((prop_name, (None, str(prop).encode(), "text/plain")))

        return files

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        file = d.pop("file")

        _sport = d.pop("sport", UNSET)
        sport: BodyCreateUploadSport | Unset
        if isinstance(_sport, Unset):
            sport = UNSET
        else:
            sport = check_body_create_upload_sport(_sport)

        body_create_upload = cls(
            file=file,
            sport=sport,
        )

        body_create_upload.additional_properties = d
        return body_create_upload

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
