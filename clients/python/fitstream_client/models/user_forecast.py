from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.distance_forecast import DistanceForecast
    from ..models.race_times import RaceTimes


T = TypeVar("T", bound="UserForecast")


@_attrs_define
class UserForecast:
    """The latest forecast and race-time prediction; either is null until its model has
    scored the user (404 while neither has).

        Attributes:
            forecast (DistanceForecast | None):
            race_times (None | RaceTimes):
            user_id (str):
    """

    forecast: DistanceForecast | None
    race_times: None | RaceTimes
    user_id: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.distance_forecast import DistanceForecast  # noqa: PLC0415
        from ..models.race_times import RaceTimes  # noqa: PLC0415

        forecast: dict[str, Any] | None
        if isinstance(self.forecast, DistanceForecast):
            forecast = self.forecast.to_dict()
        else:
            forecast = self.forecast

        race_times: dict[str, Any] | None
        if isinstance(self.race_times, RaceTimes):
            race_times = self.race_times.to_dict()
        else:
            race_times = self.race_times

        user_id = self.user_id

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "forecast": forecast,
                "race_times": race_times,
                "user_id": user_id,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.distance_forecast import DistanceForecast  # noqa: PLC0415
        from ..models.race_times import RaceTimes  # noqa: PLC0415

        d = dict(src_dict)

        def _parse_forecast(data: object) -> DistanceForecast | None:
            if data is None:
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                forecast_type_0 = DistanceForecast.from_dict(data)

                return forecast_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(DistanceForecast | None, data)

        forecast = _parse_forecast(d.pop("forecast"))

        def _parse_race_times(data: object) -> None | RaceTimes:
            if data is None:
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                race_times_type_0 = RaceTimes.from_dict(data)

                return race_times_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | RaceTimes, data)

        race_times = _parse_race_times(d.pop("race_times"))

        user_id = d.pop("user_id")

        user_forecast = cls(
            forecast=forecast,
            race_times=race_times,
            user_id=user_id,
        )

        user_forecast.additional_properties = d
        return user_forecast

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
