"""The API's OpenAPI document as the client SDK is generated from it (``make sdk``).

``python -m api.openapi_document FILE`` writes the document of an app with every router
(ingest and reads: a store and a publisher are given, neither is touched to build the
document) and the default settings, whatever the environment says (FITSTREAM_*
variables are not read), so two machines write the same bytes. Keys are sorted and the
JSON is indented, so the committed file diffs line by line.

:func:`shaped` is what :func:`api.app.create_app` serves at ``/openapi.json``: FastAPI's
document plus the error bodies (:func:`api.errors.document_errors`) and the ingest
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

from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import BaseModel

from api.errors import document_errors

_INGEST_PATH = "/api/v1/ingest/events"


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


def shaped(openapi: dict[str, Any], routes: Iterable[Any] = ()) -> dict[str, Any]:
    """FastAPI's document as the API serves it (see the module docstring); ``routes``
    are the app's, whose declarations FastAPI's document lost."""
    _restore_what_fastapi_drops(openapi, routes)
    openapi = document_errors(openapi)
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
                    + "\n")


if __name__ == "__main__":
    write(Path(sys.argv[1]))
