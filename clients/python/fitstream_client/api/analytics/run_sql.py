from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.error_body import ErrorBody
from ...models.sql_request import SqlRequest
from ...models.sql_result import SqlResult
from ...types import Response


def _get_kwargs(
    *,
    body: SqlRequest,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/api/v1/analytics/sql",
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> ErrorBody | SqlResult | None:
    if response.status_code == 200:
        response_200 = SqlResult.from_dict(response.json())

        return response_200

    if response.status_code == 400:
        response_400 = ErrorBody.from_dict(response.json())

        return response_400

    if response.status_code == 401:
        response_401 = ErrorBody.from_dict(response.json())

        return response_401

    if response.status_code == 413:
        response_413 = ErrorBody.from_dict(response.json())

        return response_413

    if response.status_code == 422:
        response_422 = ErrorBody.from_dict(response.json())

        return response_422

    if response.status_code == 429:
        response_429 = ErrorBody.from_dict(response.json())

        return response_429

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[ErrorBody | SqlResult]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
    body: SqlRequest,
) -> Response[ErrorBody | SqlResult]:
    """Run Sql

     Run one read-only statement on the view tables; 400 ``sql_refused`` for a
    statement that reads outside them (a table function, another database, a second
    statement: stores/clickhouse/analyst_sql.py), 400 ``sql_failed`` with ClickHouse's
    message if it fails: a write (readonly=1), or a statement over the time, row or
    memory limit.

    Args:
        body (SqlRequest):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | SqlResult]
    """

    kwargs = _get_kwargs(
        body=body,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient,
    body: SqlRequest,
) -> ErrorBody | SqlResult | None:
    """Run Sql

     Run one read-only statement on the view tables; 400 ``sql_refused`` for a
    statement that reads outside them (a table function, another database, a second
    statement: stores/clickhouse/analyst_sql.py), 400 ``sql_failed`` with ClickHouse's
    message if it fails: a write (readonly=1), or a statement over the time, row or
    memory limit.

    Args:
        body (SqlRequest):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | SqlResult
    """

    return sync_detailed(
        client=client,
        body=body,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    body: SqlRequest,
) -> Response[ErrorBody | SqlResult]:
    """Run Sql

     Run one read-only statement on the view tables; 400 ``sql_refused`` for a
    statement that reads outside them (a table function, another database, a second
    statement: stores/clickhouse/analyst_sql.py), 400 ``sql_failed`` with ClickHouse's
    message if it fails: a write (readonly=1), or a statement over the time, row or
    memory limit.

    Args:
        body (SqlRequest):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | SqlResult]
    """

    kwargs = _get_kwargs(
        body=body,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient,
    body: SqlRequest,
) -> ErrorBody | SqlResult | None:
    """Run Sql

     Run one read-only statement on the view tables; 400 ``sql_refused`` for a
    statement that reads outside them (a table function, another database, a second
    statement: stores/clickhouse/analyst_sql.py), 400 ``sql_failed`` with ClickHouse's
    message if it fails: a write (readonly=1), or a statement over the time, row or
    memory limit.

    Args:
        body (SqlRequest):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | SqlResult
    """

    return (
        await asyncio_detailed(
            client=client,
            body=body,
        )
    ).parsed
