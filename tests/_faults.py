"""Scripted fault-injecting HTTP server on 127.0.0.1 shared by the REST client tests.

A small ``http.server`` in a thread whose answers are scripted per request: statuses,
Retry-After, hangs, trickled bytes, connections cut mid-body, bad JSON, huge bodies. Real
sockets, no mocks. Used by tests/test_rest.py (requests) and tests/test_async_rest.py (httpx).
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson

TOKEN = "tok-3f9c2a7e1b5d4c6a8e0f.SECRET_value"
QUERY = 'SELECT id FROM "hub://org/ds"'
OK_BODY = {"message": "Query successful.", "tensors": ["id"], "data": [{"id": 1}]}

Action = Callable[["_Handler"], None]


# ---------------------------------------------------------------------- fault server


class Recorded:
    """One request as the server saw it."""

    def __init__(self, handler: _Handler, body: bytes) -> None:
        self.requestline = handler.requestline
        self.method = handler.command
        self.path = handler.path
        self.headers = dict(handler.headers.items())
        self.body = body
        self.client_port = handler.client_address[1]
        self.at = time.monotonic()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FaultServer

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        self.body = body
        self.server.record(Recorded(self, body))
        self.server.next_action(self)(self)

    def log_message(self, format: str, *args: Any) -> None:
        pass

    # ------------------------------------------------------------------ responses

    def send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        head = [f"HTTP/1.1 {status} X", f"Content-Length: {len(body)}"]
        head += [f"{key}: {value}" for key, value in (headers or {}).items()]
        self.wfile.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)


def reply(status: int = 200, document: object = OK_BODY, **headers: str) -> Action:
    def act(handler: _Handler) -> None:
        raw = document if isinstance(document, bytes) else orjson.dumps(document)
        handler.send(status, raw, {k.replace("_", "-"): v for k, v in headers.items()})

    return act


def echo(delay: float = 0.0) -> Action:
    """Answer with the query text as the single value (after ``delay`` seconds)."""

    def act(handler: _Handler) -> None:
        time.sleep(delay)
        query = orjson.loads(handler.body)["query"]
        if query.startswith("FAIL"):
            reply(400, {"message": f"bad: {query}"})(handler)
        else:
            reply(200, {"message": "ok", "tensors": ["q"], "data": [{"q": query}]})(handler)

    return act


def hang(seconds: float) -> Action:
    def act(handler: _Handler) -> None:
        time.sleep(seconds)
        reply()(handler)

    return act


def cut_mid_body(handler: _Handler) -> None:
    handler.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + b'{"message": "Qu')
    handler.close_connection = True
    handler.connection.shutdown(socket.SHUT_RDWR)


def close_without_answer(handler: _Handler) -> None:
    handler.close_connection = True
    handler.connection.shutdown(socket.SHUT_RDWR)


def chunked(total: int) -> Action:
    def act(handler: _Handler) -> None:
        handler.wfile.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        chunk = b"x" * 65536
        sent = 0
        try:
            while sent < total:
                handler.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                sent += len(chunk)
            handler.wfile.write(b"0\r\n\r\n")
        except OSError:
            pass  # the client hung up, as it should
        handler.close_connection = True

    return act


class FaultServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests: list[Recorded] = []
        self.script: list[Action] = []
        self.default: Action = reply()
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/api/query/v1"

    def record(self, request: Recorded) -> None:
        with self._lock:
            self.requests.append(request)

    def next_action(self, handler: _Handler) -> Action:
        with self._lock:
            return self.script.pop(0) if self.script else self.default

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients that hang up mid-response (as the tests make them) are expected


@contextlib.contextmanager
def running_fault_server() -> Iterator[FaultServer]:
    """A FaultServer serving on a thread for the duration of the ``with`` block."""
    httpd = FaultServer()
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield httpd
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def trickle(interval: float, *, headers_too: bool = True) -> Action:
    """Send a valid answer one byte every ``interval`` seconds (status line and headers too,
    unless ``headers_too`` is False); stops when the client hangs up."""

    def act(handler: _Handler) -> None:
        body = orjson.dumps(OK_BODY)
        head = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body)
        payload = head + body
        try:
            if not headers_too:
                handler.wfile.write(head)
                payload = body
            for byte in payload:
                handler.wfile.write(bytes([byte]))
                time.sleep(interval)
        except OSError:
            pass  # the client gave up, as it should
        handler.close_connection = True

    return act


class Sleeps(list[float]):
    """A sleep() that records instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


class AsyncSleeps(list[float]):
    """An async sleep() that records instead of waiting."""

    async def __call__(self, seconds: float) -> None:
        self.append(seconds)


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (at the time of the call)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
