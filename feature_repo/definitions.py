"""FitStream's Feast objects: the user entity, the user_features view fed by a push
source, and one feature service per model.

Built from FitStreamSettings so the batch source is the lakehouse's Delta table
``features.user_features`` wherever the lakehouse lives. `feast apply` in this directory
registers the module-level objects below (default settings, ``FITSTREAM_*`` env);
``fitstream features apply`` registers :func:`feature_objects` for the settings it runs
with (the tests' own state directories, for example).

The view has no TTL: a row is the user's state as of its ``as_of`` (also a feature), and
the online store serves the latest row however old. A TTL would make a point-in-time
lookup disagree with the online value for users who stopped training.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from feast import Entity, FeatureService, FeatureView, Field, FileSource, PushSource, ValueType
from feast.data_format import DeltaFormat
from feast.types import Float64, Int64

from feature_repo.offline_table import USER_FEATURES, USER_FEATURES_SCHEMA
from fitstream.domain.features import (
    FLAT_FEATURE_NAMES,
    FORECAST_V1_FEATURES,
    NEXT_WORKOUT_FEATURES,
    RACE_TIME_FEATURES,
)
from fitstream.settings import FitStreamSettings

PUSH_SOURCE = "user_features_push"
FEATURE_VIEW = "user_features"
# One service per model, so its features are versioned with it: a service's list never
# changes (a model that needs other features gets a new _vN service).
SERVICES = {
    "weekly_distance_forecast_v1": FORECAST_V1_FEATURES,
    "training_load_risk_v1": ("acute_chronic_ratio", "moving_time_7d_s", "moving_time_28d_s",
                              "workouts_7d", "days_since_last_workout",
                              "current_streak_days"),
    "race_time_v1": RACE_TIME_FEATURES,
    "next_workout_v1": NEXT_WORKOUT_FEATURES,
}


def feature_objects(settings: FitStreamSettings) -> list[Any]:
    user = Entity(name="user", join_keys=["user_id"], value_type=ValueType.STRING,
                  description="An app user; the Kafka key of every workout topic.")
    offline = FileSource(
        name="user_features_delta", path=settings.lakehouse_uri(USER_FEATURES),
        file_format=DeltaFormat(), timestamp_field="event_timestamp",
        description="Every UserFeatures row the processor emitted (sinks/delta).")
    push = PushSource(name=PUSH_SOURCE, batch_source=offline)
    kinds = {f.name: f.type for f in USER_FEATURES_SCHEMA}
    view = FeatureView(
        name=FEATURE_VIEW, entities=[user], ttl=timedelta(0), source=push, online=True,
        schema=[Field(name="as_of", dtype=Int64)] + [
            Field(name=n, dtype=Int64 if str(kinds[n]) == "int64" else Float64)
            for n in FLAT_FEATURE_NAMES],
        description="Per-user training load, recency and streak at as_of "
                    "(fitstream/domain/features.py).")
    services = [FeatureService(name=name, features=[view[list(features)]])
                for name, features in SERVICES.items()]
    return [user, offline, push, view, *services]


# `feast apply` collects module-level objects, one name each.
(user, user_features_delta, user_features_push, user_features, weekly_distance_forecast_v1,
 training_load_risk_v1, race_time_v1, next_workout_v1) = feature_objects(FitStreamSettings())
