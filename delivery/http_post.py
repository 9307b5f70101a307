"""One JSON POST to a provider's HTTP endpoint, with its outcome classified for retries."""

from __future__ import annotations

from typing import Any

import httpx
from pydantic import SecretStr

from delivery.channel import DeliveryFailed

# Client errors that say "try again later" rather than "never".
RETRYABLE_4XX = frozenset({408, 409, 425, 429})


def post_delivery(client: httpx.Client, url: str, payload: dict[str, Any],
                  idempotency_key: str, authorization: SecretStr | None = None) -> None:
    """POST ``payload``; 2xx is success, 5xx/timeouts retry, other 4xx are permanent.

    ``authorization`` is the provider's ``Authorization`` header value (``Bearer …``);
    empty sends none."""
    headers = {"Idempotency-Key": idempotency_key}
    if authorization is not None and authorization.get_secret_value():
        headers["Authorization"] = authorization.get_secret_value()
    try:
        response = client.post(url, json=payload, headers=headers)
    except httpx.HTTPError as exc:
        raise DeliveryFailed(f"{type(exc).__name__}: {exc}") from exc
    if response.is_success:
        return
    detail = f"HTTP {response.status_code}: {response.text[:200]}"
    permanent = response.is_client_error and response.status_code not in RETRYABLE_4XX
    raise DeliveryFailed(detail, permanent=permanent)
