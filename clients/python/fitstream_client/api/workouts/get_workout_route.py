from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.error_body import ErrorBody
from ...models.workout_route import WorkoutRoute
from ...types import UNSET, Response, Unset


def _get_kwargs(
    workout_id: str,
    *,
    tolerance_m: float | Unset = 5.0,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    params["tolerance_m"] = tolerance_m

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/api/v1/workouts/{workout_id}/route".format(
            workout_id=quote(str(workout_id), safe=""),
        ),
        "params": params,
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> ErrorBody | WorkoutRoute | None:
    if response.status_code == 200:
        response_200 = WorkoutRoute.from_dict(response.json())

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
) -> Response[ErrorBody | WorkoutRoute]:
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
    tolerance_m: float | Unset = 5.0,
) -> Response[ErrorBody | WorkoutRoute]:
    """Get Workout Route

     The route as GeoJSON (simplified LineString and bounding box); owner only.

    Args:
        workout_id (str): A workout id
        tolerance_m (float | Unset): Douglas-Peucker tolerance in metres; 0 keeps every turn
            Default: 5.0.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | WorkoutRoute]
    """

    kwargs = _get_kwargs(
        workout_id=workout_id,
        tolerance_m=tolerance_m,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    workout_id: str,
    *,
    client: AuthenticatedClient,
    tolerance_m: float | Unset = 5.0,
) -> ErrorBody | WorkoutRoute | None:
    """Get Workout Route

     The route as GeoJSON (simplified LineString and bounding box); owner only.

    Args:
        workout_id (str): A workout id
        tolerance_m (float | Unset): Douglas-Peucker tolerance in metres; 0 keeps every turn
            Default: 5.0.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | WorkoutRoute
    """

    return sync_detailed(
        workout_id=workout_id,
        client=client,
        tolerance_m=tolerance_m,
    ).parsed


async def asyncio_detailed(
    workout_id: str,
    *,
    client: AuthenticatedClient,
    tolerance_m: float | Unset = 5.0,
) -> Response[ErrorBody | WorkoutRoute]:
    """Get Workout Route

     The route as GeoJSON (simplified LineString and bounding box); owner only.

    Args:
        workout_id (str): A workout id
        tolerance_m (float | Unset): Douglas-Peucker tolerance in metres; 0 keeps every turn
            Default: 5.0.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | WorkoutRoute]
    """

    kwargs = _get_kwargs(
        workout_id=workout_id,
        tolerance_m=tolerance_m,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    workout_id: str,
    *,
    client: AuthenticatedClient,
    tolerance_m: float | Unset = 5.0,
) -> ErrorBody | WorkoutRoute | None:
    """Get Workout Route

     The route as GeoJSON (simplified LineString and bounding box); owner only.

    Args:
        workout_id (str): A workout id
        tolerance_m (float | Unset): Douglas-Peucker tolerance in metres; 0 keeps every turn
            Default: 5.0.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | WorkoutRoute
    """

    return (
        await asyncio_detailed(
            workout_id=workout_id,
            client=client,
            tolerance_m=tolerance_m,
        )
    ).parsed
