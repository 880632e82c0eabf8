"""The local server's limits and defaults (see `QueryServer`)."""

from __future__ import annotations

import logging
import re
from typing import Any

from tqlbuilder.errors import (
    InvalidValueError,
)

__all__ = [
    "API_PATH",
    "DEFAULT_IDLE_TIMEOUT",
    "DEFAULT_MAX_BODY_BYTES",
    "DEFAULT_MAX_CONNECTIONS",
    "DEFAULT_MAX_HEADER_BYTES",
    "DEFAULT_MAX_QUEUE",
    "DEFAULT_REQUEST_TIMEOUT",
    "RETRY_AFTER_SECONDS",
]

API_PATH = "/api/query/v1"
DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024
DEFAULT_MAX_HEADER_BYTES = 16 * 1024
DEFAULT_MAX_CONNECTIONS = 512
DEFAULT_MAX_QUEUE = 64
DEFAULT_IDLE_TIMEOUT = 5.0
DEFAULT_REQUEST_TIMEOUT = 10.0
RETRY_AFTER_SECONDS = 1
_WRITE_TIMEOUT = 30.0  # seconds one response may take to send (a client that stops reading)
_MAX_REJECTING = 64  # connections over the cap being answered 503 at once; more are dropped
_DRAIN_LIMIT = 64 * 1024
_LINGER_BYTES = 64 * 1024 * 1024
_LINGER_SECONDS = 2.0
_TICK = 0.1  # seconds between the reactor's timeout sweeps
_CONTENT_LENGTH = re.compile(r"[0-9]{1,18}")
_log = logging.getLogger("tqlbuilder.server")


class _Limits:
    __slots__ = (
        "idle_timeout",
        "max_body_bytes",
        "max_connections",
        "max_header_bytes",
        "max_queue",
        "request_timeout",
        "workers",
    )

    def __init__(self, **values: Any) -> None:
        for name, value in values.items():
            setattr(self, name, value)

    workers: int
    max_queue: int
    max_connections: int
    idle_timeout: float
    request_timeout: float
    max_header_bytes: int
    max_body_bytes: int


def _count(name: str, value: int, *, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InvalidValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return value


def _seconds(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1e9:
        raise InvalidValueError(f"{name} must be a positive number of seconds, got {value!r}")
    return float(value)
