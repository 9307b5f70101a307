"""The ClickHouse part of gdpr-erase through the API process that owns embedded chdb
(api/erasure.py): admin tokens only, ids checked, exactly the user's rows deleted."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from fitstream.contracts import AvroSerde, registry_from_settings
from fitstream.settings import FitStreamSettings
from fitstream.tokens import issue_admin_token, issue_analyst_token, issue_user_token
from stores.clickhouse.store import open_store
from stores.clickhouse.tables import WORKOUT_SUMMARY, apply_ddl, summary_columns

T0 = 1_793_577_600_000


def summary(workout_id: str, user_id: str) -> dict:
    return {"workout_id": workout_id, "user_id": user_id, "device_id": "d",
            "sport_type": "running", "status": "completed", "start_time": T0,
            "end_time": T0 + 60_000, "moving_duration_ms": 60_000, "distance_meters": 250.0,
            "calories_burned": None, "avg_heart_rate": None, "avg_speed_mps": None,
            "sample_count": 0, "last_seq": 1, "last_event_at": T0 + 60_000,
            "best_1k_ms": None, "best_5k_ms": None, "best_10k_ms": None}


@pytest.fixture
def api(tmp_path):
    settings = FitStreamSettings(state_dir=tmp_path)
    store = open_store(settings)
    apply_ddl(store)
    store.insert(WORKOUT_SUMMARY, summary_columns(
        [summary("w1", "user-a"), summary("w2", "user-a"), summary("w3", "user-b")]))
    client = TestClient(create_app(settings, AvroSerde(registry_from_settings(
        settings.schema_registry)), store, None))
    yield client, store, settings.api.token_secret.get_secret_value()
    store.close()


def owners(store) -> list[str]:
    return sorted(r["user_id"] for r in store.query(
        f"SELECT user_id FROM {store.database}.{WORKOUT_SUMMARY}"))


def erase(client: TestClient, user_id: str, token: str | None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.post(f"/api/v1/admin/users/{quote(user_id, safe='')}/clickhouse-erasure",
                       headers=headers)


def test_only_an_admin_token_may_erase(api):
    client, store, secret = api
    for token in (None, issue_user_token(secret, "user-a", 60),
                  issue_analyst_token(secret, "analyst", 60)):
        response = erase(client, "user-a", token)
        assert response.status_code == 401, response.text
        assert response.json()["error"] == "unauthorized"
    assert owners(store) == ["user-a", "user-a", "user-b"]


@pytest.mark.parametrize("user_id", ["' OR 1=1 --", "O'Brien"])
def test_an_invalid_id_is_refused_and_deletes_nothing(api, user_id):
    client, store, secret = api
    response = erase(client, user_id, issue_admin_token(secret, "ops", 60))
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_id"
    assert "is not a valid id" in response.json()["message"]
    assert owners(store) == ["user-a", "user-a", "user-b"]


def test_an_admin_erases_exactly_the_users_rows(api):
    client, store, secret = api
    response = erase(client, "user-a", issue_admin_token(secret, "ops", 60))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["user_id"] == "user-a"
    assert {t: n for t, n in body["rows_deleted"].items() if n} == {WORKOUT_SUMMARY: 2}
    assert owners(store) == ["user-b"]
