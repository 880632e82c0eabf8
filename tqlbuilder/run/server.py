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
connection comes back when its response is written. So idle connections, and clients that trickle
their headers, cost a file descriptor, not a thread. Limits (all settable, see `QueryServer`): open
connections (over it the longest-idle one is closed, or the newcomer answered 503), queries in
flight (over it 503 with ``Retry-After``), idle keep-alive time, time to receive a request, header
and body size (431/413). Framing that could smuggle a request (several or malformed
``Content-Length``, any ``Transfer-Encoding``) is answered 400 and the connection closed. Standard
library HTTP parsing plus orjson; every response is written with a single send on a TCP_NODELAY
socket so keep-alive requests never wait on delayed ACKs.
"""

from __future__ import annotations

import argparse
import contextlib
import hmac
import logging
import os
import queue
import re
import selectors
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from email.utils import formatdate
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from types import FrameType, TracebackType
from typing import Any
from urllib.parse import urlsplit

import orjson

from tqlbuilder import __version__
from tqlbuilder.errors import (
    EngineNotInstalledError,
    ExecutionError,
    InvalidValueError,
    QueryError,
    ServerError,
    TQLError,
)
from tqlbuilder.run.isolation import (
    DEFAULT_MEMORY_LIMIT,
    DEFAULT_QUERY_TIMEOUT,
    EngineCrashedError,
    EngineMemoryError,
    EnginePool,
    EngineTimeoutError,
    default_workers,
)
from tqlbuilder.run.local import (
    LocalExecutor,
    _resolve,
    _source_tokens,
    require_engine,
    resolve_root,
)
from tqlbuilder.text.lexer import TokenKind, lex

__all__ = [
    "API_PATH",
    "DEFAULT_IDLE_TIMEOUT",
    "DEFAULT_MAX_BODY_BYTES",
    "DEFAULT_MAX_CONNECTIONS",
    "DEFAULT_MAX_HEADER_BYTES",
    "DEFAULT_MAX_QUEUE",
    "DEFAULT_REQUEST_TIMEOUT",
    "QueryServer",
    "main",
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


class QueryServer:
    """An HTTP server for ``POST /api/query/v1`` over the datasets under ``root``.

    Args:
        root: Directory holding ``<org>/<dataset>``; ``FROM "hub://org/ds"`` reads
            ``root/org/ds`` and nothing else.
        host: Address to bind (``127.0.0.1``).
        port: Port to bind (0: a free one; see [`port`][] after [`bind()`][bind]).
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


# ---------------------------------------------------------------------- connections


class _Connection:
    """One accepted socket, its handler, and the reactor's bookkeeping for it."""

    __slots__ = ("closed", "deadline", "handler", "idle_since", "reject", "sock")

    def __init__(self, sock: socket.socket, handler: _Handler) -> None:
        self.sock = sock
        self.handler = handler
        self.idle_since = 0.0
        self.deadline: float | None = None  # while a request is being received
        self.closed = False
        self.reject = False  # over the connection cap: answer 503 and close


class _HTTPServer:
    """The listening socket, the reactor loop, the handler threads and the admission gates."""

    def __init__(
        self,
        address: tuple[str, int],
        *,
        executor: LocalExecutor,
        token: bytes | None,
        limits: _Limits,
        in_process: bool,
    ) -> None:
        family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.socket = socket.create_server(address, family=family, backlog=128)
        self.socket.setblocking(False)
        self.port = int(self.socket.getsockname()[1])
        self.executor = executor
        self.token = token
        self.limits = limits
        self.admission = threading.BoundedSemaphore(limits.workers + limits.max_queue)
        # in-process: at most `workers` engine calls at once (isolated: the pool's workers)
        self.engine_gate = threading.BoundedSemaphore(limits.workers) if in_process else None
        self.rejecting = threading.BoundedSemaphore(_MAX_REJECTING)
        self._stopping = threading.Event()
        self._stopped = threading.Event()
        self._stopped.set()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_w.setblocking(False)
        self._returned: queue.SimpleQueue[_Connection] = queue.SimpleQueue()
        self._work: queue.SimpleQueue[_Connection | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._open: set[_Connection] = set()  # reactor thread only
        self._idle: dict[_Connection, None] = {}  # reactor thread only; oldest first
        self._busy: set[_Connection] = set()  # reactor thread only; in a handler's hands
        self._partial: dict[_Connection, None] = {}  # reactor thread only; head not all in
        self._peek_bytes = 65537 + limits.max_header_bytes + 4  # request line + headers + CRLFs

    # -------------------------------------------------------------- reactor

    def serve_forever(self) -> None:
        """Accept, watch idle connections and dispatch requests until [`stop()`][stop]."""
        self._stopped.clear()
        count = self.limits.workers + self.limits.max_queue + 16
        self._threads = [
            threading.Thread(target=self._handler_loop, name=f"tqlbuilder-http-{i}", daemon=True)
            for i in range(count)
        ]
        for thread in self._threads:
            thread.start()
        selector = selectors.DefaultSelector()
        try:
            selector.register(self.socket, selectors.EVENT_READ)
            selector.register(self._wake_r, selectors.EVENT_READ)
            next_sweep = 0.0
            while not self._stopping.is_set():
                events = selector.select(timeout=_TICK)
                now = time.monotonic()
                for key, _ in events:
                    if key.fileobj is self.socket:
                        self._accept(selector, now)
                    elif key.fileobj is self._wake_r:
                        with contextlib.suppress(OSError):
                            self._wake_r.recv(4096)
                    else:
                        self._arriving(selector, key.data, now)
                self._take_back(selector, now)
                if now >= next_sweep:
                    next_sweep = now + _TICK
                    self._sweep(selector, now)
        finally:
            selector.close()
            self._close_all()
            for _ in self._threads:
                self._work.put(None)
            self._stopped.set()

    def _accept(self, selector: selectors.BaseSelector, now: float) -> None:
        for _ in range(64):
            try:
                sock, address = self.socket.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as error:  # e.g. out of file descriptors: try again on the next tick
                _log.warning("accept failed: %r", error)
                return
            sock.setblocking(True)
            connection = _Connection(sock, _Handler.for_connection(sock, address, self))
            if len(self._open) >= self.limits.max_connections:
                if self._idle:  # make room: the longest-idle keep-alive connection goes
                    oldest = next(iter(self._idle))
                    self._forget(selector, oldest)
                    self._close(oldest)
                elif self.rejecting.acquire(blocking=False):
                    connection.reject = True  # take its request, answer 503, close
                    connection.deadline = now + self.limits.request_timeout
                    self._open.add(connection)
                    self._partial[connection] = None
                    continue
                else:
                    self._close(connection)
                    continue
            self._open.add(connection)
            self._make_idle(selector, connection, now)

    def _make_idle(self, selector: selectors.BaseSelector, conn: _Connection, now: float) -> None:
        conn.idle_since = now
        conn.deadline = None
        self._idle[conn] = None
        selector.register(conn.sock, selectors.EVENT_READ, conn)

    def _forget(self, selector: selectors.BaseSelector, conn: _Connection) -> None:
        self._idle.pop(conn, None)
        self._busy.discard(conn)
        self._open.discard(conn)
        if self._partial.pop(conn, 0) is None and conn.reject:
            self.rejecting.release()
        with contextlib.suppress(KeyError, ValueError):
            selector.unregister(conn.sock)

    def _arriving(self, selector: selectors.BaseSelector, conn: _Connection, now: float) -> None:
        """An idle connection became readable: its request head is on the way."""
        selector.unregister(conn.sock)
        self._idle.pop(conn, None)
        conn.deadline = now + self.limits.request_timeout
        self._partial[conn] = None
        self._check_head(selector, conn)

    def _check_head(self, selector: selectors.BaseSelector, conn: _Connection) -> None:
        """Hand ``conn`` to a handler thread once its whole request head has arrived.

        The head is looked at with ``MSG_PEEK`` (nothing is consumed), so a client trickling
        its headers holds no thread, only this check on every tick until ``request_timeout``.
        """
        try:
            data = conn.sock.recv(self._peek_bytes, socket.MSG_PEEK | socket.MSG_DONTWAIT)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:  # the client closed (or reset) the connection
            self._forget(selector, conn)
            self._close(conn)
        elif b"\r\n\r\n" in data or b"\n\n" in data or len(data) >= self._peek_bytes:
            del self._partial[conn]
            self._busy.add(conn)
            self._work.put(conn)

    def _take_back(self, selector: selectors.BaseSelector, now: float) -> None:
        while True:
            try:
                conn = self._returned.get_nowait()
            except queue.Empty:
                return
            self._busy.discard(conn)
            if conn.closed:
                self._open.discard(conn)
            else:
                self._make_idle(selector, conn, now)

    def _sweep(self, selector: selectors.BaseSelector, now: float) -> None:
        """Close connections idle too long; cut off requests that take too long to arrive."""
        limit = now - self.limits.idle_timeout
        while self._idle:
            oldest = next(iter(self._idle))
            if oldest.idle_since > limit:
                break
            self._forget(selector, oldest)
            self._close(oldest)
        for conn in list(self._partial):
            if conn.deadline is not None and now > conn.deadline:
                self._forget(selector, conn)
                self._close(conn)
            else:
                self._check_head(selector, conn)
        for conn in self._busy:
            deadline = conn.deadline
            if deadline is not None and now > deadline:
                conn.deadline = None
                with contextlib.suppress(OSError):
                    conn.sock.shutdown(socket.SHUT_RDWR)  # its handler's read fails at once

    def _close(self, conn: _Connection) -> None:
        """Close for real: the handler's file objects hold the socket open until they close."""
        conn.closed = True
        with contextlib.suppress(OSError):
            conn.sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(Exception):
            conn.handler.finish()
        with contextlib.suppress(OSError):
            conn.sock.close()

    def _close_all(self) -> None:
        with contextlib.suppress(OSError):
            self.socket.close()
        for conn in [*self._idle, *self._partial]:
            self._close(conn)
        self._idle.clear()
        self._partial.clear()
        for conn in list(self._busy):  # their handlers finish (or fail) and close them
            with contextlib.suppress(OSError):
                conn.sock.shutdown(socket.SHUT_RD)

    # -------------------------------------------------------------- handler threads

    def _handler_loop(self) -> None:
        while True:
            conn = self._work.get()
            if conn is None:
                return
            try:
                self._serve(conn)
            except Exception:  # pragma: no cover - a bug; never let it kill the thread
                _log.exception("unexpected error while serving a connection")
                conn.handler.close_connection = True
            if conn.handler.close_connection or self._stopping.is_set():
                self._close(conn)
            self._returned.put(conn)
            with contextlib.suppress(OSError):
                self._wake_w.send(b"\0")

    def _serve(self, conn: _Connection) -> None:
        """Answer the requests waiting on ``conn`` (one, or several pipelined)."""
        handler = conn.handler
        handler.conn_state = conn
        if conn.reject:
            try:
                handler.reject_next_request()
            finally:
                self.rejecting.release()
            return
        while True:
            handler.close_connection = True
            try:
                handler.handle_one_request()
            except (ConnectionError, TimeoutError, OSError) as error:
                _log.debug("connection ended: %r", error)
                handler.close_connection = True
            if handler.close_connection or self._stopping.is_set() or not handler.has_input():
                return
            conn.deadline = time.monotonic() + self.limits.request_timeout

    # -------------------------------------------------------------- control

    def stop(self) -> None:
        """Ask the reactor to stop and wait (up to 5 s) until it has."""
        self._stopping.set()
        with contextlib.suppress(OSError):
            self._wake_w.send(b"\0")
        self._stopped.wait(5)

    def close(self) -> None:
        """Release the sockets (after [`stop()`][stop], or when never served)."""
        self._stopping.set()
        with contextlib.suppress(OSError):
            self.socket.close()
        if self._stopped.wait(5):
            self._wake_r.close()
            self._wake_w.close()


# ---------------------------------------------------------------------- one connection


class _Handler(BaseHTTPRequestHandler):
    """One connection's HTTP/1.1 parsing and answers: JSON in and out, one write per response.

    Built by ``for_connection()`` (not through ``__init__``, which would loop over the whole
    connection): the server calls ``handle_one_request`` each time a request arrives.
    """

    protocol_version = "HTTP/1.1"
    server_version = f"tqlbuilder/{__version__}"
    server: _HTTPServer  # type: ignore[assignment]
    conn_state: _Connection | None = None
    _body_pending = False  # a request body has not been read (yet)

    @classmethod
    def for_connection(cls, sock: socket.socket, address: Any, server: _HTTPServer) -> _Handler:
        handler = cls.__new__(cls)
        handler.request = sock
        handler.client_address = address
        handler.server = server
        handler.timeout = server.limits.request_timeout  # type: ignore[misc]
        handler.close_connection = True
        handler.setup()
        return handler

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def has_input(self) -> bool:
        """Whether a next request is already buffered or readable (never blocks)."""
        try:
            self.connection.setblocking(False)
            try:
                return bool(self.rfile.peek(1))  # type: ignore[attr-defined]
            finally:
                self.connection.settimeout(self.timeout)
        except (OSError, ValueError):
            return False

    def reject_next_request(self) -> None:
        """Over the connection cap: read one request line and headers, answer 503, close."""
        self.close_connection = True
        self.raw_requestline = self.rfile.readline(65537)
        if self.raw_requestline and self.parse_request():
            self._body_pending = True
            self._reply(
                503,
                {"message": "server is at its connection limit; retry shortly"},
                close=True,
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            )

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def do_OPTIONS(self) -> None:
        self._dispatch("OPTIONS")

    # ------------------------------------------------------------------ routing

    def _dispatch(self, method: str) -> None:
        started = time.perf_counter()
        self._body_pending = bool(
            self.headers.get("Transfer-Encoding")
            or (self.headers.get("Content-Length") or "0").strip() not in ("", "0")
        )
        status = self._route(method)
        _log.debug(
            "%s %s -> %d in %.1f ms",
            method,
            self.path,
            status,
            (time.perf_counter() - started) * 1e3,
        )

    def _route(self, method: str) -> int:
        refusal = self._framing_error()
        if refusal is not None:
            return self._reply(400, {"message": refusal}, close=True)
        header_bytes = sum(len(name) + len(value) + 4 for name, value in self.headers.items())
        if header_bytes > self.server.limits.max_header_bytes:
            return self._reply(
                431,
                {"message": f"request headers over {self.server.limits.max_header_bytes} bytes"},
                close=True,
            )
        if urlsplit(self.path).path != API_PATH:
            return self._reply(404, {"message": f"no such endpoint: {self.path}"}, drain=True)
        if method != "POST":
            return self._reply(
                405,
                {"message": f"method {method} not allowed; use POST"},
                drain=True,
                headers={"Allow": "POST"},
            )
        if not self._authorised():
            return self._reply(
                401,
                {"message": "missing or invalid bearer token"},
                drain=True,
                headers={"WWW-Authenticate": 'Bearer realm="tqlbuilder"'},
            )
        body = self._read_body()
        if isinstance(body, int):
            return body
        if self.conn_state is not None:
            self.conn_state.deadline = None  # the request is in: the query's own limit applies
        request = _parse_request(body)
        if isinstance(request, str):
            return self._reply(400, {"message": request})
        query, as_list = request
        return self._run(query, as_list)

    def _framing_error(self) -> str | None:
        """Why the body's length is ambiguous (request smuggling shapes), or None."""
        if self.headers.get_all("Transfer-Encoding"):
            return "Transfer-Encoding is not supported; send the body with one Content-Length"
        lengths = self.headers.get_all("Content-Length") or []
        if len(lengths) > 1:
            return "several Content-Length headers; send exactly one"
        if lengths and not _CONTENT_LENGTH.fullmatch(lengths[0].strip(" \t")):
            return f"invalid Content-Length {lengths[0][:40]!r}; send a decimal byte count"
        return None

    def _authorised(self) -> bool:
        scheme, _, credentials = (self.headers.get("Authorization") or "").partition(" ")
        credentials = credentials.strip()
        if scheme.lower() != "bearer" or not credentials:
            return False
        expected = self.server.token
        if expected is None:
            return True
        return hmac.compare_digest(credentials.encode("latin-1", "replace"), expected)

    def _read_body(self) -> bytes | int:
        """The request body, or the status already answered (length missing, too big...)."""
        declared = (self.headers.get("Content-Length") or "").strip(" \t")
        if not declared:
            return self._reply(411, {"message": "Content-Length is required"}, close=True)
        length = int(declared)  # _framing_error checked it
        limit = self.server.limits.max_body_bytes
        if length > limit:
            return self._reply(413, {"message": f"request body over {limit} bytes"}, close=True)
        body = self.rfile.read(length)
        self._body_pending = False
        if len(body) < length:  # the client went away (or was cut off) mid-body
            self.close_connection = True
            return 400
        return body

    def _run(self, query: str, as_list: bool) -> int:
        server = self.server
        missing = _missing_dataset(query, server.executor.root)
        if missing is not None:
            return self._reply(404, {"message": f"dataset {missing} does not exist"})
        if not server.admission.acquire(blocking=False):
            return self._reply(
                503,
                {"message": "server is busy: too many queries in flight; retry shortly"},
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            )
        try:
            result = _execute(server, query, as_list)
        except QueryError as error:
            return self._reply(400, {"message": error.server_message or str(error)})
        except EngineTimeoutError as error:
            return self._reply(504, {"message": str(error)})
        except (EngineCrashedError, EngineMemoryError) as error:
            return self._reply(500, {"message": str(error)})
        except ServerError as error:  # the pool is closing: the server is shutting down
            return self._reply(
                503,
                {"message": f"server is shutting down: {error}"},
                close=True,
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            )
        except (ExecutionError, EngineNotInstalledError) as error:
            return self._reply(500, {"message": str(error)})
        except Exception:
            _log.exception("query failed unexpectedly")
            return self._reply(500, {"message": "internal server error"})
        finally:
            server.admission.release()
        try:
            payload = result.to_response_body(as_list=as_list)
        except (TypeError, orjson.JSONEncodeError) as error:
            return self._reply(500, {"message": f"result cannot be sent as JSON: {error}"})
        return self._send(200, payload)

    # ------------------------------------------------------------------ responses

    def _reply(
        self,
        status: int,
        document: dict[str, Any],
        *,
        drain: bool = False,
        close: bool = False,
        headers: dict[str, str] | None = None,
    ) -> int:
        """Answer with a JSON object; a request body we did not read is drained or dropped."""
        if drain and not close:
            close = not self._drain()
        return self._send(status, orjson.dumps(document), close=close, headers=headers)

    def _drain(self) -> bool:
        """Read and discard a small unread body so the connection stays usable."""
        if self.headers.get("Transfer-Encoding"):
            return False
        declared = (self.headers.get("Content-Length") or "0").strip(" \t")
        if not _CONTENT_LENGTH.fullmatch(declared) or int(declared) > _DRAIN_LIMIT:
            return False
        length = int(declared)
        drained = not length or len(self.rfile.read(length)) == length
        self._body_pending = not drained
        return drained

    def _send(
        self,
        status: int,
        body: bytes,
        *,
        close: bool = False,
        headers: dict[str, str] | None = None,
    ) -> int:
        """Write status line, headers and body with one ``sendall`` (no delayed-ACK stall)."""
        if close:
            self.close_connection = True
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = ""
        lines = [
            f"HTTP/1.1 {status} {phrase}",
            f"Server: {self.server_version}",
            f"Date: {formatdate(usegmt=True)}",
            "Content-Type: application/json",
            f"Content-Length: {len(body)}",
        ]
        if self.close_connection:
            lines.append("Connection: close")
        lines.extend(f"{name}: {value}" for name, value in (headers or {}).items())
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        self.connection.settimeout(_WRITE_TIMEOUT)  # total time for the whole sendall
        try:
            self.wfile.write(head if self.command == "HEAD" else head + body)
        finally:
            self.connection.settimeout(self.timeout)
        if self.close_connection and self._body_pending:
            self._linger()
        return status

    def _linger(self) -> None:
        """Half-close, then discard what the client is still sending (bounded in bytes and time).

        Closing a socket with unread input sends a reset, which can destroy the answer (a 413)
        before the client reads it; a lingering close lets the client see it.
        """
        self._body_pending = False
        budget = _LINGER_BYTES
        deadline = time.monotonic() + _LINGER_SECONDS
        try:
            self.connection.shutdown(socket.SHUT_WR)
            while budget > 0 and time.monotonic() < deadline:
                self.connection.settimeout(max(0.01, deadline - time.monotonic()))
                chunk = self.connection.recv(65536)
                if not chunk:
                    break
                budget -= len(chunk)
        except OSError:
            pass

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Malformed requests (bad request line, unknown method...) also get JSON, one write."""
        try:
            phrase = HTTPStatus(code).phrase
        except ValueError:
            phrase = f"HTTP {code}"
        self._send(code, orjson.dumps({"message": message or phrase}), close=True)

    def log_message(self, format: str, *args: Any) -> None:
        _log.debug("%s", format % args)


def _execute(server: _HTTPServer, query: str, as_list: bool) -> Any:
    gate = server.engine_gate
    if gate is None:
        return server.executor.execute(query, as_list=as_list)
    with gate:
        return server.executor.execute(query, as_list=as_list)


def _missing_dataset(query: str, root: str | None) -> str | None:
    """The first ``hub://`` source of ``query`` whose directory is missing under ``root``.

    Paths that are not allowed at all return None here: the executor refuses them (400).
    """
    if root is None:
        return None
    try:
        for token in _source_tokens(lex(query)):
            value = token.value
            if not (token.kind is TokenKind.QUOTED_IDENTIFIER and isinstance(value, str)):
                continue
            if not os.path.isdir(_resolve(value, root, query)):
                return value
    except TQLError:
        return None
    return None


def _parse_request(body: bytes) -> tuple[str, bool] | str:
    """``(query, as_list)`` from a request body, or the reason it is invalid."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        return "request body is not valid JSON"
    if not isinstance(document, dict):
        return "request body must be a JSON object"
    query = document.get("query")
    if not isinstance(query, str) or not query.strip():
        return "'query' must be a non-empty string"
    as_list = document.get("as_list", True)
    if not isinstance(as_list, bool):
        return "'as_list' must be true or false"
    return query, as_list


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
