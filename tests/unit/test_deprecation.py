"""api/deprecation.py: a deprecated route's headers on every answer (models, its own
Responses, errors), its 410 from the sunset on, and its mark in the OpenAPI document."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fastapi import APIRouter, FastAPI, Response
from fastapi.testclient import TestClient
from pydantic import BaseModel

from api.deprecation import Deprecation, add_deprecated_route
from api.errors import ApiError, install_error_handlers

LIFECYCLE = Deprecation(since=datetime(2026, 12, 1, tzinfo=UTC),
                        sunset=datetime(2027, 6, 1, tzinfo=UTC),
                        successor="/v2/things/{thing_id}")
HEADERS = {"deprecation": "@1796083200", "sunset": "Tue, 01 Jun 2027 00:00:00 GMT"}


class Thing(BaseModel):
    thing_id: str


def app_at(now_s: float) -> TestClient:
    app = FastAPI()
    install_error_handlers(app)
    router = APIRouter()

    def get_thing(thing_id: str) -> Thing:
        if thing_id == "missing":
            raise ApiError(404, "not_found", "no thing missing")
        return Thing(thing_id=thing_id)

    def get_raw(thing_id: str) -> Response:
        return Response(b"{}", media_type="application/json", headers={"ETag": '"x"'})

    add_deprecated_route(router, "/v1/things/{thing_id}", get_thing, LIFECYCLE,
                         response_model=Thing, clock=lambda: now_s)
    add_deprecated_route(router, "/v1/raw/{thing_id}", get_raw, LIFECYCLE,
                         clock=lambda: now_s)
    app.include_router(router)
    return TestClient(app)


BEFORE_SUNSET = datetime(2027, 1, 1, tzinfo=UTC).timestamp()


@pytest.mark.parametrize("path", ["/v1/things/t-1", "/v1/raw/t-1"])
def test_every_answer_names_its_lifecycle(path):
    response = app_at(BEFORE_SUNSET).get(path)
    assert response.status_code == 200
    assert {k: response.headers[k] for k in HEADERS} == HEADERS
    assert response.headers["link"] == '</v2/things/t-1>; rel="successor-version"'


def test_hostile_path_values_are_percent_encoded_in_the_link():
    response = app_at(BEFORE_SUNSET).get("/v1/things/a%3E%0D%0AX:%20y%F0%9F%8F%83")
    assert response.status_code == 200
    assert response.headers["link"] == (
        '</v2/things/a%3E%0D%0AX%3A%20y%F0%9F%8F%83>; rel="successor-version"')


def test_errors_carry_the_headers_too():
    response = app_at(BEFORE_SUNSET).get("/v1/things/missing")
    assert (response.status_code, response.json()["error"]) == (404, "not_found")
    assert {k: response.headers[k] for k in HEADERS} == HEADERS


def test_from_the_sunset_it_is_gone_and_points_at_the_successor():
    response = app_at(LIFECYCLE.sunset.timestamp()).get("/v1/things/t-1")
    assert response.status_code == 410
    assert response.json() == {
        "error": "gone", "code": 410, "details": None,
        "message": "/v1/things/t-1 was retired on Tue, 01 Jun 2027 00:00:00 GMT; "
                   "use /v2/things/{thing_id}"}
    assert response.headers["link"] == '</v2/things/t-1>; rel="successor-version"'


def test_the_document_marks_it_deprecated_with_its_headers_and_410():
    operation = app_at(BEFORE_SUNSET).app.openapi()["paths"]["/v1/things/{thing_id}"]["get"]
    assert operation["deprecated"] is True
    assert set(operation["responses"]["200"]["headers"]) == {"Deprecation", "Sunset", "Link"}
    assert set(operation["responses"]["410"]["headers"]) == {"Deprecation", "Sunset", "Link"}


def test_a_sunset_before_the_deprecation_is_refused():
    with pytest.raises(ValueError, match="after"):
        Deprecation(since=LIFECYCLE.sunset, sunset=LIFECYCLE.since, successor="/v2")


def test_a_successor_naming_no_path_parameter_is_refused_at_registration():
    with pytest.raises(ValueError, match=r"\['workout_id'\]"):
        add_deprecated_route(APIRouter(), "/v1/things/{thing_id}", lambda thing_id: None,
                             Deprecation(since=LIFECYCLE.since, sunset=LIFECYCLE.sunset,
                                         successor="/v2/things/{workout_id}"))
