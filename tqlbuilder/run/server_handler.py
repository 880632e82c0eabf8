"""One HTTP/1.1 request on the local server: framing checks, authorisation, the query, one write."""

from __future__ import annotations

import hmac
import os
import socket
import time
from email.utils import formatdate
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import orjson

from tqlbuilder import __version__
from tqlbuilder.errors import (
    EngineNotInstalledError,
    ExecutionError,
    QueryError,
    ServerError,
    TQLError,
)
from tqlbuilder.run.isolation import (
    EngineCrashedError,
    EngineMemoryError,
    EngineTimeoutError,
)
from tqlbuilder.run.local import (
    _resolve,
    _source_tokens,
)
from tqlbuilder.run.server_config import (
    _CONTENT_LENGTH,
    _DRAIN_LIMIT,
    _LINGER_BYTES,
    _LINGER_SECONDS,
    _WRITE_TIMEOUT,
    API_PATH,
    RETRY_AFTER_SECONDS,
    _log,
)
from tqlbuilder.text.lexer import TokenKind, lex

if TYPE_CHECKING:
    from tqlbuilder.run.server_reactor import _Connection, _HTTPServer

# ---------------------------------------------------------------------- one connection


class _Handler(BaseHTTPRequestHandler):
    """One connection's HTTP/1.1 parsing and answers: JSON in and out, one write per response.

    Built by `for_connection()` (not through ``__init__``, which would loop over the whole
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
