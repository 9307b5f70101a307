"""The OpenAPI document's rules (issue 14 item 3), checked on every operation it has, so
that a new endpoint is held to them the day it is added:

- a response model for every success (no bare ``{}`` or free-form object);
- the error body (ErrorBody) for every error status, 401 and 429 wherever a token is
  taken, the token's bearer scheme declared;
- an example on every request body and every named success model, and every example
  valid against its own schema (the ingest one also against what ingest accepts);
- the ingest body's events: the six contracts' latest Avro versions, as named schemas;
- deprecated operations: their headers and their 410, and the headers on their errors;
- 422 only where a request can produce it, 304 and ETag on the conditional reads,
  Retry-After on the 503s that send it.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from fastapi import FastAPI, Query
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from api.ingest_schema import INGEST_EXAMPLE, event_json_schema
from api.openapi_document import sdk_document, shaped
from fitstream.contracts import AvroSerde
from fitstream.contracts.registry import RepoSchemaRegistry
from fitstream.domain.event_bounds import event_bound_problems
from fitstream.domain.events import EventType
from fitstream.settings import FitStreamSettings

ERROR_REF = "#/components/schemas/ErrorBody"
METHODS = ("get", "put", "post", "delete", "patch")


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return sdk_document()


def operations(document: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(f"{method.upper()} {path}", operation)
            for path, item in document["paths"].items()
            for method, operation in item.items() if method in METHODS]


def resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def validator(document: dict[str, Any], schema: dict[str, Any]) -> Draft202012Validator:
    """Validates against ``schema`` with the document's ``#/components`` refs resolved."""
    registry = Registry().with_resource("urn:openapi", Resource.from_contents(
        {**document, "$schema": "https://json-schema.org/draft/2020-12/schema"}))
    wrapped = {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": "urn:example",
               "allOf": [_rebased(schema)]}
    return Draft202012Validator(wrapped, registry=registry)


def _rebased(value: Any) -> Any:
    """Refs of the document (``#/components/...``) pointed at its resource."""
    if isinstance(value, dict):
        return {k: ("urn:openapi" + v if k == "$ref" and v.startswith("#/") else _rebased(v))
                for k, v in value.items()}
    if isinstance(value, list):
        return [_rebased(v) for v in value]
    return value


def test_operation_ids_are_unique_and_short(document):
    ids = [operation["operationId"] for _, operation in operations(document)]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    assert all("api_v1" not in i for i in ids), ids


def test_every_success_has_a_response_model(document):
    missing = []
    for label, operation in operations(document):
        for status, response in operation["responses"].items():
            if not status.startswith("2") or status == "204":
                continue
            content = response.get("content", {})
            if not content:
                missing.append(f"{label} {status}: no content")
            for media_type, media in content.items():
                schema = resolve(document, media.get("schema", {}))
                free_form = (schema.get("type") == "object" and not schema.get("properties")
                             and schema.get("additionalProperties", True) is True)
                if media_type == "application/json" and (not schema or free_form):
                    missing.append(f"{label} {status}: {media.get('schema')}")
    assert missing == []


def test_every_error_status_answers_the_error_body(document):
    wrong = [f"{label} {status}"
             for label, operation in operations(document)
             for status, response in operation["responses"].items()
             if status[0] in "45" and response.get("content", {}).get(
                 "application/json", {}).get("schema") != {"$ref": ERROR_REF}]
    assert wrong == []
    assert "HTTPValidationError" not in document["components"]["schemas"]


def test_token_routes_declare_their_scheme_and_401_every_route_429(document):
    schemes = document["components"]["securitySchemes"]
    assert all(s == {**s, "type": "http", "scheme": "bearer"} for s in schemes.values())
    assert {"userToken", "deviceToken", "analystToken", "adminToken"} <= set(schemes)
    for label, operation in operations(document):
        responses = operation["responses"]
        # api/rate_limits.py: an address over its anonymous limit (requests without a
        # verified token) or its failed-auth limit (tokens not already verified) is 429
        # on any route, public ones too.
        assert "Retry-After" in responses["429"]["headers"], label
        for requirement in operation.get("security", []):
            assert set(requirement) <= set(schemes), label
            assert "WWW-Authenticate" in responses["401"]["headers"], label


# Every operation that reads a token, with the schemes it accepts (routes that verify
# the token in the handler once had no scheme in the document): an operation that
# starts or stops reading one must change this table.
TOKEN_ROUTES = {
    "POST /api/v1/ingest/events": ["deviceToken"],
    "POST /api/v1/uploads": ["deviceToken", "userToken"],
    "GET /api/v1/uploads/{upload_id}": ["deviceToken", "userToken"],
    "GET /api/v1/workouts/{workout_id}/private": ["userToken"],
    "GET /api/v1/workouts/{workout_id}/summary": ["userToken"],
    "GET /api/v1/users/{user_id}/workouts/private": ["userToken"],
    "GET /api/v1/workouts/{workout_id}/details": ["userToken"],
    "GET /api/v1/workouts/{workout_id}/route": ["userToken"],
    "GET /api/v1/users/{user_id}/stats": ["userToken"],
    "GET /api/v1/users/{user_id}/notifications": ["userToken"],
    "POST /api/v1/users/{user_id}/notifications/{notification_id}/read": ["userToken"],
    "GET /api/v1/users/{user_id}/notification-preferences": ["userToken"],
    "PUT /api/v1/users/{user_id}/notification-preferences": ["userToken"],
    "GET /api/v1/users/{user_id}/forecast": ["userToken"],
    "GET /api/v1/users/{user_id}/recommendations": ["userToken"],
    "POST /api/v1/analytics/sql": ["analystToken"],
    "GET /api/v1/pipeline/health": ["analystToken"],
    "POST /api/v1/admin/users/{user_id}/clickhouse-erasure": ["adminToken"],
}


def test_routes_that_read_a_token_declare_it(document):
    declared = {label: [scheme for r in operation.get("security", []) for scheme in r]
                for label, operation in operations(document)}
    assert {label: schemes for label, schemes in declared.items() if schemes} == TOKEN_ROUTES


def test_bodies_and_success_models_have_valid_examples(document):
    missing, invalid = [], []
    for label, operation in operations(document):
        # JSON bodies: a multipart upload's example is a file, not a schema's instance.
        bodies = [m.get("schema", {}) for media_type, m in
                  operation.get("requestBody", {}).get("content", {}).items()
                  if media_type == "application/json"]
        successes = [m.get("schema", {}) for status, response in operation["responses"].items()
                     if status.startswith("2") for m in response.get("content", {}).values()
                     if "$ref" in m.get("schema", {})]
        for schema in bodies + successes:
            examples = resolve(document, schema).get("examples")
            if not examples:
                missing.append(f"{label}: {schema}")
                continue
            for example in examples:
                errors = [e.message for e in validator(document, schema).iter_errors(example)]
                if errors:
                    invalid.append(f"{label}: {errors[:3]}")
    assert missing == []
    assert invalid == []
    error_examples = document["components"]["schemas"]["ErrorBody"]["examples"]
    assert all(not list(validator(document, {"$ref": ERROR_REF}).iter_errors(e))
               for e in error_examples)


def test_ingest_example_is_a_batch_ingest_accepts():
    settings = FitStreamSettings.model_construct()
    serde = AvroSerde(RepoSchemaRegistry(settings.schema_registry.repo_registry_path))
    for event in INGEST_EXAMPLE["events"]:
        subject = EventType(event["type"]).subject
        assert serde.problems(subject, event) == [], event["type"]
        assert event_bound_problems(event) == [], event["type"]
        assert event["occurred_at"] < time.time() * 1000


def test_ingest_events_are_the_avro_contracts_by_name(document):
    registry = RepoSchemaRegistry(FitStreamSettings.model_construct()
                                  .schema_registry.repo_registry_path)
    body = resolve(document, document["paths"]["/api/v1/ingest/events"]["post"]
                   ["requestBody"]["content"]["application/json"]["schema"])
    items = body["properties"]["events"]["items"]
    names = {t.value: f"#/components/schemas/{t.value}" for t in EventType}
    assert items["discriminator"] == {"propertyName": "type", "mapping": names}
    assert sorted(r["$ref"] for r in items["oneOf"]) == sorted(names.values())
    for event_type in EventType:
        assert (document["components"]["schemas"][event_type.value]
                == event_json_schema(registry, event_type))


def test_deprecated_operations_document_their_lifecycle(document):
    deprecated = [(label, operation) for label, operation in operations(document)
                  if operation.get("deprecated")]
    assert [label for label, _ in deprecated] == ["GET /api/v1/workouts/{workout_id}/summary"]
    for label, operation in deprecated:
        assert set(operation["responses"]["200"]["headers"]) >= {
            "Deprecation", "Sunset", "Link"}, label
        assert "410" in operation["responses"], label
        for status, response in operation["responses"].items():
            if status[0] in "45" and status != "429":
                assert set(response["headers"]) >= {"Deprecation", "Sunset", "Link"}, (
                    label, status)


# Ids go through Depends(path_*_id) (400 invalid_id), these take no body and no other
# parameter than plain strings: no request can fail FastAPI's validation.
NEVER_422 = {
    "GET /api/v1/workouts/{workout_id}",
    "GET /api/v1/workouts/{workout_id}/private",
    "GET /api/v1/workouts/{workout_id}/summary",
    "GET /api/v1/workouts/{workout_id}/details",
    "GET /api/v1/users/{user_id}/achievements",
    "GET /api/v1/users/{user_id}/forecast",
    "GET /api/v1/users/{user_id}/recommendations",
    "GET /api/v1/users/{user_id}/notification-preferences",
    "POST /api/v1/users/{user_id}/notifications/{notification_id}/read",
    "GET /api/v1/uploads/{upload_id}",
    "POST /api/v1/admin/users/{user_id}/clickhouse-erasure",
    "GET /api/v1/pipeline/health",
    "GET /healthcheck",
}


def test_422_only_where_a_request_can_produce_it(document):
    assert {label for label, operation in operations(document)
            if "422" not in operation["responses"]} == NEVER_422


def test_422_is_judged_from_the_routes_parameters():
    app = FastAPI()

    @app.get("/plain/{thing_id}")
    def plain(thing_id: str, note: str | None = None) -> dict[str, str]:
        return {}

    @app.get("/bounded/{thing_id}")
    def bounded(thing_id: str, limit: int = Query(default=10, le=50)) -> dict[str, str]:
        return {}

    @app.get("/required/{thing_id}")
    def required(thing_id: str, note: str) -> dict[str, str]:
        return {}

    paths = shaped(app.openapi(), app.routes)["paths"]
    assert {path: "422" in item["get"]["responses"] for path, item in paths.items()} == {
        "/plain/{thing_id}": False, "/bounded/{thing_id}": True, "/required/{thing_id}": True}


CONDITIONAL_READS = {
    "GET /api/v1/workouts/{workout_id}",
    "GET /api/v1/workouts/{workout_id}/private",
    "GET /api/v1/workouts/{workout_id}/summary",
    "GET /api/v1/users/{user_id}/stats",
    "GET /api/v1/leaderboards/{metric}",
    "GET /api/v1/users/{user_id}/achievements",
    "GET /api/v1/users/{user_id}/forecast",
    "GET /api/v1/users/{user_id}/recommendations",
}


def test_conditional_reads_document_304_and_their_etag(document):
    answered = {label: operation["responses"] for label, operation in operations(document)}
    assert {label for label, responses in answered.items() if "304" in responses} == (
        CONDITIONAL_READS)
    for label in CONDITIONAL_READS:
        assert "content" not in answered[label]["304"], label
        assert {"ETag", "Cache-Control"} <= set(answered[label]["200"]["headers"]), label


def test_503s_that_send_retry_after_document_it(document):
    paths = document["paths"]
    for path, method in [("/api/v1/pipeline/health", "get"), ("/api/v1/ingest/events", "post")]:
        assert "Retry-After" in paths[path][method]["responses"]["503"]["headers"], path


def test_a_multipart_body_is_not_said_to_be_json(document):
    upload = document["paths"]["/api/v1/uploads"]["post"]["responses"]["400"]
    assert "JSON" not in upload["description"]
