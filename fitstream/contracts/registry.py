"""Schema ids: one small interface, two backends.

Subjects follow Confluent's RecordNameStrategy (the record's full name), because
one topic carries six event types. The schemas themselves always live in
``schemas/avro/``; a registry only decides their ids:

* :class:`RepoSchemaRegistry` reads ids pinned in ``schemas/registry.json``, so
  every process of an embedded deployment agrees without a server.
* :class:`HttpSchemaRegistry` registers the repo's schemas with a
  Confluent-compatible Schema Registry and takes the ids it assigns.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import fastavro

from fitstream.settings import SchemaRegistrySettings


class UnknownSchemaError(LookupError):
    """A subject or schema id that the registry does not hold."""


@dataclass(frozen=True)
class RegisteredSchema:
    subject: str
    version: int
    schema_id: int
    schema: dict[str, Any]

    @property
    def parsed(self) -> Any:
        return fastavro.parse_schema(self.schema, named_schemas={})


class SchemaRegistry(Protocol):
    """Maps subjects to their latest schema and ids back to writer schemas."""

    def latest(self, subject: str) -> RegisteredSchema:
        """The schema a producer writes for ``subject`` today."""
        ...

    def by_id(self, schema_id: int) -> RegisteredSchema:
        """The writer schema behind a wire-format id; raises UnknownSchemaError."""
        ...


def subject_name(schema: dict[str, Any]) -> str:
    return f"{schema['namespace']}.{schema['name']}"


class RepoSchemaRegistry:
    """Ids pinned in the repository; versions are append-only."""

    def __init__(self, index_path: Path) -> None:
        index = json.loads(index_path.read_text())
        root = index_path.parent
        self._by_subject: dict[str, list[RegisteredSchema]] = {}
        self._by_id: dict[int, RegisteredSchema] = {}
        for subject, versions in index["subjects"].items():
            entries = []
            for entry in versions:
                schema = json.loads((root / entry["file"]).read_text())
                if subject_name(schema) != subject:
                    raise ValueError(f"{entry['file']} declares {subject_name(schema)}, not {subject}")
                registered = RegisteredSchema(subject, entry["version"], entry["id"], schema)
                if registered.schema_id in self._by_id:
                    raise ValueError(f"schema id {registered.schema_id} is pinned twice")
                self._by_id[registered.schema_id] = registered
                entries.append(registered)
            self._by_subject[subject] = sorted(entries, key=lambda e: e.version)

    def subjects(self) -> dict[str, list[RegisteredSchema]]:
        return dict(self._by_subject)

    def latest(self, subject: str) -> RegisteredSchema:
        try:
            return self._by_subject[subject][-1]
        except KeyError:
            raise UnknownSchemaError(f"no subject {subject!r} in the repo registry") from None

    def by_id(self, schema_id: int) -> RegisteredSchema:
        try:
            return self._by_id[schema_id]
        except KeyError:
            raise UnknownSchemaError(f"no schema id {schema_id} in the repo registry") from None


class HttpSchemaRegistry:
    """A Confluent-compatible Schema Registry; the repo's latest schemas are registered."""

    def __init__(self, url: str, repo: RepoSchemaRegistry) -> None:
        from confluent_kafka.schema_registry import SchemaRegistryClient

        self._client = SchemaRegistryClient({"url": url})
        self._repo = repo
        self._latest: dict[str, RegisteredSchema] = {}
        self._by_id: dict[int, RegisteredSchema] = {}

    def latest(self, subject: str) -> RegisteredSchema:
        if subject not in self._latest:
            from confluent_kafka.schema_registry import Schema

            local = self._repo.latest(subject)
            schema_id = self._client.register_schema(
                subject, Schema(json.dumps(local.schema), "AVRO")
            )
            version = self._client.lookup_schema(
                subject, Schema(json.dumps(local.schema), "AVRO")
            ).version
            self._latest[subject] = RegisteredSchema(subject, version, schema_id, local.schema)
        return self._latest[subject]

    def by_id(self, schema_id: int) -> RegisteredSchema:
        if schema_id not in self._by_id:
            from confluent_kafka.schema_registry.error import SchemaRegistryError

            try:
                fetched = self._client.get_schema(schema_id)
            except SchemaRegistryError as exc:
                raise UnknownSchemaError(f"schema id {schema_id}: {exc}") from exc
            schema = json.loads(fetched.schema_str)
            self._by_id[schema_id] = RegisteredSchema(subject_name(schema), 0, schema_id, schema)
        return self._by_id[schema_id]


def registry_from_settings(settings: SchemaRegistrySettings) -> SchemaRegistry:
    repo = RepoSchemaRegistry(settings.repo_registry_path)
    if settings.url:
        return HttpSchemaRegistry(settings.url, repo)
    return repo
