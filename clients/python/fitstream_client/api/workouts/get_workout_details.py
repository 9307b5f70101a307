from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.error_body import ErrorBody
from ...models.workout_details import WorkoutDetails
from ...types import Response


def _get_kwargs(
    workout_id: str,
) -> dict[str, Any]:

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/api/v1/workouts/{workout_id}/details".format(
            workout_id=quote(str(workout_id), safe=""),
        ),
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> ErrorBody | WorkoutDetails | None:
    if response.status_code == 200:
        response_200 = WorkoutDetails.from_dict(response.json())

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

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[ErrorBody | WorkoutDetails]:
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
) -> Response[ErrorBody | WorkoutDetails]:
    """Get Workout Details

     Every sample, km splits with pace, max and average heart rate and speed; owner only.

    Args:
        workout_id (str): A workout id

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | WorkoutDetails]
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
) -> ErrorBody | WorkoutDetails | None:
    """Get Workout Details

     Every sample, km splits with pace, max and average heart rate and speed; owner only.

    Args:
        workout_id (str): A workout id

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | WorkoutDetails
    """

    return sync_detailed(
        workout_id=workout_id,
        client=client,
    ).parsed


async def asyncio_detailed(
    workout_id: str,
    *,
    client: AuthenticatedClient,
) -> Response[ErrorBody | WorkoutDetails]:
    """Get Workout Details

     Every sample, km splits with pace, max and average heart rate and speed; owner only.

    Args:
        workout_id (str): A workout id

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | WorkoutDetails]
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
) -> ErrorBody | WorkoutDetails | None:
    """Get Workout Details

     Every sample, km splits with pace, max and average heart rate and speed; owner only.

    Args:
        workout_id (str): A workout id

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | WorkoutDetails
    """

    return (
        await asyncio_detailed(
            workout_id=workout_id,
            client=client,
        )
    ).parsed
