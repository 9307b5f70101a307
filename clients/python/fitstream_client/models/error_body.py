from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.error_body_details_type_1 import ErrorBodyDetailsType1


T = TypeVar("T", bound="ErrorBody")


@_attrs_define
class ErrorBody:
    """Every failure's body: ``error`` a stable slug, ``code`` the HTTP status.

    Attributes:
        code (int):
        error (str):
        message (str):
        details (ErrorBodyDetailsType1 | list[Any] | None | Unset):
    """

    code: int
    error: str
    message: str
    details: ErrorBodyDetailsType1 | list[Any] | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.error_body_details_type_1 import ErrorBodyDetailsType1  # noqa: PLC0415

        code = self.code

        error = self.error

        message = self.message

        details: dict[str, Any] | list[Any] | None | Unset
        if isinstance(self.details, Unset):
            details = UNSET
        elif isinstance(self.details, list):
            details = self.details

        elif isinstance(self.details, ErrorBodyDetailsType1):
            details = self.details.to_dict()
        else:
            details = self.details

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "code": code,
                "error": error,
                "message": message,
            }
        )
        if details is not UNSET:
            field_dict["details"] = details

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.error_body_details_type_1 import ErrorBodyDetailsType1  # noqa: PLC0415

        d = dict(src_dict)
        code = d.pop("code")

        error = d.pop("error")

        message = d.pop("message")

        def _parse_details(data: object) -> ErrorBodyDetailsType1 | list[Any] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                details_type_0 = cast(list[Any], data)

                return details_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                details_type_1 = ErrorBodyDetailsType1.from_dict(data)

                return details_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(ErrorBodyDetailsType1 | list[Any] | None | Unset, data)

        details = _parse_details(d.pop("details", UNSET))

        error_body = cls(
            code=code,
            error=error,
            message=message,
            details=details,
        )

        error_body.additional_properties = d
        return error_body

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
