"""Run TQL on an open Deep Lake dataset handle (``Dataset``, ``ReadOnlyDataset``, ``DatasetView``).

Vector-store adapters hold an open dataset, write rows to it and query the same handle before
any commit. `DatasetExecutor` sends source-less queries (no ``from_()``) to ``ds.query`` /
``ds.query_async``, so results include uncommitted appends and deletes, with the same Result,
the same refusals and the same schema checks as [`LocalExecutor`][tqlbuilder.LocalExecutor].
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from tqlbuilder.errors import QueryError, TQLError, UnsupportedTypeError
from tqlbuilder.run.executor import Executor
from tqlbuilder.run.local import (
    _source_tokens,
    await_engine,
    check_vector_lengths,
    engine_failure,
    fixed_dimensions,
    read_view,
    read_view_async,
    refuse_hazards,
    require_engine,
)
from tqlbuilder.run.logging_util import log_query
from tqlbuilder.run.result import SUCCESS_MESSAGE, Result
from tqlbuilder.text.lexer import NUMERIC_LIST, Token, lex

if TYPE_CHECKING:  # pragma: no cover
    from tqlbuilder.tree.expr import Expr

__all__ = ["DatasetExecutor"]

_log = logging.getLogger("tqlbuilder.run.dataset")
_ROW_ALIAS = "_tqlbuilder_row"


class DatasetExecutor(Executor):
    """Runs source-less queries on one open dataset handle, seeing its uncommitted changes.

    Args:
        ds: an open ``deeplake.Dataset``, ``deeplake.ReadOnlyDataset`` or ``deeplake.DatasetView``
            (deeplake 4.7). The executor does not own it: `close()` leaves it open.

    Raises:
        UnsupportedTypeError: ``ds`` is not one of those handles.
        EngineNotInstalledError: ``deeplake`` is not installed.

    Queries must leave their source out (build them without ``from_()``); one that names a
    dataset path is refused with QueryError, because ``ds.query`` on deeplake 4.7.4 reads a
    ``FROM "<path>"`` from storage and so misses uncommitted rows (tests/test_dataset.py). Text
    that would crash, hang or be silently truncated by the engine is refused as in
    LocalExecutor, and a query vector whose length differs from its column's dimensions is
    refused with both sizes. ``as_list`` is accepted for signature compatibility.

    Examples:
        >>> import deeplake
        >>> from tqlbuilder import DatasetExecutor, select, col
        >>> ds = deeplake.create("mem://doctest-dataset-executor")
        >>> ds.add_column("id", "int64")
        >>> ds.append({"id": [0, 1, 2, 3]})
        >>> executor = DatasetExecutor(ds)
        >>> executor.execute(select("id").where(col("id") >= 2)).column("id")
        [2, 3]
        >>> ds.delete(0)  # not committed: the handle already sees it
        >>> executor.row_indices(col("id") >= 2)
        [1, 2]
    """

    requires_source: ClassVar[bool] = False

    def __init__(self, ds: Any) -> None:
        deeplake = require_engine()
        handles = (deeplake.Dataset, deeplake.ReadOnlyDataset, deeplake.DatasetView)
        if not isinstance(ds, handles):
            raise UnsupportedTypeError(
                "DatasetExecutor needs an open deeplake Dataset, ReadOnlyDataset or DatasetView "
                f"(e.g. deeplake.open(url)), got {type(ds).__name__}; to query by path use "
                "tqlbuilder.LocalExecutor"
            )
        self._ds = ds

    @property
    def dataset(self) -> Any:
        """The handle queries run on."""
        return self._ds

    def close(self) -> None:
        """Nothing to release: the dataset handle belongs to the caller."""

    def __repr__(self) -> str:
        return f"DatasetExecutor({type(self._ds).__name__})"

    # ------------------------------------------------------------------ one query

    def _prepare(self, tql: str, as_list: bool, *, checked: bool = False) -> None:
        """Refuse what must not reach the engine (before anything runs).

        ``checked``: compiler output of a raw()-free Query, on which the hazard checker finds
        nothing (property-tested), so only the source and vector-length checks run.
        """
        if not isinstance(as_list, bool):
            raise UnsupportedTypeError(f"as_list must be a bool, not {type(as_list).__name__}")
        if not checked:
            refuse_hazards(tql)
        try:
            tokens = lex(NUMERIC_LIST.sub(lambda m: f"[{m.group(0).count(',') + 1}]", tql))
        except TQLError:
            tokens = None  # the engine reports malformed text
        if tokens is not None:
            _refuse_named_source(tql, tokens)
            if "ARRAY" in tql.upper():
                dimensions = fixed_dimensions(self._ds.schema)
                check_vector_lengths(tql, dimensions, tokens=tokens, counted=True)
        log_query(_log, "DatasetExecutor sends", tql)

    def _execute_text(self, tql: str, as_list: bool) -> Result:
        return self._run(tql, as_list, checked=False)

    def _execute_trusted(self, tql: str, as_list: bool) -> Result:
        return self._run(tql, as_list, checked=True)

    def _run(self, tql: str, as_list: bool, *, checked: bool) -> Result:
        self._prepare(tql, as_list, checked=checked)
        failure: str | None = None
        try:
            tensors, columns, length = read_view(self._ds.query(tql))
        except Exception as exc:
            failure = engine_failure(exc)
        if failure is not None:
            raise QueryError(f"engine error: {failure}", server_message=failure, query=tql)
        return Result._trusted(tensors, columns, length, SUCCESS_MESSAGE)

    async def _execute_text_async(self, tql: str, as_list: bool) -> Result:
        self._prepare(tql, as_list)
        failure: str | None = None
        try:
            view = await await_engine(self._ds.query_async(tql))
            tensors, columns, length = await read_view_async(view)
        except Exception as exc:
            failure = engine_failure(exc)
        if failure is not None:
            raise QueryError(f"engine error: {failure}", server_message=failure, query=tql)
        return Result._trusted(tensors, columns, length, SUCCESS_MESSAGE)

    # ------------------------------------------------------------------ row indices

    def row_indices(self, condition: Expr | str) -> list[int]:
        """Positions (0-based, ascending) of the handle's rows that satisfy ``condition``.

        These are the offsets ``ds.delete(offset)`` takes, counted on the handle as it is now
        (uncommitted changes included); delete from the highest down so earlier offsets stay
        valid. On a DatasetView they are positions in the view.

        Args:
            condition: a boolean expression (``col("year") > 2020``,
                ``tqlbuilder.filters.from_dict(...)``) or the name of a boolean column.

        Returns:
            list[int]: the matching positions, ascending.

        Raises:
            InvalidValueError, UnsupportedTypeError: ``condition`` is not a condition.
            QueryError: the engine rejects the condition.

        Runs ``SELECT r FROM (SELECT *, ROW_NUMBER() AS r) WHERE <condition>``: ``ROW_NUMBER()``
        counts rows after the WHERE of its own SELECT, so it is numbered in a subquery first
        (deeplake 4.7.4, tests/test_dataset.py).
        """
        from tqlbuilder.tree.expr import as_condition
        from tqlbuilder.tree.literals import render_identifier

        text = as_condition(condition, argument="condition").to_tql()
        names = {column.name for column in self._ds.schema.columns}
        alias = _ROW_ALIAS
        while alias in names:
            alias = "_" + alias
        quoted = render_identifier(alias, argument="alias")
        result = self.execute(
            f"SELECT {quoted} FROM (SELECT *, ROW_NUMBER() AS {quoted}) WHERE {text}"
        )
        return [int(value) for value in result.column(alias)]


def _refuse_named_source(tql: str, tokens: Sequence[Token]) -> None:
    sources = _source_tokens(tokens)
    if sources:
        first = sources[0]
        raise QueryError(
            f"DatasetExecutor runs queries on its open dataset, but this query names the source "
            f"{first.text} (at position {first.start}): build it without from_() (no FROM "
            "clause), or run it with LocalExecutor to read that path",
            query=tql,
        )
