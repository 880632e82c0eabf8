"""Plumbing shared by the executors: the query protocol and the concurrent ``execute_many``.

Data flows builder -> TQL text -> executor; executors only need ``to_tql()``, so they accept
query objects without importing the builder.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from tqlbuilder.errors import ExecutionError, InvalidValueError, UnsupportedTypeError

if TYPE_CHECKING:  # pragma: no cover
    from tqlbuilder.result import Result

__all__ = ["SupportsTQL", "query_text", "run_many"]


@runtime_checkable
class SupportsTQL(Protocol):
    """Anything that renders itself as one TQL statement (e.g. ``tqlbuilder.Query``)."""

    def to_tql(self) -> str: ...


def query_text(query: str | SupportsTQL) -> str:
    """Return the TQL text of ``query``: the string itself, or ``query.to_tql()``."""
    if isinstance(query, str):
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


def run_many(
    run: Callable[[str], Result],
    texts: Sequence[str],
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

    def capture(text: str) -> Result | ExecutionError:
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
