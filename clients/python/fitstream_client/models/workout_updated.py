from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.workout_updated_position import WorkoutUpdatedPosition
    from ..models.workout_updated_telemetry_sample import WorkoutUpdatedTelemetrySample


T = TypeVar("T", bound="WorkoutUpdated")


@_attrs_define
class WorkoutUpdated:
    """Telemetry since the previous update: the latest reading plus every sample recorded since.

    Attributes:
        current_distance_meters (float): Distance since the start, in metres.
        device_id (str):
        event_id (str): A UUID, unique per event; a duplicate repeats it.
        occurred_at (int): Device time, epoch milliseconds UTC.
        seq (int): Per-workout sequence number from the device; WorkoutStarted is 0.
        type_ (Literal['WorkoutUpdated']): The event type, equal to the record name.
        user_id (str): Partition key of the events topic.
        workout_id (str):
        avg_heart_rate (int | None | Unset):
        current_speed (float | None | Unset): Metres per second.
        elevation_meters (float | None | Unset):
        heart_rate (int | None | Unset):
        position (None | Unset | WorkoutUpdatedPosition):
        samples (list[WorkoutUpdatedTelemetrySample] | Unset): Points recorded since the previous update, oldest first.
    """

    current_distance_meters: float
    device_id: str
    event_id: str
    occurred_at: int
    seq: int
    type_: Literal["WorkoutUpdated"]
    user_id: str
    workout_id: str
    avg_heart_rate: int | None | Unset = UNSET
    current_speed: float | None | Unset = UNSET
    elevation_meters: float | None | Unset = UNSET
    heart_rate: int | None | Unset = UNSET
    position: None | Unset | WorkoutUpdatedPosition = UNSET
    samples: list[WorkoutUpdatedTelemetrySample] | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        from ..models.workout_updated_position import WorkoutUpdatedPosition  # noqa: PLC0415

        current_distance_meters = self.current_distance_meters

        device_id = self.device_id

        event_id = self.event_id

        occurred_at = self.occurred_at

        seq = self.seq

        type_ = self.type_

        user_id = self.user_id

        workout_id = self.workout_id

        avg_heart_rate: int | None | Unset
        if isinstance(self.avg_heart_rate, Unset):
            avg_heart_rate = UNSET
        else:
            avg_heart_rate = self.avg_heart_rate

        current_speed: float | None | Unset
        if isinstance(self.current_speed, Unset):
            current_speed = UNSET
        else:
            current_speed = self.current_speed

        elevation_meters: float | None | Unset
        if isinstance(self.elevation_meters, Unset):
            elevation_meters = UNSET
        else:
            elevation_meters = self.elevation_meters

        heart_rate: int | None | Unset
        if isinstance(self.heart_rate, Unset):
            heart_rate = UNSET
        else:
            heart_rate = self.heart_rate

        position: dict[str, Any] | None | Unset
        if isinstance(self.position, Unset):
            position = UNSET
        elif isinstance(self.position, WorkoutUpdatedPosition):
            position = self.position.to_dict()
        else:
            position = self.position

        samples: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.samples, Unset):
            samples = []
            for samples_item_data in self.samples:
                samples_item = samples_item_data.to_dict()
                samples.append(samples_item)

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "current_distance_meters": current_distance_meters,
                "device_id": device_id,
                "event_id": event_id,
                "occurred_at": occurred_at,
                "seq": seq,
                "type": type_,
                "user_id": user_id,
                "workout_id": workout_id,
            }
        )
        if avg_heart_rate is not UNSET:
            field_dict["avg_heart_rate"] = avg_heart_rate
        if current_speed is not UNSET:
            field_dict["current_speed"] = current_speed
        if elevation_meters is not UNSET:
            field_dict["elevation_meters"] = elevation_meters
        if heart_rate is not UNSET:
            field_dict["heart_rate"] = heart_rate
        if position is not UNSET:
            field_dict["position"] = position
        if samples is not UNSET:
            field_dict["samples"] = samples

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.workout_updated_position import WorkoutUpdatedPosition  # noqa: PLC0415
        from ..models.workout_updated_telemetry_sample import WorkoutUpdatedTelemetrySample  # noqa: PLC0415

        d = dict(src_dict)
        current_distance_meters = d.pop("current_distance_meters")

        device_id = d.pop("device_id")

        event_id = d.pop("event_id")

        occurred_at = d.pop("occurred_at")

        seq = d.pop("seq")

        type_ = cast(Literal["WorkoutUpdated"], d.pop("type"))
        if type_ != "WorkoutUpdated":
            raise ValueError(f"type must match const 'WorkoutUpdated', got '{type_}'")

        user_id = d.pop("user_id")

        workout_id = d.pop("workout_id")

        def _parse_avg_heart_rate(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        avg_heart_rate = _parse_avg_heart_rate(d.pop("avg_heart_rate", UNSET))

        def _parse_current_speed(data: object) -> float | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(float | None | Unset, data)

        current_speed = _parse_current_speed(d.pop("current_speed", UNSET))

        def _parse_elevation_meters(data: object) -> float | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(float | None | Unset, data)

        elevation_meters = _parse_elevation_meters(d.pop("elevation_meters", UNSET))

        def _parse_heart_rate(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        heart_rate = _parse_heart_rate(d.pop("heart_rate", UNSET))

        def _parse_position(data: object) -> None | Unset | WorkoutUpdatedPosition:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                position_position = WorkoutUpdatedPosition.from_dict(data)

                return position_position
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | Unset | WorkoutUpdatedPosition, data)

        position = _parse_position(d.pop("position", UNSET))

        _samples = d.pop("samples", UNSET)
        samples: list[WorkoutUpdatedTelemetrySample] | Unset = UNSET
        if _samples is not UNSET:
            samples = []
            for samples_item_data in _samples:
                samples_item = WorkoutUpdatedTelemetrySample.from_dict(samples_item_data)

                samples.append(samples_item)

        workout_updated = cls(
            current_distance_meters=current_distance_meters,
            device_id=device_id,
            event_id=event_id,
            occurred_at=occurred_at,
            seq=seq,
            type_=type_,
            user_id=user_id,
            workout_id=workout_id,
            avg_heart_rate=avg_heart_rate,
            current_speed=current_speed,
            elevation_meters=elevation_meters,
            heart_rate=heart_rate,
            position=position,
            samples=samples,
        )

        return workout_updated
