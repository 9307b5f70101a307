"""A user's stats read from the processor's totals (api/stats_view.py): the same answer
as computing them from the user's summaries, moving when the views move, owner only.

In process against chdb (about 2 s): the rows are what the view sinks write, built by
the processor's own code (count_completed_workouts) from the summaries."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from fitstream.contracts import AvroSerde, registry_from_settings
from fitstream.domain.leaderboards import count_completed_workouts
from fitstream.domain.stats import user_stats
from fitstream.domain.windows import LeaderboardWindow
from fitstream.settings import FitStreamSettings
from fitstream.tokens import issue_user_token
from stores.clickhouse.store import open_store
from stores.clickhouse.tables import (
    LEADERBOARD_ENTRIES,
    WORKOUT_SUMMARY,
    apply_ddl,
    leaderboard_columns,
    summary_columns,
)
from tests.harness import wait_until

USER = "user-1"


def ms(day: str) -> int:
    return int(datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp() * 1000)


def summary(workout_id: str, day: str, sport: str = "running", distance: float = 5000.0,
            best_1k: int | None = None, user: str = USER) -> dict:
    start = ms(day)
    return {"workout_id": workout_id, "user_id": user, "device_id": "watch",
            "sport_type": sport, "status": "completed", "start_time": start,
            "end_time": start + 1_800_000, "moving_duration_ms": 1_700_000,
            "distance_meters": distance, "calories_burned": 250.5, "avg_heart_rate": None,
            "avg_speed_mps": None, "sample_count": 3, "last_seq": 3,
            "last_event_at": start + 1_800_000, "best_1k_ms": best_1k,
            "best_5k_ms": None, "best_10k_ms": None}


FIRST = [summary("a", "2026-11-02", best_1k=280_000),
         summary("b", "2026-11-10", distance=10_000.25, best_1k=270_000),
         summary("c", "2026-11-11", sport="cycling", distance=30_000.5),
         summary("d", "2026-10-30", distance=4_321.125),
         summary("z", "2026-11-03", user="user-2")]


def write(store, summaries: list[dict], totals: dict) -> None:
    """What the sinks write for these completions, on top of the totals so far."""
    state, entries = count_completed_workouts(
        summaries, totals.get, lambda user: 0, 0)
    totals.update(state)
    store.insert(WORKOUT_SUMMARY, summary_columns(summaries))
    store.insert(LEADERBOARD_ENTRIES, leaderboard_columns(entries))


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    settings = FitStreamSettings(state_dir=tmp_path_factory.mktemp("stats"))
    settings.api.view_cache_ttl_s = 0.2
    store = open_store(settings)
    apply_ddl(store)
    totals: dict = {}
    write(store, FIRST, totals)
    app = create_app(settings, AvroSerde(registry_from_settings(settings.schema_registry)),
                     store, None)
    secret = settings.api.token_secret.get_secret_value()
    with TestClient(app) as client:
        yield client, store, totals, secret
    store.close()


def owner(secret: str, user: str = USER) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_user_token(secret, user, 600)}"}


QUESTIONS = [("all", "month", "2026-11"), ("running", "month", "2026-11"),
             ("cycling", "week", "2026-W46"), ("all", "day", "2026-11-10"),
             ("all", "year", "2026"), ("all", "all", "all"), ("swimming", "month", "2026-11"),
             ("running", "month", "2026-12")]


def test_stats_from_the_totals_equal_stats_from_the_summaries(api):
    client, _, _, secret = api
    for sport, window, period in QUESTIONS:
        got = client.get(f"/api/v1/users/{USER}/stats", headers=owner(secret),
                         params={"sport": sport, "window": window, "period": period})
        assert got.status_code == 200
        assert got.headers["Cache-Control"] == "private, max-age=5"
        summaries = [s for s in FIRST if s["user_id"] == USER]
        assert got.json() == {"user_id": USER, **user_stats(
            summaries, sport, LeaderboardWindow(window), period)}, (sport, window, period)


def test_a_new_run_moves_the_totals_and_the_records(api):
    client, store, totals, secret = api

    def stats() -> dict:
        return client.get(f"/api/v1/users/{USER}/stats", headers=owner(secret),
                          params={"window": "month", "period": "2026-11"}).json()

    assert stats()["personal_records"]["1k"] == {"elapsed_s": 270.0, "workout_id": "b"}
    write(store, [summary("e", "2026-11-20", distance=2_000.0, best_1k=250_000)], totals)
    wait_until(lambda: stats()["totals"]["workouts"] == 4, "the new run in the totals")
    after = stats()
    assert after["totals"]["distance_meters"] == 47_000.75
    assert after["personal_records"]["1k"] == {"elapsed_s": 250.0, "workout_id": "e"}
    assert after["weekly_activity"][-3] == {
        "week": "2026-W47", "workouts": 1, "distance_meters": 2_000.0,
        "moving_time_s": 1_700.0, "calories": 250.5, "avg_speed_mps": 2_000_000 / 1_700_000}


def test_only_the_owner_reads_them(api):
    client, _, _, secret = api
    path = f"/api/v1/users/{USER}/stats"
    anonymous = client.get(path)
    assert anonymous.status_code == 401
    assert anonymous.json() == {"error": "unauthorized", "code": 401, "details": None,
                                "message": "a user bearer token is required"}
    assert anonymous.headers["WWW-Authenticate"] == "Bearer"
    stranger = client.get(path, headers=owner(secret, "user-2"))
    assert stranger.status_code == 403
    assert stranger.json()["error"] == "forbidden"
    forged = client.get(path, headers={"Authorization": "Bearer not.a.token"})
    assert forged.status_code == 401
    assert client.get("/api/v1/users/bad id/stats", headers=owner(secret)).json()[
        "error"] == "invalid_id"
