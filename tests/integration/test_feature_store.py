"""Feast's online stores as the platform uses them: SQLite (embedded default) and the
Redis server on 127.0.0.1:6379 — the online writer's push, a read back with exact
values, and the GDPR erase of one user."""

from __future__ import annotations

import uuid

import pytest
import redis
from feast.data_source import PushMode

from feature_repo.definitions import FEATURE_VIEW
from fitstream.domain.features import DAY_MS, FLAT_FEATURE_NAMES, UserFeatureHistory
from fitstream.settings import FeastSettings, FitStreamSettings
from sinks.feast.online_sink import PUSH_SOURCE, online_frame
from stores.delta.lakehouse import DeltaTables
from stores.delta.tables import USER_FEATURES, user_feature_rows
from stores.feast.offline_store import retrieval_frame
from stores.feast.online_stores import online_store_backend
from stores.feast.store import apply_definitions, feature_store

AS_OF = 1_796_083_200_000
FEATURES = [f"{FEATURE_VIEW}:{n}" for n in ("as_of", *FLAT_FEATURE_NAMES)]


def redis_available() -> bool:
    try:
        return bool(redis.Redis(host="127.0.0.1", port=6379, socket_timeout=2).ping())
    except redis.RedisError:
        return False


def summary(user: str, i: int, end: int, sport: str = "running") -> dict:
    run = sport == "running"
    return {"workout_id": f"{user}-w{i}", "user_id": user, "sport_type": sport,
            "status": "completed", "start_time": end - 1_800_000, "end_time": end,
            "moving_duration_ms": 1_800_000, "distance_meters": 5000.0 + i,
            "avg_heart_rate": 130.0 + 10 * i, "best_1k_ms": 300_000 - i if run else None,
            "best_5k_ms": 1_700_000 - i if run else None, "best_10k_ms": None}


def feature_rows(user: str, workouts: int) -> list[dict]:
    history = UserFeatureHistory(user)
    return [history.add_workout(summary(user, i, AS_OF - (workouts - i) * DAY_MS,
                                        "cycling" if i % 3 == 0 else "running"))[-1]
            for i in range(workouts)]


@pytest.fixture(params=["sqlite", "redis"])
def settings(request, tmp_path):
    if request.param == "redis" and not redis_available():
        pytest.fail("the Redis server on 127.0.0.1:6379 is not answering")
    project = f"fstest_{uuid.uuid4().hex[:10]}"  # Redis keys carry the project
    settings = FitStreamSettings(state_dir=tmp_path, feast=FeastSettings(
        project=project, online_store=request.param))
    apply_definitions(settings)
    yield settings
    if request.param == "redis":
        feature_store(settings).teardown()


def test_pushed_rows_read_back_exactly_and_erase_removes_one_user(settings):
    store = feature_store(settings)
    mine, other = feature_rows("user-a", 6), feature_rows("user-b", 2)
    # The writer pushes the last row per user of what it consumed, in log order.
    store.push(PUSH_SOURCE, online_frame(mine[:3] + other), to=PushMode.ONLINE)
    store.push(PUSH_SOURCE, online_frame(mine[3:]), to=PushMode.ONLINE)

    def online(user: str) -> dict:
        vector = store.get_online_features(features=FEATURES,
                                           entity_rows=[{"user_id": user}]).to_dict()
        return {name: values[0] for name, values in vector.items()}

    assert online("user-a") == mine[-1]
    assert online("user-b") == other[-1]
    assert mine[-1]["workouts_7d"] == 6 and mine[-1]["avg_pace_s_per_km_28d_swimming"] is None
    # Integer features come back as ints, and None where a user has fewer workouts,
    # though both users' rows were one pushed frame.
    assert [online("user-a")[f"last_{k}_start_hour"] for k in (1, 2, 3)] == [23, 23, 23]
    assert type(online("user-a")["last_3_sport_index"]) is int
    assert (other[-1]["last_2_sport_index"], other[-1]["last_3_sport_index"]) == (1, None)
    assert (mine[-1]["best_1k_s_90d"], mine[-1]["best_5k_s_90d"],
            mine[-1]["best_10k_s_90d"]) == (299.995, 1699.995, None)

    erased = online_store_backend(settings).erase_user(settings, [FEATURE_VIEW], "user-a")
    assert erased == 1
    assert online("user-a") == {"user_id": "user-a", **{n: None for n in mine[-1]
                                                        if n != "user_id"}}
    assert online("user-b") == other[-1]
    assert online_store_backend(settings).erase_user(settings, [FEATURE_VIEW], "user-a") == 0


def test_the_model_services_read_the_offline_rows_point_in_time(tmp_path):
    """The offline table's rows through each model's feature service, at each row's time
    and a second before the next: the row itself, nullable integers still integers."""
    import pandas as pd

    settings = FitStreamSettings(state_dir=tmp_path, feast=FeastSettings(
        project=f"fstest_{uuid.uuid4().hex[:10]}", online_store="sqlite"))
    apply_definitions(settings)
    rows = feature_rows("user-a", 4) + feature_rows("user-b", 2)
    DeltaTables(settings).append(USER_FEATURES, user_feature_rows(rows), [])
    store = feature_store(settings)
    entities = pd.DataFrame({"user_id": [r["user_id"] for r in rows] * 2, "event_timestamp":
                             pd.to_datetime([r["as_of"] for r in rows]
                                            + [r["as_of"] + DAY_MS - 1000 for r in rows],
                                            unit="ms", utc=True)})
    for service in ("weekly_distance_forecast_v1", "race_time_v1", "next_workout_v1"):
        names = [p.name for p in store.get_feature_service(service)
                 .feature_view_projections[0].features]
        frame = retrieval_frame(store.get_historical_features(
            entity_df=entities, features=store.get_feature_service(service)))
        frame = frame.sort_values(["user_id", "event_timestamp"], kind="stable")
        got = [{n: (None if pd.isna(v) else v) for n, v in zip(names, values, strict=True)}
               for values in frame[names].itertuples(index=False)]
        want = [{n: r[n] for n in names} for r in sorted(rows * 2, key=lambda r: (
            r["user_id"], r["as_of"]))]
        assert got == want, service
    assert frame["last_3_sport_index"].dtype == pd.Int64Dtype()
