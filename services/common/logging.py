"""structlog configuration: one JSON event per line with request context bound per call, and the
trace id of the current span while tracing is on."""

from __future__ import annotations

import logging
import sys
from typing import TextIO

import structlog

from services.common.tracing import add_trace_ids


def configure_logging(
    service: str, level: str = "info", fmt: str = "json", cache: bool = True, stream: TextIO | None = None
) -> None:
    """Configure structlog and the standard library once, at process start.

    `cache=False` keeps loggers reconfigurable, which `structlog.testing.capture_logs` needs.
    """
    numeric_level = logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
    # The console renderer draws tracebacks itself; JSON wants them as structured data. Neither
    # shows a frame's local variables: they hold requests, and a tenant's data must not reach a log.
    if fmt == "console":
        rendering = [structlog.dev.ConsoleRenderer(exception_formatter=structlog.dev.plain_traceback)]
    else:
        tracebacks = structlog.tracebacks.ExceptionDictTransformer(show_locals=False)
        rendering = [structlog.processors.ExceptionRenderer(tracebacks), structlog.processors.JSONRenderer()]
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            add_trace_ids,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            *rendering,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric_level),
        logger_factory=structlog.PrintLoggerFactory(stream or sys.stderr),
        cache_logger_on_first_use=cache,
    )
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(service=service)
    logging.basicConfig(level=max(numeric_level, logging.WARNING), stream=sys.stderr)
