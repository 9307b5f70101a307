from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define

if TYPE_CHECKING:
    from ..models.workout_cancelled import WorkoutCancelled
    from ..models.workout_completed import WorkoutCompleted
    from ..models.workout_paused import WorkoutPaused
    from ..models.workout_resumed import WorkoutResumed
    from ..models.workout_started import WorkoutStarted
    from ..models.workout_updated import WorkoutUpdated


T = TypeVar("T", bound="IngestBatch")


@_attrs_define
class IngestBatch:
    """Workout events from one device, all accepted or none. Ingest also refuses a start_time or end_time far from its
    occurred_at, and an occurred_at ahead of the server's clock (api.max_future_skew_ms), and an integer field written
    with a fraction (1.0): JSON Schema counts 1.0 as an integer, ingest never converts a number.

        Attributes:
            events (list[WorkoutCancelled | WorkoutCompleted | WorkoutPaused | WorkoutResumed | WorkoutStarted |
                WorkoutUpdated]):
    """

    events: list[WorkoutCancelled | WorkoutCompleted | WorkoutPaused | WorkoutResumed | WorkoutStarted | WorkoutUpdated]

    def to_dict(self) -> dict[str, Any]:
        from ..models.workout_completed import WorkoutCompleted  # noqa: PLC0415
        from ..models.workout_paused import WorkoutPaused  # noqa: PLC0415
        from ..models.workout_resumed import WorkoutResumed  # noqa: PLC0415
        from ..models.workout_started import WorkoutStarted  # noqa: PLC0415
        from ..models.workout_updated import WorkoutUpdated  # noqa: PLC0415

        events = []
        for events_item_data in self.events:
            events_item: dict[str, Any]
            if isinstance(events_item_data, WorkoutStarted):
                events_item = events_item_data.to_dict()
            elif isinstance(events_item_data, WorkoutUpdated):
                events_item = events_item_data.to_dict()
            elif isinstance(events_item_data, WorkoutPaused):
                events_item = events_item_data.to_dict()
            elif isinstance(events_item_data, WorkoutResumed):
                events_item = events_item_data.to_dict()
            elif isinstance(events_item_data, WorkoutCompleted):
                events_item = events_item_data.to_dict()
            else:
                events_item = events_item_data.to_dict()

            events.append(events_item)

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "events": events,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.workout_cancelled import WorkoutCancelled  # noqa: PLC0415
        from ..models.workout_completed import WorkoutCompleted  # noqa: PLC0415
        from ..models.workout_paused import WorkoutPaused  # noqa: PLC0415
        from ..models.workout_resumed import WorkoutResumed  # noqa: PLC0415
        from ..models.workout_started import WorkoutStarted  # noqa: PLC0415
        from ..models.workout_updated import WorkoutUpdated  # noqa: PLC0415

        d = dict(src_dict)
        events = []
        _events = d.pop("events")
        for events_item_data in _events:

            def _parse_events_item(
                data: object,
            ) -> WorkoutCancelled | WorkoutCompleted | WorkoutPaused | WorkoutResumed | WorkoutStarted | WorkoutUpdated:
                try:
                    if not isinstance(data, dict):
                        raise TypeError()
                    events_item_type_0 = WorkoutStarted.from_dict(data)

                    return events_item_type_0
                except (TypeError, ValueError, AttributeError, KeyError):
                    pass
                try:
                    if not isinstance(data, dict):
                        raise TypeError()
                    events_item_type_1 = WorkoutUpdated.from_dict(data)

                    return events_item_type_1
                except (TypeError, ValueError, AttributeError, KeyError):
                    pass
                try:
                    if not isinstance(data, dict):
                        raise TypeError()
                    events_item_type_2 = WorkoutPaused.from_dict(data)

                    return events_item_type_2
                except (TypeError, ValueError, AttributeError, KeyError):
                    pass
                try:
                    if not isinstance(data, dict):
                        raise TypeError()
                    events_item_type_3 = WorkoutResumed.from_dict(data)

                    return events_item_type_3
                except (TypeError, ValueError, AttributeError, KeyError):
                    pass
                try:
                    if not isinstance(data, dict):
                        raise TypeError()
                    events_item_type_4 = WorkoutCompleted.from_dict(data)

                    return events_item_type_4
                except (TypeError, ValueError, AttributeError, KeyError):
                    pass
                if not isinstance(data, dict):
                    raise TypeError()
                events_item_type_5 = WorkoutCancelled.from_dict(data)

                return events_item_type_5

            events_item = _parse_events_item(events_item_data)

            events.append(events_item)

        ingest_batch = cls(
            events=events,
        )

        return ingest_batch
