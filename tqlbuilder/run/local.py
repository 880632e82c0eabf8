"""Run TQL in-process on the embedded Deep Lake engine (the optional ``deeplake`` package).

Results hold the same JSON-like values the REST API returns, so one query gives equal
Results offline and in the cloud. With ``root``, ``FROM "hub://org/ds"`` reads ``root/org/ds``
and nothing outside ``root``. Queries that would crash, hang or be silently truncated by the
engine are refused before they reach it.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from tqlbuilder.engine.catalog import VECTOR_FUNCTIONS
from tqlbuilder.errors import (
    EngineNotInstalledError,
    InvalidIdentifierError,
    InvalidValueError,
    QueryError,
    TQLError,
    UnsupportedTypeError,
)
from tqlbuilder.run.executor import Executor
from tqlbuilder.run.logging_util import log_query
from tqlbuilder.run.result import SUCCESS_MESSAGE, Result
from tqlbuilder.text.hazards import CRASH_CODES, TRUNCATION_CODES, check
from tqlbuilder.text.lexer import NUMERIC_LIST, Token, TokenKind, lex

if TYPE_CHECKING:  # pragma: no cover
    from tqlbuilder.run.isolation import EnginePool

__all__ = [
    "LocalExecutor",
    "check_vector_lengths",
    "engine_failure",
    "fixed_dimensions",
    "map_dataset_paths",
    "read_view",
    "read_view_async",
    "refuse_hazards",
    "require_engine",
    "resolve_root",
]

_log = logging.getLogger("tqlbuilder.run.local")
_POLL_FIRST = 0.0002  # seconds between is_completed() checks of an engine Future, doubling
_POLL_MAX = 0.005
_DYNAMIC = 2**63  # the engine reports a dynamic dimension as 2**64 - 1

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

    def _prepare(self, tql: str, as_list: bool, *, checked: bool = False) -> tuple[str, bool]:
        """Refuse what must not reach the engine; return the text to run (paths mapped).

        Also whether the hazard check is still to run: with ``isolate`` it runs in the engine
        worker, under the worker's time and memory limits. ``checked``: compiler output of a
        raw()-free Query, on which the checker finds nothing (property-tested).
        """
        if not isinstance(as_list, bool):
            raise UnsupportedTypeError(f"as_list must be a bool, not {type(as_list).__name__}")
        check = self._check_hazards and not checked
        if check and self._pool is None:
            refuse_hazards(tql)
        text = tql if self._root is None else map_dataset_paths(tql, self._root)
        self._refuse_vector_lengths(text, tql)
        log_query(_log, "LocalExecutor sends", tql)
        return text, check

    def _execute_text(self, tql: str, as_list: bool) -> Result:
        return self._run(tql, as_list, checked=False)

    def _execute_trusted(self, tql: str, as_list: bool) -> Result:
        return self._run(tql, as_list, checked=True)

    def _run(self, tql: str, as_list: bool, *, checked: bool) -> Result:
        text, check = self._prepare(tql, as_list, checked=checked)
        failure: str | None = None
        if self._pool is not None:
            outcome = self._pool.run(text, query=tql, check=check)
            if isinstance(outcome, str):
                failure = outcome
            else:
                tensors, columns, length = outcome
        else:
            deeplake = require_engine()
            try:
                tensors, columns, length = _materialise(deeplake, text)
            except Exception as exc:
                failure = engine_failure(exc)
        if failure is not None:
            if _LENGTH_MISMATCH.search(failure):  # say which sizes differ (the engine does not)
                self._refuse_vector_lengths(text, tql, always=True)
            failure = self._unmap(failure)
            raise QueryError(f"engine error: {failure}", server_message=failure, query=tql)
        return Result._trusted(tensors, columns, length, SUCCESS_MESSAGE)

    async def _execute_text_async(self, tql: str, as_list: bool) -> Result:
        if self._pool is not None:  # the worker pool blocks: wait for it in a thread
            return await asyncio.to_thread(self._execute_text, tql, as_list)
        text, _ = self._prepare(tql, as_list)
        deeplake = require_engine()
        failure: str | None = None
        try:
            view = await await_engine(deeplake.query_async(text))
            tensors, columns, length = await read_view_async(view)
        except Exception as exc:
            failure = engine_failure(exc)
        if failure is not None:
            failure = self._unmap(failure)
            raise QueryError(f"engine error: {failure}", server_message=failure, query=tql)
        return Result._trusted(tensors, columns, length, SUCCESS_MESSAGE)

    def _refuse_vector_lengths(self, text: str, tql: str, *, always: bool = False) -> None:
        """Compare query vectors with the schema of the one dataset ``text`` reads, if any.

        Before the engine runs this is done only when a vector function sits after a WHERE
        (a wrong length there silently matches no row); elsewhere the engine fails loudly
        ("different length arrays") and ``always=True`` then names both sizes, which saves
        opening the schema (~1-3 ms) on every query.
        """
        if "ARRAY" not in text.upper():
            return
        # each list of plain numbers becomes [n], its length (a 1536-d vector is ~3,000 tokens)
        counted = NUMERIC_LIST.sub(lambda m: f"[{m.group(0).count(',') + 1}]", text)
        try:
            tokens = lex(counted)
        except TQLError:
            return  # the engine reports malformed text
        if not always and not _vector_call_after_where(tokens):
            return
        paths = {str(token.value) for token in _source_tokens(tokens)}
        if len(paths) != 1:
            return
        path = paths.pop()
        if "://" in path and not path.startswith(("file://", "mem://")):
            return  # remote storage: not worth a second round trip; the engine answers
        try:
            schema = require_engine().open_read_only(path).schema
        except Exception:  # not openable here: the engine will say why when it runs
            return
        check_vector_lengths(tql, fixed_dimensions(schema), tokens=tokens, counted=True)

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


def engine_failure(exc: Exception) -> str:
    """The message of an engine error; re-raises anything else (a bug, not a query failure)."""
    if not _is_engine_error(exc):
        raise exc
    return str(exc).strip() or type(exc).__name__


async def await_engine(future: Any) -> Any:
    """Wait for a ``deeplake.Future`` without blocking the event loop; return its result.

    Polls ``is_completed()`` (sleeping 0.2 ms, doubling up to 5 ms) instead of awaiting the
    Future itself: on deeplake 4.7.4 ``await future`` has an engine thread call back into the
    event loop, and when that callback comes late it needs the GIL while a later synchronous
    ``deeplake.query`` holds it and waits for that same thread: the process hangs
    (tests/test_dataset.py). A cancelled caller cancels the Future and never waits on it again
    (``Future.result()`` after ``cancel()`` blocks forever).
    """
    delay = _POLL_FIRST
    try:
        while not future.is_completed():
            await asyncio.sleep(delay)
            delay = min(delay * 2, _POLL_MAX)
    except asyncio.CancelledError:
        future.cancel()
        raise
    return future.result()


def _materialise(
    deeplake: Any, tql: str
) -> tuple[tuple[str, ...], tuple[tuple[Any, ...], ...], int]:
    """Run ``tql`` with ``deeplake.query`` and read everything (also used by isolation workers)."""
    return read_view(deeplake.query(tql))


def read_view(view: Any) -> tuple[tuple[str, ...], tuple[tuple[Any, ...], ...], int]:
    """Read every column of a query view (some engine errors only surface when rows are read).

    The caller keeps ``view`` bound while this runs: a temporary view expires.
    """
    names = tuple(column.name for column in view.schema.columns)
    length = len(view)
    columns = tuple(_column_values(_read_column(view[name], length)) for name in names)
    return _checked(names, columns, length)


async def read_view_async(view: Any) -> tuple[tuple[str, ...], tuple[tuple[Any, ...], ...], int]:
    """`read_view()` with the engine's ``get_async`` reads (the event loop keeps running)."""
    names = tuple(column.name for column in view.schema.columns)
    columns = [
        _column_values(await await_engine(view[name].get_async(slice(None)))) for name in names
    ]
    return _checked(names, tuple(columns), len(view))


def _read_column(column: Any, length: int) -> Any:
    """All values of one result column.

    The engine's batch read of a selected element (``SELECT e[1] AS x`` with no WHERE and no
    ORDER BY) returns the tail ``e[1:]`` of every row, while reading row by row is right
    (``tests/test_engine_fatal.py``, deeplake 4.7.4); when row 0 read alone has another shape
    than the batch's rows, the column is read row by row.
    """
    values = column[:]
    if (
        isinstance(values, np.ndarray)
        and values.ndim > 1  # the tail comes back as one more dimension than the element
        and length
        and np.shape(column[0]) != values.shape[1:]
    ):
        return [column[index] for index in range(length)]
    return values


def _checked(
    names: tuple[str, ...], columns: tuple[tuple[Any, ...], ...], length: int
) -> tuple[tuple[str, ...], tuple[tuple[Any, ...], ...], int]:
    for name, values in zip(names, columns, strict=True):
        if len(values) != length:
            raise RuntimeError(f"column {name!r} has {len(values)} values for {length} rows")
    return names, columns, length


# ---------------------------------------------------------------------- query vector lengths


def fixed_dimensions(schema: Any) -> dict[str, int]:
    """Column name -> last dimension, for the columns of a deeplake schema whose shape is fixed.

    ``types.Embedding(16)`` gives 16; a fixed ``types.Array(dtype, shape=[2, 8])`` gives 8;
    dynamic arrays, scalars, text and dicts are left out.
    """
    dims: dict[str, int] = {}
    for column in schema.columns:
        shape = list(getattr(column.dtype, "shape", None) or ())
        if shape and 0 < int(shape[-1]) < _DYNAMIC:
            dims[column.name] = int(shape[-1])
    return dims


_LENGTH_MISMATCH = re.compile(r"different length arrays|arrays with different shapes")


def _vector_call_after_where(tokens: Sequence[Token]) -> bool:
    """Whether a vector function call follows a WHERE keyword anywhere in ``tokens``."""
    seen_where = False
    for token in tokens:
        if token.kind is TokenKind.KEYWORD and token.value == "WHERE":
            seen_where = True
        elif (
            seen_where
            and token.kind is TokenKind.IDENTIFIER
            and str(token.value).upper() in VECTOR_FUNCTIONS
        ):
            return True
    return False


def check_vector_lengths(
    tql: str,
    dimensions: Mapping[str, int],
    *,
    tokens: Sequence[Token] | None = None,
    counted: bool = False,
) -> None:
    """Raise QueryError when a query vector's length differs from its column's dimensions.

    Looks at every vector function call (``COSINE_SIMILARITY``, ``DOT``, ``L2_NORM``, ``L1_NORM``,
    ``LINF_NORM``, ``MAXSIM``, ``HAMMING_DISTANCE``) whose arguments name exactly one column of
    ``dimensions`` and hold ``ARRAY[...]`` literals, and compares each literal's innermost
    length. The engine itself gives no sizes: on deeplake 4.7.4 a ranking fails with "Can't
    compute dot product of different length arrays" (or "... arrays with different shapes"),
    and ``COSINE_SIMILARITY(...) > x`` in a WHERE silently matches no row
    (tests/test_dataset.py). Text the lexer rejects is left to the engine. ``tokens`` (the
    lexed ``tql``, or of a copy whose dataset paths were mapped) saves lexing it again;
    ``counted``: in those tokens every list of plain numbers was written ``[n]``, its length.
    """
    if not dimensions or "ARRAY" not in tql.upper():
        return
    if tokens is None:
        try:
            tokens = lex(tql)
        except TQLError:
            return
    tokens = [token for token in tokens if token.kind is not TokenKind.COMMENT]
    for index, token in enumerate(tokens[:-1]):
        if (
            token.kind is TokenKind.IDENTIFIER
            and str(token.value).upper() in VECTOR_FUNCTIONS
            and tokens[index + 1].text == "("
        ):
            _check_call(tokens, index + 1, dimensions, tql, counted)


def _check_call(
    tokens: Sequence[Token],
    open_index: int,
    dimensions: Mapping[str, int],
    tql: str,
    counted: bool = False,
) -> None:
    """Check the call whose ``(`` is ``tokens[open_index]`` (its own level only)."""
    columns: set[str] = set()
    lengths: list[int] = []
    depth = 0
    index = open_index
    while index < len(tokens):
        token = tokens[index]
        if token.text in ("(", "["):
            depth += 1
        elif token.text in (")", "]"):
            depth -= 1
            if depth == 0:
                break
        elif depth == 1:
            following = tokens[index + 1].text if index + 1 < len(tokens) else ""
            if token.kind is TokenKind.KEYWORD and token.value == "ARRAY" and following == "[":
                length, index = _array_length(tokens, index + 1, counted)
                lengths.append(length)
                continue
            if (
                token.kind in (TokenKind.IDENTIFIER, TokenKind.QUOTED_IDENTIFIER)
                and following not in ("(", "[", ".")
                and str(token.value) in dimensions
            ):
                columns.add(str(token.value))
        index += 1
    if len(columns) != 1:
        return
    name = columns.pop()
    for length in lengths:
        if length != dimensions[name]:
            raise QueryError(
                f"column {name} has {dimensions[name]} dimensions, the query vector has "
                f"{length}: pass a vector of {dimensions[name]} values",
                query=tql,
            )


def _array_length(
    tokens: Sequence[Token], open_index: int, counted: bool = False
) -> tuple[int, int]:
    """Innermost length of the ``ARRAY[...]`` whose ``[`` is ``tokens[open_index]``; index after it.

    For ``ARRAY[ARRAY[1,2,3],ARRAY[4,5,6]]`` that is the first row's length (3).
    """
    depth = 0
    innermost_open: int | None = None
    length: int | None = None
    index = open_index
    while index < len(tokens):
        text = tokens[index].text
        if text == "[":
            depth += 1
            innermost_open = index
        elif text == "]":
            if length is None and innermost_open is not None:
                between = tokens[innermost_open + 1 : index]
                if counted and len(between) == 1 and between[0].kind is TokenKind.INTEGER:
                    length = int(between[0].text)  # a list collapsed to its length
                else:
                    length = sum(token.text == "," for token in between) + 1 if between else 0
            depth -= 1
            if depth == 0:
                return length or 0, index + 1
        index += 1
    return length or 0, index


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
