"""Read-only SQL for analysts, through the process that owns the store.

Embedded ClickHouse (chdb) lets one process open its data directory, and that is the
API process; ``fitstream sql`` sends its statement here. Statements run with
ClickHouse's ``readonly=1`` on a connection of their own, so they can read every view
table and change nothing. Analyst tokens only (``fitstream analysts token``).
"""

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from api.auth import require_analyst
from api.errors import ApiError, ErrorBody
from fitstream.settings import FitStreamSettings
from sinks.clickhouse.store import ClickHouseStore

MAX_ROWS = 100_000


class SqlRequest(BaseModel):
    sql: str = Field(min_length=1, max_length=100_000, description="One statement")


class SqlResult(BaseModel):
    columns: list[str]
    rows: list[list[Any]]
    truncated: bool = Field(description=f"More than {MAX_ROWS:,} rows; the rest was dropped")


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


def analytics_router(settings: FitStreamSettings, store: ClickHouseStore) -> APIRouter:
    router = APIRouter(prefix="/api/v1/analytics", tags=["analytics"])
    secret = settings.api.token_secret.get_secret_value()

    @router.post("/sql", response_model=SqlResult,
                 responses={s: {"model": ErrorBody} for s in (400, 401)})
    async def run_sql(body: SqlRequest, request: Request) -> SqlResult:
        """Run one read-only statement on the view tables; 400 with ClickHouse's message
        if it fails (a write is refused by readonly=1)."""
        require_analyst(request, secret)
        try:
            columns, rows = await run_in_threadpool(store.query_read_only, body.sql)
        except Exception as exc:  # the server's or chdb's own error: the analyst's to fix
            message = str(exc).split("Stack trace")[0].strip()
            raise ApiError(400, "sql_failed", message[:2000]) from exc
        return SqlResult(columns=columns, rows=[[_plain(v) for v in row]
                                                for row in rows[:MAX_ROWS]],
                         truncated=len(rows) > MAX_ROWS)

    return router
