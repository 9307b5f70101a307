from http import HTTPStatus
from typing import Any, cast
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.error_body import ErrorBody
from ...models.leaderboard_window import LeaderboardWindow
from ...models.user_stats import UserStats
from ...types import UNSET, Response, Unset


def _get_kwargs(
    user_id: str,
    *,
    sport: str | Unset = "all",
    window: LeaderboardWindow | Unset = UNSET,
    period: None | str | Unset = UNSET,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    params["sport"] = sport

    json_window: str | Unset = UNSET
    if not isinstance(window, Unset):
        json_window = window

    params["window"] = json_window

    json_period: None | str | Unset
    if isinstance(period, Unset):
        json_period = UNSET
    else:
        json_period = period
    params["period"] = json_period

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/api/v1/users/{user_id}/stats".format(
            user_id=quote(str(user_id), safe=""),
        ),
        "params": params,
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Any | ErrorBody | UserStats | None:
    if response.status_code == 200:
        response_200 = UserStats.from_dict(response.json())

        return response_200

    if response.status_code == 304:
        response_304 = cast(Any, None)
        return response_304

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


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[Any | ErrorBody | UserStats]:
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
    sport: str | Unset = "all",
    window: LeaderboardWindow | Unset = UNSET,
    period: None | str | Unset = UNSET,
) -> Response[Any | ErrorBody | UserStats]:
    """Get User Stats

     Totals for a sport and period, personal records, 12 weeks of activity; owner only.

    Args:
        user_id (str): A user id
        sport (str | Unset): A sport type, or all. Default: 'all'.
        window (LeaderboardWindow | Unset):
        period (None | str | Unset): default: the current one

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Any | ErrorBody | UserStats]
    """

    kwargs = _get_kwargs(
        user_id=user_id,
        sport=sport,
        window=window,
        period=period,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    user_id: str,
    *,
    client: AuthenticatedClient,
    sport: str | Unset = "all",
    window: LeaderboardWindow | Unset = UNSET,
    period: None | str | Unset = UNSET,
) -> Any | ErrorBody | UserStats | None:
    """Get User Stats

     Totals for a sport and period, personal records, 12 weeks of activity; owner only.

    Args:
        user_id (str): A user id
        sport (str | Unset): A sport type, or all. Default: 'all'.
        window (LeaderboardWindow | Unset):
        period (None | str | Unset): default: the current one

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Any | ErrorBody | UserStats
    """

    return sync_detailed(
        user_id=user_id,
        client=client,
        sport=sport,
        window=window,
        period=period,
    ).parsed


async def asyncio_detailed(
    user_id: str,
    *,
    client: AuthenticatedClient,
    sport: str | Unset = "all",
    window: LeaderboardWindow | Unset = UNSET,
    period: None | str | Unset = UNSET,
) -> Response[Any | ErrorBody | UserStats]:
    """Get User Stats

     Totals for a sport and period, personal records, 12 weeks of activity; owner only.

    Args:
        user_id (str): A user id
        sport (str | Unset): A sport type, or all. Default: 'all'.
        window (LeaderboardWindow | Unset):
        period (None | str | Unset): default: the current one

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Any | ErrorBody | UserStats]
    """

    kwargs = _get_kwargs(
        user_id=user_id,
        sport=sport,
        window=window,
        period=period,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    user_id: str,
    *,
    client: AuthenticatedClient,
    sport: str | Unset = "all",
    window: LeaderboardWindow | Unset = UNSET,
    period: None | str | Unset = UNSET,
) -> Any | ErrorBody | UserStats | None:
    """Get User Stats

     Totals for a sport and period, personal records, 12 weeks of activity; owner only.

    Args:
        user_id (str): A user id
        sport (str | Unset): A sport type, or all. Default: 'all'.
        window (LeaderboardWindow | Unset):
        period (None | str | Unset): default: the current one

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Any | ErrorBody | UserStats
    """

    return (
        await asyncio_detailed(
            user_id=user_id,
            client=client,
            sport=sport,
            window=window,
            period=period,
        )
    ).parsed
