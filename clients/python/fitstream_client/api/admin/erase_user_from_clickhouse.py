from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.click_house_erasure import ClickHouseErasure
from ...models.error_body import ErrorBody
from ...types import Response


def _get_kwargs(
    user_id: str,
) -> dict[str, Any]:

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/api/v1/admin/users/{user_id}/clickhouse-erasure".format(
            user_id=quote(str(user_id), safe=""),
        ),
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> ClickHouseErasure | ErrorBody | None:
    if response.status_code == 200:
        response_200 = ClickHouseErasure.from_dict(response.json())

        return response_200

    if response.status_code == 400:
        response_400 = ErrorBody.from_dict(response.json())

        return response_400

    if response.status_code == 401:
        response_401 = ErrorBody.from_dict(response.json())

        return response_401

    if response.status_code == 429:
        response_429 = ErrorBody.from_dict(response.json())

        return response_429

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[ClickHouseErasure | ErrorBody]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    user_id: str,
    *,
    client: AuthenticatedClient,
) -> Response[ClickHouseErasure | ErrorBody]:
    """Erase User From Clickhouse

     Delete the user from every ClickHouse view table (the notification inbox,
    reads, deliveries and preferences included) and wait until their rows read 0.
    Part of ``fitstream jobs gdpr-erase``, which first publishes the erasure event
    so that the sinks stop writing the user's old records.

    Args:
        user_id (str):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ClickHouseErasure | ErrorBody]
    """

    kwargs = _get_kwargs(
        user_id=user_id,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    user_id: str,
    *,
    client: AuthenticatedClient,
) -> ClickHouseErasure | ErrorBody | None:
    """Erase User From Clickhouse

     Delete the user from every ClickHouse view table (the notification inbox,
    reads, deliveries and preferences included) and wait until their rows read 0.
    Part of ``fitstream jobs gdpr-erase``, which first publishes the erasure event
    so that the sinks stop writing the user's old records.

    Args:
        user_id (str):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ClickHouseErasure | ErrorBody
    """

    return sync_detailed(
        user_id=user_id,
        client=client,
    ).parsed


async def asyncio_detailed(
    user_id: str,
    *,
    client: AuthenticatedClient,
) -> Response[ClickHouseErasure | ErrorBody]:
    """Erase User From Clickhouse

     Delete the user from every ClickHouse view table (the notification inbox,
    reads, deliveries and preferences included) and wait until their rows read 0.
    Part of ``fitstream jobs gdpr-erase``, which first publishes the erasure event
    so that the sinks stop writing the user's old records.

    Args:
        user_id (str):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ClickHouseErasure | ErrorBody]
    """

    kwargs = _get_kwargs(
        user_id=user_id,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    user_id: str,
    *,
    client: AuthenticatedClient,
) -> ClickHouseErasure | ErrorBody | None:
    """Erase User From Clickhouse

     Delete the user from every ClickHouse view table (the notification inbox,
    reads, deliveries and preferences included) and wait until their rows read 0.
    Part of ``fitstream jobs gdpr-erase``, which first publishes the erasure event
    so that the sinks stop writing the user's old records.

    Args:
        user_id (str):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ClickHouseErasure | ErrorBody
    """

    return (
        await asyncio_detailed(
            user_id=user_id,
            client=client,
        )
    ).parsed
