"""Plumbing shared by the executors: the query protocol, the common base class, ``execute_many``.

Data flows builder -> TQL text -> executor; executors only need ``to_tql()``, so they accept
query objects without importing the builder.
"""

from __future__ import annotations

import abc
import asyncio
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from types import TracebackType
from typing import (
    TYPE_CHECKING,
    ClassVar,
    Literal,
    Protocol,
    TypeVar,
    overload,
    runtime_checkable,
)

from tqlbuilder.engine.lexicon import SET_OPERATIONS
from tqlbuilder.errors import (
    ExecutionError,
    InvalidValueError,
    QueryError,
    TQLError,
    UnsupportedTypeError,
)
from tqlbuilder.text.lexer import NUMERIC_LIST, TokenKind, lex

if TYPE_CHECKING:  # pragma: no cover
    from tqlbuilder.run.result import Result

__all__ = [
    "Executor",
    "SupportsTQL",
    "compiled_text",
    "is_source_less",
    "query_text",
    "refuse_source_less",
    "run_many",
]

_SOURCE_LESS_MESSAGE = (
    "this query has no dataset source (no from_()): {name} runs queries by dataset path, "
    'so add .from_("hub://<org>/<dataset>") (a FROM clause), or run it on an open dataset '
    "handle with tqlbuilder.DatasetExecutor(ds)"
)

_E = TypeVar("_E", bound="Executor")
_T = TypeVar("_T")


@runtime_checkable
class SupportsTQL(Protocol):
    """Anything that renders itself as one TQL statement (e.g. ``tqlbuilder.Query``)."""

    def to_tql(self) -> str: ...


def query_text(query: str | SupportsTQL) -> str:
    """Return the TQL text of ``query``: the string itself, or ``query.to_tql()``."""
    if isinstance(query, str):
        if not query.isascii():
            try:
                query.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise InvalidValueError(
                    f"query has a lone surrogate {query[exc.start]!r} at position {exc.start}: "
                    "it has no UTF-8 form, so it cannot be sent; clean the text first"
                ) from None
        return query
    to_tql = getattr(query, "to_tql", None)
    if to_tql is None:
        raise UnsupportedTypeError(
            f"expected a TQL string or an object with to_tql(), got {type(query).__name__}"
        )
    text = to_tql()
    if not isinstance(text, str):
        raise UnsupportedTypeError(f"to_tql() returned {type(text).__name__}, expected str")
    return text


def compiled_text(query: str | SupportsTQL) -> tuple[str, bool]:
    """The TQL text of ``query`` and whether it came from the compiler alone (trusted).

    Only a ``tqlbuilder.Query`` whose tree holds no ``raw()`` fragment is trusted: its text was
    printed from validated nodes, on which the hazard checker finds nothing (the property test
    ``test_check_finds_nothing_in_builder_output``), so executors need not lex and check it
    again. A string, a query with a raw fragment, or any other object with ``to_tql()`` is not.
    """
    if isinstance(query, str):
        return query, False
    from tqlbuilder.build.query import Query

    if isinstance(query, Query):
        return query._compiled()
    return query_text(query), False


def is_source_less(tql: str) -> bool:
    """True when a SELECT in ``tql`` has no FROM at its own level (no dataset source).

    ``SELECT * WHERE x > 1`` and the builder's source-less vector search
    ``SELECT * FROM (SELECT ... WHERE ...) ORDER BY ...`` are source-less: they run on an open
    dataset handle (``ds.query``), not by path. Text the lexer rejects is left to the engine.

    Examples:
        >>> is_source_less("SELECT * WHERE x > 1")
        True
        >>> is_source_less('SELECT * FROM (SELECT * FROM "hub://o/d") LIMIT 1')
        False
    """
    if "SELECT" not in tql.upper():
        return False
    try:
        tokens = lex(NUMERIC_LIST.sub("[0]", tql))
    except TQLError:
        return False
    pending = [False]  # per bracket level: a SELECT seen here has not met its FROM yet
    for token in tokens:
        kind = token.kind
        if kind is TokenKind.OPERATOR and token.text in ("(", "["):
            pending.append(False)
        elif kind is TokenKind.OPERATOR and token.text in (")", "]"):
            if len(pending) > 1 and pending.pop():
                return True
        elif kind is TokenKind.KEYWORD:
            if token.value == "SELECT" or token.value in SET_OPERATIONS:
                if pending[-1]:
                    return True
                pending[-1] = token.value == "SELECT"
            elif token.value == "FROM":
                pending[-1] = False
    return any(pending)


def refuse_source_less(tql: str, executor: str) -> None:
    """Raise QueryError when ``tql`` has no dataset source; ``executor`` names who refuses.

    For executors that send queries by dataset path (LocalExecutor, RestExecutor,
    AsyncRestExecutor): the error names both fixes, ``from_()`` and ``DatasetExecutor``.
    """
    if is_source_less(tql):
        raise QueryError(_SOURCE_LESS_MESSAGE.format(name=executor), query=tql)


def run_many(
    run: Callable[[_T], Result],
    texts: Sequence[_T],
    *,
    max_workers: int,
    return_exceptions: bool,
) -> list[Result | ExecutionError]:
    """Run ``run`` over ``texts`` on a thread pool and return the outcomes in input order.

    Every call finishes before this returns. With ``return_exceptions`` an ExecutionError is
    returned in its slot; otherwise the first one in input order is raised. Any other exception
    (a bug, not a query failure) is raised in input order as well.
    """
    if isinstance(max_workers, bool) or not isinstance(max_workers, int) or max_workers < 1:
        raise InvalidValueError(f"max_workers must be a positive int, got {max_workers!r}")
    if not texts:
        return []

    def capture(text: _T) -> Result | ExecutionError:
        try:
            return run(text)
        except ExecutionError as error:
            return error

    workers = min(max_workers, len(texts))
    if workers == 1:
        outcomes = [capture(text) for text in texts]
    else:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tqlbuilder") as pool:
            futures = [pool.submit(capture, text) for text in texts]
            wait(futures)
        outcomes = [future.result() for future in futures]
    if not return_exceptions:
        for outcome in outcomes:
            if isinstance(outcome, ExecutionError):
                raise outcome
    return outcomes


class Executor(abc.ABC):
    """What every executor offers: ``execute``, ``execute_many``, ``execute_async``, ``with``.

    Subclasses implement ``_execute_text`` (one TQL string to one Result) and ``close``, and may
    override ``_execute_text_async`` (the default runs ``_execute_text`` in a worker thread).
    ``requires_source`` (True unless the executor runs on an open dataset handle) makes every
    entry point refuse a source-less query (no ``from_()``) before anything is sent.
    """

    requires_source: ClassVar[bool] = True

    @abc.abstractmethod
    def _execute_text(self, tql: str, as_list: bool) -> Result:
        """Run one TQL string; raise an ExecutionError subclass when it does not succeed."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release what the executor holds (idempotent)."""

    def _execute_trusted(self, tql: str, as_list: bool) -> Result:
        """Run compiler output (see `compiled_text()`); executors that check text skip it."""
        return self._execute_text(tql, as_list)

    def _execute_compiled(self, compiled: tuple[str, bool], as_list: bool) -> Result:
        text, trusted = compiled
        if trusted:
            return self._execute_trusted(text, as_list)
        return self._execute_text(text, as_list)

    async def _execute_text_async(self, tql: str, as_list: bool) -> Result:
        """Run one TQL string without blocking the event loop (default: in a worker thread)."""
        return await asyncio.to_thread(self._execute_text, tql, as_list)

    def _refuse_source_less(self, tql: str) -> None:
        """Raise QueryError for a source-less query when this executor needs a dataset path."""
        if self.requires_source:
            refuse_source_less(tql, type(self).__name__)

    def _run_compiled(self, compiled: tuple[str, bool], as_list: bool) -> Result:
        self._refuse_source_less(compiled[0])
        return self._execute_compiled(compiled, as_list)

    def _worker_limit(self, max_workers: int) -> int:
        """The number of threads ``execute_many`` may really use (a connection pool caps it)."""
        return max_workers

    def execute(self, query: str | SupportsTQL, *, as_list: bool = True) -> Result:
        """Run one query (a TQL string or an object with ``to_tql()``) and return its Result.

        ``as_list`` picks the response shape on the wire (rows or columns); the Result is the
        same either way. Raises an ExecutionError subclass when the query does not succeed.
        """
        return self._run_compiled(compiled_text(query), as_list)

    async def execute_async(self, query: str | SupportsTQL, *, as_list: bool = True) -> Result:
        """Like [`execute()`][execute], awaitable: the event loop keeps running meanwhile.

        Local executors use the engine's own ``query_async``; others run [`execute()`][execute] in a
        worker thread. Cancelling the awaiting task abandons the query; the executor stays usable.
        Raises the same errors as [`execute()`][execute].
        """
        text = query_text(query)
        self._refuse_source_less(text)
        return await self._execute_text_async(text, as_list)

    @overload
    def execute_many(
        self,
        queries: Iterable[str | SupportsTQL],
        *,
        as_list: bool = ...,
        max_workers: int = ...,
        return_exceptions: Literal[False] = ...,
    ) -> list[Result]: ...

    @overload
    def execute_many(
        self,
        queries: Iterable[str | SupportsTQL],
        *,
        as_list: bool = ...,
        max_workers: int = ...,
        return_exceptions: bool,
    ) -> list[Result | ExecutionError]: ...

    def execute_many(
        self,
        queries: Iterable[str | SupportsTQL],
        *,
        as_list: bool = True,
        max_workers: int = 8,
        return_exceptions: bool = False,
    ) -> list[Result] | list[Result | ExecutionError]:
        """Run queries on up to ``max_workers`` threads; results come back in input order.

        Every query finishes first. Without ``return_exceptions`` the first failure in input
        order is then raised; with it, each ExecutionError is returned in its query's place.
        """
        texts = [compiled_text(query) for query in queries]
        if isinstance(max_workers, int) and not isinstance(max_workers, bool):
            max_workers = self._worker_limit(max_workers)
        return run_many(
            lambda compiled: self._run_compiled(compiled, as_list),
            texts,
            max_workers=max_workers,
            return_exceptions=return_exceptions,
        )

    def __enter__(self: _E) -> _E:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
