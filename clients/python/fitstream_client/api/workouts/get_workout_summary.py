from http import HTTPStatus
from typing import Any, cast
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.error_body import ErrorBody
from ...models.public_workout_summary import PublicWorkoutSummary
from ...types import Response


def _get_kwargs(
    workout_id: str,
) -> dict[str, Any]:

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/api/v1/workouts/{workout_id}".format(
            workout_id=quote(str(workout_id), safe=""),
        ),
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Any | ErrorBody | PublicWorkoutSummary | None:
    if response.status_code == 200:
        response_200 = PublicWorkoutSummary.from_dict(response.json())

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

    if response.status_code == 429:
        response_429 = ErrorBody.from_dict(response.json())

        return response_429

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[Any | ErrorBody | PublicWorkoutSummary]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    workout_id: str,
    *,
    client: AuthenticatedClient | Client,
) -> Response[Any | ErrorBody | PublicWorkoutSummary]:
    """Get Workout Summary

     A workout's public summary: sport, distance, moving time, start day, status
    (ETag, cached for 5 s). Its owner reads the full one at ``/private``.

    Args:
        workout_id (str): A workout id

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Any | ErrorBody | PublicWorkoutSummary]
    """

    kwargs = _get_kwargs(
        workout_id=workout_id,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    workout_id: str,
    *,
    client: AuthenticatedClient | Client,
) -> Any | ErrorBody | PublicWorkoutSummary | None:
    """Get Workout Summary

     A workout's public summary: sport, distance, moving time, start day, status
    (ETag, cached for 5 s). Its owner reads the full one at ``/private``.

    Args:
        workout_id (str): A workout id

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Any | ErrorBody | PublicWorkoutSummary
    """

    return sync_detailed(
        workout_id=workout_id,
        client=client,
    ).parsed


async def asyncio_detailed(
    workout_id: str,
    *,
    client: AuthenticatedClient | Client,
) -> Response[Any | ErrorBody | PublicWorkoutSummary]:
    """Get Workout Summary

     A workout's public summary: sport, distance, moving time, start day, status
    (ETag, cached for 5 s). Its owner reads the full one at ``/private``.

    Args:
        workout_id (str): A workout id

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Any | ErrorBody | PublicWorkoutSummary]
    """

    kwargs = _get_kwargs(
        workout_id=workout_id,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    workout_id: str,
    *,
    client: AuthenticatedClient | Client,
) -> Any | ErrorBody | PublicWorkoutSummary | None:
    """Get Workout Summary

     A workout's public summary: sport, distance, moving time, start day, status
    (ETag, cached for 5 s). Its owner reads the full one at ``/private``.

    Args:
        workout_id (str): A workout id

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Any | ErrorBody | PublicWorkoutSummary
    """

    return (
        await asyncio_detailed(
            workout_id=workout_id,
            client=client,
        )
    ).parsed
