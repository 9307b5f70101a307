from http import HTTPStatus
from typing import Any, cast
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.error_body import ErrorBody
from ...models.leaderboard import Leaderboard
from ...models.leaderboard_metric import LeaderboardMetric
from ...models.leaderboard_window import LeaderboardWindow
from ...types import UNSET, Response, Unset


def _get_kwargs(
    metric: LeaderboardMetric,
    *,
    window: LeaderboardWindow | Unset = UNSET,
    period: None | str | Unset = UNSET,
    sport: str | Unset = "all",
    limit: int | Unset = 10,
    around_user: None | str | Unset = UNSET,
    neighbours: int | Unset = 2,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

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

    params["sport"] = sport

    params["limit"] = limit

    json_around_user: None | str | Unset
    if isinstance(around_user, Unset):
        json_around_user = UNSET
    else:
        json_around_user = around_user
    params["around_user"] = json_around_user

    params["neighbours"] = neighbours

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/api/v1/leaderboards/{metric}".format(
            metric=quote(str(metric), safe=""),
        ),
        "params": params,
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Any | ErrorBody | Leaderboard | None:
    if response.status_code == 200:
        response_200 = Leaderboard.from_dict(response.json())

        return response_200

    if response.status_code == 304:
        response_304 = cast(Any, None)
        return response_304

    if response.status_code == 400:
        response_400 = ErrorBody.from_dict(response.json())

        return response_400

    if response.status_code == 404:
        response_404 = ErrorBody.from_dict(response.json())

        return response_404

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
) -> Response[Any | ErrorBody | Leaderboard]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    metric: LeaderboardMetric,
    *,
    client: AuthenticatedClient | Client,
    window: LeaderboardWindow | Unset = UNSET,
    period: None | str | Unset = UNSET,
    sport: str | Unset = "all",
    limit: int | Unset = 10,
    around_user: None | str | Unset = UNSET,
    neighbours: int | Unset = 2,
) -> Response[Any | ErrorBody | Leaderboard]:
    """Get Leaderboard

     Top entries by metric, ties broken by who reached the value first, then user id.

    Args:
        metric (LeaderboardMetric):
        window (LeaderboardWindow | Unset):
        period (None | str | Unset): 2026-11-26, 2026-W48 (ISO week), 2026-11, 2026 or all, of the
            window (else 400); default: the current one
        sport (str | Unset): A sport type, or all. Default: 'all'.
        limit (int | Unset):  Default: 10.
        around_user (None | str | Unset): Rank this user, with `neighbours` above and below.
        neighbours (int | Unset):  Default: 2.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Any | ErrorBody | Leaderboard]
    """

    kwargs = _get_kwargs(
        metric=metric,
        window=window,
        period=period,
        sport=sport,
        limit=limit,
        around_user=around_user,
        neighbours=neighbours,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    metric: LeaderboardMetric,
    *,
    client: AuthenticatedClient | Client,
    window: LeaderboardWindow | Unset = UNSET,
    period: None | str | Unset = UNSET,
    sport: str | Unset = "all",
    limit: int | Unset = 10,
    around_user: None | str | Unset = UNSET,
    neighbours: int | Unset = 2,
) -> Any | ErrorBody | Leaderboard | None:
    """Get Leaderboard

     Top entries by metric, ties broken by who reached the value first, then user id.

    Args:
        metric (LeaderboardMetric):
        window (LeaderboardWindow | Unset):
        period (None | str | Unset): 2026-11-26, 2026-W48 (ISO week), 2026-11, 2026 or all, of the
            window (else 400); default: the current one
        sport (str | Unset): A sport type, or all. Default: 'all'.
        limit (int | Unset):  Default: 10.
        around_user (None | str | Unset): Rank this user, with `neighbours` above and below.
        neighbours (int | Unset):  Default: 2.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Any | ErrorBody | Leaderboard
    """

    return sync_detailed(
        metric=metric,
        client=client,
        window=window,
        period=period,
        sport=sport,
        limit=limit,
        around_user=around_user,
        neighbours=neighbours,
    ).parsed


async def asyncio_detailed(
    metric: LeaderboardMetric,
    *,
    client: AuthenticatedClient | Client,
    window: LeaderboardWindow | Unset = UNSET,
    period: None | str | Unset = UNSET,
    sport: str | Unset = "all",
    limit: int | Unset = 10,
    around_user: None | str | Unset = UNSET,
    neighbours: int | Unset = 2,
) -> Response[Any | ErrorBody | Leaderboard]:
    """Get Leaderboard

     Top entries by metric, ties broken by who reached the value first, then user id.

    Args:
        metric (LeaderboardMetric):
        window (LeaderboardWindow | Unset):
        period (None | str | Unset): 2026-11-26, 2026-W48 (ISO week), 2026-11, 2026 or all, of the
            window (else 400); default: the current one
        sport (str | Unset): A sport type, or all. Default: 'all'.
        limit (int | Unset):  Default: 10.
        around_user (None | str | Unset): Rank this user, with `neighbours` above and below.
        neighbours (int | Unset):  Default: 2.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Any | ErrorBody | Leaderboard]
    """

    kwargs = _get_kwargs(
        metric=metric,
        window=window,
        period=period,
        sport=sport,
        limit=limit,
        around_user=around_user,
        neighbours=neighbours,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    metric: LeaderboardMetric,
    *,
    client: AuthenticatedClient | Client,
    window: LeaderboardWindow | Unset = UNSET,
    period: None | str | Unset = UNSET,
    sport: str | Unset = "all",
    limit: int | Unset = 10,
    around_user: None | str | Unset = UNSET,
    neighbours: int | Unset = 2,
) -> Any | ErrorBody | Leaderboard | None:
    """Get Leaderboard

     Top entries by metric, ties broken by who reached the value first, then user id.

    Args:
        metric (LeaderboardMetric):
        window (LeaderboardWindow | Unset):
        period (None | str | Unset): 2026-11-26, 2026-W48 (ISO week), 2026-11, 2026 or all, of the
            window (else 400); default: the current one
        sport (str | Unset): A sport type, or all. Default: 'all'.
        limit (int | Unset):  Default: 10.
        around_user (None | str | Unset): Rank this user, with `neighbours` above and below.
        neighbours (int | Unset):  Default: 2.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Any | ErrorBody | Leaderboard
    """

    return (
        await asyncio_detailed(
            metric=metric,
            client=client,
            window=window,
            period=period,
            sport=sport,
            limit=limit,
            around_user=around_user,
            neighbours=neighbours,
        )
    ).parsed
