"""``fitstream sql``: read-only statements on the view tables, printed for people or tools."""

from __future__ import annotations

import csv
import io
import json
import sys
from typing import Any

from rich.console import Console
from rich.table import Table

from fitstream.local_stack import post_to_store_owner
from fitstream.settings import FitStreamSettings


def run_statement(settings: FitStreamSettings, statement: str,
                  ) -> tuple[list[str], list[list[Any]]]:
    """(columns, rows) of one statement; RuntimeError with the reason if it fails."""
    if settings.clickhouse.backend == "server":
        from api.analytics import analyst_limits, run_checked
        from sinks.clickhouse.store import open_store

        store = open_store(settings)
        try:
            columns, rows = run_checked(store, statement, analyst_limits(settings.api))
        except Exception as exc:
            raise RuntimeError(str(exc).split("Stack trace")[0].strip()) from exc
        finally:
            store.close()
        return columns, [list(row) for row in rows]
    from api.tokens import TokenKeys, issue_analyst_token

    token = issue_analyst_token(TokenKeys.from_settings(settings.api), "fitstream-sql", 300)
    status, body = post_to_store_owner(
        settings, "/api/v1/analytics/sql", token, 300,
        "or point FITSTREAM_CLICKHOUSE__* at a server", json={"sql": statement})
    if status != 200:
        raise RuntimeError(f"{body.get('error')}: {body.get('message')}")
    return body["columns"], body["rows"]


def print_result(columns: list[str], rows: list[list[Any]], output: str,
                 console: Console) -> None:
    if output == "json":
        for row in rows:
            sys.stdout.write(json.dumps(dict(zip(columns, row, strict=True)), default=str) + "\n")
    elif output == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(columns)
        writer.writerows(rows)
        sys.stdout.write(buffer.getvalue())
    else:
        table = Table(*columns)
        for row in rows:
            table.add_row(*("" if v is None else str(v) for v in row))
        Console().print(table)
        console.print(f"{len(rows):,} rows")
