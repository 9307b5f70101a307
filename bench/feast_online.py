"""Feast online read latency for one user, on SQLite (embedded default) and on the Redis
server at 127.0.0.1:6379: ``get_online_features`` for every feature of user_features
(24 values), one entity row per call, as a model server asks.

The store holds 1,000 users' latest rows, pushed through the push source the way the
online writer pushes them. Each run times 2,000 calls after 200 warm-up calls, in one
Python process (Feast's SDK, no feature server); p50 and p99 are medians over runs.
"""

from __future__ import annotations

import shutil
import statistics
import time
import uuid

from feast.data_source import PushMode
from rich.console import Console

from feature_repo.definitions import FEATURE_VIEW, PUSH_SOURCE
from fitstream.domain.features import DAY_MS, FLAT_FEATURE_NAMES, UserFeatureHistory
from fitstream.settings import FeastSettings, FitStreamSettings
from sinks.feast.online_sink import online_frame
from stores.feast.store import apply_definitions, feature_store

USERS = 1_000
CALLS = 2_000
WARM_UP = 200
AS_OF = 1_796_083_200_000


def user_rows() -> list[dict]:
    rows = []
    for index in range(USERS):
        history = UserFeatureHistory(f"user-{index:05d}")
        for day in range(1 + index % 20):
            row = history.add_workout({
                "workout_id": f"w{index}-{day}", "user_id": history.user_id,
                "sport_type": ("running", "cycling", "walking")[day % 3], "status": "completed",
                "start_time": AS_OF - (30 - day) * DAY_MS,
                "end_time": AS_OF - (30 - day) * DAY_MS + 1_800_000,
                "moving_duration_ms": 1_700_000, "distance_meters": 5_000.0 + index,
                "avg_heart_rate": 140.0 + day})[-1]
        rows.append(row)
    return rows


def one_run(settings: FitStreamSettings) -> list[float]:
    store = feature_store(settings)
    features = [f"{FEATURE_VIEW}:{name}" for name in ("as_of", *FLAT_FEATURE_NAMES)]
    timings = []
    for call in range(WARM_UP + CALLS):
        user = f"user-{(call * 7919) % USERS:05d}"
        started = time.perf_counter()
        vector = store.get_online_features(features=features,
                                           entity_rows=[{"user_id": user}]).to_dict()
        elapsed = time.perf_counter() - started
        assert vector["as_of"][0] is not None, user
        if call >= WARM_UP:
            timings.append(elapsed * 1000)
    return timings


def run(repeats: int = 3, console: Console | None = None) -> dict:
    console = console or Console(stderr=True)
    base = FitStreamSettings()
    results = {}
    rows = user_rows()
    for backend in ("sqlite", "redis"):
        state = base.state_dir / "bench" / f"feast-{backend}"
        shutil.rmtree(state, ignore_errors=True)
        settings = FitStreamSettings(state_dir=state, feast=FeastSettings(
            project=f"bench_{uuid.uuid4().hex[:8]}", online_store=backend))
        apply_definitions(settings)
        feature_store(settings).push(PUSH_SOURCE, online_frame(rows), to=PushMode.ONLINE)
        runs = []
        try:
            for attempt in range(repeats):
                timings = sorted(one_run(settings))
                runs.append({"p50_ms": round(statistics.median(timings), 2),
                             "p99_ms": round(timings[int(len(timings) * 0.99) - 1], 2)})
                console.print(f"feast online {backend} run {attempt + 1}: {runs[-1]}")
        finally:
            if backend == "redis":
                feature_store(settings).teardown()
        results[backend] = {
            "p50_ms": statistics.median(r["p50_ms"] for r in runs),
            "p99_ms": statistics.median(r["p99_ms"] for r in runs),
            "runs": runs, "users": USERS, "calls_per_run": CALLS}
    return {"benchmark": "Feast online read, one user, 24 features", "backends": results,
            "runs": [r for b in results.values() for r in b["runs"]]}
