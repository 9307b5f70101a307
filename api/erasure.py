"""The ClickHouse part of a GDPR erase, through the process that owns the store.

Embedded ClickHouse (chdb) lets one process open its data directory, and that is the
API process, which also runs the sinks; ``fitstream jobs gdpr-erase`` sends the
ClickHouse delete here, as ``fitstream sql`` sends its statements, so an erase runs
while the system is live. With a ClickHouse server the job deletes directly.

Admin tokens only: audience ``fitstream-admin``, issued by the job itself from the
API's signing key (``fitstream.tokens.issue_admin_token``); user, device and analyst tokens are
refused with 401. The user id must match the one id pattern (400 otherwise).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.security import HTTPBearer
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from api.auth import authenticate, verifier_of
from api.dependencies import Store
from api.errors import ApiError, ErrorBody
from fitstream.domain.identifiers import InvalidIdentifier, check_id
from fitstream.tokens import verify_admin_token
from stores.erasure import erase_from_clickhouse

# The handler verifies the admin token itself; the scheme names it in the OpenAPI document.
admin_scheme = HTTPBearer(scheme_name="adminToken", auto_error=False,
                          description="Issued by `fitstream jobs gdpr-erase` from the API's key")


class ClickHouseErasure(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"user_id": "user-1", "rows_deleted": {"workout_summary": 12, "workout_samples": 4210}}]})

    user_id: str
    rows_deleted: dict[str, int] = Field(
        description="Per view table: the user's rows before the delete (all now gone)")


def erasure_router() -> APIRouter:
    router = APIRouter(prefix="/api/v1/admin", tags=["admin"])

    @router.post("/users/{user_id}/clickhouse-erasure", response_model=ClickHouseErasure,
                 responses={s: {"model": ErrorBody} for s in (400, 401)},
                 dependencies=[Depends(admin_scheme)])
    async def erase_user_from_clickhouse(user_id: str, request: Request,
                                         store: Store) -> ClickHouseErasure:
        """Delete the user from every ClickHouse view table (the notification inbox,
        reads, deliveries and preferences included) and wait until their rows read 0.
        Part of ``fitstream jobs gdpr-erase``, which first publishes the erasure event
        so that the sinks stop writing the user's old records."""
        keys = verifier_of(request).keys  # the app's key ring (rotation included)
        authenticate(request, lambda token: verify_admin_token(keys, token), "admin")
        try:
            check_id("user_id", user_id)
        except InvalidIdentifier as exc:
            raise ApiError(400, "invalid_id", str(exc)) from exc
        deleted = await run_in_threadpool(erase_from_clickhouse, store, user_id)
        return ClickHouseErasure(user_id=user_id, rows_deleted=deleted)

    return router
