"""``python -m tqlbuilder.server``: the local server's command line."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Callable
from types import FrameType

from tqlbuilder.errors import (
    TQLError,
)
from tqlbuilder.run.isolation import (
    DEFAULT_MEMORY_LIMIT,
    DEFAULT_QUERY_TIMEOUT,
)
from tqlbuilder.run.local import (
    require_engine,
)
from tqlbuilder.run.server import QueryServer
from tqlbuilder.run.server_config import (
    DEFAULT_IDLE_TIMEOUT,
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_HEADER_BYTES,
    DEFAULT_MAX_QUEUE,
    DEFAULT_REQUEST_TIMEOUT,
)

__all__ = ["main"]

# ---------------------------------------------------------------------- command line


def _optional(kind: Callable[[str], float]) -> Callable[[str], float | None]:
    """argparse type: a positive number, or 0 for "no limit" (None)."""

    def parse(text: str) -> float | None:
        value = kind(text)
        if value < 0:
            raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
        return None if value == 0 else value

    return parse


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m tqlbuilder.server",
        description="Serve POST /api/query/v1 from Deep Lake datasets under --root.",
    )
    parser.add_argument("--root", required=True, help="directory holding <org>/<dataset>")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port to bind (0 = a free port)")
    parser.add_argument("--token", default=None, help="required bearer token (default: any)")
    parser.add_argument(
        "--no-isolate",
        dest="isolate",
        action="store_false",
        help="run queries in the server process (faster; an engine crash ends the server)",
    )
    parser.add_argument(
        "--workers", type=int, default=None, help="queries run at once (default: CPU count)"
    )
    parser.add_argument(
        "--query-timeout",
        type=_optional(float),
        default=DEFAULT_QUERY_TIMEOUT,
        help=f"seconds per query before it is killed, 0 = none ({DEFAULT_QUERY_TIMEOUT:g})",
    )
    parser.add_argument(
        "--memory-limit-mb",
        type=_optional(int),
        default=DEFAULT_MEMORY_LIMIT // 2**20,
        help=f"resident MiB per worker, 0 = none ({DEFAULT_MEMORY_LIMIT // 2**20})",
    )
    parser.add_argument(
        "--max-queue",
        type=int,
        default=DEFAULT_MAX_QUEUE,
        help=f"queries waiting for a worker before 503 ({DEFAULT_MAX_QUEUE})",
    )
    parser.add_argument(
        "--max-connections",
        type=int,
        default=DEFAULT_MAX_CONNECTIONS,
        help=f"open connections ({DEFAULT_MAX_CONNECTIONS})",
    )
    parser.add_argument(
        "--idle-timeout",
        type=float,
        default=DEFAULT_IDLE_TIMEOUT,
        help=f"seconds a keep-alive connection may idle ({DEFAULT_IDLE_TIMEOUT:g})",
    )
    parser.add_argument(
        "--request-timeout",
        type=float,
        default=DEFAULT_REQUEST_TIMEOUT,
        help=f"seconds to receive one request ({DEFAULT_REQUEST_TIMEOUT:g})",
    )
    parser.add_argument(
        "--max-header-bytes", type=int, default=DEFAULT_MAX_HEADER_BYTES, help="header size cap"
    )
    parser.add_argument(
        "--max-body-bytes", type=int, default=DEFAULT_MAX_BODY_BYTES, help="request size cap"
    )
    parser.add_argument("--log-level", default="WARNING", help="logging level (WARNING)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s %(name)s %(message)s")

    memory = args.memory_limit_mb
    try:
        if not args.isolate:
            require_engine()
        server = QueryServer(
            args.root,
            host=args.host,
            port=args.port,
            token=args.token,
            isolate=args.isolate,
            workers=args.workers,
            query_timeout=args.query_timeout,
            memory_limit=None if memory is None else int(memory) * 2**20,
            max_queue=args.max_queue,
            max_connections=args.max_connections,
            idle_timeout=args.idle_timeout,
            request_timeout=args.request_timeout,
            max_header_bytes=args.max_header_bytes,
            max_body_bytes=args.max_body_bytes,
        )
        server.bind()
    except (TQLError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.token is None:
        print("warning: no --token given; any bearer token is accepted", file=sys.stderr)

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    server.start()
    print(f"Serving on {server.url}", flush=True)
    while not stop.wait(1.0):
        pass
    server.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
