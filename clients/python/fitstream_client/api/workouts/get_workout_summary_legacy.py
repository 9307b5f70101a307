from http import HTTPStatus
from typing import Any, cast
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.error_body import ErrorBody
from ...models.workout_summary import WorkoutSummary
from ...types import Response


def _get_kwargs(
    workout_id: str,
) -> dict[str, Any]:

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/api/v1/workouts/{workout_id}/summary".format(
            workout_id=quote(str(workout_id), safe=""),
        ),
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Any | ErrorBody | WorkoutSummary | None:
    if response.status_code == 200:
        response_200 = WorkoutSummary.from_dict(response.json())

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

    if response.status_code == 404:
        response_404 = ErrorBody.from_dict(response.json())

        return response_404

    if response.status_code == 410:
        response_410 = ErrorBody.from_dict(response.json())

        return response_410

    if response.status_code == 429:
        response_429 = ErrorBody.from_dict(response.json())

        return response_429

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[Any | ErrorBody | WorkoutSummary]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    workout_id: str,
    *,
    client: AuthenticatedClient,
) -> Response[Any | ErrorBody | WorkoutSummary]:
    """Get Workout Summary Legacy

     Deprecated alias of ``/workouts/{workout_id}/private`` (the same answer), kept
    for app builds that call it until its sunset (docs/api-changelog.md).

    Args:
        workout_id (str): A workout id

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Any | ErrorBody | WorkoutSummary]
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
    client: AuthenticatedClient,
) -> Any | ErrorBody | WorkoutSummary | None:
    """Get Workout Summary Legacy

     Deprecated alias of ``/workouts/{workout_id}/private`` (the same answer), kept
    for app builds that call it until its sunset (docs/api-changelog.md).

    Args:
        workout_id (str): A workout id

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Any | ErrorBody | WorkoutSummary
    """

    return sync_detailed(
        workout_id=workout_id,
        client=client,
    ).parsed


async def asyncio_detailed(
    workout_id: str,
    *,
    client: AuthenticatedClient,
) -> Response[Any | ErrorBody | WorkoutSummary]:
    """Get Workout Summary Legacy

     Deprecated alias of ``/workouts/{workout_id}/private`` (the same answer), kept
    for app builds that call it until its sunset (docs/api-changelog.md).

    Args:
        workout_id (str): A workout id

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Any | ErrorBody | WorkoutSummary]
    """

    kwargs = _get_kwargs(
        workout_id=workout_id,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    workout_id: str,
    *,
    client: AuthenticatedClient,
) -> Any | ErrorBody | WorkoutSummary | None:
    """Get Workout Summary Legacy

     Deprecated alias of ``/workouts/{workout_id}/private`` (the same answer), kept
    for app builds that call it until its sunset (docs/api-changelog.md).

    Args:
        workout_id (str): A workout id

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Any | ErrorBody | WorkoutSummary
    """

    return (
        await asyncio_detailed(
            workout_id=workout_id,
            client=client,
        )
    ).parsed
