"""Input limits of the API (issue 9, finding 9): callers are authenticated before any body
is read, every body is capped, and analyst SQL runs under ClickHouse's time, row and
memory limits on both backends."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from cli.sql import run_statement
from fitstream.contracts import AvroSerde, registry_from_settings
from fitstream.settings import ApiSettings, ClickHouseSettings, FitStreamSettings
from fitstream.tokens import issue_analyst_token, issue_user_token
from stores.clickhouse.store import open_store
from stores.clickhouse.tables import apply_ddl

# Small limits, so that each one is reached by a cheap statement.
LIMITS = ApiSettings(max_body_bytes=4096, analyst_sql_max_execution_time_s=1,
                     analyst_sql_max_result_rows=1000,
                     analyst_sql_max_memory_bytes=200 * 1024 * 1024)
PREFERENCES = "/api/v1/users/user-1/notification-preferences"
SQL = "/api/v1/analytics/sql"
# A result far over the row limit must fail, not be pulled into the API process (with
# LIMIT 1e9 instead, the API before the limits grew to 23 GB and was OOM-killed; a
# million rows shows the same without risking the machine if the limit ever regresses).
# system.numbers, not numbers(): ClickHouse 18.16 forbids table functions in readonly.
HUGE = "SELECT number FROM system.numbers LIMIT 1000000"
ENDLESS = "SELECT count() FROM system.numbers"


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    """The real app on embedded chdb (no broker: nothing here reaches the log)."""
    settings = FitStreamSettings(state_dir=tmp_path_factory.mktemp("limits"), api=LIMITS)
    store = open_store(settings)
    apply_ddl(store)
    client = TestClient(create_app(settings, AvroSerde(registry_from_settings(
        settings.schema_registry)), store, None))
    keys = settings.api.token_secret.get_secret_value()
    yield client, keys
    store.close()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


def statement(client: TestClient, keys: str, sql: str):
    started = time.monotonic()
    response = client.post(SQL, json={"sql": sql},
                           headers=bearer(issue_analyst_token(keys, "test", 60)))
    return response, time.monotonic() - started


@pytest.mark.parametrize("body", [b"{not json", b'{"channels": ["fax"]}', b"x" * 3000])
def test_anonymous_and_foreign_callers_are_refused_before_the_body_is_read(api, body):
    client, keys = api
    anonymous = client.put(PREFERENCES, content=body,
                           headers={"Content-Type": "application/json"})
    assert (anonymous.status_code, anonymous.json()["error"]) == (401, "unauthorized")
    foreign = client.put(PREFERENCES, content=body,
                         headers=bearer(issue_user_token(keys, "user-2", 60)))
    assert (foreign.status_code, foreign.json()["error"]) == (403, "forbidden")
    sql = client.post(SQL, content=body, headers={"Content-Type": "application/json"})
    assert (sql.status_code, sql.json()["error"]) == (401, "unauthorized")


def test_the_owner_gets_400_for_no_json_and_422_for_invalid_preferences(api):
    client, keys = api
    owner = bearer(issue_user_token(keys, "user-1", 60))
    unparsable = client.put(PREFERENCES, content=b"{not json", headers=owner)
    assert (unparsable.status_code, unparsable.json()["error"]) == (400, "invalid_json")
    invalid = client.put(PREFERENCES, json={"channels": ["fax"]}, headers=owner)
    assert (invalid.status_code, invalid.json()["error"]) == (422, "validation_failed")
    assert invalid.json()["details"][0]["location"] == "body.channels.0"


def test_bodies_over_the_cap_are_413_whether_declared_or_streamed(api):
    client, keys = api
    owner = bearer(issue_user_token(keys, "user-1", 60))
    declared = client.put(PREFERENCES, content=b" " * 5000, headers=owner)
    assert (declared.status_code, declared.json()) == (413, {
        "error": "payload_too_large", "message": "request body over 4096 bytes",
        "code": 413, "details": None})

    def chunks():  # no Content-Length: the cap counts what arrives
        for _ in range(50):
            yield b" " * 1000

    streamed = client.put(PREFERENCES, content=chunks(), headers=owner)
    assert (streamed.status_code, streamed.json()["error"]) == (413, "payload_too_large")
    analyst = bearer(issue_analyst_token(keys, "test", 60))
    big_sql = client.post(SQL, json={"sql": "SELECT 1" + " " * 5000}, headers=analyst)
    assert big_sql.status_code == 413


def test_a_huge_result_is_a_quick_400_not_the_whole_result(api):
    client, keys = api
    response, elapsed = statement(client, keys, HUGE)
    assert response.status_code == 400
    assert response.json()["error"] == "sql_failed"
    assert "TOO_MANY_ROWS" in response.json()["message"]
    assert elapsed < 10, f"{elapsed:.1f}s: the limit should stop it at once"
    # The statement after a stopped one runs normally (a fresh read-only connection).
    after, _ = statement(client, keys, "SELECT number FROM numbers(3)")
    assert after.json() == {"columns": ["number"], "rows": [[0], [1], [2]]}


def test_a_long_statement_stops_at_the_time_limit(api):
    client, keys = api
    response, elapsed = statement(client, keys, ENDLESS)
    assert response.status_code == 400
    assert "TIMEOUT_EXCEEDED" in response.json()["message"]
    assert elapsed < 15


def test_a_statement_over_the_memory_limit_fails(api):
    client, keys = api
    # One allocation of 760 MiB: over the 200 MiB limit at once, before the time limit.
    response, _ = statement(client, keys, "SELECT length(range(100000000))")
    assert response.status_code == 400
    assert "MEMORY_LIMIT_EXCEEDED" in response.json()["message"]


def test_the_statement_cannot_lift_its_limits(api):
    client, keys = api
    response, _ = statement(client, keys,
                            f"{HUGE} SETTINGS max_result_rows = 0, readonly = 0")
    assert response.status_code == 400
    assert "readonly" in response.json()["message"].lower()


@pytest.mark.clickhouse_server
def test_fitstream_sql_on_a_server_has_the_same_limits(clickhouse_server, tmp_path):
    settings = FitStreamSettings(state_dir=tmp_path, api=LIMITS, clickhouse=ClickHouseSettings(
        backend="server", host=clickhouse_server.host, port=clickhouse_server.port,
        database="limits"))
    open_store(settings).close()  # creates the database
    assert run_statement(settings, "SELECT number FROM system.numbers LIMIT 3") == (
        ["number"], [[0], [1], [2]])
    started = time.monotonic()
    with pytest.raises(RuntimeError, match=r"max rows|TOO_MANY_ROWS|Limit for result"):
        run_statement(settings, HUGE)
    assert time.monotonic() - started < 10
    with pytest.raises(RuntimeError, match=r"[Tt]imeout"):
        run_statement(settings, ENDLESS)
    with pytest.raises(RuntimeError, match="readonly"):
        run_statement(settings, f"{HUGE} SETTINGS max_result_rows = 0")
