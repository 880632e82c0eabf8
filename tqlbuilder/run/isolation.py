"""Supervised engine worker processes: an engine crash, hang or runaway allocation costs one query.

The embedded engine can kill its process (SIGSEGV on some inputs), hang while holding the GIL
(so no other Python thread runs) and grow memory without bound. `EnginePool` runs each query
in one of a few long-lived worker processes, each driven by its own supervisor thread in this
process, and turns those failures into errors for the one query that caused them:

- the worker dies: `EngineCrashedError` naming the signal; the worker is replaced;
- the query runs past ``query_timeout`` seconds: the worker is killed, `EngineTimeoutError`;
- the worker's resident memory passes ``memory_limit`` bytes (checked every 0.1 s, Linux):
  the worker is killed, `EngineMemoryError`.

Workers are fresh interpreters started with `subprocess` (exec, never a bare fork: forking
a process that has loaded deeplake's threads can deadlock the child; and unlike
multiprocessing's ``spawn`` the parent's ``__main__`` is not re-imported, so no
``if __name__ == "__main__"`` guard is needed). They import deeplake before they take work.
Messages are pickled tuples over a socket pair wrapped in
`multiprocessing.connection.Connection`. Engine facts (verified on deeplake 4.7.4 in
tests/test_isolation.py): ``features[0] BETWEEN 0.5 AND 1.0`` on a float array column and
``CONTAINS(text, ' ')`` on a BM25-indexed column end the process with SIGSEGV;
``SAMPLE BY id < 0 LIMIT 2`` never returns, holds the GIL and grows memory (about 50 MB/s).
"""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import Future
from multiprocessing.connection import Connection
from types import TracebackType
from typing import Any

from tqlbuilder.errors import (
    EngineNotInstalledError,
    ExecutionError,
    InvalidValueError,
    QueryError,
    ServerError,
    UnsupportedTypeError,
)

__all__ = [
    "DEFAULT_MEMORY_LIMIT",
    "DEFAULT_QUERY_TIMEOUT",
    "EngineCrashedError",
    "EngineMemoryError",
    "EnginePool",
    "EngineTimeoutError",
    "Outcome",
    "default_workers",
    "pool_option",
]

DEFAULT_QUERY_TIMEOUT = 30.0
DEFAULT_MEMORY_LIMIT = 2 * 1024**3
_POLL_SECONDS = 0.1
_START_TIMEOUT = 120.0

Outcome = tuple[tuple[str, ...], tuple[tuple[Any, ...], ...], int] | str
"""What a worker returns: ``(names, columns, length)``, or the engine's error message."""


class EngineCrashedError(ServerError):
    """The worker process running the query died (the engine crashed on it); it was replaced."""


class EngineTimeoutError(ServerError):
    """The query ran past the time limit; its worker was killed and replaced."""


class EngineMemoryError(ServerError):
    """The query's worker passed the memory limit; it was killed and replaced."""


def pool_option(isolate: object) -> tuple[EnginePool, bool]:
    """``LocalExecutor(isolate=...)``: a new pool it owns (True) or the given one (not owned).

    Raises:
        UnsupportedTypeError: ``isolate`` is neither a bool nor an EnginePool.
    """
    if isolate is True:
        return EnginePool(), True
    if isinstance(isolate, EnginePool):
        return isolate, False
    raise UnsupportedTypeError(
        f"isolate must be a bool or an EnginePool, not {type(isolate).__name__}"
    )


def default_workers() -> int:
    """The number of CPUs this process may run on (at least 1): the default pool size."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


class EnginePool:
    """A fixed number of supervised worker processes that run TQL on the embedded engine.

    Args:
        workers: Worker processes (queries that run at once); default `default_workers()`.
        query_timeout: Seconds one query may run in its worker before the worker is killed
            (default 30). ``None``: no limit.
        memory_limit: Resident bytes a worker may use before it is killed (default 2 GiB,
            checked every 0.1 s; needs ``/proc``, so Linux only). ``None``: no limit.

    The text is run as given (no hazard checks, no path mapping:
    [`LocalExecutor`][tqlbuilder.LocalExecutor] does those before it hands text to the pool).
    Workers start on [`start()`][start] or the first query; a crashed or killed worker is
    replaced at once. Thread-safe; [`close()`][close] kills the workers and fails queries that
    have not finished.

    Raises:
        InvalidValueError: ``workers`` < 1, or a limit that is not a positive number.

    Examples:
        >>> pool = EnginePool(1, query_timeout=5.0, memory_limit=None)
        >>> pool
        EnginePool(workers=1, query_timeout=5.0, memory_limit=None)
        >>> pool.close()
    """

    def __init__(
        self,
        workers: int | None = None,
        *,
        query_timeout: float | None = DEFAULT_QUERY_TIMEOUT,
        memory_limit: int | None = DEFAULT_MEMORY_LIMIT,
    ) -> None:
        count = default_workers() if workers is None else workers
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise InvalidValueError(f"workers must be a positive int, got {workers!r}")
        self._query_timeout = _positive("query_timeout", query_timeout)
        limit = _positive("memory_limit", memory_limit)
        self._memory_limit = None if limit is None else int(limit)
        self._workers = count
        self._tasks: queue.SimpleQueue[_Task | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._closed = False
        self._slots: list[_Slot] = []

    @property
    def workers(self) -> int:
        """The number of worker processes."""
        return self._workers

    @property
    def query_timeout(self) -> float | None:
        """Seconds a query may run, or None."""
        return self._query_timeout

    @property
    def memory_limit(self) -> int | None:
        """Resident bytes a worker may use, or None."""
        return self._memory_limit

    def __repr__(self) -> str:
        return (
            f"EnginePool(workers={self._workers}, query_timeout={self._query_timeout!r}, "
            f"memory_limit={self._memory_limit!r})"
        )

    def start(self, *, wait: bool = True) -> EnginePool:
        """Start the workers (idempotent); with ``wait``, return once each has loaded deeplake.

        Raises:
            EngineNotInstalledError: A worker could not import deeplake.
            ServerError: The pool is closed, or a worker did not start within 120 s.
        """
        with self._lock:
            if self._closed:
                raise ServerError("the engine pool is closed")
            if not self._slots:
                self._slots = [_Slot(self, index) for index in range(self._workers)]
                for slot in self._slots:
                    slot.thread.start()
            slots = list(self._slots)
        if wait:
            for slot in slots:
                slot.ready.wait(_START_TIMEOUT)
                if slot.start_error is not None:
                    raise slot.start_error
                if not slot.ready.is_set():
                    raise ServerError("an engine worker did not start within 120 s")
        return self

    def submit(
        self, text: str, *, query: str | None = None, check: bool = False
    ) -> Future[Outcome]:
        """Queue ``text`` for the next free worker; the Future holds its `Outcome`.

        ``query`` is the text to name in errors (default ``text``). ``check=True`` runs the
        hazard check on ``query`` in the worker too, under the same time and memory limits (a
        refused query fails with QueryError). The Future fails with
        EngineCrashedError, EngineTimeoutError, EngineMemoryError, EngineNotInstalledError or
        ServerError (pool closed); an engine error message is a successful ``str`` outcome.
        """
        self.start(wait=False)
        future: Future[Outcome] = Future()
        with self._lock:
            if self._closed:
                raise ServerError("the engine pool is closed", query=query or text)
            self._tasks.put(_Task(text, query or text, future, check))
        return future

    def run(self, text: str, *, query: str | None = None, check: bool = False) -> Outcome:
        """[`submit()`][submit] and wait for the outcome (raising what the Future holds)."""
        return self.submit(text, query=query, check=check).result()

    def materialise(
        self, text: str, *, query: str | None = None, check: bool = False
    ) -> tuple[tuple[str, ...], tuple[tuple[Any, ...], ...], int]:
        """[`run()`][run], with an engine error raised as ``RuntimeError`` (as the engine does).

        Returns ``(names, columns, length)``, what LocalExecutor reads in-process.
        """
        outcome = self.run(text, query=query, check=check)
        if isinstance(outcome, str):
            raise RuntimeError(outcome)
        return outcome

    def close(self) -> None:
        """Kill the workers, fail unfinished queries with ServerError, join threads. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            slots = list(self._slots)
        for _ in slots:
            self._tasks.put(None)
        for slot in slots:
            slot.kill()
        for slot in slots:
            if slot.thread is not threading.current_thread():
                slot.thread.join(timeout=10)
        while True:
            try:
                task = self._tasks.get_nowait()
            except queue.Empty:
                break
            if task is not None and task.future.set_running_or_notify_cancel():
                task.future.set_exception(_closed_error(task.query))

    def __enter__(self) -> EnginePool:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def closed(self) -> bool:
        """True after [`close()`][close]."""
        return self._closed


class _Task:
    __slots__ = ("check", "future", "query", "text")

    def __init__(self, text: str, query: str, future: Future[Outcome], check: bool) -> None:
        self.text = text
        self.query = query
        self.future = future
        self.check = check


class _Slot:
    """One worker process and the thread that feeds and watches it."""

    def __init__(self, pool: EnginePool, index: int) -> None:
        self.pool = pool
        self.index = index
        self.process: subprocess.Popen[bytes] | None = None
        self.conn: Connection | None = None
        self.ready = threading.Event()
        self.start_error: ExecutionError | EngineNotInstalledError | None = None
        self.thread = threading.Thread(
            target=self.loop, name=f"tqlbuilder-engine-{index}", daemon=True
        )
        self._lock = threading.Lock()

    # -------------------------------------------------------------- process lifetime

    def spawn(self) -> None:
        """Start a worker (from this slot's own thread) and wait until it has loaded deeplake."""
        parent_sock, child_sock = socket.socketpair()
        parent = Connection(parent_sock.detach())
        try:
            with self._lock:
                if self.pool.closed:
                    parent.close()
                    return
                process = subprocess.Popen(
                    [sys.executable, "-c", _BOOTSTRAP, str(child_sock.fileno())],
                    pass_fds=(child_sock.fileno(),),
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,  # the server's stdout carries its "Serving on" line
                )
                self.process, self.conn = process, parent
        except (OSError, ValueError) as exc:
            parent.close()
            self.start_error = ServerError(f"could not start an engine worker: {exc}")
            self.ready.set()
            return
        finally:
            child_sock.close()
        message: Any = None
        with contextlib.suppress(EOFError, OSError):
            parent.send(list(sys.path))
            if parent.poll(_START_TIMEOUT):
                message = parent.recv()
        if isinstance(message, tuple) and message[0] == "ready":
            self.start_error = None
        elif isinstance(message, tuple) and message[0] == "no-engine":
            self.start_error = EngineNotInstalledError(str(message[1]))
        else:
            code = _exit_description(process)
            self.start_error = ServerError(f"an engine worker failed to start ({code})")
        if self.start_error is not None:
            self.kill()
        self.ready.set()

    def kill(self) -> None:
        """Kill the worker (if any) and reap it."""
        with self._lock:
            process, conn = self.process, self.conn
            self.process = self.conn = None
        if process is None:
            return
        with contextlib.suppress(OSError):
            process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=10)
        if conn is not None:
            conn.close()

    # -------------------------------------------------------------- feeding

    def loop(self) -> None:
        self.spawn()
        while True:
            task = self.pool._tasks.get()
            if task is None or self.pool.closed:
                if task is not None and task.future.set_running_or_notify_cancel():
                    task.future.set_exception(_closed_error(task.query))
                break
            if not task.future.set_running_or_notify_cancel():
                continue
            if self.process is None:  # the last start failed, or a kill left no worker
                self.spawn()
                if self.start_error is not None:
                    task.future.set_exception(self.start_error)
                    continue
            try:
                outcome = self.execute(task)
            except BaseException as error:
                task.future.set_exception(error)
                if not self.pool.closed and self.process is None:
                    self.spawn()  # replace the worker now, not when the next query comes
                continue
            task.future.set_result(outcome)
        self.kill()

    def execute(self, task: _Task) -> Outcome:
        """Send one query to the worker and watch it; raise when the worker is lost."""
        process, conn = self.process, self.conn
        assert process is not None and conn is not None
        timeout = self.pool.query_timeout
        limit = self.pool.memory_limit
        started = time.monotonic()
        try:
            conn.send((task.text, task.query if task.check else None))
            while not conn.poll(_POLL_SECONDS):
                elapsed = time.monotonic() - started
                if timeout is not None and elapsed >= timeout:
                    self.kill()
                    raise EngineTimeoutError(
                        f"the query ran longer than the time limit of {timeout:g} s and was "
                        "stopped (its engine worker was replaced)",
                        query=task.query,
                    )
                rss = _resident_bytes(process.pid)
                if limit is not None and rss is not None and rss > limit:
                    self.kill()
                    raise EngineMemoryError(
                        f"the query used more than the memory limit of {_mib(limit)} "
                        f"({_mib(rss)} resident) and was stopped (its engine worker was replaced)",
                        query=task.query,
                    )
            reply = conn.recv()
        except (EOFError, OSError) as exc:
            if self.pool.closed:
                raise _closed_error(task.query) from None
            self.kill()
            raise EngineCrashedError(
                f"the engine crashed on this query ({_exit_description(process)}); its worker "
                "was replaced and other queries are unaffected",
                query=task.query,
            ) from exc
        kind = reply[0]
        if kind == "ok":
            return reply[1], reply[2], reply[3]
        if kind == "engine":
            return str(reply[1])
        if kind == "refused":
            raise QueryError(str(reply[1]), query=task.query)
        raise ServerError(f"the engine worker failed: {reply[1]}", query=task.query)


def _closed_error(query: str) -> ServerError:
    return ServerError("the engine pool was closed before the query finished", query=query)


def _exit_description(process: subprocess.Popen[bytes]) -> str:
    try:
        code = process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        return "worker still running"
    if code < 0:
        try:
            return f"worker killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"worker killed by signal {-code}"
    return f"worker exited with status {code}"


def _resident_bytes(pid: int) -> int | None:
    """The resident set size of ``pid`` from ``/proc`` (None where there is no ``/proc``)."""
    try:
        with open(f"/proc/{pid}/statm", "rb") as statm:
            fields = statm.read().split()
        return int(fields[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def _mib(size: int) -> str:
    return f"{size / 1024**2:.0f} MiB"


def _positive(name: str, value: float | None) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise InvalidValueError(f"{name} must be a positive number or None, got {value!r}")
    if value != value or value == float("inf"):
        raise InvalidValueError(f"{name} must be finite, got {value!r}")
    return value


# ---------------------------------------------------------------------- the worker process

# A fresh interpreter (exec, not fork, and no re-import of the parent's __main__, so a script
# without an ``if __name__ == "__main__"`` guard can start a pool): wrap the inherited socket
# in a Connection, take the parent's sys.path, then serve.
_BOOTSTRAP = (
    "import sys\n"
    "from multiprocessing.connection import Connection\n"
    "conn = Connection(int(sys.argv[1]))\n"
    "sys.path[:] = conn.recv()\n"
    "from tqlbuilder.run.isolation import _worker_main\n"
    "_worker_main(conn)\n"
)


def _worker_main(conn: Connection) -> None:  # pragma: no cover - runs in the child
    """Load deeplake, say ready, then answer ``(text,)`` messages until the pipe closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the parent; it kills us
    _die_with_parent()
    try:
        from tqlbuilder.run.local import (
            _is_engine_error,
            _materialise,
            refuse_hazards,
            require_engine,
        )

        deeplake = require_engine()
    except EngineNotInstalledError as exc:
        conn.send(("no-engine", str(exc)))
        return
    conn.send(("ready", os.getpid()))
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        text, check = message
        reply: tuple[Any, ...]
        try:
            if check is not None:
                refuse_hazards(check)  # in the worker: under the time and memory limits
            reply = ("ok", *_materialise(deeplake, text))
        except QueryError as exc:  # refused by the hazard check
            reply = ("refused", exc.args[0] if exc.args else str(exc))
        except Exception as exc:
            if _is_engine_error(exc):
                reply = ("engine", str(exc).strip() or type(exc).__name__)
            else:
                reply = ("error", f"{type(exc).__name__}: {exc}")
        try:
            conn.send(reply)
        except (EOFError, OSError):
            return
        except Exception as exc:  # the result could not be pickled
            conn.send(("error", f"{type(exc).__name__}: {exc}"))


def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    """Ask Linux to SIGKILL this worker when its parent goes (a hung query ignores EOF)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
