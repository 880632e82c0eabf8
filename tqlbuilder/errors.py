"""One exception hierarchy for everything tqlbuilder raises.

Every error is a [`TQLError`][tqlbuilder.TQLError]. Errors caused by bad input are also a
``ValueError`` or ``TypeError``, so callers that already catch those keep working. Execution
errors carry the HTTP status (if any), the server's message and the query text, and never the
access token.

Examples:
    >>> from tqlbuilder import InvalidValueError, TQLError, lit
    >>> try:
    ...     lit(float("nan"))
    ... except InvalidValueError as exc:
    ...     print(isinstance(exc, (TQLError, ValueError)), "NaN" in str(exc))
    True True
"""

from __future__ import annotations

__all__ = [
    "AuthenticationError",
    "BuildError",
    "DeadlineExceededError",
    "EngineNotInstalledError",
    "ExecutionError",
    "InvalidIdentifierError",
    "InvalidValueError",
    "MalformedTokenError",
    "MissingDependencyError",
    "MissingTokenError",
    "NotFoundError",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "QueryError",
    "RateLimitError",
    "RawFragmentError",
    "ResponseFormatError",
    "ServerError",
    "TQLError",
    "TQLSyntaxError",
    "TransportError",
    "UnsafeTransportError",
    "UnsupportedConstructError",
    "UnsupportedSyntaxError",
    "UnsupportedTypeError",
]


class TQLError(Exception):
    """Root of every exception raised by tqlbuilder."""


# --------------------------------------------------------------------------- building


class BuildError(TQLError):
    """A query could not be built or compiled from the given input."""


class InvalidIdentifierError(BuildError, ValueError):
    """A column, alias or dataset name cannot be written in TQL (empty, or ``"``/NUL/CR/LF)."""


class InvalidValueError(BuildError, ValueError):
    """A value has no TQL literal (NaN, infinity, NUL, out of range, empty vector...)."""


class UnsupportedTypeError(BuildError, TypeError):
    """A Python object of a type that has no TQL literal was used as a value or expression."""


class UnsupportedConstructError(BuildError, ValueError):
    """A construct the engine parses but silently gets wrong (or crashes on) was requested."""


class RawFragmentError(BuildError, ValueError):
    """A ``raw()`` fragment failed the safety checks (comment, unknown character, unbalanced...)."""


class _Located(Exception):
    """Mixin: an error about a position in TQL text, shown with a short excerpt and a caret.

    ``position`` is the 0-based character offset, ``reason`` the message without the excerpt,
    ``text`` the whole query.
    """

    def __init__(self, message: str, *, text: str = "", position: int = 0) -> None:
        self.text = text
        self.position = position
        self.reason = message
        super().__init__(locate(message, text, position))


def locate(message: str, text: str, position: int) -> str:
    """``message (at position p)`` plus the line around ``p`` with a caret under it.

    Only 40 characters either side are shown: a one-line query can be 30 KB long.
    """
    if not text:
        return f"{message} (at position {position})"
    line_start = text.rfind("\n", 0, position) + 1
    line_end = text.find("\n", position)
    line_end = len(text) if line_end == -1 else line_end
    start = max(line_start, position - 40)
    end = min(line_end, position + 40)
    before = "..." if start > line_start else ""
    after = "..." if end < line_end else ""
    caret = " " * (len(before) + position - start) + "^"
    return f"{message} (at position {position})\n  {before}{text[start:end]}{after}\n  {caret}"


class TQLSyntaxError(_Located, TQLError, ValueError):
    """TQL text could not be parsed (or would be silently truncated by the engine).

    The message ends with the line around the position and a caret under it.

    Attributes:
        position: The 0-based character offset in ``text`` the error points at.
        reason: The message without the excerpt.
        text: The whole text that was read.

    Examples:
        >>> from tqlbuilder import TQLSyntaxError, parse
        >>> try:
        ...     parse("SELECT * FROM ds WHERE x = 1 # AND y = 2")
        ... except TQLSyntaxError as exc:
        ...     print(exc.position)
        29
    """


class UnsupportedSyntaxError(_Located, UnsupportedConstructError):
    """Parsed TQL uses a construct the builder deliberately does not offer.

    Raised by [`parse()`][tqlbuilder.parse]; the message says what the engine gets wrong.

    Attributes:
        position: The 0-based character offset of the construct in ``text``.
        reason: The message without the excerpt.
        text: The whole text that was read.
    """


# --------------------------------------------------------------------------- configuration


class MissingTokenError(TQLError, ValueError):
    """No access token was given and ``ACTIVELOOP_TOKEN`` is not set."""


class MalformedTokenError(TQLError, ValueError):
    """An access token was given but cannot be a token: not a str, whitespace or a line break
    inside, or non-ASCII characters. (A leading ``Bearer `` is stripped, not refused.)"""


class UnsafeTransportError(TQLError, ValueError):
    """Refused to send a bearer token over plain ``http://`` to a host that is not loopback."""


class MissingDependencyError(TQLError, ImportError):
    """An optional dependency is not installed; the message names the extra to install
    (for example ``pip install "tqlbuilder[async]"`` for ``AsyncRestExecutor``)."""


class EngineNotInstalledError(MissingDependencyError):
    """The embedded engine (the ``deeplake`` package) is not installed."""


# --------------------------------------------------------------------------- execution


class ExecutionError(TQLError):
    """A query was sent but did not produce a result.

    The token is never part of the message or the attributes. Subclasses tell the cause
    apart; the "Errors and retries" guide maps HTTP statuses to them and says which are
    retried.

    Attributes:
        status: The HTTP status, or ``None`` (no answer, or the embedded engine).
        server_message: What the server or engine said, or ``None``.
        query: The TQL text that was sent, or ``None``.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        server_message: str | None = None,
        query: str | None = None,
    ) -> None:
        self.status = status
        self.server_message = server_message
        self.query = query
        super().__init__(message)


class QueryError(ExecutionError):
    """The server or engine rejected the query (HTTP 400/422, or an engine error)."""


class AuthenticationError(ExecutionError):
    """HTTP 401: the token is missing, expired or wrong."""


class PermissionDeniedError(ExecutionError):
    """HTTP 403: the token is valid but may not query this dataset."""


class NotFoundError(ExecutionError):
    """HTTP 404: the endpoint or dataset does not exist."""


class PayloadTooLargeError(ExecutionError):
    """HTTP 413: the request body is too large for the server."""


class RateLimitError(ExecutionError):
    """HTTP 429: too many requests (retried by the REST executors).

    Attributes:
        retry_after: The server's ``Retry-After`` hint in seconds, or ``None``.
    """

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: object) -> None:
        self.retry_after = retry_after
        super().__init__(message, **kwargs)  # type: ignore[arg-type]


class ServerError(ExecutionError):
    """HTTP 5xx: the server failed."""


class TransportError(ExecutionError):
    """The request did not complete: connection refused or reset, timeout, TLS failure."""


class DeadlineExceededError(TransportError):
    """The call's total ``deadline`` (connect, send, receive, retries and waits) passed."""


class ResponseFormatError(ExecutionError):
    """The server answered, but not with the documented JSON envelope."""
