from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.error_body import ErrorBody
from ...models.notification import Notification
from ...types import Response


def _get_kwargs(
    user_id: str,
    notification_id: str,
) -> dict[str, Any]:

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/api/v1/users/{user_id}/notifications/{notification_id}/read".format(
            user_id=quote(str(user_id), safe=""),
            notification_id=quote(str(notification_id), safe=""),
        ),
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> ErrorBody | Notification | None:
    if response.status_code == 200:
        response_200 = Notification.from_dict(response.json())

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

    if response.status_code == 404:
        response_404 = ErrorBody.from_dict(response.json())

        return response_404

    if response.status_code == 429:
        response_429 = ErrorBody.from_dict(response.json())

        return response_429

    if response.status_code == 503:
        response_503 = ErrorBody.from_dict(response.json())

        return response_503

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[ErrorBody | Notification]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    user_id: str,
    notification_id: str,
    *,
    client: AuthenticatedClient,
) -> Response[ErrorBody | Notification]:
    """Mark Read

     Mark one notification read; marking it again keeps the first read time.

    Args:
        user_id (str): A user id
        notification_id (str): A notification's id

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | Notification]
    """

    kwargs = _get_kwargs(
        user_id=user_id,
        notification_id=notification_id,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    user_id: str,
    notification_id: str,
    *,
    client: AuthenticatedClient,
) -> ErrorBody | Notification | None:
    """Mark Read

     Mark one notification read; marking it again keeps the first read time.

    Args:
        user_id (str): A user id
        notification_id (str): A notification's id

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | Notification
    """

    return sync_detailed(
        user_id=user_id,
        notification_id=notification_id,
        client=client,
    ).parsed


async def asyncio_detailed(
    user_id: str,
    notification_id: str,
    *,
    client: AuthenticatedClient,
) -> Response[ErrorBody | Notification]:
    """Mark Read

     Mark one notification read; marking it again keeps the first read time.

    Args:
        user_id (str): A user id
        notification_id (str): A notification's id

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | Notification]
    """

    kwargs = _get_kwargs(
        user_id=user_id,
        notification_id=notification_id,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    user_id: str,
    notification_id: str,
    *,
    client: AuthenticatedClient,
) -> ErrorBody | Notification | None:
    """Mark Read

     Mark one notification read; marking it again keeps the first read time.

    Args:
        user_id (str): A user id
        notification_id (str): A notification's id

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | Notification
    """

    return (
        await asyncio_detailed(
            user_id=user_id,
            notification_id=notification_id,
            client=client,
        )
    ).parsed
