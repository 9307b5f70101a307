"""The API's OpenAPI document as the client SDK is generated from it (``make sdk``).

``python -m api.openapi_document FILE`` writes the document of an app with every router
(ingest and reads: a store and a publisher are given, neither is touched to build the
document) and the default settings, whatever the environment says (FITSTREAM_*
variables are not read), so two machines write the same bytes. Keys are sorted and the
JSON is indented, so the committed file diffs line by line.

:func:`shaped` is what :func:`api.app.create_app` serves at ``/openapi.json``: FastAPI's
document plus the error bodies (:func:`document_errors`), what a route's code answers
that FastAPI cannot see (304 and ETag on conditional reads, 422 only where a request can
produce it, the deprecation headers on a deprecated route's errors) and the ingest
events as named components, so that a generated client has one class per event.
"""

from __future__ import annotations

import copy
import json
import re
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

# iter_route_contexts and get_flat_params are FastAPI internals (0.163), relied on
# because FastAPI is pinned (requirements.lock); tests/unit/test_openapi_document.py
# breaks if they change shape.
from fastapi import params
from fastapi.dependencies.utils import get_flat_params
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import BaseModel

from api.caching import answers_conditionally
from api.errors import ErrorBody

_INGEST_PATH = "/api/v1/ingest/events"
_ERROR_REF = {"$ref": "#/components/schemas/ErrorBody"}


def _error(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    response = {"description": description,
                "content": {"application/json": {"schema": _ERROR_REF}}}
    if headers:
        response["headers"] = headers
    return response


def _header(description: str, kind: str = "string") -> dict[str, Any]:
    return {"description": description, "schema": {"type": kind}}


_UNAUTHORIZED = _error("A valid bearer token is required", {
    "WWW-Authenticate": _header("`Bearer`")})
# api/rate_limits.py: a verified device or user over its limit gets 429 on any route that
# takes its token; an address over its anonymous limit gets 429 on any request without a
# token it has verified (public reads and /healthcheck too), and an address over its
# failed-authentication limit gets 429 for any token not already verified.
_RATE_LIMITED = _error("Too many requests from this token or address: retry after "
                       "Retry-After", {
    "Retry-After": _header("Seconds until the limit admits a request again", "integer")})
# 503s whose code sends Retry-After (api/pipeline_health.py: the Kafka probe's cool-down;
# api/auth.py: device revocations not loaded yet). Other 503s send none.
_RETRY_AFTER_ON_503 = {
    ("/api/v1/pipeline/health", "get"): "Seconds until the broker is asked again",
    (_INGEST_PATH, "post"): "Sent while device revocations are still loading: seconds "
                            "until a retry may succeed",
}
_BAD_BODY = {"application/json": "The body is not JSON",
             "multipart/form-data": "The body is not a readable multipart form"}


def document_errors(openapi: dict[str, Any]) -> dict[str, Any]:
    """Make the OpenAPI document say what every route really answers when it fails: the
    error body, not FastAPI's HTTPValidationError, for every error status a route
    documents; 400 and 413 wherever a body is read; 401 (with WWW-Authenticate) wherever
    a bearer token is required; 429 (with Retry-After) everywhere (api/rate_limits.py)."""
    schemas = openapi.setdefault("components", {}).setdefault("schemas", {})
    schemas["ErrorBody"] = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
    for path, path_item in openapi.get("paths", {}).items():
        for method, operation in path_item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            for status, response in responses.items():
                # A route's responses={s: {"model": ErrorBody}} has FastAPI's generic
                # description; the schema is ours already.
                if status[0] in "45" and "content" not in response:
                    response["content"] = {"application/json": {"schema": _ERROR_REF}}
            if "422" in responses:
                responses["422"] = _error("Invalid parameters or body")
            if "requestBody" in operation:
                media_types = list(operation["requestBody"].get("content", {}))
                responses.setdefault("400", _error(
                    _BAD_BODY.get(media_types[0] if media_types else "",
                                  "The body cannot be read")))
                responses.setdefault("413", _error("The body is too large"))
                responses.setdefault("422", _error("Invalid body"))
            if operation.get("security"):
                responses["401"] = copy.deepcopy(_UNAUTHORIZED)
            responses.setdefault("429", copy.deepcopy(_RATE_LIMITED))
            retry_after = _RETRY_AFTER_ON_503.get((path, method))
            if retry_after and "503" in responses:
                responses["503"].setdefault("headers", {})["Retry-After"] = _header(
                    retry_after, "integer")
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    return openapi


def _name_ingest_events(openapi: dict[str, Any]) -> None:
    """Move each event schema of the ingest body into ``components/schemas`` under its
    record name (WorkoutStarted, ...), referenced from the body's ``oneOf`` with a
    discriminator on ``type``: clients get a named type per event instead of
    ``IngestEventsItemType0``."""
    operation = openapi.get("paths", {}).get(_INGEST_PATH, {}).get("post")
    if operation is None:
        return
    media = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
    body = media.get("schema")
    if not body or "properties" not in body:
        return
    schemas = openapi.setdefault("components", {}).setdefault("schemas", {})
    items = body["properties"]["events"]["items"]
    refs, mapping = [], {}
    for event in items.get("oneOf", []):
        if "$ref" in event:
            return  # already named
        name = event["title"]
        schemas[name] = event
        ref = f"#/components/schemas/{name}"
        refs.append({"$ref": ref})
        mapping[event["properties"]["type"]["const"]] = ref
    body["properties"]["events"]["items"] = {
        "oneOf": refs, "discriminator": {"propertyName": "type", "mapping": mapping}}
    schemas[body["title"]] = body
    media["schema"] = {"$ref": f"#/components/schemas/{body['title']}"}


def _name_request_bodies(openapi: dict[str, Any]) -> None:
    """Bodies read by a dependency (api/bodies.py) are inline in the document: move each
    into ``components/schemas`` under its model's title (Preferences, SqlRequest)."""
    schemas = openapi.setdefault("components", {}).setdefault("schemas", {})
    for path_item in openapi.get("paths", {}).values():
        for operation in path_item.values():
            media = (operation.get("requestBody", {}).get("content", {})
                     .get("application/json", {})) if isinstance(operation, dict) else {}
            body = media.get("schema", {})
            title = body.get("title")
            if "$ref" in body or not title or "$defs" in body:
                continue
            if schemas.setdefault(title, body) == body:
                media["schema"] = {"$ref": f"#/components/schemas/{title}"}


def _short_operation_ids(openapi: dict[str, Any]) -> None:
    """The route function's name as the operationId (FastAPI appends the path and the
    method): the generated client's functions are ``get_leaderboard``, not
    ``get_leaderboard_api_v1_leaderboards_metric_get``. Route names are unique in the
    app (tests/unit/test_openapi_document.py). A form body FastAPI named after the long
    id (``Body_create_upload_api_v1_uploads_post``) is renamed after the short one."""
    schemas = openapi.get("components", {}).get("schemas", {})
    for path, path_item in openapi.get("paths", {}).items():
        for method, operation in path_item.items():
            if not isinstance(operation, dict) or "operationId" not in operation:
                continue
            long_id = operation["operationId"]
            suffix = re.sub(r"\W", "_", path) + "_" + method
            if not long_id.endswith(suffix):
                continue
            operation["operationId"] = long_id[:-len(suffix)]
            body_name, short_name = f"Body_{long_id}", f"Body_{operation['operationId']}"
            if body_name not in schemas or short_name in schemas:
                continue
            schemas[short_name] = schemas.pop(body_name)
            schemas[short_name]["title"] = short_name
            for media in operation.get("requestBody", {}).get("content", {}).values():
                if media.get("schema") == {"$ref": f"#/components/schemas/{body_name}"}:
                    media["schema"] = {"$ref": f"#/components/schemas/{short_name}"}


def _models_of(route: APIRoute) -> list[type[BaseModel]]:
    models = [route.response_model] if isinstance(route.response_model, type) else []
    return [m for m in models if issubclass(m, BaseModel)]


def _restore_what_fastapi_drops(openapi: dict[str, Any], routes: Iterable[Any]) -> None:
    """FastAPI passes the finished document through its pydantic OpenAPI model, which
    drops every null (``"phone": None`` in an example, which a required nullable field
    needs) and turns every bound into a float (the ingest body's long maximum,
    2**63 - 1, became 9.223372036854776e+18, above what Avro can hold). The routes
    still have what they declared: the request bodies of ``openapi_extra`` and the
    examples of their response models go back in as declared."""
    schemas = openapi.get("components", {}).get("schemas", {})
    # FastAPI nests included routers; its own walk gives each route with its full path.
    for context in iter_route_contexts(list(routes)):
        route = context.original_route
        if not isinstance(route, APIRoute):
            continue
        declared = (route.openapi_extra or {}).get("requestBody")
        for method in route.methods:
            operation = openapi.get("paths", {}).get(context.path_format, {}).get(method.lower())
            if operation is not None and declared is not None:
                operation["requestBody"] = copy.deepcopy(declared)
        for model in _models_of(route):
            schema = model.model_json_schema(mode="serialization")
            for name, part in [(model.__name__, schema), *schema.get("$defs", {}).items()]:
                if "examples" in part and name in schemas:
                    schemas[name]["examples"] = copy.deepcopy(part["examples"])


_PLAIN_STR = (str, str | None)


def _can_answer_422(route: APIRoute) -> bool:
    """Whether some request can fail FastAPI's validation on this route: it reads a body,
    or a parameter is more than a plain unconstrained ``str`` (a path value is always
    there; a query or header one must be optional). Ids go through ``Depends(path_*_id)``
    (400 ``invalid_id``), so most reads cannot answer 422 at all."""
    if route.body_field is not None:
        return True
    for field in get_flat_params(route.dependant):
        info = field.field_info
        plain = info.annotation in _PLAIN_STR and not info.metadata
        if not plain or (not isinstance(info, params.Path) and info.is_required()):
            return True
    return False


_NOT_MODIFIED = {"description": "Not Modified: the If-None-Match ETag is the current "
                                "one (no body)"}
_ETAG = {"ETag": _header("The body's entity tag: send it back in If-None-Match"),
         "Cache-Control": _header("How long the body may be cached, and by whom")}
_DEPRECATION_HEADERS = ("Deprecation", "Sunset", "Link")


def _document_route_behaviour(openapi: dict[str, Any], routes: Iterable[Any]) -> None:
    """What the routes' code does that FastAPI cannot see: FastAPI documents 422 on every
    route with a parameter, dropped here where no request can produce it; conditional
    reads (api/caching.py) answer 304 and send an ETag."""
    for context in iter_route_contexts(list(routes)):
        route = context.original_route
        if not isinstance(route, APIRoute):
            continue
        for method in route.methods:
            operation = openapi.get("paths", {}).get(context.path_format, {}).get(
                method.lower())
            if operation is None:
                continue
            responses = operation.get("responses", {})
            if (not _can_answer_422(route) and 422 not in route.responses
                    and "422" not in route.responses):
                responses.pop("422", None)
            if answers_conditionally(route.endpoint):
                responses.setdefault("304", copy.deepcopy(_NOT_MODIFIED))
                success = responses.get(str(route.status_code or 200), {})
                success.setdefault("headers", {}).update(copy.deepcopy(_ETAG))


def _document_deprecation_on_errors(openapi: dict[str, Any]) -> None:
    """A deprecated route's errors carry its lifecycle headers too (api/deprecation.py),
    except the 429s of the address limits, which answer before the route is reached."""
    for path_item in openapi.get("paths", {}).values():
        for operation in path_item.values():
            if not isinstance(operation, dict) or not operation.get("deprecated"):
                continue
            responses = operation.get("responses", {})
            documented = next((r["headers"] for s, r in responses.items()
                               if s.startswith("2") and "headers" in r), {})
            headers = {n: documented[n] for n in _DEPRECATION_HEADERS if n in documented}
            for status, response in responses.items():
                if status[0] in "45" and status != "429":
                    response.setdefault("headers", {}).update(copy.deepcopy(headers))


def shaped(openapi: dict[str, Any], routes: Iterable[Any] = ()) -> dict[str, Any]:
    """FastAPI's document as the API serves it (see the module docstring); ``routes``
    are the app's, whose declarations FastAPI's document lost."""
    routes = list(routes)
    _restore_what_fastapi_drops(openapi, routes)
    _document_route_behaviour(openapi, routes)
    openapi = document_errors(openapi)
    _document_deprecation_on_errors(openapi)
    _name_ingest_events(openapi)
    _name_request_bodies(openapi)
    _short_operation_ids(openapi)
    return openapi


def sdk_document() -> dict[str, Any]:
    """The document of an app with every router and the default settings (built with
    ``model_construct``: no FITSTREAM_* variable or .env file can change them)."""
    from api.app import create_app
    from fitstream.contracts import AvroSerde, registry_from_settings
    from fitstream.settings import FitStreamSettings

    with tempfile.TemporaryDirectory() as state:
        settings = FitStreamSettings.model_construct(allow_default_token_secret=True,
                                                     state_dir=Path(state))
        # Building the routers reads neither: the document needs only that they exist.
        stand_in = object()
        app = create_app(settings, AvroSerde(registry_from_settings(settings.schema_registry)),
                         stand_in, stand_in)  # type: ignore[arg-type]
        return copy.deepcopy(app.openapi())


def write(path: Path) -> None:
    path.write_text(json.dumps(sdk_document(), indent=2, sort_keys=True, ensure_ascii=False)
                    + "\n", encoding="utf-8")


if __name__ == "__main__":
    write(Path(sys.argv[1]))
