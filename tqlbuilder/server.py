"""``python -m tqlbuilder.server``: the local REST server's command line and public names.

The server itself lives in `tqlbuilder.run.server`; this module is the stable entry point
(``python -m tqlbuilder.server --root DIR``) and the import path documented for
[`QueryServer`][tqlbuilder.server.QueryServer] and [`EnginePool`][tqlbuilder.server.EnginePool].
"""

from __future__ import annotations

import sys

from tqlbuilder.run.isolation import (
    EngineCrashedError,
    EngineMemoryError,
    EnginePool,
    EngineTimeoutError,
)
from tqlbuilder.run.server import (
    API_PATH,
    DEFAULT_IDLE_TIMEOUT,
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_HEADER_BYTES,
    DEFAULT_MAX_QUEUE,
    DEFAULT_REQUEST_TIMEOUT,
    QueryServer,
)
from tqlbuilder.run.server_cli import main

__all__ = [
    "API_PATH",
    "DEFAULT_IDLE_TIMEOUT",
    "DEFAULT_MAX_BODY_BYTES",
    "DEFAULT_MAX_CONNECTIONS",
    "DEFAULT_MAX_HEADER_BYTES",
    "DEFAULT_MAX_QUEUE",
    "DEFAULT_REQUEST_TIMEOUT",
    "EngineCrashedError",
    "EngineMemoryError",
    "EnginePool",
    "EngineTimeoutError",
    "QueryServer",
    "main",
]

if __name__ == "__main__":
    sys.exit(main())
