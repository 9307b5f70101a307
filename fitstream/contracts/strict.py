"""Strict JSON-to-Avro checking: a JSON value either is exactly what the contract says, or it is refused.

fastavro's encoder coerces: ``seq: 0.9`` is written as 0, ``start_time: 1.5`` as 1,
``true`` as 1, and fields the schema does not name are dropped without a word.
Devices send JSON, so ingest checks each event against its Avro contract *before*
encoding, with no coercion at all:

* ``int``/``long``: a JSON integer (not ``1.0``, not ``true``) within 32/64 bits;
* ``float``/``double``: a JSON number (integer or not, never ``true`` or ``"52.1"``),
  finite, and for ``float`` within single precision (fastavro raises on overflow);
* ``string``: a JSON string; ``boolean``: ``true``/``false``; ``enum``: one of its symbols;
* ``null`` unions: ``null`` or a value of the other branch;
* records: a JSON object with every field that has no default, and **no other key**
  (an unknown key is refused, not dropped: a device that sends ``"heartrate"`` instead
  of ``"heart_rate"`` learns it at once instead of losing the reading);
* arrays: a JSON array whose items each pass.

``fastavro.validation.validate(strict=True, disable_tuple_notation=True)`` agrees on
every type decision (the unit tests check the two against each other), but it accepts
unknown keys, stops at the first bad field, and names record types rather than the JSON
path; this module adds those, compiled once per schema because ingest runs it on every
event.

A problem reads ``"location.latitude: expected double, got string '52.1'"``.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from typing import Any

INT_RANGE = (-(2**31), 2**31 - 1)
LONG_RANGE = (-(2**63), 2**63 - 1)
FLOAT_MAX = 3.4028234663852886e38  # the largest finite single-precision value

# (value, path, problems) -> None: appends one line per problem found.
Check = Callable[[Any, str, list[str]], None]


def describe(value: Any) -> str:
    """A JSON value as a device would recognise it, shortened: ``string '52.1'``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean " + ("true" if value else "false")
    if isinstance(value, int | float):
        text = repr(value)
        return f"number {text if len(text) <= 24 else text[:21] + '...'}"
    if isinstance(value, str):
        text = repr(value) if len(value) <= 40 else repr(value[:37]) + f"... ({len(value)} chars)"
        return f"string {text}"
    if isinstance(value, list):
        return f"an array of {len(value)}"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _at(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _integer(kind: str, low: int, high: int) -> Check:
    def check(value: Any, path: str, problems: list[str]) -> None:
        if not isinstance(value, int) or isinstance(value, bool):
            problems.append(f"{path}: expected {kind}, got {describe(value)}")
        elif not low <= value <= high:
            problems.append(f"{path}: {value} is outside the {kind} range [{low}, {high}]")
    return check


def _number(kind: str, bound: float) -> Check:
    def check(value: Any, path: str, problems: list[str]) -> None:
        if not isinstance(value, int | float) or isinstance(value, bool):
            problems.append(f"{path}: expected {kind}, got {describe(value)}")
        elif abs(value) > bound or (isinstance(value, float) and math.isnan(value)):
            problems.append(f"{path}: {describe(value)} is outside the {kind} range")
    return check


def _of_type(kind: str, python_type: type | None) -> Check:
    def check(value: Any, path: str, problems: list[str]) -> None:
        ok = value is None if python_type is None else isinstance(value, python_type)
        if not ok:
            problems.append(f"{path}: expected {kind}, got {describe(value)}")
    return check


_PRIMITIVES: dict[str, Check] = {
    "null": _of_type("null", None),
    "boolean": _of_type("boolean", bool),
    "string": _of_type("string", str),
    "int": _integer("int", *INT_RANGE),
    "long": _integer("long", *LONG_RANGE),
    "float": _number("float", FLOAT_MAX),
    "double": _number("double", sys.float_info.max),
}


def type_name(schema: Any) -> str:
    """A short name of an Avro type for messages: ``int``, ``Position``, ``array``."""
    if isinstance(schema, str):
        return schema.rsplit(".", 1)[-1]
    if isinstance(schema, list):
        return " or ".join(type_name(branch) for branch in schema)
    if schema["type"] in ("record", "enum", "fixed"):
        return schema["name"]
    return schema["type"]


def compile_check(schema: Any, named: dict[str, Any] | None = None) -> Check:
    """A check for JSON values of the (unparsed, as in the .avsc) Avro ``schema``.

    ``named`` collects named types as they are defined, so a later reference by name
    (``"type": "Position"``) finds them; a type with no JSON form (bytes, fixed) raises
    ``TypeError`` here, when the contract is loaded, not when an event arrives.
    """
    named = {} if named is None else named
    if isinstance(schema, list):
        return _union([compile_check(branch, named) for branch in schema], schema)
    if isinstance(schema, str):
        if schema in _PRIMITIVES:
            return _PRIMITIVES[schema]
        if schema in named:
            return named[schema]
        raise TypeError(f"Avro type {schema!r} has no JSON form at ingest")
    kind = schema["type"]
    if kind == "record":
        return _record(schema, named)
    if kind == "enum":
        return _enum(schema, named)
    if kind == "array":
        return _array(compile_check(schema["items"], named))
    if kind == "map":
        return _map(compile_check(schema["values"], named))
    return compile_check(kind, named)


def _register(schema: dict[str, Any], named: dict[str, Any], check: Check) -> None:
    named[schema["name"]] = check
    if "namespace" in schema:
        named[f"{schema['namespace']}.{schema['name']}"] = check


def _record(schema: dict[str, Any], named: dict[str, Any]) -> Check:
    fields: list[tuple[str, Check, bool]] = []
    known: frozenset[str] = frozenset(f["name"] for f in schema["fields"])

    def check(value: Any, path: str, problems: list[str]) -> None:
        if not isinstance(value, dict):
            problems.append(f"{path or 'event'}: expected {schema['name']} object, "
                            f"got {describe(value)}")
            return
        for name, field_check, required in fields:
            if name in value:
                field_check(value[name], _at(path, name), problems)
            elif required:
                problems.append(f"{_at(path, name)}: missing")
        if len(value) > len(known) or not known.issuperset(value):
            for key in value:
                if key not in known:
                    problems.append(f"{_at(path, str(key)[:40])}: unknown field")

    # Registered before its fields compile, so a recursive reference resolves.
    _register(schema, named, check)
    for field in schema["fields"]:
        fields.append((field["name"], compile_check(field["type"], named), "default" not in field))
    return check


def _enum(schema: dict[str, Any], named: dict[str, Any]) -> Check:
    symbols = frozenset(schema["symbols"])

    def check(value: Any, path: str, problems: list[str]) -> None:
        if not isinstance(value, str) or value not in symbols:
            problems.append(f"{path}: expected one of {', '.join(schema['symbols'])}, "
                            f"got {describe(value)}")

    _register(schema, named, check)
    return check


def _array(items: Check) -> Check:
    def check(value: Any, path: str, problems: list[str]) -> None:
        if not isinstance(value, list):
            problems.append(f"{path}: expected array, got {describe(value)}")
            return
        for index, item in enumerate(value):
            items(item, f"{path}[{index}]", problems)
    return check


def _map(values: Check) -> Check:
    def check(value: Any, path: str, problems: list[str]) -> None:
        if not isinstance(value, dict):
            problems.append(f"{path}: expected object, got {describe(value)}")
            return
        for key, item in value.items():
            values(item, _at(path, str(key)[:40]), problems)
    return check


def _union(branches: list[Check], schema: list[Any]) -> Check:
    non_null = [(b, s) for b, s in zip(branches, schema, strict=True) if s != "null"]
    nullable = len(non_null) < len(branches)

    def check(value: Any, path: str, problems: list[str]) -> None:
        if value is None and nullable:
            return
        if len(non_null) == 1:
            # ["null", X]: whatever is wrong with the value as an X is the useful message.
            non_null[0][0](value, path, problems)
            return
        for branch, _ in non_null:
            scratch: list[str] = []
            branch(value, path, scratch)
            if not scratch:
                return
        problems.append(f"{path}: expected {type_name(schema)}, got {describe(value)}")
    return check


class StrictContract:
    """The strict check of one Avro record schema, for JSON objects that claim to be one."""

    def __init__(self, schema: dict[str, Any]) -> None:
        self.schema = schema
        self._check = compile_check(schema)

    def problems(self, value: Any) -> list[str]:
        """Every way ``value`` differs from the contract; empty when it matches exactly."""
        found: list[str] = []
        self._check(value, "", found)
        return found
