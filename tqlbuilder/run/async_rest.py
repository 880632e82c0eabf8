"""Run TQL over the REST API from async code, on httpx (``pip install "tqlbuilder[async]"``).

`AsyncRestExecutor` is the async twin of [`RestExecutor`][tqlbuilder.RestExecutor]: the
same settings, retries, ``Retry-After``, deadline, typed errors, token hygiene and refusal
of plain ``http://`` to other machines (all from `tqlbuilder.run.http_policy`), and the
same [`Result`][tqlbuilder.Result] for the same answer. httpx and anyio are imported
when the first executor is made, so ``import tqlbuilder`` stays light.
"""

from __future__ import annotations

import logging
import os
import random
import ssl
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, NoReturn, TypeVar, overload

import orjson

from tqlbuilder import __version__
from tqlbuilder.errors import (
    ExecutionError,
    InvalidValueError,
    MissingDependencyError,
    UnsupportedTypeError,
)
from tqlbuilder.run import http_policy as policy
from tqlbuilder.run.executor import SupportsTQL, query_text, refuse_source_less
from tqlbuilder.run.http_policy import DEFAULT_URL, Failure
from tqlbuilder.run.logging_util import log_query
from tqlbuilder.run.result import Result

if TYPE_CHECKING:  # pragma: no cover
    import httpx

__all__ = ["AsyncRestExecutor"]

_log = logging.getLogger("tqlbuilder.run.async_rest")
_A = TypeVar("_A", bound="AsyncRestExecutor")


def _import_httpx() -> Any:
    try:
        import httpx
    except ImportError:
        raise MissingDependencyError(
            'AsyncRestExecutor needs httpx: pip install "tqlbuilder[async]"'
        ) from None
    return httpx


async def _anyio_sleep(seconds: float) -> None:
    import anyio

    await anyio.sleep(seconds)


class _Bearer:
    """httpx auth callable adding ``Authorization: Bearer <token>``; its repr hides the token."""

    __slots__ = ("_value",)

    def __init__(self, token: str) -> None:
        self._value = f"Bearer {token}"

    def __call__(self, request: httpx.Request) -> httpx.Request:
        request.headers["Authorization"] = self._value
        return request

    def __repr__(self) -> str:
        return f"<BearerAuth {policy.REDACTED}>"

    def __reduce__(self) -> NoReturn:
        raise TypeError("the bearer token cannot be pickled")


class AsyncRestExecutor:
    """Sends TQL to ``POST {url}`` from async code; ``await execute(q)`` returns a Result.

    One pooled ``httpx.AsyncClient`` per executor; use it from one event loop (tested on
    asyncio; the code uses anyio, as httpx does) and close it with ``async with`` or
    [`aclose()`][aclose].

    Args:
        token: the Activeloop token; defaults to ``ACTIVELOOP_TOKEN``. Surrounding whitespace
            and a leading ``Bearer `` are stripped.
        url: the endpoint. Plain ``http://`` is allowed only to loopback hosts.
        timeout: seconds for connecting and for each read, or a ``(connect, read)`` pair.
        deadline: total seconds one ``execute`` may take, retries and waits included, or None.
            Enforced by cancelling the attempt, so nothing (a trickling server, a slow
            connect, a wait for a pooled connection) holds a call past it.
        max_attempts: total attempts per query (>= 1; default 3); see RestExecutor.
        max_retries: deprecated name of ``max_attempts``; DeprecationWarning.
        backoff: base of the full-jitter back-off wait, seconds.
        max_backoff: the longest wait between attempts, seconds.
        verify: True (certifi's CAs, or ``SSL_CERT_FILE``), False, or a CA bundle path.
        pool_size: most open connections; ``execute_many`` runs at most this many at once.
        max_response_bytes: larger answers raise ResponseFormatError.

    Raises:
        MissingDependencyError: httpx is not installed (names the ``async`` extra).
        MissingTokenError, MalformedTokenError, UnsafeTransportError, InvalidValueError:
            as for RestExecutor.

    Examples:
        >>> AsyncRestExecutor("t0ken", url="http://127.0.0.1:8080/api/query/v1", max_attempts=2)
        AsyncRestExecutor(url='http://127.0.0.1:8080/api/query/v1', timeout=(60.0, 60.0),
            deadline=None, max_attempts=2, verify=True)
    """

    # Test hooks (not constructor parameters): tests set them on an instance.
    _sleep: Callable[[float], Awaitable[None]] = staticmethod(_anyio_sleep)
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
        verify: bool | str = True,
        pool_size: int = 16,
        max_response_bytes: int = 1 << 30,
    ) -> None:
        hx = _import_httpx()
        clean = policy.clean_token(token, os.environ)
        self._url = policy.check_url(url)
        loopback_http = self._url.lower().startswith("http:")
        self._policy = policy.RetryPolicy(
            attempts=policy.resolve_attempts(max_attempts, max_retries, "AsyncRestExecutor"),
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
        tls: bool | ssl.SSLContext = verify if isinstance(verify, bool) else _ca_bundle(verify)
        self._auth = _Bearer(clean)
        self._redact = policy.redactor(clean)
        self._rng = random.Random()
        self._client: httpx.AsyncClient = hx.AsyncClient(
            verify=tls,
            # plain http goes only to loopback: never through a proxy from the environment
            trust_env=not loopback_http,
            follow_redirects=False,
            limits=hx.Limits(
                max_connections=self._pool_size, max_keepalive_connections=self._pool_size
            ),
            headers={
                "Content-Type": "application/json",
                "Accept": "application/json",
                "User-Agent": f"tqlbuilder/{__version__} python-httpx/{hx.__version__}",
            },
        )
        self._closed = False

    # ------------------------------------------------------------------ public API

    @property
    def url(self) -> str:
        """The endpoint queries are posted to."""
        return self._url

    async def execute(self, query: str | SupportsTQL, *, as_list: bool = True) -> Result:
        """Run one query (a TQL string or an object with ``to_tql()``) and return its Result.

        Raises an ExecutionError subclass when the query does not succeed (the same types as
        RestExecutor). Cancelling the call closes its connection; the pool stays usable.
        """
        return await self._execute_text(query_text(query), as_list)

    @overload
    async def execute_many(
        self,
        queries: Iterable[str | SupportsTQL],
        *,
        as_list: bool = ...,
        max_concurrency: int = ...,
        return_exceptions: Literal[False] = ...,
    ) -> list[Result]: ...

    @overload
    async def execute_many(
        self,
        queries: Iterable[str | SupportsTQL],
        *,
        as_list: bool = ...,
        max_concurrency: int = ...,
        return_exceptions: bool,
    ) -> list[Result | ExecutionError]: ...

    async def execute_many(
        self,
        queries: Iterable[str | SupportsTQL],
        *,
        as_list: bool = True,
        max_concurrency: int = 8,
        return_exceptions: bool = False,
    ) -> list[Result] | list[Result | ExecutionError]:
        """Run queries concurrently, at most ``max_concurrency`` (and ``pool_size``) at once.

        Results come back in input order after every query has finished. Without
        ``return_exceptions`` the first failure in input order is then raised; with it, each
        ExecutionError is returned in its query's place.
        """
        import anyio

        if (
            isinstance(max_concurrency, bool)
            or not isinstance(max_concurrency, int)
            or max_concurrency < 1
        ):
            raise InvalidValueError(
                f"max_concurrency must be a positive int, got {max_concurrency!r}"
            )
        texts: Sequence[str] = [query_text(query) for query in queries]
        outcomes: list[Result | Exception | None] = [None] * len(texts)
        limiter = anyio.CapacityLimiter(min(max_concurrency, self._pool_size))

        async def run(index: int, text: str) -> None:
            async with limiter:
                try:
                    outcomes[index] = await self._execute_text(text, as_list)
                except Exception as error:  # ExecutionError, or a bug raised below in order
                    outcomes[index] = error

        async with anyio.create_task_group() as group:
            for index, text in enumerate(texts):
                group.start_soon(run, index, text)
        results: list[Result | ExecutionError] = []
        for outcome in outcomes:
            if isinstance(outcome, ExecutionError) and return_exceptions:
                results.append(outcome)
            elif isinstance(outcome, Exception):
                raise outcome
            else:
                assert outcome is not None
                results.append(outcome)
        return results

    async def aclose(self) -> None:
        """Close the pooled connections. Idempotent."""
        self._closed = True
        await self._client.aclose()

    async def __aenter__(self: _A) -> _A:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return (
            f"AsyncRestExecutor(url={self._url!r}, timeout={self._policy.timeout!r}, "
            f"deadline={self._policy.deadline!r}, max_attempts={self._policy.attempts}, "
            f"verify={self._verify!r})"
        )

    def __reduce__(self) -> NoReturn:
        raise TypeError(
            "AsyncRestExecutor cannot be pickled: it holds a token and live connections"
        )

    # ------------------------------------------------------------------ one query

    async def _execute_text(self, tql: str, as_list: bool) -> Result:
        import anyio

        if not isinstance(as_list, bool):
            raise UnsupportedTypeError(f"as_list must be a bool, not {type(as_list).__name__}")
        if self._closed:
            raise ExecutionError("this AsyncRestExecutor is closed", query=tql)
        refuse_source_less(tql, "AsyncRestExecutor")
        body = orjson.dumps({"query": tql, "as_list": as_list})
        log_query(_log, f"POST {self._url}", tql)
        budget = self._policy.start(time.monotonic(), tql)
        while True:
            timeouts = budget.timeouts(time.monotonic())
            left = budget.remaining(time.monotonic())
            outcome: Result | Failure | None = None
            with anyio.move_on_after(left):  # inf without a deadline
                outcome = await self._attempt(tql, body, as_list, timeouts)
            if outcome is None:  # the deadline cancelled the attempt
                raise budget.expired()
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
            await self._sleep(delay)

    async def _attempt(
        self, tql: str, body: bytes, as_list: bool, timeouts: tuple[float, float]
    ) -> Result | Failure:
        """Send once; return the Result or a Failure (transport errors become Failures)."""
        hx = _import_httpx()
        connect, read = timeouts
        timeout = hx.Timeout(connect=connect, read=read, write=connect, pool=None)
        try:
            async with self._client.stream(
                "POST", self._url, content=body, auth=self._auth, timeout=timeout
            ) as response:
                status = response.status_code
                content_or_failure = await self._read_body(response, status, tql)
                headers = response.headers
        except hx.HTTPError as exc:
            return self._transport_failure(exc, tql)
        if isinstance(content_or_failure, Failure):
            return content_or_failure
        if 200 <= status < 300:
            return policy.decode_success(content_or_failure, as_list, status, tql, self._redact)
        return policy.status_failure(
            status, headers, content_or_failure, tql, self._redact, self._clock()
        )

    async def _read_body(self, response: Any, status: int, tql: str) -> bytes | Failure:
        limit = self._max_response_bytes
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > limit:
            return policy.too_large(limit, status, int(declared), tql)
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > limit:
                return policy.too_large(limit, status, size, tql)
            chunks.append(chunk)
        return b"".join(chunks)

    def _transport_failure(self, exc: Exception, tql: str) -> Failure:
        hx = _import_httpx()
        tls = _caused_by_tls(exc)
        retryable = isinstance(exc, hx.TransportError) and not tls
        if isinstance(exc, (hx.UnsupportedProtocol, hx.DecodingError)):
            retryable = False
        kind = "timed out" if isinstance(exc, hx.TimeoutException) else "failed"
        return policy.transport_failure(kind, exc, tql, self._redact, retryable=retryable)


def _caused_by_tls(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    for _ in range(8):
        if seen is None:
            return False
        if isinstance(seen, ssl.SSLError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _ca_bundle(path: str) -> ssl.SSLContext:
    try:
        return ssl.create_default_context(cafile=path)
    except (OSError, ssl.SSLError) as exc:
        raise InvalidValueError(
            f"verify={path!r} is not a readable CA bundle ({type(exc).__name__}: {exc})"
        ) from None
