from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.error_body import ErrorBody
from ...models.ingest_accepted import IngestAccepted
from ...models.ingest_batch import IngestBatch
from ...types import Response


def _get_kwargs(
    *,
    body: IngestBatch,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/api/v1/ingest/events",
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> ErrorBody | IngestAccepted | None:
    if response.status_code == 202:
        response_202 = IngestAccepted.from_dict(response.json())

        return response_202

    if response.status_code == 400:
        response_400 = ErrorBody.from_dict(response.json())

        return response_400

    if response.status_code == 401:
        response_401 = ErrorBody.from_dict(response.json())

        return response_401

    if response.status_code == 403:
        response_403 = ErrorBody.from_dict(response.json())

        return response_403

    if response.status_code == 409:
        response_409 = ErrorBody.from_dict(response.json())

        return response_409

    if response.status_code == 413:
        response_413 = ErrorBody.from_dict(response.json())

        return response_413

    if response.status_code == 422:
        response_422 = ErrorBody.from_dict(response.json())

        return response_422

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
) -> Response[ErrorBody | IngestAccepted]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
    body: IngestBatch,
) -> Response[ErrorBody | IngestAccepted]:
    """Ingest Events

     Accept up to ``ingest_max_events`` events once Kafka has acknowledged all of them.

    Args:
        body (IngestBatch): Workout events from one device, all accepted or none. Ingest also
            refuses a start_time or end_time far from its occurred_at, and an occurred_at ahead of the
            server's clock (api.max_future_skew_ms), and an integer field written with a fraction
            (1.0): JSON Schema counts 1.0 as an integer, ingest never converts a number.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | IngestAccepted]
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
    body: IngestBatch,
) -> ErrorBody | IngestAccepted | None:
    """Ingest Events

     Accept up to ``ingest_max_events`` events once Kafka has acknowledged all of them.

    Args:
        body (IngestBatch): Workout events from one device, all accepted or none. Ingest also
            refuses a start_time or end_time far from its occurred_at, and an occurred_at ahead of the
            server's clock (api.max_future_skew_ms), and an integer field written with a fraction
            (1.0): JSON Schema counts 1.0 as an integer, ingest never converts a number.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | IngestAccepted
    """

    return sync_detailed(
        client=client,
        body=body,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    body: IngestBatch,
) -> Response[ErrorBody | IngestAccepted]:
    """Ingest Events

     Accept up to ``ingest_max_events`` events once Kafka has acknowledged all of them.

    Args:
        body (IngestBatch): Workout events from one device, all accepted or none. Ingest also
            refuses a start_time or end_time far from its occurred_at, and an occurred_at ahead of the
            server's clock (api.max_future_skew_ms), and an integer field written with a fraction
            (1.0): JSON Schema counts 1.0 as an integer, ingest never converts a number.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | IngestAccepted]
    """

    kwargs = _get_kwargs(
        body=body,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient,
    body: IngestBatch,
) -> ErrorBody | IngestAccepted | None:
    """Ingest Events

     Accept up to ``ingest_max_events`` events once Kafka has acknowledged all of them.

    Args:
        body (IngestBatch): Workout events from one device, all accepted or none. Ingest also
            refuses a start_time or end_time far from its occurred_at, and an occurred_at ahead of the
            server's clock (api.max_future_skew_ms), and an integer field written with a fraction
            (1.0): JSON Schema counts 1.0 as an integer, ingest never converts a number.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | IngestAccepted
    """

    return (
        await asyncio_detailed(
            client=client,
            body=body,
        )
    ).parsed
