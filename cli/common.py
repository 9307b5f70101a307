"""What the command modules share: the console (stderr, so stdout stays the output of a
command) and a role's log and trace configuration."""

from __future__ import annotations

from rich.console import Console

from fitstream.settings import get_settings

console = Console(stderr=True)


def configure_observability(service: str) -> None:
    """A role's logs and its traces (settings.tracing: off by default), once at its start.
    (Its metrics are served by the role itself: fitstream/observability/metrics_server.py.)"""
    from fitstream.observability.logs import configure_logging
    from fitstream.observability.tracing import configure as configure_tracing

    configure_logging(service, get_settings().log_level)
    configure_tracing(get_settings().tracing, service)
