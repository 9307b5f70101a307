from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.line_string import LineString
    from ..models.route_properties import RouteProperties


T = TypeVar("T", bound="WorkoutRoute")


@_attrs_define
class WorkoutRoute:
    """A GeoJSON Feature (RFC 7946): the simplified route and its bounding box.

    Attributes:
        bbox (list[float] | None): [west, south, east, north]; null: no route
        geometry (LineString):
        properties (RouteProperties):
        type_ (Literal['Feature']):
    """

    bbox: list[float] | None
    geometry: LineString
    properties: RouteProperties
    type_: Literal["Feature"]
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        bbox: list[float] | None
        if isinstance(self.bbox, list):
            bbox = self.bbox

        else:
            bbox = self.bbox

        geometry = self.geometry.to_dict()

        properties = self.properties.to_dict()

        type_ = self.type_

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "bbox": bbox,
                "geometry": geometry,
                "properties": properties,
                "type": type_,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.line_string import LineString  # noqa: PLC0415
        from ..models.route_properties import RouteProperties  # noqa: PLC0415

        d = dict(src_dict)

        def _parse_bbox(data: object) -> list[float] | None:
            if data is None:
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                bbox_type_0 = cast(list[float], data)

                return bbox_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[float] | None, data)

        bbox = _parse_bbox(d.pop("bbox"))

        geometry = LineString.from_dict(d.pop("geometry"))

        properties = RouteProperties.from_dict(d.pop("properties"))

        type_ = cast(Literal["Feature"], d.pop("type"))
        if type_ != "Feature":
            raise ValueError(f"type must match const 'Feature', got '{type_}'")

        workout_route = cls(
            bbox=bbox,
            geometry=geometry,
            properties=properties,
            type_=type_,
        )

        workout_route.additional_properties = d
        return workout_route

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
