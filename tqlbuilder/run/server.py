"""A local stand-in for the REST API: ``POST /api/query/v1`` served from datasets on disk.

``python -m tqlbuilder.server --root DIR [--host 127.0.0.1] [--port 0] [--token T]`` runs
queries on the embedded engine (``FROM "hub://org/ds"`` reads ``DIR/org/ds``; other paths are
refused), so the REST client can be developed and tested offline.

Process model: queries run in supervised engine worker processes
([`EnginePool`][tqlbuilder.server.EnginePool]), so a query that crashes the engine is
answered 500 and its worker replaced, one that runs past ``query_timeout`` is killed and
answered 504, and one that passes ``memory_limit`` is killed and answered 500; other requests
keep being served. ``isolate=False`` runs queries in the server process instead (faster, no
protection).

Connections: one reactor thread waits on the listening socket and on every idle keep-alive
connection (``selectors``), watches arriving request heads with ``MSG_PEEK``, and hands a
connection to a bounded pool of handler threads only once its whole request head is in; the
connection comes back when its response is written. So idle connections, and clients that
trickle their headers, cost a file descriptor, not a thread. Limits (all settable, see
`QueryServer`): open connections (over it the longest-idle one is closed, or the newcomer
answered 503), queries in flight (over it 503 with ``Retry-After``), idle keep-alive time, time
to receive a request, header and body size (431/413). Framing that could smuggle a request
(several or malformed ``Content-Length``, any ``Transfer-Encoding``) is answered 400 and the
connection closed. Standard library HTTP parsing plus orjson; every response is written with a
single send on a TCP_NODELAY socket so keep-alive requests never wait on delayed ACKs.
"""

from __future__ import annotations

import os
import threading
from types import TracebackType

from tqlbuilder.run.isolation import (
    DEFAULT_MEMORY_LIMIT,
    DEFAULT_QUERY_TIMEOUT,
    EnginePool,
    default_workers,
)
from tqlbuilder.run.local import (
    LocalExecutor,
    resolve_root,
)
from tqlbuilder.run.server_config import (
    API_PATH,
    DEFAULT_IDLE_TIMEOUT,
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_HEADER_BYTES,
    DEFAULT_MAX_QUEUE,
    DEFAULT_REQUEST_TIMEOUT,
    _count,
    _Limits,
    _seconds,
)
from tqlbuilder.run.server_reactor import _HTTPServer

__all__ = [
    "API_PATH",
    "DEFAULT_IDLE_TIMEOUT",
    "DEFAULT_MAX_BODY_BYTES",
    "DEFAULT_MAX_CONNECTIONS",
    "DEFAULT_MAX_HEADER_BYTES",
    "DEFAULT_MAX_QUEUE",
    "DEFAULT_REQUEST_TIMEOUT",
    "QueryServer",
]


class QueryServer:
    """An HTTP server for ``POST /api/query/v1`` over the datasets under ``root``.

    Args:
        root: Directory holding ``<org>/<dataset>``; ``FROM "hub://org/ds"`` reads
            ``root/org/ds`` and nothing else.
        host: Address to bind (``127.0.0.1``).
        port: Port to bind (0: a free one; see [`port`][port] after [`bind()`][bind]).
        token: Required bearer token, compared in constant time. ``None``: any bearer token
            is accepted, but the ``Authorization: Bearer`` header is still required.
        isolate: Run queries in supervised worker processes (default). ``False`` runs them in
            the server process: faster, but an engine crash ends the server and a hang stalls
            every request (the engine holds the GIL while it hangs).
        workers: Queries that run at once: engine worker processes when isolated, else
            threads (default: the CPU count).
        query_timeout: Seconds a query may run before its worker is killed and the request
            answered 504 (default 30; ``None``: no limit; isolated only).
        memory_limit: Resident bytes a worker may use before it is killed and the request
            answered 500 (default 2 GiB; ``None``: no limit; isolated only, Linux).
        max_queue: Queries that may wait for a free worker; beyond ``workers + max_queue``
            queries in flight, requests are answered 503 with ``Retry-After: 1`` (default 64).
        max_connections: Open connections (default 512). A new connection over the cap closes
            the longest-idle keep-alive connection, or is answered 503 if none is idle.
        idle_timeout: Seconds a keep-alive connection may wait for its next request (5).
        request_timeout: Seconds a client has to send a whole request once it starts (10).
        max_header_bytes: Size of the request headers (default 16 KiB; over it: 431).
        max_body_bytes: Size of the request body (default 8 MiB; over it: 413).

    [`start()`][start] binds, starts the workers and serves on a background thread, returning
    once the port is known and the workers are ready; [`serve()`][serve] serves in the calling
    thread; [`shutdown()`][shutdown] stops either, from any thread. Use it as a context manager.

    Raises:
        InvalidValueError: ``root`` is not a directory, or a limit is not a positive number.

    Examples:
        >>> QueryServer(".", isolate=False).url
        'http://127.0.0.1:0/api/query/v1'
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        token: str | None = None,
        isolate: bool = True,
        workers: int | None = None,
        query_timeout: float | None = DEFAULT_QUERY_TIMEOUT,
        memory_limit: int | None = DEFAULT_MEMORY_LIMIT,
        max_queue: int = DEFAULT_MAX_QUEUE,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
        request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
        max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    ) -> None:
        self._root = resolve_root(root)
        self._isolate = bool(isolate)
        count = default_workers() if workers is None else _count("workers", workers)
        if self._isolate:  # validate the pool's limits now; the processes start on bind()
            EnginePool(count, query_timeout=query_timeout, memory_limit=memory_limit)
        self._limits = _Limits(
            workers=count,
            max_queue=_count("max_queue", max_queue, minimum=0),
            max_connections=_count("max_connections", max_connections),
            idle_timeout=_seconds("idle_timeout", idle_timeout),
            request_timeout=_seconds("request_timeout", request_timeout),
            max_header_bytes=_count("max_header_bytes", max_header_bytes),
            max_body_bytes=_count("max_body_bytes", max_body_bytes),
        )
        self._query_timeout = query_timeout
        self._memory_limit = memory_limit
        self._address = (host, port)
        self._token = token.encode() if token else None
        self._httpd: _HTTPServer | None = None
        self._pool: EnginePool | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ lifecycle

    def bind(self) -> None:
        """Open the listening socket and start the engine workers (idempotent).

        Afterwards ``port`` and ``url`` are known and the workers have loaded deeplake.

        Raises:
            OSError: The address cannot be bound.
            EngineNotInstalledError: deeplake is not installed.
        """
        with self._lock:
            if self._httpd is not None:
                return
            pool = None
            if self._isolate:
                pool = EnginePool(
                    self._limits.workers,
                    query_timeout=self._query_timeout,
                    memory_limit=self._memory_limit,
                )
            executor = LocalExecutor(self._root, isolate=pool if pool is not None else False)
            httpd = _HTTPServer(
                self._address,
                executor=executor,
                token=self._token,
                limits=self._limits,
                in_process=pool is None,
            )
            try:
                if pool is not None:
                    pool.start(wait=True)
            except BaseException:
                httpd.close()
                if pool is not None:
                    pool.close()
                raise
            self._httpd, self._pool = httpd, pool

    def start(self) -> QueryServer:
        """Bind and serve on a background daemon thread; returns when requests can be served."""
        self.bind()
        with self._lock:
            httpd = self._httpd
            if self._thread is None and httpd is not None:
                self._thread = threading.Thread(
                    target=httpd.serve_forever, name="tqlbuilder-server", daemon=True
                )
                self._thread.start()
        return self

    def serve(self) -> None:
        """Bind and serve in the calling thread until [`shutdown()`][shutdown] is called."""
        self.bind()
        httpd = self._httpd
        if httpd is not None:
            httpd.serve_forever()

    def shutdown(self) -> None:
        """Stop serving: close the listening socket and connections, kill the workers.

        Queries in flight are answered 503. Idempotent; returns within a few seconds.
        """
        with self._lock:
            httpd, self._httpd = self._httpd, None
            pool, self._pool = self._pool, None
            thread, self._thread = self._thread, None
        if httpd is None:
            return
        httpd.stop()
        if pool is not None:
            pool.close()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)
        httpd.close()

    def __enter__(self) -> QueryServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.shutdown()

    # ------------------------------------------------------------------ address

    @property
    def host(self) -> str:
        """The host the server listens on."""
        return self._address[0]

    @property
    def port(self) -> int:
        """The bound port (after [`bind()`][bind]/[`start()`][start]; the requested one before)."""
        httpd = self._httpd
        return self._address[1] if httpd is None else httpd.port

    @property
    def url(self) -> str:
        """``http://HOST:PORT/api/query/v1``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{API_PATH}"

    def __repr__(self) -> str:
        return f"QueryServer(root={self._root!r}, url={self.url!r}, isolate={self._isolate})"
