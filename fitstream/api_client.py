"""Reaching a running FitStream API process from another process.

Embedded chdb can be opened by one process only, the API's (``fitstream serve``), so a
job or a command that must touch that store asks the API to do it. Used by ``fitstream
sql`` and the erase job; the local stack and the benchmarks use :func:`api_url` too.
"""

from __future__ import annotations

import httpx

from fitstream.settings import FitStreamSettings


def api_url(settings: FitStreamSettings) -> str:
    return f"http://{settings.api.host}:{settings.api.port}"


def post_to_store_owner(settings: FitStreamSettings, path: str, token: str, timeout_s: float,
                        then: str, json: dict | None = None) -> tuple[int, dict]:
    """POST to the API process that owns embedded chdb (one process per data directory),
    as ``fitstream sql`` and the erase do; returns (status, body). An API that does not
    answer raises RuntimeError saying to start it, followed by ``then``."""
    url = f"{api_url(settings)}{path}"
    try:
        response = httpx.post(url, json=json, timeout=timeout_s,
                              headers={"Authorization": f"Bearer {token}"})
    except httpx.HTTPError as exc:
        raise RuntimeError(f"embedded ClickHouse is owned by the API process, which did not "
                           f"answer at {url} ({exc}); start it (fitstream serve, or make "
                           f"demo) {then}") from exc
    return response.status_code, response.json()
