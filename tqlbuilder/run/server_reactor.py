"""The local server's connection reactor: one selector thread, a bounded pool of handler threads.

Idle keep-alive connections and clients that trickle their request heads hold a file
descriptor, not a thread; a connection goes to a handler thread once its whole head is in.
"""

from __future__ import annotations

import contextlib
import queue
import selectors
import socket
import threading
import time

from tqlbuilder.run.local import (
    LocalExecutor,
)
from tqlbuilder.run.server_config import (
    _MAX_REJECTING,
    _TICK,
    _Limits,
    _log,
)
from tqlbuilder.run.server_handler import _Handler

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
        """Accept, watch idle connections and dispatch requests until `stop()`."""
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
        """Release the sockets (after `stop()`, or when never served)."""
        self._stopping.set()
        with contextlib.suppress(OSError):
            self.socket.close()
        if self._stopped.wait(5):
            self._wake_r.close()
            self._wake_w.close()
