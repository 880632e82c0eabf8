"""Run TQL in-process on the embedded Deep Lake engine (the optional ``deeplake`` package).

Results hold the same JSON-like values the REST API returns, so one query gives equal
Results offline and in the cloud. With ``root``, ``FROM "hub://org/ds"`` reads ``root/org/ds``
and nothing outside ``root``. Queries that would crash, hang or be silently truncated by the
engine are refused before they reach it.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from tqlbuilder.errors import (
    EngineNotInstalledError,
    InvalidIdentifierError,
    InvalidValueError,
    QueryError,
    UnsupportedTypeError,
)
from tqlbuilder.run.executor import Executor
from tqlbuilder.run.result import SUCCESS_MESSAGE, Result
from tqlbuilder.text.hazards import CRASH_CODES, TRUNCATION_CODES, check
from tqlbuilder.text.lexer import Token, TokenKind, lex

if TYPE_CHECKING:  # pragma: no cover
    from tqlbuilder.run.isolation import EnginePool

__all__ = [
    "LocalExecutor",
    "map_dataset_paths",
    "refuse_hazards",
    "require_engine",
    "resolve_root",
]

_REFUSED_CODES = CRASH_CODES | TRUNCATION_CODES
_HUB_PATH = re.compile(r"hub://([^/]*)/([^/]*)")
_SEGMENT = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]*")
_UNQUOTABLE = ('"', "\n", "\r", "\0")
_SOURCE_KEYWORDS = frozenset({"FROM", "JOIN", "INTO", "TABLE", "UPDATE"})
_CLAUSE_KEYWORDS = frozenset(
    {
        "SELECT", "WHERE", "GROUP", "HAVING", "ORDER", "LIMIT", "OFFSET", "SAMPLE", "EXPAND",
        "UNGROUP", "UNION", "INTERSECT", "EXCEPT", "SET", "VALUES",
    }
)  # fmt: skip


class LocalExecutor(Executor):
    """Runs queries on the embedded engine (``deeplake.query``) in this process.

    The same API as [`RestExecutor`][tqlbuilder.RestExecutor]: code written against one runs
    against the other. Before text reaches the engine, input that would crash, hang or be
    silently truncated by it is refused with [`QueryError`][tqlbuilder.QueryError] (the
    crash and truncation codes of [`check()`][tqlbuilder.check]). ``as_list`` is accepted for
    signature compatibility and has no effect. Running a query without the ``deeplake``
    package (the ``local`` extra) raises
    [`EngineNotInstalledError`][tqlbuilder.EngineNotInstalledError].

    Args:
        root: An existing directory. ``FROM "hub://org/ds"`` then reads ``root/org/ds``, and
            every other dataset path is refused, so a query meant for the cloud runs unchanged
            on local copies. Without it, paths go to the engine as they are.
        isolate: ``True`` runs each query in a supervised worker process (an
            [`EnginePool`][tqlbuilder.server.EnginePool] with its defaults: one worker per CPU,
            30 s and 2 GiB per query), so an engine crash, hang or runaway allocation raises
            ``EngineCrashedError`` / ``EngineTimeoutError`` / ``EngineMemoryError`` (all a
            [`ServerError`][tqlbuilder.ServerError]) instead of ending or stalling this process.
            Pass an ``EnginePool`` to choose the limits or share workers (the executor then does
            not close it). Off by default: a round trip costs a pickled copy of the result.

    Raises:
        InvalidValueError: ``root`` is not an existing directory.
        UnsupportedTypeError: ``isolate`` is neither a bool nor an ``EnginePool``.

    Examples:
        >>> from tqlbuilder import LocalExecutor, select
        >>> with LocalExecutor(DATASET_ROOT) as executor:
        ...     executor.execute(select("id").from_("hub://org/docs").limit(2)).column("id")
        [0, 1]
    """

    _check_hazards: ClassVar[bool] = True  # tests switch it off to reach the engine

    def __init__(
        self, root: str | os.PathLike[str] | None = None, *, isolate: bool | EnginePool = False
    ) -> None:
        self._root = None if root is None else resolve_root(root)
        self._pool: EnginePool | None = None
        self._owns_pool = False
        if isolate is not False:
            from tqlbuilder.run.isolation import pool_option

            self._pool, self._owns_pool = pool_option(isolate)

    @property
    def root(self) -> str | None:
        """The resolved dataset root, or None when paths are passed through."""
        return self._root

    def close(self) -> None:
        """Stop the worker processes of ``isolate=True`` (idempotent); otherwise nothing."""
        if self._owns_pool and self._pool is not None:
            self._pool.close()

    def __repr__(self) -> str:
        if self._pool is not None:
            return f"LocalExecutor(root={self._root!r}, isolate={self._pool!r})"
        return f"LocalExecutor(root={self._root!r})"

    # ------------------------------------------------------------------ one query

    def _execute_text(self, tql: str, as_list: bool) -> Result:
        return self._run(tql, as_list, checked=False)

    def _execute_trusted(self, tql: str, as_list: bool) -> Result:
        # compiler output of a raw()-free Query: check() finds nothing there (property-tested)
        return self._run(tql, as_list, checked=True)

    def _run(self, tql: str, as_list: bool, *, checked: bool) -> Result:
        if not isinstance(as_list, bool):
            raise UnsupportedTypeError(f"as_list must be a bool, not {type(as_list).__name__}")
        check = self._check_hazards and not checked
        if check and self._pool is None:  # isolated: the worker checks, under its limits
            refuse_hazards(tql)
        text = tql if self._root is None else map_dataset_paths(tql, self._root)
        deeplake = require_engine()
        failure: str | None = None
        try:
            if self._pool is not None:  # engine errors come back as RuntimeError
                tensors, columns, length = self._pool.materialise(text, query=tql, check=check)
            else:
                tensors, columns, length = _materialise(deeplake, text)
        except Exception as exc:
            if not _is_engine_error(exc):
                raise
            failure = str(exc).strip() or type(exc).__name__
        if failure is not None:
            failure = self._unmap(failure)
            raise QueryError(f"engine error: {failure}", server_message=failure, query=tql)
        return Result._trusted(tensors, columns, length, SUCCESS_MESSAGE)

    def _unmap(self, message: str) -> str:
        """Show mapped paths as ``hub://`` again, so messages do not reveal the root."""
        if self._root is None or self._root == os.sep:
            return message
        prefix = self._root.rstrip(os.sep) + os.sep
        return message.replace("file://" + prefix, "hub://").replace(prefix, "hub://")


# ---------------------------------------------------------------------- refusals and paths


def refuse_hazards(tql: str) -> None:
    """Raise QueryError for text the engine would die, hang on or silently truncate."""
    for finding in check(tql):
        if finding.code in _REFUSED_CODES:
            raise QueryError(
                f"refused: {finding.message} ({finding.code} at position {finding.position})",
                query=tql,
            )


def resolve_root(root: str | os.PathLike[str]) -> str:
    """The real path of an existing dataset root directory that can be quoted in TQL."""
    real = os.path.realpath(os.fspath(root))
    if not os.path.isdir(real):
        raise InvalidValueError(f"dataset root {os.fspath(root)!r} is not a directory")
    if any(char in real for char in _UNQUOTABLE):
        raise InvalidIdentifierError(f"dataset root {real!r} cannot be written in a TQL path")
    return real


def map_dataset_paths(tql: str, root: str | os.PathLike[str]) -> str:
    """Rewrite every ``FROM/JOIN "hub://org/ds"`` to ``"file://<root>/org/ds"``.

    Dataset paths are the quoted identifiers that follow ``FROM`` or ``JOIN`` (or a ``,`` in a
    FROM list), found with the TQL lexer and replaced by offset. Raises QueryError for any
    other source (another scheme, ``..``, an empty or unsafe segment, a bare name) and for a
    path whose real location (after symlinks) is outside ``root``.
    """
    real_root = resolve_root(root)
    tokens = lex(tql)
    sources = _source_tokens(tokens)
    source_starts = {token.start for token in sources}
    for token in tokens:  # defence in depth: a path-like name anywhere else is refused too
        if (
            token.kind is TokenKind.QUOTED_IDENTIFIER
            and token.start not in source_starts
            and _looks_like_path(str(token.value))
        ):
            raise QueryError(
                f"{token.text} looks like a dataset path outside FROM/JOIN "
                f"(at position {token.start}); it is not allowed",
                query=tql,
            )
    pieces: list[str] = []
    last = 0
    for token in sources:
        if token.kind is not TokenKind.QUOTED_IDENTIFIER:
            raise QueryError(
                f'dataset sources must be quoted "hub://<org>/<dataset>" paths, '
                f"not {token.text!r} (at position {token.start})",
                query=tql,
            )
        assert isinstance(token.value, str)
        target = _resolve(token.value, real_root, tql)
        pieces.append(tql[last : token.start])
        pieces.append(f'"file://{target}"')
        last = token.end
    pieces.append(tql[last:])
    return "".join(pieces)


def _resolve(path: str, real_root: str, tql: str) -> str:
    match = _HUB_PATH.fullmatch(path)
    if match is None or not all(_SEGMENT.fullmatch(part) for part in match.groups()):
        raise QueryError(
            f'dataset path {path!r} is not allowed: use "hub://<org>/<dataset>" with names '
            "of letters, digits, '_', '-' and '.' (not starting with '.')",
            query=tql,
        )
    org, name = match.groups()
    target = os.path.realpath(os.path.join(real_root, org, name))
    inside = target.startswith(real_root.rstrip(os.sep) + os.sep)
    if not inside or any(char in target for char in _UNQUOTABLE):
        raise QueryError(f"dataset path {path!r} resolves outside the dataset root", query=tql)
    return target


def _source_tokens(tokens: Sequence[Token]) -> list[Token]:
    """The tokens in dataset-source position: after FROM/JOIN, or after ``,`` in a FROM clause.

    Bracket-aware: each nesting level tracks whether it is inside a FROM clause (from FROM up
    to the next clause keyword, so ``JOIN ... ON a = b, "path"`` is seen too) and whether a
    source comes next. A ``(`` where a source is expected opens a subquery whose first token
    is checked as well. ``INTO``, ``TABLE`` and ``UPDATE`` also introduce a source.
    """
    sources: list[Token] = []
    in_from = [False]
    expect = [False]
    for token in tokens:
        kind = token.kind
        if kind is TokenKind.COMMENT:
            continue
        if kind is TokenKind.OPERATOR and token.text == "(":
            in_from.append(False)
            expect.append(expect[-1])
            expect[-2] = False
            continue
        if kind is TokenKind.OPERATOR and token.text == ")":
            if len(in_from) > 1:
                in_from.pop()
                expect.pop()
            continue
        if kind is TokenKind.KEYWORD and token.value in _SOURCE_KEYWORDS:
            in_from[-1] = in_from[-1] or token.value in ("FROM", "JOIN")
            expect[-1] = True
            continue
        if kind is TokenKind.KEYWORD and token.value in _CLAUSE_KEYWORDS:
            in_from[-1] = expect[-1] = False
            continue
        if expect[-1]:
            if kind in (TokenKind.QUOTED_IDENTIFIER, TokenKind.IDENTIFIER):
                sources.append(token)
            expect[-1] = False
        elif kind is TokenKind.OPERATOR and token.text == "," and in_from[-1]:
            expect[-1] = True
    return sources


def _looks_like_path(name: str) -> bool:
    return "://" in name or name.startswith(("/", "~", "."))


# ---------------------------------------------------------------------- engine


def require_engine() -> Any:
    """Import and return the ``deeplake`` module (an optional extra), or raise a clear error."""
    try:
        import deeplake
    except ImportError as exc:
        raise EngineNotInstalledError(
            'the embedded engine is not installed: pip install "tqlbuilder[local]" '
            f"({type(exc).__name__}: {exc})"
        ) from exc
    return deeplake


def _is_engine_error(exc: Exception) -> bool:
    """Bare RuntimeError / MemoryError from the engine, or one of deeplake's own exceptions."""
    if isinstance(exc, (RuntimeError, MemoryError)):
        return True
    return type(exc).__module__.startswith("deeplake")


def _materialise(
    deeplake: Any, tql: str
) -> tuple[tuple[str, ...], tuple[tuple[Any, ...], ...], int]:
    """Run and read everything (some engine errors only surface when rows are read)."""
    view = deeplake.query(tql)  # keep the view bound: a temporary one expires
    names = tuple(column.name for column in view.schema.columns)
    length = len(view)
    columns = tuple(_column_values(_read_column(view[name], length)) for name in names)
    for name, values in zip(names, columns, strict=True):
        if len(values) != length:
            raise RuntimeError(f"column {name!r} has {len(values)} values for {length} rows")
    return names, columns, length


def _read_column(column: Any, length: int) -> Any:
    """All values of one result column.

    The engine's batch read of a selected element (``SELECT e[1] AS x`` with no WHERE and no
    ORDER BY) returns the tail ``e[1:]`` of every row, while reading row by row is right
    (``tests/test_engine_fatal.py``, deeplake 4.7.4); when row 0 read alone has another shape
    than the batch's rows, the column is read row by row.
    """
    values = column[:]
    if isinstance(values, np.ndarray) and length and np.shape(column[0]) != values.shape[1:]:
        return [column[index] for index in range(length)]
    return values


def _column_values(values: Any) -> tuple[Any, ...]:
    """One engine column -> a tuple of JSON-like values, vectorised where numpy allows."""
    if isinstance(values, np.ndarray):
        kind = values.dtype.kind
        if kind in "biu" or (kind == "f" and bool(np.isfinite(values).all())):
            return tuple(values.tolist())
        return tuple(_json_value(value) for value in values.tolist())
    if isinstance(values, list) and set(map(type, values)) <= {str, type(None)}:
        return tuple(values)
    return tuple(_json_value(value) for value in values)


def _json_value(value: Any) -> Any:
    """What the REST API sends for an engine value: Python scalars, lists and dicts.

    Numpy scalars and 0-d arrays become int/float/bool; NaN and infinity become None (JSON
    has no such numbers); deeplake Dicts become dicts; bytes become lists of ints.
    """
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, np.ndarray):
        kind = value.dtype.kind
        if kind in "biu" or (kind == "f" and bool(np.isfinite(value).all())):
            return value.tolist()
        return _json_value(value.tolist())
    if isinstance(value, np.generic):
        return _json_value(value.item())
    if isinstance(value, dict):
        return {str(key): _json_value(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_value(item) for item in value]
    if isinstance(value, (bytes, bytearray, memoryview)):
        return list(bytes(value))
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict):
        return _json_value(to_dict())
    return str(value)
