"""Training data as a data scientist reads it: features from Feast, point in time,
through a model's feature service; labels from the lakehouse.

:func:`historical_features` asks Feast's ``get_historical_features`` for the feature
service's references, resolved from the registry (so the service alone decides which
features a model reads), plus the view's ``as_of``: the time of the row each entity row
was joined with, which the pyfuncs take as input and the point-in-time test checks. A
feature row joins an entity row only if its event time is at or before the entity's
``event_timestamp``: nothing leaks from the future.
"""

from __future__ import annotations

import pandas as pd
from deltalake import DeltaTable

from fitstream.settings import FitStreamSettings
from stores.delta.tables import SILVER_WORKOUTS, TRAINING_SET
from stores.feast.store import feature_store

AS_OF = "as_of"


def service_features(settings: FitStreamSettings, service_name: str) -> list[str]:
    """The feature references (``view:feature``) of a feature service, in its order."""
    service = feature_store(settings).get_feature_service(service_name)
    return [f"{projection.name_to_use()}:{feature.name}"
            for projection in service.feature_view_projections
            for feature in projection.features]


def historical_features(settings: FitStreamSettings, entity_df: pd.DataFrame,
                        service_name: str) -> pd.DataFrame:
    """``entity_df`` (``user_id``, tz-aware UTC ``event_timestamp``, and any other
    columns, kept) joined point in time with the service's features and the joined
    row's ``as_of`` (epoch ms; null where the user had no row yet). Columns are the bare
    feature names; rows come back in ``entity_df``'s order."""
    timestamps = entity_df["event_timestamp"]
    if not pd.api.types.is_datetime64_any_dtype(timestamps) or timestamps.dt.tz is None:
        raise ValueError("entity_df.event_timestamp must be tz-aware (UTC) datetimes")
    refs = service_features(settings, service_name)
    view = refs[0].split(":", 1)[0]
    order = "__entity_row"
    entities = entity_df.assign(**{order: range(len(entity_df))})
    frame = feature_store(settings).get_historical_features(
        entity_df=entities, features=[*refs, f"{view}:{AS_OF}"]).to_df()
    frame = frame.sort_values(order).drop(columns=order).reset_index(drop=True)
    frame[AS_OF] = frame[AS_OF].astype("Int64")
    return frame


def completed_workouts(settings: FitStreamSettings) -> pd.DataFrame:
    """Every completed workout of ``silver.workouts`` (latest summary per workout)."""
    table = DeltaTable(settings.lakehouse_uri(SILVER_WORKOUTS),
                       storage_options=settings.lakehouse.object_store_options())
    frame = table.to_pandas()
    return frame[frame["status"] == "completed"].reset_index(drop=True)


def weekly_distance_training(settings: FitStreamSettings) -> pd.DataFrame:
    """``features.weekly_distance_training``: one row per user and snapshot midnight with
    the next 7 days' distance (jobs/training_set.py, jobs/fleet_lakehouse.py), sorted by
    snapshot then user."""
    table = DeltaTable(settings.lakehouse_uri(TRAINING_SET),
                       storage_options=settings.lakehouse.object_store_options())
    frame = table.to_pandas()
    return frame.sort_values(["snapshot_at", "user_id"]).reset_index(drop=True)
