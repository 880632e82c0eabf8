"""A minimal local stand-in for the query API, so that figure 3 measures the client, not an engine.

``POST`` (any path) answers a fixed small JSON body, optionally after sleeping ``--delay``
seconds (to model server time in the concurrency figure). ``GET /stats`` returns how many TCP
connections and POST requests the server has seen, which shows whether a client reuses its
connections. It is a ``ThreadingHTTPServer`` on 127.0.0.1 speaking HTTP/1.1 with keep-alive;
each response (status line, headers and body) goes out in a single write on a TCP_NODELAY
socket, so neither Nagle's algorithm nor delayed ACKs add latency to the numbers.

Run it on its own with ``python benchmarks/server.py --delay 0.02`` (prints its URL), or use
:func:`running_server`, which starts it in a subprocess so that its work does not compete with
the measured client for the GIL. Standard library only.
"""

from __future__ import annotations

import argparse
import http.client
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

__all__ = ["BODY", "ServerHandle", "main", "running_server"]

BODY = b'{"message":"Query successful.","tensors":["id"],"data":[{"id":1}]}'


def _response(body: bytes) -> bytes:
    head = (
        f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode("ascii") + body


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], delay: float) -> None:
        super().__init__(address, _Handler)
        self.delay = delay
        self.response = _response(BODY)
        self.lock = threading.Lock()
        self.connections = 0
        self.requests = 0


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive unless the client says "Connection: close"
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.server.lock:
            self.server.connections += 1

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        with self.server.lock:
            self.server.requests += 1
        if self.server.delay:
            time.sleep(self.server.delay)
        self.wfile.write(self.server.response)  # status line + headers + body in one write

    def do_GET(self) -> None:
        with self.server.lock:
            stats = {"connections": self.server.connections, "requests": self.server.requests}
        self.wfile.write(_response(json.dumps(stats).encode()))

    def log_message(self, format: str, *args: object) -> None:
        """Silence the per-request log line (it would cost more than the request)."""


@dataclass(frozen=True)
class ServerHandle:
    """A running server: its query URL and a way to read its counters."""

    host: str
    port: int

    @property
    def url(self) -> str:
        """The query endpoint, shaped like the real API's."""
        return f"http://{self.host}:{self.port}/api/query/v1"

    def stats(self) -> dict[str, int]:
        """Connections accepted and POST requests answered so far."""
        connection = http.client.HTTPConnection(self.host, self.port, timeout=10)
        try:
            connection.request("GET", "/stats")
            counters: dict[str, int] = json.loads(connection.getresponse().read())
        finally:
            connection.close()
        return counters


@contextmanager
def running_server(delay: float = 0.0) -> Iterator[ServerHandle]:
    """Start the server in a subprocess on a free port; stop it on exit."""
    process = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), "--port", "0", "--delay", str(delay)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        if not line.startswith("http://"):
            raise RuntimeError(f"benchmark server did not start (said {line!r})")
        host, _, port = line.removeprefix("http://").partition("/")[0].partition(":")
        yield ServerHandle(host, int(port))
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:  # pragma: no cover - a stuck server
            process.kill()
            process.wait()


def main(argv: list[str] | None = None) -> None:
    """Serve until killed; print the query URL first (the launcher reads it)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds to sleep per POST")
    args = parser.parse_args(argv)
    server = _Server(("127.0.0.1", args.port), args.delay)
    print(f"http://127.0.0.1:{server.server_address[1]}/api/query/v1", flush=True)
    try:
        server.serve_forever(poll_interval=0.1)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
