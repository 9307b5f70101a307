"""Read-only SQL for analysts, through the process that owns the store.

Embedded ClickHouse (chdb) lets one process open its data directory, and that is the
API process; ``fitstream sql`` sends its statement here. Statements run with
ClickHouse's ``readonly=1`` on a connection of their own, so they can read every view
table and change nothing. Analyst tokens only (``fitstream analysts token``).

Every statement runs with ClickHouse's limits from the settings (``analyst_limits`` in
stores/clickhouse/queries.py: time, result rows, memory), set before ``readonly=1`` so
the statement cannot lift them: ``SELECT * FROM numbers(1e9)`` fails in milliseconds
with a 400 instead of being pulled whole into the process that owns the store and runs
the sinks. The token is
checked before the body is read.
"""

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from api.auth import CurrentAnalyst
from api.bodies import json_body, json_body_openapi
from api.dependencies import Settings, Store
from api.errors import ApiError, ErrorBody
from stores.clickhouse.analyst_sql import EXAMPLE_STATEMENT, StatementRefused
from stores.clickhouse.queries import analyst_limits, run_checked


class SqlRequest(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"sql": EXAMPLE_STATEMENT}]})

    sql: str = Field(min_length=1, max_length=100_000, description="One statement")


class SqlResult(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"columns": ["sport_type", "workouts"], "rows": [["running", 42], ["cycling", 7]]}]})

    columns: list[str]
    # Every row: a result over api.analyst_sql_max_result_rows is a 400, never cut short.
    rows: list[list[Any]]


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def analytics_router() -> APIRouter:
    router = APIRouter(prefix="/api/v1/analytics", tags=["analytics"])

    @router.post("/sql", response_model=SqlResult, openapi_extra=json_body_openapi(SqlRequest),
                 responses={s: {"model": ErrorBody} for s in (400, 401, 413, 422)})
    async def run_sql(_analyst: CurrentAnalyst,
                      body: Annotated[SqlRequest, Depends(json_body(SqlRequest))],
                      store: Store, settings: Settings) -> SqlResult:
        """Run one read-only statement on the view tables; 400 ``sql_refused`` for a
        statement that reads outside them (a table function, another database, a second
        statement: stores/clickhouse/analyst_sql.py), 400 ``sql_failed`` with ClickHouse's
        message if it fails: a write (readonly=1), or a statement over the time, row or
        memory limit."""
        try:
            columns, rows = await run_in_threadpool(run_checked, store, body.sql,
                                                    analyst_limits(settings.api))
        except StatementRefused as exc:
            raise ApiError(400, "sql_refused", str(exc)) from exc
        except Exception as exc:  # the server's or chdb's own error: the analyst's to fix
            message = str(exc).split("Stack trace")[0].strip()
            raise ApiError(400, "sql_failed", message[:2000]) from exc
        return SqlResult(columns=columns, rows=[[_plain(v) for v in row] for row in rows])

    return router
