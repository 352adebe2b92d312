"""Structured logging: one JSON object a line, with the request id of the current request and,
when tracing is on, the trace and span ids of the call it was written in."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from pos_commons.request_context import request_id_var

TraceIds = Callable[[], tuple[str, str] | None]

_STANDARD_ATTRIBUTES = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "taskName",
}


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str, trace_ids: TraceIds | None = None) -> None:
        """`trace_ids`: the current span's ids (pos_commons.tracing.current_trace_ids), given
        only when tracing is on: a line written inside a traced call carries `traceId` and
        `spanId`, which find its trace."""
        super().__init__()
        self._service = service
        self._trace_ids = trace_ids

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "service": self._service,
            "logger": record.name,
            "requestId": request_id_var.get(),
            "message": record.getMessage(),
        }
        if self._trace_ids is not None and (ids := self._trace_ids()) is not None:
            entry["traceId"], entry["spanId"] = ids
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRIBUTES and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class TextFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__(
            f"%(asctime)s %(levelname)s {service} %(name)s [%(request_id)s] %(message)s"
        )

    def format(self, record: logging.LogRecord) -> str:
        record.request_id = request_id_var.get()
        return super().format(record)


def configure_logging(
    service: str, level: str, fmt: str, trace_ids: TraceIds | None = None
) -> None:
    """Routes every logger (uvicorn's too) through one stderr handler in the chosen format;
    JSON lines carry the trace ids `trace_ids` gives (tracing on)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter(service, trace_ids) if fmt == "json" else TextFormatter(service)
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
