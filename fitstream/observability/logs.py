"""JSON logs through structlog: every line has timestamp, level, service and trace_id."""

from __future__ import annotations

import logging
import sys

import structlog
from structlog.contextvars import bind_contextvars, merge_contextvars


def configure_logging(service: str, level: str = "INFO") -> None:
    def add_service(_: object, __: str, event_dict: dict) -> dict:
        event_dict.setdefault("service", service)
        event_dict.setdefault("trace_id", None)
        return event_dict

    processors = [
        merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True, key="timestamp"),
        add_service,
        structlog.processors.format_exc_info,
        structlog.processors.JSONRenderer(),
    ]
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )
    # Libraries log through stdlib logging; route it through the same JSON renderer.
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *processors[3:]],
        foreign_pre_chain=[merge_contextvars, structlog.stdlib.add_log_level,
                           structlog.processors.TimeStamper(fmt="iso", utc=True,
                                                            key="timestamp")],
    ))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # httpx logs every request at INFO; the delivery worker's outcomes already say it.
    logging.getLogger("httpx").setLevel(logging.WARNING)


def bind_trace(trace_id: str) -> None:
    bind_contextvars(trace_id=trace_id)
