"""Avro in the Confluent wire format: magic byte 0, a big-endian 4-byte schema id, the body.

Decoding resolves the writer's schema (found by id) against the reader's latest
schema for the same record, so old records read with today's fields and defaults.
"""

from __future__ import annotations

import io
import struct
from typing import Any

import fastavro

from fitstream.contracts.registry import SchemaRegistry, UnknownSchemaError
from fitstream.contracts.strict import StrictContract

MAGIC = 0
_HEADER = struct.Struct(">bI")


class SerdeError(ValueError):
    """The bytes or the record do not match any known contract; ``reason`` is a short code."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class AvroSerde:
    def __init__(self, registry: SchemaRegistry) -> None:
        self._registry = registry
        self._writers: dict[str, tuple[bytes, Any]] = {}
        self._readers: dict[int, tuple[str, Any, Any]] = {}
        self._contracts: dict[str, StrictContract] = {}

    def _writer(self, subject: str) -> tuple[bytes, Any]:
        cached = self._writers.get(subject)
        if cached is None:
            registered = self._registry.latest(subject)
            cached = (_HEADER.pack(MAGIC, registered.schema_id), registered.parsed)
            self._writers[subject] = cached
        return cached

    def _reader(self, schema_id: int) -> tuple[str, Any, Any]:
        cached = self._readers.get(schema_id)
        if cached is None:
            writer = self._registry.by_id(schema_id)
            latest = self._registry.latest(writer.subject)
            reader = None if latest.schema_id == schema_id else latest.parsed
            cached = (writer.subject, writer.parsed, reader)
            self._readers[schema_id] = cached
        return cached

    def encode(self, subject: str, record: dict[str, Any]) -> bytes:
        header, parsed = self._writer(subject)
        buf = io.BytesIO()
        buf.write(header)
        try:
            fastavro.schemaless_writer(buf, parsed, record)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise SerdeError("invalid_record", f"{subject}: {exc}") from exc
        return buf.getvalue()

    def problems(self, subject: str, record: Any) -> list[str]:
        """Every way a JSON ``record`` breaks the latest contract of ``subject``, strictly.

        No coercion (``0.9`` or ``true`` is no int, ``"52.1"`` no double) and no unknown
        keys: see :mod:`fitstream.contracts.strict`. :meth:`encode` alone would coerce,
        so anything from outside passes here first.
        """
        contract = self._contracts.get(subject)
        if contract is None:
            contract = StrictContract(self._registry.latest(subject).schema)
            self._contracts[subject] = contract
        return contract.problems(record)

    def validate(self, subject: str, record: Any) -> None:
        """Raise SerdeError naming every field that breaks the contract (see :meth:`problems`)."""
        found = self.problems(subject, record)
        if found:
            raise SerdeError("invalid_record", "; ".join(found))

    def decode(self, data: bytes | None) -> tuple[str, dict[str, Any]]:
        """Return (subject, record); raise SerdeError for bytes no contract explains."""
        if not data or len(data) < _HEADER.size:
            raise SerdeError("malformed", "record shorter than the wire-format header")
        magic, schema_id = _HEADER.unpack_from(data)
        if magic != MAGIC:
            raise SerdeError("malformed", f"magic byte {magic}, expected {MAGIC}")
        try:
            subject, writer, reader = self._reader(schema_id)
        except UnknownSchemaError as exc:
            raise SerdeError("unknown_schema", str(exc)) from exc
        buf = io.BytesIO(data)
        buf.seek(_HEADER.size)
        try:
            record = fastavro.schemaless_reader(buf, writer, reader)
        except Exception as exc:  # fastavro raises many types on corrupt bodies
            raise SerdeError("malformed", f"undecodable {subject} body: {exc!r}") from exc
        if buf.tell() != len(data):
            raise SerdeError("malformed", f"{len(data) - buf.tell()} trailing bytes after {subject}")
        return subject, record  # type: ignore[return-value]
