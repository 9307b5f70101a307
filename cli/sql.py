"""``fitstream sql``: read-only statements on the view tables, printed for people or tools."""

from __future__ import annotations

import csv
import io
import json
import sys
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from cli.common import console as stderr_console
from fitstream.settings import FitStreamSettings, get_settings

app = typer.Typer()


@app.command()
def sql(
    statement: Annotated[str, typer.Argument(help="One read-only statement, e.g. SELECT ...")],
    output: Annotated[str, typer.Option(
        "--format", help="table, csv or json (one object per row).")] = "table",
) -> None:
    """Run read-only SQL on the view tables and print the result.

    With a ClickHouse server (FITSTREAM_CLICKHOUSE__BACKEND=server) it connects directly.
    With embedded chdb, which one process may open, the statement goes to the API
    process that owns the store (it must be running, e.g. `make demo`). Either way it
    runs with readonly=1. Tables are documented in docs/analytics.md."""
    if output not in ("table", "csv", "json"):
        raise typer.BadParameter("use table, csv or json", param_hint="--format")
    try:
        columns, rows = run_statement(get_settings(), statement)
    except RuntimeError as exc:
        stderr_console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    print_result(columns, rows, output, stderr_console)


def run_statement(settings: FitStreamSettings, statement: str,
                  ) -> tuple[list[str], list[list[Any]]]:
    """(columns, rows) of one statement; RuntimeError with the reason if it fails."""
    if settings.clickhouse.backend == "server":
        from stores.clickhouse.queries import analyst_limits, run_checked
        from stores.clickhouse.store import open_store

        store = open_store(settings)
        try:
            columns, rows = run_checked(store, statement, analyst_limits(settings.api))
        except Exception as exc:
            raise RuntimeError(str(exc).split("Stack trace")[0].strip()) from exc
        finally:
            store.close()
        return columns, [list(row) for row in rows]
    from fitstream.api_client import post_to_store_owner
    from fitstream.tokens import TokenKeys, issue_analyst_token

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
