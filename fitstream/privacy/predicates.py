"""The one place that turns a value into a string literal of a delta-rs predicate.

delta-rs parses predicates (``DeltaTable.delete``, ``write_deltalake(predicate=...)``)
with DataFusion's SQL parser, where a quote inside a string literal is written by
doubling it (``'O''Brien'``) and a backslash is an ordinary character. Escaping a quote
with a backslash, as ClickHouse and MySQL do, ends the literal early instead: the user id
``' OR 1=1 --`` became ``user_id = '\\' OR 1=1 --'``, a predicate true for every row.

Callers validate ids first (``fitstream.domain.identifiers.check_id``), so a valid id
never contains a quote; this function is the second wall, correct for any text.
ClickHouse statements do not use it: they bind ``%(name)s`` parameters
(``stores.clickhouse.store.bind``).
"""

from __future__ import annotations


def delta_string_literal(value: str) -> str:
    """``value`` as a DataFusion string literal: single-quoted, inner quotes doubled.

    Refuses non-strings and NUL characters (which no id, date or name holds, and which
    a parser may treat as the end of the text)."""
    if not isinstance(value, str):
        raise TypeError(f"a predicate literal must be a string, not {type(value).__name__}")
    if "\0" in value:
        raise ValueError("a predicate literal cannot hold a NUL character")
    return "'" + value.replace("'", "''") + "'"


def delta_equals(column: str, value: str) -> str:
    """The predicate ``column = 'value'`` (``column`` is ours, never from outside)."""
    if not column.isidentifier():
        raise ValueError(f"{column!r} is not a plain column name")
    return f"{column} = {delta_string_literal(value)}"
