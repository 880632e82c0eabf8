"""Run TQL over the Managed Tensor Database REST API (``POST /api/query/v1``) with requests.

One pooled ``requests.Session`` per executor, safe to share between threads; bounded retries
with full-jitter back-off on transient failures only; an optional total deadline per call; a
typed exception for every failure. The bearer token never appears in a repr, an exception (or
its chain) or a log record. The rules shared with the async client live in
`tqlbuilder.run.http_policy`.
"""

from __future__ import annotations

import io
import logging
import os
import random
import socket
import time
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from typing import Any, NoReturn

import orjson
import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.poolmanager import ProxyManager
from urllib3.response import BaseHTTPResponse

from tqlbuilder import __version__
from tqlbuilder.errors import ExecutionError, UnsupportedTypeError
from tqlbuilder.run import http_policy as policy
from tqlbuilder.run.executor import Executor
from tqlbuilder.run.http_policy import DEFAULT_URL, TOKEN_ENV, Failure
from tqlbuilder.run.logging_util import log_query
from tqlbuilder.run.result import Result

__all__ = ["DEFAULT_URL", "TOKEN_ENV", "RestExecutor"]

_log = logging.getLogger("tqlbuilder.run.rest")
_CHUNK = 1 << 16

# The deadline (time.monotonic() seconds) of the call running in this thread / context, read
# by the connections of executor-made sessions when they start reading an answer.
_CALL_DEADLINE: ContextVar[float | None] = ContextVar("tqlbuilder_rest_deadline", default=None)


class _BearerAuth(requests.auth.AuthBase):
    """Adds ``Authorization: Bearer <token>``; its repr hides the token.

    Passing the token as ``auth`` (not as a header) also stops requests from replacing it
    with credentials from ``~/.netrc``.
    """

    __slots__ = ("_value",)

    def __init__(self, token: str) -> None:
        self._value = f"Bearer {token}"

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = self._value
        return request

    def __repr__(self) -> str:
        return f"<BearerAuth {policy.REDACTED}>"

    def __reduce__(self) -> NoReturn:
        raise TypeError("the bearer token cannot be pickled")


class RestExecutor(Executor):
    """Sends TQL to ``POST {url}`` and returns [`Result`][tqlbuilder.Result] objects.

    Args:
        token: the Activeloop token; defaults to the ``ACTIVELOOP_TOKEN`` environment
            variable. Surrounding whitespace and a leading ``Bearer `` are stripped.
        url: the endpoint. Plain ``http://`` is allowed only to loopback hosts.
        timeout: seconds for connecting and for each socket read, or a ``(connect, read)``
            pair. A read timeout bounds the wait for the *next* bytes, not the whole answer:
            use ``deadline`` for that.
        deadline: total seconds one ``execute`` may take (connect, send, receive, every
            retry and back-off wait), or None (default) for no limit. Enforced on every socket
            read, so a server that trickles bytes cannot hold a call past it (with a
            ``session`` of your own: between socket reads of the body and through the
            timeouts, so trickled *headers* can exceed it; see docs/executing.md).
        max_attempts: total attempts per query (>= 1; default 3). Retries happen only on
            connection errors, timeouts and HTTP 429/502/503, after an exponential full-jitter
            wait (``backoff * 2**n``, at most ``max_backoff``) or the server's ``Retry-After``
            (capped at ``max_backoff``).
        max_retries: deprecated name of ``max_attempts`` (it always counted attempts);
            DeprecationWarning.
        backoff: base of the back-off wait, seconds.
        max_backoff: the longest wait between attempts, seconds.
        session: a ``requests.Session`` to use as is (not closed by [`close()`][close]).
        verify: True (system CAs), False, or a CA bundle path.
        pool_size: pooled connections; also caps the useful ``max_workers``.
        max_response_bytes: larger answers raise ResponseFormatError.

    Raises:
        MissingTokenError: no token given and ``ACTIVELOOP_TOKEN`` unset or empty.
        MalformedTokenError: the token is not a str, or has whitespace, a control character
            or a non-ASCII character inside.
        UnsafeTransportError: ``http://`` to a host that is not loopback, or not http(s).
        InvalidValueError: a setting out of range (names the setting).

    Examples:
        >>> url = "http://127.0.0.1:8080/api/query/v1"
        >>> rest = RestExecutor("Bearer my-token", url=url, deadline=5)
        >>> rest.url
        'http://127.0.0.1:8080/api/query/v1'
        >>> "my-token" in repr(rest) or "my-token" in repr(vars(rest))
        False
        >>> rest.close()
    """

    # Test hooks (not constructor parameters): tests set them on an instance.
    _sleep = staticmethod(time.sleep)
    _clock = staticmethod(time.time)  # wall clock, for Retry-After dates

    def __init__(
        self,
        token: str | None = None,
        *,
        url: str = DEFAULT_URL,
        timeout: float | tuple[float, float] = 60.0,
        deadline: float | None = None,
        max_attempts: int | None = None,
        max_retries: int | None = None,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        session: requests.Session | None = None,
        verify: bool | str = True,
        pool_size: int = 16,
        max_response_bytes: int = 1 << 30,
    ) -> None:
        clean = policy.clean_token(token, os.environ)
        self._url = policy.check_url(url)
        # Plain http only goes to loopback: never through a proxy from the environment.
        self._no_proxy = self._url.lower().startswith("http:")
        self._policy = policy.RetryPolicy(
            attempts=policy.resolve_attempts(max_attempts, max_retries, "RestExecutor"),
            backoff=policy.non_negative("backoff", backoff),
            max_backoff=policy.non_negative("max_backoff", max_backoff),
            timeout=policy.check_timeout(timeout),
            deadline=None if deadline is None else policy.positive("deadline", deadline),
        )
        self._pool_size = policy.positive_int("pool_size", pool_size)
        self._max_response_bytes = policy.positive_int("max_response_bytes", max_response_bytes)
        if not isinstance(verify, (bool, str)):
            raise UnsupportedTypeError("verify must be a bool or a CA bundle path")
        self._verify = verify
        self._auth = _BearerAuth(clean)
        self._headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": f"tqlbuilder/{__version__} python-requests/{requests.__version__}",
        }
        self._redact = policy.redactor(clean)
        self._rng = random.Random()
        self._owns_session = session is None
        self._proxies: dict[str, Any] | None = _no_proxies() if self._no_proxy else None
        if session is None:
            session = requests.Session()
            adapter = _DeadlineAdapter(
                pool_connections=4, pool_maxsize=self._pool_size, max_retries=0
            )
            session.mount("https://", adapter)
            session.mount("http://", adapter)
            # Read proxy and CA-bundle settings from the environment once, here: with
            # trust_env on, requests rescans os.environ on every request (~0.4 ms each).
            settings = session.merge_environment_settings(self._url, {}, None, verify, None)
            session.trust_env = False
            env_verify = settings["verify"]
            self._verify = env_verify if isinstance(env_verify, (bool, str)) else verify
            if not self._no_proxy:
                self._proxies = dict(settings["proxies"]) or None
        self._session = session
        self._closed = False

    # ------------------------------------------------------------------ public API

    @property
    def url(self) -> str:
        """The endpoint queries are posted to."""
        return self._url

    def _worker_limit(self, max_workers: int) -> int:
        return min(max_workers, self._pool_size)  # more threads would only wait for a connection

    def close(self) -> None:
        """Close the pooled connections (of a session this executor created). Idempotent."""
        self._closed = True
        if self._owns_session:
            self._session.close()

    def __repr__(self) -> str:
        return (
            f"RestExecutor(url={self._url!r}, timeout={self._policy.timeout!r}, "
            f"deadline={self._policy.deadline!r}, max_attempts={self._policy.attempts}, "
            f"verify={self._verify!r})"
        )

    def __reduce__(self) -> NoReturn:
        raise TypeError("RestExecutor cannot be pickled: it holds a token and live connections")

    # ------------------------------------------------------------------ one query

    def _execute_text(self, tql: str, as_list: bool) -> Result:
        if not isinstance(as_list, bool):
            raise UnsupportedTypeError(f"as_list must be a bool, not {type(as_list).__name__}")
        if self._closed:
            raise ExecutionError("this RestExecutor is closed", query=tql)
        body = orjson.dumps({"query": tql, "as_list": as_list})
        log_query(_log, f"POST {self._url}", tql)
        budget = self._policy.start(time.monotonic(), tql)
        while True:
            timeouts = budget.timeouts(time.monotonic())
            outcome = self._attempt(tql, body, as_list, timeouts, budget.deadline_at)
            if isinstance(outcome, Result):
                return outcome
            delay = budget.next_delay(outcome, time.monotonic(), self._rng.uniform)
            _log.info(
                "%s; retrying in %.2f s (attempt %d of %d)",
                outcome.error,
                delay,
                budget.attempt + 1,
                self._policy.attempts,
            )
            self._sleep(delay)

    def _attempt(
        self,
        tql: str,
        body: bytes,
        as_list: bool,
        timeouts: tuple[float, float],
        deadline_at: float | None,
    ) -> Result | Failure:
        """Send once; return the Result, or a Failure (never raises inside an except block)."""
        failure: Failure | None = None
        status = 0
        headers: Mapping[str, str] = {}
        content = b""
        response: requests.Response | None = None
        reset = _CALL_DEADLINE.set(deadline_at)
        try:
            response = self._session.post(
                self._url,
                data=body,
                headers=self._headers,
                auth=self._auth,
                timeout=timeouts,
                verify=self._verify,
                allow_redirects=False,
                stream=True,
                proxies=self._proxies,
            )
            status = response.status_code
            headers = response.headers
            content = self._read_body(response, status, tql, deadline_at)
        except _TooLarge as too_large:
            failure = too_large.failure
        except requests.RequestException as exc:
            failure = self._transport_failure(exc, tql)
        except urllib3.exceptions.HTTPError as exc:  # from raw reads (a caller's session)
            failure = policy.transport_failure(
                "timed out" if isinstance(exc, urllib3.exceptions.TimeoutError) else "failed",
                exc,
                tql,
                self._redact,
                retryable=not isinstance(exc, urllib3.exceptions.SSLError),
            )
        except OSError as exc:  # e.g. an unreadable CA bundle path
            failure = policy.transport_failure("failed", exc, tql, self._redact, retryable=False)
        finally:
            _CALL_DEADLINE.reset(reset)
            if response is not None:
                response.close()
        if failure is not None:
            return failure
        if 200 <= status < 300:
            return policy.decode_success(content, as_list, status, tql, self._redact)
        return policy.status_failure(status, headers, content, tql, self._redact, self._clock())

    def _read_body(
        self, response: requests.Response, status: int, tql: str, deadline_at: float | None
    ) -> bytes:
        limit = self._max_response_bytes
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > limit:
            raise _TooLarge(policy.too_large(limit, status, int(declared), tql))
        chunks: list[bytes] = []
        size = 0
        for chunk in self._chunks(response, deadline_at):
            size += len(chunk)
            if size > limit:
                raise _TooLarge(policy.too_large(limit, status, size, tql))
            chunks.append(chunk)
        return b"".join(chunks)

    def _chunks(self, response: requests.Response, deadline_at: float | None) -> Iterator[bytes]:
        """The (decoded) body in pieces.

        Executor-made sessions stop at the deadline inside the socket read. A caller's session
        cannot be reached into: with a deadline, the body is read with ``read1`` (at most one
        socket read, bounded by the read timeout, which is bounded by the time left) and the
        clock is checked between reads.
        """
        if deadline_at is None or self._owns_session:
            yield from response.iter_content(chunk_size=_CHUNK)
            return
        while True:
            if time.monotonic() >= deadline_at:
                raise requests.exceptions.ReadTimeout("the call's deadline passed")
            chunk = response.raw.read1(_CHUNK, decode_content=True)
            if not chunk:
                return
            yield chunk

    def _transport_failure(self, exc: requests.RequestException, tql: str) -> Failure:
        retryable = isinstance(
            exc,
            (requests.Timeout, requests.ConnectionError, requests.exceptions.ChunkedEncodingError),
        ) and not isinstance(exc, requests.exceptions.SSLError)
        kind = "timed out" if isinstance(exc, requests.Timeout) else "failed"
        return policy.transport_failure(kind, exc, tql, self._redact, retryable=retryable)


class _TooLarge(Exception):
    """Internal: the response body is over the size limit."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(str(failure.error))
        self.failure = failure


def _no_proxies() -> dict[str, Any]:
    """Per-request proxies that switch off every proxy (None removes the setting in requests)."""
    return {"http": None, "https": None, "all": None}


# ---------------------------------------------------------------------- deadline plumbing
#
# requests' timeouts are per socket operation: a server sending one byte every 0.1 s never
# trips a 1 s read timeout. Connections made by the executor's own adapter therefore read the
# answer (status line, headers and body) through _DeadlineReader, which before every recv sets
# the socket timeout to min(read timeout, time left) and refuses to read once the deadline of
# the current call (_CALL_DEADLINE) has passed. No extra threads, plain and TLS sockets alike.


class _DeadlineReader(io.RawIOBase):
    """A raw reader over a socket that stops (TimeoutError) at a monotonic deadline."""

    def __init__(self, sock: Any, deadline_at: float) -> None:
        super().__init__()
        self._sock = sock
        self._deadline_at = deadline_at
        self._read_timeout: float | None = sock.gettimeout()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        left = self._deadline_at - time.monotonic()
        if left <= 0:
            raise TimeoutError("the call's deadline passed while reading the answer")
        base = self._read_timeout
        self._sock.settimeout(left if base is None else min(base, left))
        return int(self._sock.recv_into(buffer))


class _SocketView:
    """Stands in for the connection's socket while http.client builds the response."""

    def __init__(self, sock: socket.socket, deadline_at: float) -> None:
        self._sock = sock
        self._deadline_at = deadline_at

    def makefile(self, mode: str = "r", *args: Any, **kwargs: Any) -> io.BufferedReader:
        return io.BufferedReader(_DeadlineReader(self._sock, self._deadline_at))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


def _getresponse_with_deadline(conn: HTTPConnection, parent: Any) -> BaseHTTPResponse:
    deadline_at = _CALL_DEADLINE.get()
    sock = conn.sock
    if deadline_at is None or sock is None:
        return parent.getresponse(conn)  # type: ignore[no-any-return]
    view = _SocketView(sock, deadline_at)
    conn.sock = view
    try:
        return parent.getresponse(conn)  # type: ignore[no-any-return]
    finally:
        if conn.sock is view:
            conn.sock = sock


class _DeadlineHTTPConnection(HTTPConnection):
    def getresponse(self) -> Any:
        return _getresponse_with_deadline(self, HTTPConnection)


class _DeadlineHTTPSConnection(HTTPSConnection):
    def getresponse(self) -> Any:
        return _getresponse_with_deadline(self, HTTPSConnection)


class DeadlineHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = _DeadlineHTTPConnection


class DeadlineHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = _DeadlineHTTPSConnection


_POOLS: dict[str, type[HTTPConnectionPool]] = {
    "http": DeadlineHTTPConnectionPool,
    "https": DeadlineHTTPSConnectionPool,
}


class _DeadlineAdapter(HTTPAdapter):
    """An HTTPAdapter whose connections honour the current call's deadline."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _POOLS

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if type(manager) is ProxyManager:  # not SOCKS: its pools have their own classes
            manager.pool_classes_by_scheme = _POOLS
        return manager
