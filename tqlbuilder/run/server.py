"""A local stand-in for the REST API: ``POST /api/query/v1`` served from datasets on disk.

``python -m tqlbuilder.server --root DIR [--host 127.0.0.1] [--port 0] [--token T]`` runs
queries with :class:`~tqlbuilder.run.local.LocalExecutor` (``FROM "hub://org/ds"`` reads
``DIR/org/ds``; other paths are refused), so the REST client can be developed and tested
offline. Standard library HTTP (threaded, HTTP/1.1 keep-alive) plus orjson; every response
is written with a single send so keep-alive requests never wait on delayed ACKs.
"""

from __future__ import annotations

import argparse
import contextlib
import hmac
import logging
import os
import signal
import socket
import sys
import threading
import time
from email.utils import formatdate
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import TCPServer
from types import FrameType, TracebackType
from typing import Any
from urllib.parse import urlsplit

import orjson

from tqlbuilder import __version__
from tqlbuilder.errors import EngineNotInstalledError, ExecutionError, QueryError, TQLError
from tqlbuilder.run.local import LocalExecutor, require_engine

__all__ = ["API_PATH", "DEFAULT_MAX_BODY_BYTES", "QueryServer", "main"]

API_PATH = "/api/query/v1"
DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024
_DRAIN_LIMIT = 64 * 1024
_LINGER_BYTES = 64 * 1024 * 1024
_LINGER_SECONDS = 2.0
_log = logging.getLogger("tqlbuilder.server")


class QueryServer:
    """A threaded HTTP server for ``POST /api/query/v1`` over the datasets under ``root``.

    ``token`` set: requests must carry ``Authorization: Bearer <token>`` (compared in constant
    time). ``token`` None: any bearer token is accepted, but the header is still required.
    :meth:`start` binds and serves on a daemon thread and returns once the port is known;
    :meth:`serve` serves in the calling thread; :meth:`shutdown` stops either, from any thread.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        token: str | None = None,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    ) -> None:
        self._executor = LocalExecutor(root)
        self._address = (host, port)
        self._token = token.encode() if token else None
        self._max_body_bytes = max_body_bytes
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._serving = False
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ lifecycle

    def bind(self) -> None:
        """Open the listening socket (idempotent); afterwards ``port`` and ``url`` are known."""
        with self._lock:
            if self._httpd is None:
                self._httpd = _HTTPServer(
                    self._address,
                    executor=self._executor,
                    token=self._token,
                    max_body_bytes=self._max_body_bytes,
                )

    def start(self) -> QueryServer:
        """Bind and serve on a background daemon thread; returns when the port is known."""
        self.bind()
        with self._lock:
            if self._thread is None:
                self._serving = True
                self._thread = threading.Thread(
                    target=self._serve_loop, name="tqlbuilder-server", daemon=True
                )
                self._thread.start()
        return self

    def serve(self) -> None:
        """Bind and serve in the calling thread until :meth:`shutdown` is called elsewhere."""
        self.bind()
        with self._lock:
            self._serving = True
        self._serve_loop()

    def _serve_loop(self) -> None:
        httpd = self._httpd
        assert httpd is not None
        httpd.serve_forever(poll_interval=0.2)

    def shutdown(self) -> None:
        """Stop serving, close the listening socket and idle connections. Idempotent."""
        with self._lock:
            httpd, self._httpd = self._httpd, None
            serving, self._serving = self._serving, False
            thread, self._thread = self._thread, None
        if httpd is None:
            return
        if serving:
            httpd.shutdown()
        httpd.server_close()
        httpd.close_connections()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)

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
        """The bound port (after :meth:`bind`/:meth:`start`; the requested one before)."""
        httpd = self._httpd
        return self._address[1] if httpd is None else int(httpd.server_address[1])

    @property
    def url(self) -> str:
        """``http://HOST:PORT/api/query/v1``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{API_PATH}"

    def __repr__(self) -> str:
        return f"QueryServer(root={self._executor.root!r}, url={self.url!r})"


class _HTTPServer(ThreadingHTTPServer):
    """ThreadingHTTPServer with daemon threads, its settings, and a registry of connections."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(
        self,
        address: tuple[str, int],
        *,
        executor: LocalExecutor,
        token: bytes | None,
        max_body_bytes: int,
    ) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.executor = executor
        self.token = token
        self.max_body_bytes = max_body_bytes
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls socket.getfqdn(), a reverse DNS lookup; skip it.
        TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Log instead of printing to stderr; a client hanging up is routine."""
        error = sys.exc_info()[1]
        if isinstance(error, (ConnectionError, TimeoutError)):
            _log.debug("connection from %s ended: %r", client_address, error)
        else:
            _log.exception("error while serving %s", client_address)

    def track(self, connection: socket.socket, open_: bool) -> None:
        with self._connections_lock:
            if open_:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    def close_connections(self) -> None:
        """Stop reading on every open connection, so idle keep-alive handlers end."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RD)


class _Handler(BaseHTTPRequestHandler):
    """One connection: HTTP/1.1 keep-alive, JSON in and out, one write per response."""

    protocol_version = "HTTP/1.1"
    server_version = f"tqlbuilder/{__version__}"
    timeout = 120  # seconds an idle keep-alive connection (or a slow body) may take
    server: _HTTPServer
    _body_pending = False  # a request body has not been read (yet)

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.track(self.connection, True)

    def finish(self) -> None:
        self.server.track(self.connection, False)
        super().finish()

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
        request = _parse_request(body)
        if isinstance(request, str):
            return self._reply(400, {"message": request})
        query, as_list = request
        return self._run(query, as_list)

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
        if self.headers.get("Transfer-Encoding"):
            return self._reply(
                411,
                {"message": "send a Content-Length; chunked bodies are not accepted"},
                close=True,
            )
        declared = (self.headers.get("Content-Length") or "").strip()
        if not declared:
            return self._reply(411, {"message": "Content-Length is required"}, close=True)
        if not declared.isdigit():
            return self._reply(400, {"message": "invalid Content-Length"}, close=True)
        length = int(declared)
        if length > self.server.max_body_bytes:
            return self._reply(
                413,
                {"message": f"request body over {self.server.max_body_bytes} bytes"},
                close=True,
            )
        body = self.rfile.read(length)
        self._body_pending = False
        if len(body) < length:  # the client went away mid-body
            self.close_connection = True
            return 400
        return body

    def _run(self, query: str, as_list: bool) -> int:
        try:
            result = self.server.executor.execute(query, as_list=as_list)
        except QueryError as error:
            return self._reply(400, {"message": error.server_message or str(error)})
        except (ExecutionError, EngineNotInstalledError) as error:
            return self._reply(500, {"message": str(error)})
        except Exception:
            _log.exception("query failed unexpectedly")
            return self._reply(500, {"message": "internal server error"})
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
        declared = (self.headers.get("Content-Length") or "0").strip()
        if not declared.isdigit() or int(declared) > _DRAIN_LIMIT:
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
        self.wfile.write(head if self.command == "HEAD" else head + body)
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
        _log.debug("%s %s", self.address_string(), format % args)


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
        "--max-body-bytes", type=int, default=DEFAULT_MAX_BODY_BYTES, help="request size cap"
    )
    parser.add_argument("--log-level", default="WARNING", help="logging level (WARNING)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s %(name)s %(message)s")

    try:
        require_engine()
        server = QueryServer(
            args.root,
            host=args.host,
            port=args.port,
            token=args.token,
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
