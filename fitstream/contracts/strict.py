"""Strict JSON-to-Avro checking: a JSON value either is exactly what the contract says, or it is refused.

fastavro's encoder coerces: ``seq: 0.9`` is written as 0, ``start_time: 1.5`` as 1,
``true`` as 1, and fields the schema does not name are dropped without a word.
Devices send JSON, so ingest checks each event against its Avro contract *before*
encoding, with no coercion at all:

* ``int``/``long``: a JSON integer (not ``1.0``, not ``true``) within 32/64 bits;
* ``float``/``double``: a JSON number (integer or not, never ``true`` or ``"52.1"``),
  finite, and for ``float`` within single precision (fastavro raises on overflow); an
  integer in a ``double`` must have an exact double value (fastavro would round it);
* ``string``: a JSON string; ``boolean``: ``true``/``false``; ``enum``: one of its symbols;
* ``null`` unions: ``null`` or a value of the other branch;
* records: a JSON object with every field that has no default, and **no other key**
  (an unknown key is refused, not dropped: a device that sends ``"heartrate"`` instead
  of ``"heart_rate"`` learns it at once instead of losing the reading);
* arrays: a JSON array whose items each pass;
* fields FitStream sets itself (:data:`SERVER_SET_FIELDS`: the sealed coordinates) are
  refused from a device, whatever their value.

``fastavro.validation.validate(strict=True, disable_tuple_notation=True)`` agrees on
every type decision (the unit tests check the two against each other), but it accepts
unknown keys, stops at the first bad field, and names record types rather than the JSON
path; this module adds those, compiled once per schema because ingest runs it on every
event.

A problem reads ``"location.latitude: expected double, got string '52.1'"``. The check
stops after ``MAX_PROBLEMS`` of them, with a last line that says so: a 4 MiB body of
``"samples": [0, 0, ...]`` is two million wrong samples, and naming each made a 100 MB
response after seconds of work.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

INT_RANGE = (-(2**31), 2**31 - 1)
LONG_RANGE = (-(2**63), 2**63 - 1)
FLOAT_MAX = 3.4028234663852886e38  # the largest finite single-precision value

# (value, parent path, name or index, problems) -> None: appends one line per problem.
# The JSON path is built only for a problem or a nested value: most events are valid,
# and ingest checks every field of every sample of every event.
Check = Callable[[Any, str, "str | int", list[str]], None]

MAX_PROBLEMS = 20  # per value checked: enough to fix a device, few enough to read


class _Enough(Exception):
    """The problem list is full: the check stops here."""


class _Problems(list[str]):
    """A problem list that stops the check (``_Enough``) at its ``cap``-th + 1 problem."""

    def __init__(self, cap: int) -> None:
        super().__init__()
        self.cap = cap

    def append(self, problem: str) -> None:
        if len(self) >= self.cap:
            raise _Enough
        super().append(problem)


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


def json_path(parent: str, name: str | int) -> str:
    """``location.latitude``, ``samples[3].speed``; a top-level field is its name."""
    if isinstance(name, int):
        return f"{parent}[{name}]"
    return f"{parent}.{name}" if parent else name


# JSON decoders (orjson, json) give exactly int, float, str, bool: comparing types, not
# isinstance, is what keeps true out of the ints (bool subclasses int) and is faster.
def _integer(kind: str, low: int, high: int) -> Check:
    def check(value: Any, parent: str, name: str | int, problems: list[str]) -> None:
        if type(value) is not int:
            problems.append(f"{json_path(parent, name)}: expected {kind}, got {describe(value)}")
        elif not low <= value <= high:
            problems.append(f"{json_path(parent, name)}: {value} is outside the {kind} range "
                            f"[{low}, {high}]")
    return check


def _number(kind: str, bound: float) -> Check:
    def check(value: Any, parent: str, name: str | int, problems: list[str]) -> None:
        kind_of = type(value)
        if kind_of is not float and kind_of is not int:
            problems.append(f"{json_path(parent, name)}: expected {kind}, got {describe(value)}")
        elif not -bound <= value <= bound:  # also false for NaN
            problems.append(f"{json_path(parent, name)}: {describe(value)} is outside the "
                            f"{kind} range")
        elif kind_of is int and kind == "double" and float(value) != value:
            # 2**53 + 1 would be stored as 2**53: a silent change, like seq 0.9 → 0.
            problems.append(f"{json_path(parent, name)}: {describe(value)} has no exact "
                            f"{kind} value")
    return check


def _of_type(kind: str, python_type: type) -> Check:
    def check(value: Any, parent: str, name: str | int, problems: list[str]) -> None:
        if type(value) is not python_type:
            problems.append(f"{json_path(parent, name)}: expected {kind}, got {describe(value)}")
    return check


_PRIMITIVES: dict[str, Check] = {
    "null": _of_type("null", type(None)),
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


# Primitive fields are checked inline in their record (no call per field): the exact
# JSON types and the range a valid value has. A value that fails goes to the field's
# Check, which says why.
_FAST: dict[str, tuple[frozenset[type], Any, Any]] = {
    "null": (frozenset({type(None)}), None, None),
    "boolean": (frozenset({bool}), None, None),
    "string": (frozenset({str}), None, None),
    "int": (frozenset({int}), *INT_RANGE),
    "long": (frozenset({int}), *LONG_RANGE),
    "float": (frozenset({int, float}), -FLOAT_MAX, FLOAT_MAX),
    # Only floats: an int must also be exactly representable, which _number checks.
    "double": (frozenset({float}), -sys.float_info.max, sys.float_info.max),
}


def _fast_path(avro_type: Any) -> tuple[frozenset[type] | None, Any, Any, bool]:
    """(types, low, high, nullable) of a primitive or ``["null", primitive]`` field."""
    nullable = False
    if isinstance(avro_type, list) and len(avro_type) == 2 and "null" in avro_type:
        nullable = True
        avro_type = next(t for t in avro_type if t != "null")
    if isinstance(avro_type, str) and avro_type in _FAST:
        return (*_FAST[avro_type], nullable)
    return None, None, None, False


# Contract fields that FitStream sets and a device never sends (sealed_coordinates:
# fitstream/privacy/coordinates.py): refused here, left out of the ingest document.
SERVER_SET_FIELDS = frozenset({"sealed_coordinates"})


def _server_set(value: Any, parent: str, name: str | int, problems: list[str]) -> None:
    problems.append(f"{json_path(parent, name)}: set by the server, never by a device")


def _record(schema: dict[str, Any], named: dict[str, Any]) -> Check:
    fields: list[tuple[str, Check, bool, frozenset[type] | None, Any, Any, bool]] = []
    known: frozenset[str] = frozenset(f["name"] for f in schema["fields"])

    def check(value: Any, parent: str, name: str | int, problems: list[str]) -> None:
        path = json_path(parent, name) if name != "" else ""
        if type(value) is not dict:
            problems.append(f"{path or 'event'}: expected {schema['name']} object, "
                            f"got {describe(value)}")
            return
        for field, field_check, required, types, low, high, nullable in fields:
            if field in value:
                item = value[field]
                if types is not None:
                    if type(item) in types:
                        if low is None or low <= item <= high:  # NaN is in no range
                            continue
                    elif item is None and nullable:
                        continue
                field_check(item, path, field, problems)
            elif required:
                problems.append(f"{json_path(path, field)}: missing")
        if len(value) > len(known) or not known.issuperset(value):
            for key in value:
                if key not in known:
                    problems.append(f"{json_path(path, str(key)[:40])}: unknown field")

    # Registered before its fields compile, so a recursive reference resolves.
    _register(schema, named, check)
    for field in schema["fields"]:
        if field["name"] in SERVER_SET_FIELDS:
            fields.append((field["name"], _server_set, False, None, None, None, False))
            continue
        fields.append((field["name"], compile_check(field["type"], named),
                       "default" not in field, *_fast_path(field["type"])))
    return check


def _enum(schema: dict[str, Any], named: dict[str, Any]) -> Check:
    symbols = frozenset(schema["symbols"])

    def check(value: Any, parent: str, name: str | int, problems: list[str]) -> None:
        if type(value) is not str or value not in symbols:
            problems.append(f"{json_path(parent, name)}: expected one of "
                            f"{', '.join(schema['symbols'])}, got {describe(value)}")

    _register(schema, named, check)
    return check


def _array(items: Check) -> Check:
    def check(value: Any, parent: str, name: str | int, problems: list[str]) -> None:
        path = json_path(parent, name)
        if type(value) is not list:
            problems.append(f"{path}: expected array, got {describe(value)}")
            return
        for index, item in enumerate(value):
            items(item, path, index, problems)
    return check


def _map(values: Check) -> Check:
    def check(value: Any, parent: str, name: str | int, problems: list[str]) -> None:
        path = json_path(parent, name)
        if type(value) is not dict:
            problems.append(f"{path}: expected object, got {describe(value)}")
            return
        for key, item in value.items():
            values(item, path, str(key)[:40], problems)
    return check


def _union(branches: list[Check], schema: list[Any]) -> Check:
    non_null = [b for b, s in zip(branches, schema, strict=True) if s != "null"]
    nullable = len(non_null) < len(branches)

    def check(value: Any, parent: str, name: str | int, problems: list[str]) -> None:
        if value is None and nullable:
            return
        if len(non_null) == 1:
            # ["null", X]: whatever is wrong with the value as an X is the useful message.
            non_null[0](value, parent, name, problems)
            return
        for branch in non_null:
            try:  # the first problem settles it: the branch does not fit
                branch(value, parent, name, _Problems(0))
            except _Enough:
                continue
            return
        problems.append(f"{json_path(parent, name)}: expected {type_name(schema)}, "
                        f"got {describe(value)}")
    return check


class StrictContract:
    """The strict check of one Avro record schema, for JSON objects that claim to be one."""

    def __init__(self, schema: dict[str, Any]) -> None:
        self.schema = schema
        self._check = compile_check(schema)

    def problems(self, value: Any, limit: int = MAX_PROBLEMS) -> list[str]:
        """The ways ``value`` differs from the contract, the first ``limit`` of them and then
        a line that says the check stopped; empty when it matches exactly."""
        found = _Problems(limit)
        try:
            self._check(value, "", "", found)
        except _Enough:
            return [*found, f"and more: the check stopped after {limit} problems"]
        return list(found)
