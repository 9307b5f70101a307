"""The stores' layout (issue 10 item 4): the API writes no SQL, jobs import neither the API
nor the sinks, and the erase goes through every view table the sinks write."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from fitstream.settings import FitStreamSettings
from stores.clickhouse.tables import VIEW_TABLES, view_tables

ROOT = Path(__file__).resolve().parents[2]
SQL = re.compile(r"\b(SELECT|INSERT INTO|ALTER TABLE|FINAL)\b")


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_the_erase_covers_every_table_a_view_sink_writes():
    assert set(VIEW_TABLES) == {view.table for view in view_tables(FitStreamSettings())}


def test_no_sql_in_the_api_routers():
    """Queries live in stores/clickhouse/queries.py; docstrings may name SQL words."""
    for path in sorted((ROOT / "api").glob("*.py")):
        tree = ast.parse(path.read_text())
        docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                      if isinstance(node, ast.Module | ast.FunctionDef | ast.AsyncFunctionDef
                                    | ast.ClassDef)
                      and node.body and isinstance(node.body[0], ast.Expr)}
        for node in ast.walk(tree):
            if (isinstance(node, ast.Constant) and isinstance(node.value, str)
                    and id(node) not in docstrings):
                assert not SQL.search(node.value), f"{path.name}: {node.value[:80]!r}"


def test_jobs_import_neither_the_api_nor_the_sinks():
    for path in sorted((ROOT / "jobs").glob("*.py")):
        wrong = {m for m in _imports(path) if m.split(".")[0] in ("api", "sinks", "cli")}
        assert not wrong, f"{path.name} imports {sorted(wrong)}"


def test_stores_import_no_service():
    services = {"api", "sinks", "streams", "delivery", "jobs", "models", "cli"}
    for path in sorted((ROOT / "stores").rglob("*.py")):
        wrong = {m for m in _imports(path) if m.split(".")[0] in services}
        assert not wrong, f"{path.relative_to(ROOT)} imports {sorted(wrong)}"
