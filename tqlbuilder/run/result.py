"""One immutable query result, whichever executor produced it and whichever API shape it came in.

The canonical form is column-oriented: a tuple of column names and one tuple of values per
column. Row dicts are derived on demand. Values are JSON-like (``None``, ``bool``, ``int``,
``float``, ``str``, lists and dicts), the same values the REST API sends, so a result from the
REST executor and one from the local engine compare equal.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from operator import itemgetter
from typing import TYPE_CHECKING, Any, NoReturn

import orjson

from tqlbuilder.errors import ResponseFormatError

if TYPE_CHECKING:  # pragma: no cover - numpy, pandas, pyarrow are imported lazily
    import numpy.typing as npt
    import pandas as pd
    import pyarrow as pa

__all__ = ["SUCCESS_MESSAGE", "Result"]

SUCCESS_MESSAGE = "Query successful."
"""The ``message`` of a successful answer from the REST API (and from the local executor)."""

_BODY_PREVIEW = 200
_INVALID = object()


class Result:
    """The columns and rows returned by one query.

    Immutable: attributes cannot be set, ``tensors`` is a tuple, and ``rows`` / ``columns``
    return fresh containers on every call, so changing them does not change the result. Nested
    values (an embedding's list, a dict column's dict) are shared, not copied: treat them as
    read-only. Equality compares column names and values (not ``message``); results are
    unhashable because their values may be lists and dicts. ``len(result)`` is the number of
    rows, and iterating yields row dicts.

    Examples:
        >>> rows = [{"id": 1, "text": "a"}, {"id": 2, "text": "b"}]
        >>> result = Result.from_rows(["id", "text"], rows)
        >>> result
        Result(tensors=('id', 'text'), rows=2, message='Query successful.')
        >>> result.column("id"), result.rows[1]
        ([1, 2], {'id': 2, 'text': 'b'})
        >>> [row["text"] for row in result]
        ['a', 'b']
    """

    __slots__ = ("_columns", "_length", "_message", "_tensors")

    _tensors: tuple[str, ...]
    _columns: tuple[tuple[Any, ...], ...]
    _length: int
    _message: str

    def __init__(
        self,
        tensors: Iterable[str],
        columns: Mapping[str, Sequence[Any]],
        *,
        message: str = SUCCESS_MESSAGE,
    ) -> None:
        """Build a result from column names and a mapping of name -> values (see from_columns)."""
        names = _check_names(tensors)
        if set(columns) != set(names):
            raise ValueError(
                f"columns {sorted(map(str, columns))} do not match tensors {sorted(names)}"
            )
        values = tuple(tuple(columns[name]) for name in names)
        lengths = set(map(len, values))
        if len(lengths) > 1:
            raise ValueError(f"columns have different lengths: {sorted(lengths)}")
        self._init(names, values, lengths.pop() if lengths else 0, message)

    def _init(
        self,
        tensors: tuple[str, ...],
        columns: tuple[tuple[Any, ...], ...],
        length: int,
        message: str,
    ) -> None:
        if not isinstance(message, str):
            raise TypeError(f"message must be a str, not {type(message).__name__}")
        setter = object.__setattr__
        setter(self, "_tensors", tensors)
        setter(self, "_columns", columns)
        setter(self, "_length", length)
        setter(self, "_message", message)

    @classmethod
    def _trusted(
        cls,
        tensors: tuple[str, ...],
        columns: tuple[tuple[Any, ...], ...],
        length: int,
        message: str,
    ) -> Result:
        """Wrap already-validated canonical data without copying it again."""
        self = cls.__new__(cls)
        self._init(tensors, columns, length, message)
        return self

    # ------------------------------------------------------------------ constructors

    @classmethod
    def from_columns(
        cls,
        tensors: Iterable[str],
        columns: Mapping[str, Sequence[Any]],
        *,
        message: str = SUCCESS_MESSAGE,
    ) -> Result:
        """Build a result from column names and ``{name: [values...]}``.

        Args:
            tensors: The column names, in order.
            columns: The values of each named column; every list has the same length.
            message: The status message to keep.

        Returns:
            A new result.

        Raises:
            ValueError: a name is repeated or missing from ``columns``, or the lengths differ.
        """
        return cls(tensors, columns, message=message)

    @classmethod
    def from_rows(
        cls,
        tensors: Iterable[str],
        rows: Iterable[Mapping[str, Any]],
        *,
        message: str = SUCCESS_MESSAGE,
    ) -> Result:
        """Build a result from column names and row mappings.

        Args:
            tensors: The column names, in order.
            rows: One mapping per row, each with exactly those keys.
            message: The status message to keep.

        Returns:
            A new result.

        Raises:
            ValueError: a name is repeated, or a row has other keys.
        """
        names = _check_names(tensors)
        row_list = list(rows)
        expected = set(names)
        for index, row in enumerate(row_list):
            if not isinstance(row, Mapping) or set(row) != expected:
                raise ValueError(f"row {index} does not have exactly the keys {sorted(names)}")
        columns = _transpose(names, row_list)
        return cls._trusted(names, columns, len(row_list), message)

    @classmethod
    def from_response_body(cls, body: bytes, *, as_list: bool, status: int, query: str) -> Result:
        """Parse and validate a REST success body (``as_list`` says which ``data`` shape to expect).

        Raises ResponseFormatError (with ``status`` and the start of the body) when the body is
        not JSON, not an object, lacks ``tensors`` or ``data``, or ``data`` has the wrong shape.
        """

        def fail(reason: str) -> NoReturn:
            preview = bytes(body[:_BODY_PREVIEW]).decode("utf-8", errors="replace")
            raise ResponseFormatError(
                f"unexpected response (HTTP {status}): {reason}; body starts with {preview!r}",
                status=status,
                server_message=preview,
                query=query,
            )

        try:
            document = orjson.loads(body)
        except orjson.JSONDecodeError:
            document = _INVALID  # fail outside the handler: no chained decoder exception
        if document is _INVALID:
            fail("not valid JSON")
        if type(document) is not dict:
            fail("not a JSON object")
        if "tensors" not in document or "data" not in document:
            missing = [key for key in ("tensors", "data") if key not in document]
            fail(f"missing {' and '.join(map(repr, missing))}")
        tensors = document["tensors"]
        data = document["data"]
        message = document.get("message")
        if message is None:
            message = ""
        elif not isinstance(message, str):
            fail("'message' is not a string")
        if type(tensors) is not list or set(map(type, tensors)) - {str}:
            fail("'tensors' is not a list of strings")
        names = tuple(tensors)
        if len(set(names)) != len(names):
            fail("'tensors' has duplicate names")

        if as_list:
            if type(data) is not list:
                fail("'data' is not a list of rows (as_list=true)")
            if not data:
                return cls._trusted(names, ((),) * len(names), 0, message)
            # One pass per column reads every name of every row: a row that is not an object
            # (JSON arrays, strings, numbers and null all raise TypeError on row["name"]) or
            # lacks a name fails here. Every row then has at least the names, so the rows have
            # exactly those keys iff the key counts add up (sum: no per-row set insertion).
            # (With no names nothing is read, so the rows' types are checked directly.)
            try:
                columns = _transpose(names, data)
                exact = sum(map(len, data)) == len(names) * len(data)
            except (KeyError, TypeError):
                columns, exact = None, False
            if not names and set(map(type, data)) != {dict}:
                exact = False
            if columns is None or not exact:
                fail("'data' rows are not objects with exactly the keys in 'tensors'")
            return cls._trusted(names, columns, len(data), message)

        if type(data) is not dict:
            fail("'data' is not an object of columns (as_list=false)")
        if not data:
            return cls._trusted(names, ((),) * len(names), 0, message)
        if set(data) != set(names):
            fail("'data' keys do not match 'tensors'")
        values = [data[name] for name in names]
        if set(map(type, values)) != {list}:
            fail("'data' columns are not lists")
        lengths = set(map(len, values))
        if len(lengths) != 1:
            fail("'data' columns have different lengths")
        return cls._trusted(names, tuple(map(tuple, values)), lengths.pop(), message)

    # ------------------------------------------------------------------ accessors

    @property
    def tensors(self) -> tuple[str, ...]:
        """Column names, in select order."""
        return self._tensors

    @property
    def message(self) -> str:
        """The server's (or executor's) status message, e.g. ``"Query successful."``."""
        return self._message

    @property
    def rows(self) -> list[dict[str, Any]]:
        """A new list of row dicts (``{column: value}``), in result order."""
        names = self._tensors
        if not names:
            return [{} for _ in range(self._length)]
        return [
            dict(zip(names, values, strict=True)) for values in zip(*self._columns, strict=True)
        ]

    @property
    def columns(self) -> dict[str, list[Any]]:
        """A new dict of column name -> list of values, in select order."""
        return {
            name: list(values) for name, values in zip(self._tensors, self._columns, strict=True)
        }

    def column(self, name: str) -> list[Any]:
        """The values of one column.

        Args:
            name: A column name from ``tensors``.

        Returns:
            A new list of the values, in row order.

        Raises:
            KeyError: there is no such column.
        """
        return list(self._column(name))

    def _column(self, name: str) -> tuple[Any, ...]:
        try:
            index = self._tensors.index(name)
        except ValueError:
            raise KeyError(name) from None
        return self._columns[index]

    def to_numpy(self, name: str) -> npt.NDArray[Any]:
        """The column ``name`` as a new numpy array.

        Embeddings (equal-length lists of numbers) become a 2-D ``float32`` array of shape
        ``(rows, dim)``; ints ``int64``; other numbers (scores) ``float64`` (``None`` becomes
        NaN); bools ``bool``; anything else (text, dicts, ragged lists) an ``object`` array (ragged
        numeric lists as 1-D ``float32`` arrays). An empty column gives an empty ``float64`` array.

        Args:
            name: A column name from ``tensors``.

        Returns:
            A new numpy array with one entry (or row) per result row.

        Raises:
            KeyError: there is no such column.

        Examples:
            >>> rows = [{"id": 1, "e": [0.5, 1.0]}, {"id": 2, "e": [0.0, 2.0]}]
            >>> r = Result.from_rows(["id", "e"], rows)
            >>> r.to_numpy("e").shape, r.to_numpy("e").dtype, r.to_numpy("id").dtype
            ((2, 2), dtype('float32'), dtype('int64'))
        """
        import numpy as np

        values = self._column(name)
        return _to_numpy(np, values)

    def to_pandas(self) -> pd.DataFrame:
        """The result as a new ``pandas.DataFrame``, one column per tensor, in select order.

        Column dtypes come from the values (so they are the same for every executor and both
        REST shapes): ints ``int64`` (``Int64`` with None), other numbers ``float64``, bools
        ``bool``, strings ``string``, embeddings an object column of float32 arrays
        (``numpy.stack(df["embedding"])`` is the ``(n, dim)`` matrix), dicts dicts. An empty
        result keeps its columns. The full table is in `tqlbuilder.run.frames`.

        Returns:
            A DataFrame with ``len(self)`` rows.

        Raises:
            ImportError: pandas is not installed (``pip install 'tqlbuilder[pandas]'``).

        Examples:
            >>> df = Result.from_columns(["id", "score"], {"id": [1], "score": [0.5]}).to_pandas()
            >>> [str(t) for t in df.dtypes]
            ['int64', 'float64']
        """
        from tqlbuilder.run.frames import to_pandas

        return to_pandas(self)

    def to_arrow(self) -> pa.Table:
        """The result as a new ``pyarrow.Table``, one column per tensor, in select order.

        Types come from the values: ints ``int64``, other numbers ``float64``, bools ``bool``,
        strings ``string``, embeddings ``fixed_size_list<float32>[dim]``, dicts ``struct``
        (JSON ``string`` when the dicts' value types disagree), no rows ``null``. The full
        table is in `tqlbuilder.run.frames`.

        Returns:
            A Table with ``len(self)`` rows (0 rows and typed ``null`` columns when empty).

        Raises:
            ImportError: pyarrow is not installed (``pip install 'tqlbuilder[arrow]'``).

        Examples:
            >>> Result.from_columns(["v"], {"v": [[1.0, 2.0]]}).to_arrow().schema.field("v").type
            FixedSizeListType(fixed_size_list<item: float>[2])
        """
        from tqlbuilder.run.frames import to_arrow

        return to_arrow(self)

    def to_response_body(self, *, as_list: bool = True) -> bytes:
        """Serialise as the REST API's JSON body (rows for ``as_list``, else columns)."""
        data: object = (
            self.rows if as_list else dict(zip(self._tensors, self._columns, strict=True))
        )
        return orjson.dumps({"message": self._message, "tensors": self._tensors, "data": data})

    # ------------------------------------------------------------------ protocols

    def __len__(self) -> int:
        return self._length

    def __iter__(self) -> Iterator[dict[str, Any]]:
        names = self._tensors
        if not names:
            return ({} for _ in range(self._length))
        return (
            dict(zip(names, values, strict=True)) for values in zip(*self._columns, strict=True)
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Result):
            return NotImplemented
        return self._tensors == other._tensors and self._columns == other._columns

    __hash__ = None  # type: ignore[assignment]

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"Result is immutable; cannot set {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"Result is immutable; cannot delete {name!r}")

    def __repr__(self) -> str:
        return f"Result(tensors={self._tensors!r}, rows={self._length}, message={self._message!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (self._tensors, self._columns, self._length, self._message))


def _rebuild(
    tensors: tuple[str, ...], columns: tuple[tuple[Any, ...], ...], length: int, message: str
) -> Result:
    """Unpickle helper (the class refuses attribute assignment)."""
    return Result._trusted(tensors, columns, length, message)


def _check_names(tensors: Iterable[str]) -> tuple[str, ...]:
    if isinstance(tensors, str):
        raise TypeError("tensors must be an iterable of column names, not a single str")
    names = tuple(tensors)
    for name in names:
        if not isinstance(name, str):
            raise TypeError(f"column names must be str, not {type(name).__name__}")
    if len(set(names)) != len(names):
        raise ValueError(f"duplicate column names in {names!r}")
    return names


def _transpose(
    names: tuple[str, ...], rows: Sequence[Mapping[str, Any]]
) -> tuple[tuple[Any, ...], ...]:
    """Rows -> column tuples, one C-level pass (map + itemgetter) per column.

    This is about twice as fast as ``zip(*map(itemgetter(*names), rows))``, which allocates a
    tuple per row. Raises KeyError/TypeError if a row lacks a name or is not a mapping.
    """
    return tuple(tuple(map(itemgetter(name), rows)) for name in names)


def _to_numpy(np: Any, values: tuple[Any, ...]) -> npt.NDArray[Any]:
    if not values:
        return np.empty(0, dtype=np.float64)  # type: ignore[no-any-return]
    kinds = set(map(type, values))
    if kinds == {bool}:
        return np.array(values, dtype=np.bool_)  # type: ignore[no-any-return]
    if kinds == {int}:
        try:
            return np.array(values, dtype=np.int64)  # type: ignore[no-any-return]
        except OverflowError:
            return _object_array(np, values)
    if kinds and kinds <= {int, float, type(None)}:
        floats = [float("nan") if value is None else value for value in values]
        return np.array(floats, dtype=np.float64)  # type: ignore[no-any-return]
    if kinds == {list}:
        try:
            array = np.array(values)
        except (ValueError, TypeError):
            array = None
        if array is not None and array.dtype.kind in "iuf":
            if array.dtype.kind == "f":
                return array.astype(np.float32)  # type: ignore[no-any-return]
            return array  # type: ignore[no-any-return]
        ragged = _object_array(np, values)
        try:
            for index, value in enumerate(values):
                ragged[index] = np.array(value, dtype=np.float32)
        except (ValueError, TypeError):
            return _object_array(np, values)
        return ragged
    return _object_array(np, values)


def _object_array(np: Any, values: tuple[Any, ...]) -> npt.NDArray[Any]:
    array = np.empty(len(values), dtype=object)
    for index, value in enumerate(values):
        array[index] = value
    return array  # type: ignore[no-any-return]
