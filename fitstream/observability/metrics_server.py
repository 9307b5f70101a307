"""/metrics for the roles that have no web server of their own: ``fitstream sink``,
``lakehouse``, ``deliver`` and ``score`` (the API and the Faust processor serve it on
their own ports).

Lifecycle: :func:`serve_role_metrics` starts prometheus_client's HTTP server on a daemon
thread at the role's port from the settings (``metrics.<role>_port``; the scorer's is
``models.score_web_port``), bound to ``metrics.host``, before the role starts its work;
it lives as long as the process. A port already taken fails the start (OSError), rather
than running a role nobody can see.
"""

from __future__ import annotations

from typing import Literal

import structlog
from prometheus_client import start_http_server

from fitstream.settings import FitStreamSettings

Role = Literal["sink", "lakehouse", "delivery", "score"]


def role_metrics_port(settings: FitStreamSettings, role: Role) -> int:
    """The port a role serves /metrics on."""
    if role == "score":
        return settings.models.score_web_port
    return getattr(settings.metrics, f"{role}_port")


def serve_role_metrics(settings: FitStreamSettings, role: Role) -> tuple[str, int]:
    """Serve this process's metrics on the role's port; (host, port) it listens on."""
    server, _thread = start_http_server(role_metrics_port(settings, role),
                                        addr=settings.metrics.host)
    host, port = server.server_address[:2]
    structlog.get_logger("metrics").info("metrics_serving", role=role,
                                         url=f"http://{host}:{port}/metrics")
    return host, port
