from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.error_body import ErrorBody
from ...models.inbox import Inbox
from ...types import UNSET, Response, Unset


def _get_kwargs(
    user_id: str,
    *,
    unread: bool | None | Unset = UNSET,
    limit: int | Unset = 20,
    cursor: None | str | Unset = UNSET,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    json_unread: bool | None | Unset
    if isinstance(unread, Unset):
        json_unread = UNSET
    else:
        json_unread = unread
    params["unread"] = json_unread

    params["limit"] = limit

    json_cursor: None | str | Unset
    if isinstance(cursor, Unset):
        json_cursor = UNSET
    else:
        json_cursor = cursor
    params["cursor"] = json_cursor

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/api/v1/users/{user_id}/notifications".format(
            user_id=quote(str(user_id), safe=""),
        ),
        "params": params,
    }

    return _kwargs


def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> ErrorBody | Inbox | None:
    if response.status_code == 200:
        response_200 = Inbox.from_dict(response.json())

        return response_200

    if response.status_code == 400:
        response_400 = ErrorBody.from_dict(response.json())

        return response_400

    if response.status_code == 401:
        response_401 = ErrorBody.from_dict(response.json())

        return response_401

    if response.status_code == 403:
        response_403 = ErrorBody.from_dict(response.json())

        return response_403

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


def _build_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Response[ErrorBody | Inbox]:
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
    unread: bool | None | Unset = UNSET,
    limit: int | Unset = 20,
    cursor: None | str | Unset = UNSET,
) -> Response[ErrorBody | Inbox]:
    """Get Notifications

     The in-app inbox, newest first, with read state and external deliveries;
    400 for a cursor this API did not issue.

    Args:
        user_id (str): A user id
        unread (bool | None | Unset): true: only unread; false: only read; absent: all
        limit (int | Unset):  Default: 20.
        cursor (None | str | Unset): next_cursor of the previous page

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | Inbox]
    """

    kwargs = _get_kwargs(
        user_id=user_id,
        unread=unread,
        limit=limit,
        cursor=cursor,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    user_id: str,
    *,
    client: AuthenticatedClient,
    unread: bool | None | Unset = UNSET,
    limit: int | Unset = 20,
    cursor: None | str | Unset = UNSET,
) -> ErrorBody | Inbox | None:
    """Get Notifications

     The in-app inbox, newest first, with read state and external deliveries;
    400 for a cursor this API did not issue.

    Args:
        user_id (str): A user id
        unread (bool | None | Unset): true: only unread; false: only read; absent: all
        limit (int | Unset):  Default: 20.
        cursor (None | str | Unset): next_cursor of the previous page

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | Inbox
    """

    return sync_detailed(
        user_id=user_id,
        client=client,
        unread=unread,
        limit=limit,
        cursor=cursor,
    ).parsed


async def asyncio_detailed(
    user_id: str,
    *,
    client: AuthenticatedClient,
    unread: bool | None | Unset = UNSET,
    limit: int | Unset = 20,
    cursor: None | str | Unset = UNSET,
) -> Response[ErrorBody | Inbox]:
    """Get Notifications

     The in-app inbox, newest first, with read state and external deliveries;
    400 for a cursor this API did not issue.

    Args:
        user_id (str): A user id
        unread (bool | None | Unset): true: only unread; false: only read; absent: all
        limit (int | Unset):  Default: 20.
        cursor (None | str | Unset): next_cursor of the previous page

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | Inbox]
    """

    kwargs = _get_kwargs(
        user_id=user_id,
        unread=unread,
        limit=limit,
        cursor=cursor,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    user_id: str,
    *,
    client: AuthenticatedClient,
    unread: bool | None | Unset = UNSET,
    limit: int | Unset = 20,
    cursor: None | str | Unset = UNSET,
) -> ErrorBody | Inbox | None:
    """Get Notifications

     The in-app inbox, newest first, with read state and external deliveries;
    400 for a cursor this API did not issue.

    Args:
        user_id (str): A user id
        unread (bool | None | Unset): true: only unread; false: only read; absent: all
        limit (int | Unset):  Default: 20.
        cursor (None | str | Unset): next_cursor of the previous page

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | Inbox
    """

    return (
        await asyncio_detailed(
            user_id=user_id,
            client=client,
            unread=unread,
            limit=limit,
            cursor=cursor,
        )
    ).parsed
