"""The sans-IO rules both REST clients share: settings, token hygiene, retries, deadline, errors.

`RestExecutor` (requests) and
`AsyncRestExecutor` (httpx) only move bytes; everything they
must agree on lives here, once:

- validating settings (URL and plain-http refusal, timeouts, attempts, back-off, deadline);
- the token: absent -> MissingTokenError, ``Bearer `` prefix stripped, malformed ->
  MalformedTokenError; redaction of the token (not of its letters) from every message;
- the retry loop's decisions (`CallBudget`): how many attempts, how long to wait
  (full jitter or ``Retry-After``), per-attempt timeouts bounded by the remaining deadline,
  and when to give up with `DeadlineExceededError`;
- mapping an HTTP status and body to a typed `ExecutionError`.
"""

from __future__ import annotations

import email.utils
import ipaddress
import math
import re
import warnings
from collections.abc import Callable, Mapping
from datetime import UTC
from typing import Final
from urllib.parse import urlsplit

import orjson

from tqlbuilder.errors import (
    AuthenticationError,
    DeadlineExceededError,
    ExecutionError,
    InvalidValueError,
    MalformedTokenError,
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
from tqlbuilder.run.result import Result

__all__ = [
    "DEFAULT_URL",
    "MIN_REDACT_EVERYWHERE",
    "RETRY_STATUSES",
    "TOKEN_ENV",
    "CallBudget",
    "Failure",
    "RetryPolicy",
    "check_timeout",
    "check_url",
    "clean_token",
    "decode_success",
    "redactor",
    "resolve_attempts",
    "status_failure",
    "too_large",
]

DEFAULT_URL: Final = "https://app.activeloop.ai/api/query/v1"
TOKEN_ENV: Final = "ACTIVELOOP_TOKEN"
REDACTED: Final = "***"
#: Statuses retried: rate limited, bad gateway, unavailable (all three honour ``Retry-After``).
#: 500 (the query crashed the engine) and 504 (the query ran past the server's time limit) are
#: answers about this query: repeating it would fail the same way, so they are raised at once.
RETRY_STATUSES: Final = frozenset({429, 502, 503})
#: Tokens at least this long are redacted wherever they occur; shorter ones only where they
#: stand alone (not inside a word), so that a token "T" does not turn "Tensor" into "***ensor".
MIN_REDACT_EVERYWHERE: Final = 16

_TOKEN = re.compile(r"[\x21-\x7e]+")
_BEARER = re.compile(r"bearer[ \t]+", re.IGNORECASE)
_SECONDS = re.compile(r"\d+(?:\.\d+)?")
_MESSAGE_FIELDS = ("message", "description", "error", "detail")
_PREVIEW = 200
_SLACK = 0.01


# ---------------------------------------------------------------------- settings


def clean_token(token: object, environ: Mapping[str, str]) -> str:
    """Return the bearer token to send, from ``token`` or ``environ[TOKEN_ENV]``.

    Surrounding whitespace (a newline from a token file) and a leading ``Bearer `` (any case)
    are stripped. Raises MissingTokenError when there is no token (None, empty, unset),
    MalformedTokenError when there is one that cannot be sent (not a str, whitespace or a
    control character inside, non-ASCII). Neither message contains the token.
    """
    if token is None:
        token = environ.get(TOKEN_ENV)
    if token is None or token == "":
        raise MissingTokenError(
            f"no access token: pass token=... or set the {TOKEN_ENV} environment variable"
        )
    if not isinstance(token, str):
        raise MalformedTokenError(f"the access token must be a str, not {type(token).__name__}")
    text = token.strip()
    prefix = _BEARER.match(text)
    if prefix:
        text = text[prefix.end() :]
    if not text or text.lower() == "bearer":
        raise MalformedTokenError(
            "the access token is malformed: it is blank (or only the 'Bearer ' prefix); pass "
            "the token itself"
        )
    if not _TOKEN.fullmatch(text):
        bad = next(i for i, ch in enumerate(text) if not _TOKEN.fullmatch(ch))
        kind = (
            "whitespace or a control character" if text[bad].isascii() else "a non-ASCII character"
        )
        raise MalformedTokenError(
            f"the access token is malformed: it contains {kind} at position {bad}; a token is "
            "one run of printable ASCII characters"
        )
    return text


def redactor(token: str) -> Callable[[str], str]:
    """A function that replaces the token (not its letters) in a text with ``***``.

    A token of MIN_REDACT_EVERYWHERE or more characters is replaced wherever it occurs. A
    shorter one is replaced only where it is not part of a longer run of letters, digits and
    underscores: with token ``T``, ``token T rejected`` becomes ``token *** rejected`` while
    ``Tensor`` stays readable.

    Examples:
        >>> redactor("T")('Tensor "T" does not exist; Bearer T')
        'Tensor "***" does not exist; Bearer ***'
        >>> redactor("e")("request failed")
        'request failed'
    """
    if len(token) >= MIN_REDACT_EVERYWHERE:
        pattern = re.compile(re.escape(token))
    else:
        pattern = re.compile(rf"(?<![A-Za-z0-9_]){re.escape(token)}(?![A-Za-z0-9_])")
    # Repeat while the token is still found: "***" and its neighbours can spell the token
    # again (a token with "*" inside). Each pass shortens the text when the token is longer
    # than "***", so this ends; shorter tokens get one pass.
    repeat = len(token) > len(REDACTED)

    def redact(text: str) -> str:
        if token not in text:
            return text
        while True:
            text, count = pattern.subn(REDACTED, text)
            if not (count and repeat and pattern.search(text)):
                return text

    return redact


def check_url(url: object) -> str:
    """Return ``url`` if it is ``https://`` or ``http://`` to a loopback host, else raise."""
    if not isinstance(url, str):
        raise UnsupportedTypeError(f"url must be a str, not {type(url).__name__}")
    parts = urlsplit(url)
    host = parts.hostname
    if parts.scheme not in ("http", "https") or not host:
        raise UnsafeTransportError(f"url must be https://host/... (got scheme {parts.scheme!r})")
    if parts.scheme == "http" and not is_loopback(host):
        raise UnsafeTransportError(
            f"refusing to send the access token over plain http:// to {host!r}; use https:// "
            "(plain http is allowed only for 127.0.0.0/8, ::1 and localhost)"
        )
    return url


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback IP addresses (127.0.0.0/8, ::1)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_timeout(timeout: object) -> tuple[float, float]:
    """``timeout`` (seconds, or a ``(connect, read)`` pair) as a ``(connect, read)`` pair."""
    if isinstance(timeout, tuple):
        if len(timeout) != 2:
            raise InvalidValueError("timeout must be seconds or a (connect, read) pair")
        return (positive("timeout", timeout[0]), positive("timeout", timeout[1]))
    value = positive("timeout", timeout)
    return (value, value)


def positive(name: str, value: object) -> float:
    """``value`` as a float if it is a finite number > 0, else InvalidValueError naming it."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise InvalidValueError(f"{name} must be a positive number of seconds, got {value!r}")
    if not math.isfinite(value):
        raise InvalidValueError(f"{name} must be finite, got {value!r}")
    return float(value)


def non_negative(name: str, value: object) -> float:
    """``value`` as a float if it is a number in [0, 1e9), else InvalidValueError naming it."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1e9:
        raise InvalidValueError(f"{name} must be a non-negative number, got {value!r}")
    return float(value)


def positive_int(name: str, value: object) -> int:
    """``value`` if it is an int >= 1, else InvalidValueError naming it."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidValueError(f"{name} must be a positive int, got {value!r}")
    return value


def resolve_attempts(max_attempts: int | None, max_retries: int | None, owner: str) -> int:
    """The number of attempts per call: ``max_attempts`` (default 3).

    ``max_retries`` is the old name of the same number (it always counted attempts, not
    retries); it still works with a DeprecationWarning. Giving both is an error.
    """
    if max_retries is not None:
        if max_attempts is not None:
            raise InvalidValueError(
                f"{owner}: pass max_attempts only (max_retries is its deprecated old name)"
            )
        warnings.warn(
            f"{owner}(max_retries=) is deprecated: it always counted attempts, so it is now "
            f"called max_attempts; max_retries={max_retries!r} means max_attempts={max_retries!r}",
            DeprecationWarning,
            stacklevel=3,
        )
        return positive_int("max_retries", max_retries)
    return positive_int("max_attempts", 3 if max_attempts is None else max_attempts)


# ---------------------------------------------------------------------- retries and deadline


class Failure:
    """One failed attempt: the error to raise, whether to retry, and the server's delay hint."""

    __slots__ = ("error", "retry_after", "retryable")

    def __init__(
        self, error: ExecutionError, *, retryable: bool, retry_after: float | None = None
    ) -> None:
        self.error = error
        self.retryable = retryable
        self.retry_after = retry_after


class RetryPolicy:
    """Attempts, back-off and deadline of one executor; `start()` begins one call.

    Args:
        attempts: total attempts per call (>= 1).
        backoff: base of the full-jitter wait, seconds: before attempt ``n + 1`` the wait is
            uniform in ``[0, min(max_backoff, backoff * 2**(n-1))]``.
        max_backoff: the longest wait, seconds (also caps ``Retry-After``).
        timeout: ``(connect, read)`` seconds per attempt (read: per socket read).
        deadline: total seconds per call, or None for no deadline.
    """

    __slots__ = ("attempts", "backoff", "deadline", "max_backoff", "timeout")

    def __init__(
        self,
        *,
        attempts: int,
        backoff: float,
        max_backoff: float,
        timeout: tuple[float, float],
        deadline: float | None,
    ) -> None:
        self.attempts = attempts
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.timeout = timeout
        self.deadline = deadline

    def start(self, now: float, tql: str) -> CallBudget:
        """A new call's budget; ``now`` is a monotonic clock reading in seconds."""
        return CallBudget(self, now, tql)


class CallBudget:
    """The state of one call: the attempt number and the time left before the deadline.

    The client loop is::

        budget = policy.start(monotonic(), tql)
        while True:
            connect, read = budget.timeouts(monotonic())  # may raise DeadlineExceededError
            outcome = <one attempt with these timeouts>
            if outcome is a Result: return it
            sleep(budget.next_delay(outcome, monotonic(), rng))  # or raises
    """

    __slots__ = ("attempt", "deadline_at", "policy", "tql")

    def __init__(self, policy: RetryPolicy, now: float, tql: str) -> None:
        self.policy = policy
        self.tql = tql
        self.attempt = 0
        self.deadline_at = None if policy.deadline is None else now + policy.deadline

    def remaining(self, now: float) -> float:
        """Seconds left before the deadline (``inf`` without one; may be negative)."""
        return math.inf if self.deadline_at is None else self.deadline_at - now

    def timeouts(self, now: float) -> tuple[float, float]:
        """Start the next attempt: its ``(connect, read)`` timeouts, bounded by the time left.

        Raises DeadlineExceededError when no time is left.
        """
        left = self.remaining(now)
        if left <= 0:
            raise self.expired()
        self.attempt += 1
        connect, read = self.policy.timeout
        return (min(connect, left), min(read, left))

    def expired(
        self, last: ExecutionError | None = None, *, waiting: float = 0.0
    ) -> ExecutionError:
        """The DeadlineExceededError of this call (mentioning the last failure, if any)."""
        deadline = self.policy.deadline
        if waiting:
            message = (
                f"deadline of {deadline:g} s would pass before the next attempt "
                f"(retry in {waiting:.2f} s) after {self.attempt} attempt(s)"
            )
        else:
            message = f"deadline of {deadline:g} s passed after {self.attempt} attempt(s)"
        status = None
        if last is not None:
            message = f"{message}; last failure: {last}"
            status = last.status
        return DeadlineExceededError(
            message,
            status=status,
            server_message=None if last is None else last.server_message,
            query=self.tql,
        )

    def failed(self, failure: Failure, now: float) -> ExecutionError:
        """The error for a failed attempt: a deadline error if the time ran out meanwhile."""
        # (A socket timeout bounded by the time left may fire a hair before the deadline.)
        if (
            self.deadline_at is not None
            and now >= self.deadline_at - _SLACK
            and isinstance(failure.error, TransportError)
        ):
            return self.expired(failure.error)
        return failure.error

    def next_delay(
        self, failure: Failure, now: float, uniform: Callable[[float, float], float]
    ) -> float:
        """Seconds to wait before retrying after ``failure``; raises when not retrying.

        Raises the failure's error when it is not retryable or the attempts are used up, and
        DeadlineExceededError when the wait would end past the deadline.
        """
        error = self.failed(failure, now)
        if error is not failure.error or not failure.retryable:
            raise error
        if self.attempt >= self.policy.attempts:
            raise error
        policy = self.policy
        if failure.retry_after is not None:
            delay = min(failure.retry_after, policy.max_backoff)
        else:
            delay = uniform(
                0.0, min(policy.max_backoff, policy.backoff * 2.0 ** (self.attempt - 1))
            )
        if delay >= self.remaining(now):
            raise self.expired(failure.error, waiting=delay)
        return delay


# ---------------------------------------------------------------------- answers


def decode_success(
    content: bytes, as_list: bool, status: int, tql: str, redact: Callable[[str], str]
) -> Result | Failure:
    """Parse a 2xx body; a format error is re-made with the token blanked out."""
    try:
        return Result.from_response_body(content, as_list=as_list, status=status, query=tql)
    except ResponseFormatError as error:
        bad = error
    redacted = ResponseFormatError(
        redact(str(bad)),
        status=status,
        server_message=redact(bad.server_message or ""),
        query=tql,
    )
    return Failure(redacted, retryable=False)


def too_large(limit: int, status: int, size: int, tql: str) -> Failure:
    """The failure for a response body over ``max_response_bytes``."""
    error = ResponseFormatError(
        f"response body exceeds max_response_bytes={limit} (HTTP {status}, at least {size} bytes)",
        status=status,
        query=tql,
    )
    return Failure(error, retryable=False)


def transport_failure(
    kind: str, exc: BaseException, tql: str, redact: Callable[[str], str], *, retryable: bool
) -> Failure:
    """A TransportError ``request <kind>: <ExceptionType>: <text>`` with the token redacted."""
    message = redact(f"request {kind}: {type(exc).__name__}: {exc}")
    return Failure(TransportError(message, query=tql), retryable=retryable)


_STATUS_ERRORS: dict[int, tuple[type[ExecutionError], str]] = {
    400: (QueryError, "query rejected"),
    401: (AuthenticationError, "authentication failed (is the token valid?)"),
    403: (PermissionDeniedError, "permission denied"),
    404: (NotFoundError, "not found"),
    413: (PayloadTooLargeError, "request too large"),
    422: (QueryError, "query rejected"),
    429: (RateLimitError, "rate limited"),
    504: (ServerError, "server timed out"),
}


def status_failure(
    status: int,
    headers: Mapping[str, str],
    content: bytes,
    tql: str,
    redact: Callable[[str], str],
    now: float,
) -> Failure:
    """Map a non-2xx answer to its typed error (the table in docs/errors.md).

    ``headers`` is looked up case-insensitively; ``now`` is wall-clock seconds (for a
    ``Retry-After`` HTTP date).
    """
    server_message = redact(_server_message(content))
    retryable = status in RETRY_STATUSES
    retry_after = _parse_retry_after(_header(headers, "Retry-After"), now) if retryable else None
    if status in _STATUS_ERRORS:
        error_type, what = _STATUS_ERRORS[status]
    elif 500 <= status < 600:
        error_type, what = ServerError, "server error"
    else:
        error_type, what = ExecutionError, "unexpected HTTP status"
    message = f"{what} (HTTP {status})"
    if server_message:
        message = f"{message}: {server_message}"
    error: ExecutionError
    if error_type is RateLimitError:
        error = RateLimitError(
            message,
            retry_after=retry_after,
            status=status,
            server_message=server_message,
            query=tql,
        )
    else:
        error = error_type(message, status=status, server_message=server_message, query=tql)
    return Failure(error, retryable=retryable, retry_after=retry_after)


def _header(headers: Mapping[str, str], name: str) -> str | None:
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
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
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now)
