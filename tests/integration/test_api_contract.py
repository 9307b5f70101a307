"""The API contract gaps of issue 9, finding 16, one test each: what the OpenAPI document
says and what the API does agree (the schemathesis run in test_api_schema.py looks for
the ones nobody listed)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from fitstream.contracts import AvroSerde, registry_from_settings
from fitstream.settings import FitStreamSettings
from fitstream.tokens import issue_user_token
from stores.clickhouse.store import open_store
from stores.clickhouse.tables import NOTIFICATION_PREFERENCES, apply_ddl, preference_columns

PREFERENCES = "/api/v1/users/user-1/notification-preferences"
ERROR_BODY = {"$ref": "#/components/schemas/ErrorBody"}


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    settings = FitStreamSettings(state_dir=tmp_path_factory.mktemp("contract"))
    store = open_store(settings)
    apply_ddl(store)
    client = TestClient(create_app(settings, AvroSerde(registry_from_settings(
        settings.schema_registry)), store, None))
    owner = {"Authorization": "Bearer " + issue_user_token(
        settings.api.token_secret.get_secret_value(), "user-1", 60)}
    client.store = store
    yield client, client.get("/openapi.json").json(), owner
    store.close()


def error_schema(operation: dict, status: str) -> dict:
    return operation["responses"][status]["content"]["application/json"]["schema"]


def test_error_responses_are_documented_as_the_error_body(api):
    _, doc, _ = api
    assert "HTTPValidationError" not in doc["components"]["schemas"]
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            for status in operation["responses"]:
                if status.startswith(("4", "5")):
                    assert error_schema(operation, status) == ERROR_BODY, (method, path, status)


def test_the_400s_are_documented(api):
    _, doc, _ = api
    inbox = doc["paths"]["/api/v1/users/{user_id}/notifications"]["get"]
    preferences = doc["paths"]["/api/v1/users/{user_id}/notification-preferences"]["put"]
    for operation in (inbox, preferences):
        assert error_schema(operation, "400") == ERROR_BODY
    assert {"400", "401", "403", "413", "422"} <= set(preferences["responses"])


def test_the_bearer_schemes_are_declared_for_the_authorize_button(api):
    _, doc, _ = api
    schemes = doc["components"]["securitySchemes"]
    assert {name: (s["type"], s["scheme"]) for name, s in schemes.items()} == {
        "userToken": ("http", "bearer"), "analystToken": ("http", "bearer"),
        "adminToken": ("http", "bearer")}
    assert doc["paths"][
        "/api/v1/users/{user_id}/notification-preferences"]["put"]["security"] == [
        {"userToken": []}]
    assert doc["paths"]["/api/v1/analytics/sql"]["post"]["security"] == [{"analystToken": []}]


def test_options_names_every_method_of_the_path(api):
    client, _, owner = api
    response = client.options(PREFERENCES, headers=owner)
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET, PUT"
    assert response.json()["error"] == "method_not_allowed"


def test_an_empty_period_is_outside_the_schema_and_refused_as_such(api):
    client, doc, _ = api
    period = next(p for p in doc["paths"]["/api/v1/leaderboards/{metric}"]["get"]["parameters"]
                  if p["name"] == "period")
    pattern = period["schema"]["anyOf"][0]["pattern"]
    assert pattern.startswith("^") and "all" in pattern
    response = client.get("/api/v1/leaderboards/distance", params={"period": ""})
    assert (response.status_code, response.json()["error"]) == (422, "validation_failed")
    assert response.json()["details"][0]["location"] == "query.period"


@pytest.mark.parametrize("value", ["0.5", "1796040000", "true", "-1"])
def test_a_number_is_not_a_date_time(api, value):
    """`to=0.5` was read as 0.5 s after 1970 (pydantic's lax datetime)."""
    client, doc, owner = api
    param = next(p for p in doc["paths"]["/api/v1/users/{user_id}/workouts"]["get"][
        "parameters"] if p["name"] == "to")
    assert param["schema"]["format"] == "date-time"
    for path in ("/api/v1/users/user-1/workouts", "/api/v1/users/user-1/workouts/private"):
        response = client.get(path, params={"to": value}, headers=owner)
        assert (response.status_code, response.json()["error"]) == (400, "invalid_time")
    response = client.get("/api/v1/users/user-1/workouts", params={"to": "2026-11-30"})
    assert response.status_code == 200


def test_stats_period_and_sport_are_in_the_schema(api):
    client, doc, owner = api
    params = {p["name"]: p for p in doc["paths"]["/api/v1/users/{user_id}/stats"]["get"][
        "parameters"]}
    assert "pattern" in params["sport"]["schema"]
    assert "pattern" in params["period"]["schema"]["anyOf"][0]
    for query in ({"period": ""}, {"sport": "golf"}):
        response = client.get("/api/v1/users/user-1/stats", params=query, headers=owner)
        assert (response.status_code, response.json()["error"]) == (422, "validation_failed")


def test_a_non_owner_with_an_invalid_body_gets_403(api):
    client, _, _ = api
    stranger = {"Authorization": "Bearer " + issue_user_token(
        "fitstream-dev-secret-change-me-in-production", "user-2", 60)}
    for body in (b"{", b'{"channels": "all"}'):
        response = client.put(PREFERENCES, content=body,
                              headers={**stranger, "Content-Type": "application/json"})
        assert (response.status_code, response.json()["error"]) == (403, "forbidden")


@pytest.mark.parametrize("path", [
    "/api/v1/users/user%27OR1/notifications",
    "/api/v1/users/" + "u" * 65 + "/notification-preferences",
    "/api/v1/users/a%20b/achievements",
    "/api/v1/users/user-1/notifications/x%27y/read",
    "/api/v1/users/a%20b/workouts",
    "/api/v1/users/a%20b/workouts/private",
    "/api/v1/users/a%20b/stats",
    "/api/v1/workouts/bad%27id",
    "/api/v1/workouts/bad%27id/details",
])
def test_ids_in_paths_must_match_their_pattern(api, path):
    """One rule for every id in a path: 400 invalid_id (it was 422 on some routes and 400
    on others, from two UserIdPath definitions)."""
    client, _, owner = api
    method = client.post if path.endswith("/read") else client.get
    response = method(path, headers=owner)
    assert (response.status_code, response.json()["error"]) == (400, "invalid_id")


def test_notification_ids_have_their_own_pattern(api):
    client, doc, owner = api
    read = doc["paths"]["/api/v1/users/{user_id}/notifications/{notification_id}/read"]["post"]
    pattern = next(p for p in read["parameters"]
                   if p["name"] == "notification_id")["schema"]["pattern"]
    assert "|" in pattern
    # A server-made id passes the pattern (then 404: this store has no notifications).
    response = client.post("/api/v1/users/user-1/notifications/"
                           "n:user-1:top10:week%7C2026-W48%7Call/read", headers=owner)
    assert (response.status_code, response.json()["error"]) == (404, "not_found")


def test_no_external_channel_at_all_is_stored_and_served(api):
    """Found by schemathesis: PUT {"channels": []} was a 500 (chdb cannot convert Arrow's
    null list type); the store write the PUT makes, then the GET."""
    client, _, owner = api
    client.store.insert(NOTIFICATION_PREFERENCES, preference_columns([{
        "user_id": "user-1", "channels": [], "email": None, "phone": None,
        "updated_at": 1_796_000_000_000}]))
    served = client.get(PREFERENCES, headers=owner).json()
    assert (served["channels"], served["email"], served["phone"]) == ([], None, None)


def test_every_operation_with_an_id_in_its_path_documents_the_400(api):
    _, doc, _ = api
    undocumented = [f"{method.upper()} {path}" for path, item in doc["paths"].items()
                    for method, operation in item.items()
                    if "_id}" in path and "400" not in operation["responses"]]
    assert undocumented == []
