"""Which analyst statements may run: the FitStream view tables, nothing outside them.

``readonly=1`` stops writes, and on chdb 4.4 (ClickHouse 26.9) it stops the table
functions ``file()``, ``url()``, ``s3()``, ``remote()``, ``executable()`` and
``python()``. It does not stop everything that reads outside the views (measured):

* the scalar ``file()``: ``SELECT file('/proc/self/environ')`` returned the API
  process's environment;
* other databases: ``system.tables``, ``merge('system', ...)``;
* a second statement: chdb runs ``SELECT 1; SELECT file('/etc/hostname')`` whole.

So every statement is checked by ClickHouse's own parser before it runs, through the
same read-only connection: ``formatQuerySingleLine`` refuses more than one statement, and
``EXPLAIN AST`` gives the tree that :func:`refusal` walks with an allow-list: a ``SELECT``
whose tables are the FitStream database's (bare names resolve there: the connection's
database is FitStream's), ``system.one`` and ``system.numbers``, and whose table
functions are generators (``numbers()``, ``values()``...) or ``view()`` of a checked
subquery; no function that reads files, dictionaries or join tables.

A ClickHouse server too old for ``EXPLAIN AST`` (18.16, the Debian package) is not
checked: there ``readonly=1`` forbids every table function and the server has no scalar
``file()``; other databases stay readable, so give the analyst's server user no grants
outside FitStream's database.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import structlog

from stores.clickhouse.store import bind

log = structlog.get_logger("stores.clickhouse.analyst_sql")

# Table functions that generate rows from their arguments alone.
# The OpenAPI document's example statement (api/analytics.py): SQL lives in the stores,
# not the routers (tests/unit/test_store_layout.py).
EXAMPLE_STATEMENT = ("SELECT sport_type, count() AS workouts FROM workout_summary "
                     "GROUP BY sport_type ORDER BY workouts DESC")
GENERATOR_FUNCTIONS = frozenset({"numbers", "numbers_mt", "zeros", "zeros_mt", "values",
                                 "generateseries", "generate_series", "view"})
SYSTEM_TABLES = frozenset({"system.one", "system.numbers", "system.numbers_mt"})
# Functions that read outside the statement's tables (lower case): the scalar ones, and
# the table functions again, refused wherever the tree puts them.
OUTSIDE_READING_FUNCTIONS = frozenset({
    "file", "joinget", "joingetornull", "catboostevaluate", "modelevaluate",
    "url", "urlcluster", "filecluster", "s3", "s3cluster", "gcs", "hdfs", "hdfscluster",
    "azureblobstorage", "azureblobstoragecluster", "remote", "remotesecure", "cluster",
    "clusterallreplicas", "executable", "python", "mysql", "postgresql", "sqlite",
    "mongodb", "redis", "jdbc", "odbc", "merge", "loop", "input", "iceberg", "deltalake",
    "hudi", "dictionary"})
IN_FUNCTIONS = frozenset({"in", "notin", "globalin", "globalnotin", "nullin", "notnullin",
                          "globalnullin", "globalnotnullin"})
_BARE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_LINE = re.compile(r"^( *)(\S+)(?: (.*?))?(?: \(alias .*\))?(?: \(children \d+\))?$")

Query = Callable[[str], tuple[list[str], list[tuple]]]


class StatementRefused(Exception):
    """The statement reads (or may read) outside the FitStream views."""


@dataclass
class _Node:
    kind: str
    name: str
    children: list[_Node] = field(default_factory=list)


def parse_ast(lines: list[str]) -> _Node:
    """The tree of ``EXPLAIN AST`` output (one node a line, one space of indent a level)."""
    root = _Node("root", "")
    stack: list[tuple[int, _Node]] = [(-1, root)]
    for line in lines:
        match = _LINE.match(line.rstrip())
        if match is None:
            raise StatementRefused(f"unexpected parser output: {line[:200]!r}")
        depth = len(match.group(1))
        node = _Node(match.group(2), match.group(3) or "")
        while stack[-1][0] >= depth:
            stack.pop()
        stack[-1][1].children.append(node)
        stack.append((depth, node))
    return root


def refusal(tree: _Node, database: str) -> str | None:
    """Why the statement may not run, or None if it reads only what analysts may read."""
    top = tree.children
    if len(top) != 1 or top[0].kind not in ("SelectWithUnionQuery",
                                            "SelectIntersectExceptQuery"):
        return "only one SELECT statement may run"

    def table_allowed(name: str) -> bool:
        db, _, table = name.partition(".")
        if not table:
            return bool(_BARE.fullmatch(name))
        return name in SYSTEM_TABLES or (db == database and bool(_BARE.fullmatch(table)))

    def walk(node: _Node) -> str | None:
        if node.kind == "TableIdentifier" and not table_allowed(node.name):
            return f"table {node.name} is outside the FitStream views"
        if node.kind == "TableExpression":
            for child in node.children:
                if child.kind == "Function" and child.name.lower() not in GENERATOR_FUNCTIONS:
                    return f"table function {child.name}() is not allowed"
                if child.kind not in ("Function", "TableIdentifier", "Subquery"):
                    return f"table expression {child.kind} is not allowed"
        if node.kind == "Function":
            name = node.name.lower()
            if name in OUTSIDE_READING_FUNCTIONS or name.startswith("dict"):
                return f"function {node.name}() is not allowed"
            if name in IN_FUNCTIONS and node.children and len(node.children[0].children) > 1:
                right = node.children[0].children[1]
                if right.kind == "Identifier" and not table_allowed(right.name):
                    return f"table {right.name} is outside the FitStream views"
        for child in node.children:
            reason = walk(child)
            if reason:
                return reason
        return None

    return walk(tree)


def check_statement(query: Query, sql: str, database: str) -> None:
    """StatementRefused unless ``sql`` is one SELECT of the FitStream views (module doc).

    ``query`` runs a statement on the analyst's read-only connection. A statement that does
    not parse fails here with ClickHouse's own message (not StatementRefused).
    """
    try:
        query(f"SELECT formatQuerySingleLine({bind('%(v)s', {'v': sql})})")
    except Exception as exc:
        if "Multi-statements" in str(exc):
            raise StatementRefused("only one statement may run") from exc
        if not _unknown(exc, "formatQuerySingleLine"):
            raise
        # An older server: its driver sends one statement per query anyway.
    try:
        _columns, rows = query(f"EXPLAIN AST {sql}")
    except Exception as exc:
        if _explain_supported(query):
            raise
        log.warning("analyst_sql_unchecked", reason="server cannot EXPLAIN AST",
                    error=str(exc)[:200])
        return
    reason = refusal(parse_ast([str(row[0]) for row in rows]), database)
    if reason:
        raise StatementRefused(reason)


def _unknown(exc: Exception, function: str) -> bool:
    text = str(exc)
    return "UNKNOWN_FUNCTION" in text or ("Unknown function" in text and function in text)


def _explain_supported(query: Query) -> bool:
    try:
        query("EXPLAIN AST SELECT 1")
    except Exception:
        return False
    return True


def read_only_query(run: Callable[..., tuple[list[str], list[tuple]]],
                    limits: Mapping[str, int | str]) -> Query:
    """``run`` (a store's ``query_read_only``) with the analyst limits bound."""
    return lambda statement: run(statement, limits)
