"""Run TQL over the Managed Tensor Database REST API (``POST /api/query/v1``) with requests.

One pooled ``requests.Session`` per executor, safe to share between threads; bounded retries
with full-jitter back-off on transient failures only; a typed exception for every failure.
The bearer token never appears in a repr, an exception (or its chain) or a log record.
"""

from __future__ import annotations

import email.utils
import ipaddress
import logging
import os
import random
import re
import time
from collections.abc import Callable
from datetime import timezone
from typing import Any, NoReturn
from urllib.parse import urlsplit

import orjson
import requests
from requests.adapters import HTTPAdapter

from tqlbuilder import __version__
from tqlbuilder.errors import (
    AuthenticationError,
    ExecutionError,
    InvalidValueError,
    MissingTokenError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    QueryError,
    RateLimitError,
    ResponseFormatError,
    ServerError,
    TransportError,
    UnsafeTransportError,
    UnsupportedTypeError,
)
from tqlbuilder.run.executor import Executor
from tqlbuilder.run.result import Result

__all__ = ["DEFAULT_URL", "RestExecutor"]

DEFAULT_URL = "https://app.activeloop.ai/api/query/v1"
TOKEN_ENV = "ACTIVELOOP_TOKEN"

_log = logging.getLogger("tqlbuilder.run.rest")

_RETRY_STATUSES = frozenset({429, 502, 503, 504})
_MESSAGE_FIELDS = ("message", "description", "error", "detail")
_PREVIEW = 200
_TOKEN_CHARS = re.compile(r"[\x21-\x7e]+")
_SECONDS = re.compile(r"\d+(?:\.\d+)?")
_REDACTED = "***"


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
        return f"<BearerAuth {_REDACTED}>"

    def __reduce__(self) -> NoReturn:
        raise TypeError("the bearer token cannot be pickled")


class _Failure:
    """One failed attempt: the error to raise, whether to retry, and the server's delay hint."""

    __slots__ = ("error", "retry_after", "retryable")

    def __init__(
        self, error: ExecutionError, *, retryable: bool, retry_after: float | None = None
    ) -> None:
        self.error = error
        self.retryable = retryable
        self.retry_after = retry_after


class RestExecutor(Executor):
    """Sends TQL to ``POST {url}`` and returns :class:`~tqlbuilder.run.result.Result` objects.

    ``token`` defaults to the ``ACTIVELOOP_TOKEN`` environment variable (MissingTokenError if
    neither is set). ``timeout`` is seconds for connect and read, or a ``(connect, read)`` pair.
    ``max_retries`` is the total number of attempts per query (>= 1); retries happen only on
    connection errors, timeouts and HTTP 429/502/503/504, after an exponential full-jitter
    delay (``backoff * 2**n``, at most ``max_backoff``) or the server's ``Retry-After``
    (capped at ``max_backoff``). ``verify`` is True (system CAs), False, or a CA bundle path.
    ``pool_size`` bounds the pooled connections and so the useful ``max_workers``.
    A ``session`` you pass is used as is and not closed by :meth:`close`.
    Plain ``http://`` is refused (UnsafeTransportError) unless the host is loopback.
    """

    def __init__(
        self,
        token: str | None = None,
        *,
        url: str = DEFAULT_URL,
        timeout: float | tuple[float, float] = 60.0,
        max_retries: int = 3,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        session: requests.Session | None = None,
        verify: bool | str = True,
        pool_size: int = 16,
        max_response_bytes: int = 1 << 30,
        _rng: random.Random | None = None,
        _sleep: Callable[[float], None] | None = None,
        _clock: Callable[[], float] | None = None,
    ) -> None:
        if token is None:
            token = os.environ.get(TOKEN_ENV)
        if not token:
            raise MissingTokenError(
                f"no access token: pass token=... or set the {TOKEN_ENV} environment variable"
            )
        if not isinstance(token, str) or not _TOKEN_CHARS.fullmatch(token):
            raise MissingTokenError(
                "the access token must be printable ASCII without spaces or line breaks"
            )
        self._url = _check_url(url)
        # Plain http only goes to loopback: never through a proxy from the environment.
        self._no_proxy = urlsplit(self._url).scheme == "http"
        self._timeout = _check_timeout(timeout)
        self._attempts = _positive_int("max_retries", max_retries)
        self._backoff = _non_negative("backoff", backoff)
        self._max_backoff = _non_negative("max_backoff", max_backoff)
        self._pool_size = _positive_int("pool_size", pool_size)
        self._max_response_bytes = _positive_int("max_response_bytes", max_response_bytes)
        if not isinstance(verify, (bool, str)):
            raise UnsupportedTypeError("verify must be a bool or a CA bundle path")
        self._verify = verify
        self._auth = _BearerAuth(token)
        self._headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": f"tqlbuilder/{__version__} python-requests/{requests.__version__}",
        }
        self._redact = _redactor(token)
        self._rng = _rng if _rng is not None else random.Random()
        self._sleep = _sleep if _sleep is not None else time.sleep
        self._clock = _clock if _clock is not None else time.time
        self._owns_session = session is None
        self._proxies: dict[str, Any] | None = _no_proxies() if self._no_proxy else None
        if session is None:
            session = requests.Session()
            adapter = HTTPAdapter(pool_connections=4, pool_maxsize=self._pool_size, max_retries=0)
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
            f"RestExecutor(url={self._url!r}, timeout={self._timeout!r}, "
            f"max_retries={self._attempts}, verify={self._verify!r})"
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
        attempt = 1
        while True:
            outcome = self._attempt(tql, body, as_list, attempt)
            if isinstance(outcome, Result):
                return outcome
            if not outcome.retryable or attempt >= self._attempts:
                raise outcome.error
            delay = self._delay(attempt, outcome.retry_after)
            _log.info(
                "%s; retrying in %.2f s (attempt %d of %d)",
                outcome.error,
                delay,
                attempt + 1,
                self._attempts,
            )
            self._sleep(delay)
            attempt += 1

    def _attempt(self, tql: str, body: bytes, as_list: bool, attempt: int) -> Result | _Failure:
        """Send once; return the Result, or a _Failure (never raises inside an except block)."""
        _log.debug("POST %s (attempt %d of %d)", self._url, attempt, self._attempts)
        failure: _Failure | None = None
        status = 0
        headers: dict[str, str] = {}
        content = b""
        response: requests.Response | None = None
        try:
            response = self._session.post(
                self._url,
                data=body,
                headers=self._headers,
                auth=self._auth,
                timeout=self._timeout,
                verify=self._verify,
                allow_redirects=False,
                stream=True,
                proxies=self._proxies,
            )
            status = response.status_code
            headers = dict(response.headers)
            content = self._read_body(response, status, tql)
        except _TooLarge as too_large:
            failure = _Failure(too_large.error, retryable=False)
        except requests.RequestException as exc:
            failure = self._transport_failure(exc, tql)
        except OSError as exc:  # e.g. an unreadable CA bundle path
            failure = _Failure(
                TransportError(
                    self._redact(f"request failed: {type(exc).__name__}: {exc}"), query=tql
                ),
                retryable=False,
            )
        finally:
            if response is not None:
                response.close()
        if failure is not None:
            return failure
        if 200 <= status < 300:
            return self._decode(content, as_list, status, tql)
        return self._status_failure(status, headers, content, tql)

    def _decode(self, content: bytes, as_list: bool, status: int, tql: str) -> Result | _Failure:
        """Parse a success body; a format error is re-made with the token blanked out."""
        bad: ResponseFormatError | None = None
        try:
            return Result.from_response_body(content, as_list=as_list, status=status, query=tql)
        except ResponseFormatError as error:
            bad = error
        redacted = ResponseFormatError(
            self._redact(str(bad)),
            status=status,
            server_message=self._redact(bad.server_message or ""),
            query=tql,
        )
        return _Failure(redacted, retryable=False)

    def _read_body(self, response: requests.Response, status: int, tql: str) -> bytes:
        limit = self._max_response_bytes
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > limit:
            raise _TooLarge(self._too_large(status, int(declared), tql))
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_content(chunk_size=1 << 20):
            size += len(chunk)
            if size > limit:
                raise _TooLarge(self._too_large(status, size, tql))
            chunks.append(chunk)
        return b"".join(chunks)

    def _too_large(self, status: int, size: int, tql: str) -> ExecutionError:
        return ResponseFormatError(
            f"response body exceeds max_response_bytes={self._max_response_bytes} "
            f"(HTTP {status}, at least {size} bytes)",
            status=status,
            query=tql,
        )

    def _transport_failure(self, exc: requests.RequestException, tql: str) -> _Failure:
        retryable = isinstance(
            exc,
            (requests.Timeout, requests.ConnectionError, requests.exceptions.ChunkedEncodingError),
        ) and not isinstance(exc, requests.exceptions.SSLError)
        kind = "timed out" if isinstance(exc, requests.Timeout) else "failed"
        message = self._redact(f"request {kind}: {type(exc).__name__}: {exc}")
        return _Failure(TransportError(message, query=tql), retryable=retryable)

    def _status_failure(
        self, status: int, headers: dict[str, str], content: bytes, tql: str
    ) -> _Failure:
        server_message = self._redact(_server_message(content))
        retry_after = None
        if status in _RETRY_STATUSES:
            retry_after = _parse_retry_after(_header(headers, "Retry-After"), self._clock())
        error_type: type[ExecutionError]
        if status in (400, 422):
            error_type, what = QueryError, "query rejected"
        elif status == 401:
            error_type, what = AuthenticationError, "authentication failed (is the token valid?)"
        elif status == 403:
            error_type, what = PermissionDeniedError, "permission denied"
        elif status == 404:
            error_type, what = NotFoundError, "not found"
        elif status == 413:
            error_type, what = PayloadTooLargeError, "request too large"
        elif status == 429:
            error_type, what = RateLimitError, "rate limited"
        elif 500 <= status < 600:
            error_type, what = ServerError, "server error"
        else:
            error_type, what = ExecutionError, "unexpected HTTP status"
        message = f"{what} (HTTP {status})"
        if server_message:
            message = f"{message}: {server_message}"
        if error_type is RateLimitError:
            error: ExecutionError = RateLimitError(
                message,
                retry_after=retry_after,
                status=status,
                server_message=server_message,
                query=tql,
            )
        else:
            error = error_type(message, status=status, server_message=server_message, query=tql)
        return _Failure(error, retryable=status in _RETRY_STATUSES, retry_after=retry_after)

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait before attempt ``attempt + 1``."""
        if retry_after is not None:
            return min(retry_after, self._max_backoff)
        ceiling = min(self._max_backoff, self._backoff * 2.0 ** (attempt - 1))
        return self._rng.uniform(0.0, ceiling)


class _TooLarge(Exception):
    """Internal: the response body is over the size limit."""

    def __init__(self, error: ExecutionError) -> None:
        super().__init__(str(error))
        self.error = error


# ---------------------------------------------------------------------- helpers


def _check_url(url: str) -> str:
    if not isinstance(url, str):
        raise UnsupportedTypeError(f"url must be a str, not {type(url).__name__}")
    parts = urlsplit(url)
    host = parts.hostname
    if parts.scheme not in ("http", "https") or not host:
        raise UnsafeTransportError(f"url must be https://host/... (got scheme {parts.scheme!r})")
    if parts.scheme == "http" and not _is_loopback(host):
        raise UnsafeTransportError(
            f"refusing to send the access token over plain http:// to {host!r}; use https:// "
            "(plain http is allowed only for 127.0.0.0/8, ::1 and localhost)"
        )
    return url


def _no_proxies() -> dict[str, Any]:
    """Per-request proxies that switch off every proxy (None removes the setting in requests)."""
    return {"http": None, "https": None, "all": None}


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_timeout(timeout: float | tuple[float, float]) -> float | tuple[float, float]:
    if isinstance(timeout, tuple):
        if len(timeout) != 2:
            raise InvalidValueError("timeout must be seconds or a (connect, read) pair")
        connect, read = timeout
        return (_positive("timeout", connect), _positive("timeout", read))
    return _positive("timeout", timeout)


def _positive(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise InvalidValueError(f"{name} must be a positive number, got {value!r}")
    if value == float("inf"):
        raise InvalidValueError(f"{name} must be finite")
    return float(value)


def _non_negative(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1e9:
        raise InvalidValueError(f"{name} must be a non-negative number, got {value!r}")
    return float(value)


def _positive_int(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidValueError(f"{name} must be a positive int, got {value!r}")
    return value


def _redactor(token: str) -> Callable[[str], str]:
    """A function that blanks every occurrence of the token in a text."""

    def redact(text: str) -> str:
        return text.replace(token, _REDACTED) if token in text else text

    return redact


def _header(headers: dict[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name.lower():
            return value
    return None


def _server_message(content: bytes) -> str:
    """The error text of a response body: a known JSON field, else the start of the raw body."""
    try:
        document = orjson.loads(content)
    except orjson.JSONDecodeError:
        document = None
    if isinstance(document, dict):
        for field in _MESSAGE_FIELDS:
            value = document.get(field)
            if value in (None, "", [], {}):
                continue
            if isinstance(value, str):
                return value
            return orjson.dumps(value).decode()
    return content[:_PREVIEW].decode("utf-8", errors="replace").strip()


def _parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds from a ``Retry-After`` header (delay-seconds or an HTTP date), or None."""
    if value is None:
        return None
    value = value.strip()
    if _SECONDS.fullmatch(value):
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, when.timestamp() - now)
