"""Faust's monitor without its per-message bookkeeping.

Faust calls its monitor four times per message (in, stream in, stream out, out), and
the default one updates counters, timestamps and per-topic dicts each time. FitStream
counts in Prometheus per batch (fitstream/observability/metrics.py), and nothing reads
the monitor's per-message figures (Faust's web views, which do, are not served), so
those four calls do nothing here. Rebalance, commit and send hooks keep Faust's
behaviour.
"""

from __future__ import annotations

from typing import Any

from faust.sensors import Monitor


class QuietMonitor(Monitor):
    """A :class:`faust.sensors.Monitor` whose per-message and per-event hooks are no-ops."""

    def on_message_in(self, tp: Any, offset: int, message: Any) -> None:
        return None

    def on_stream_event_in(self, tp: Any, offset: int, stream: Any, event: Any) -> None:
        return None

    def on_stream_event_out(self, tp: Any, offset: int, stream: Any, event: Any,
                            state: Any = None) -> None:
        return None

    def on_message_out(self, tp: Any, offset: int, message: Any) -> None:
        return None

    def on_table_get(self, table: Any, key: Any) -> None:
        return None

    def on_table_set(self, table: Any, key: Any, value: Any) -> None:
        return None
