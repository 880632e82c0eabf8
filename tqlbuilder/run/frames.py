"""DataFrame and Arrow views of a `Result` (extras ``pandas``, ``arrow``).

A Result holds JSON-like values whichever executor or REST shape produced it, so the column
types are inferred from the values, the same way every time:

============================  ==========================  ==================================
values (``None`` allowed)     pandas dtype                Arrow type
============================  ==========================  ==================================
ints (int64 range)            ``int64`` (``Int64`` w/ None) ``int64``
numbers (ints and floats)     ``float64`` (None -> NaN)   ``float64``
bools                         ``bool`` (``boolean`` w/ None) ``bool``
strings                       ``string``                  ``string``
equal-length number lists     object: float32 ndarrays    ``fixed_size_list<float32>[dim]``
other number lists            object: float32 ndarrays    ``list<float32>``
lists of ints only            object: int64 ndarrays      ``fixed_size_list<int64>`` / ``list``
dicts                         object: dicts               ``struct`` (JSON ``string`` if the
                                                          dicts' value types disagree)
only None                     object                      ``null``
anything else                 object                      JSON ``string``
no rows                       object                      ``null``
============================  ==========================  ==================================

Scalar floats become float64: a float32 engine value (a score) widens to float64 exactly, and
a REST response carries no dtype. Embeddings become float32, the engine's storage type
(engine-probe §5), so ``numpy.stack(df["embedding"])`` is the ``(n, dim)`` float32 matrix.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

import orjson

from tqlbuilder.engine.lexicon import INT64_MAX, INT64_MIN

if TYPE_CHECKING:  # pragma: no cover
    from tqlbuilder.run.result import Result

__all__ = ["column_kind", "to_arrow", "to_pandas"]


def _require(module: str, extra: str, method: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(
            f"Result.{method}() needs {module}, which is not installed; install it with "
            f"pip install 'tqlbuilder[{extra}]'"
        ) from exc


def column_kind(values: tuple[Any, ...] | list[Any]) -> tuple[str, int]:
    """Classify a column's values: (kind, vector dimension or 0).

    Kinds: ``empty``, ``null``, ``int``, ``float``, ``bool``, ``str``, ``vector``,
    ``ragged``, ``int_vector``, ``int_ragged`` (lists of ints only), ``dict``, ``object``.
    """
    if not values:
        return "empty", 0
    kinds = {type(value) for value in values} - {type(None)}
    if not kinds:
        return "null", 0
    if kinds == {bool}:
        return "bool", 0
    if kinds == {int}:
        if all(INT64_MIN <= v <= INT64_MAX for v in values if v is not None):
            return "int", 0
        return "object", 0
    if kinds <= {int, float}:
        return "float", 0
    if kinds == {str}:
        return "str", 0
    if kinds == {dict}:
        return "dict", 0
    if kinds == {list}:
        lists = [v for v in values if v is not None]
        elements = {type(x) for value in lists for x in value}
        if elements <= {int, float}:
            prefix = "int_" if elements == {int} and _int64(lists) else ""
            lengths = {len(value) for value in lists}
            if len(lengths) == 1 and 0 not in lengths:
                return prefix + "vector", lengths.pop()
            return prefix + "ragged", 0
    return "object", 0


def _int64(lists: list[Any]) -> bool:
    return all(INT64_MIN <= x <= INT64_MAX for value in lists for x in value)


def _json_text(values: tuple[Any, ...]) -> list[str | None]:
    return [None if v is None else orjson.dumps(v).decode() for v in values]


def _arrow_array(pa: Any, values: tuple[Any, ...]) -> Any:
    kind, dim = column_kind(values)
    if kind in ("empty", "null"):
        return pa.nulls(len(values))
    if kind == "int":
        return pa.array(values, pa.int64())
    if kind == "float":
        return pa.array(values, pa.float64())
    if kind == "bool":
        return pa.array(values, pa.bool_())
    if kind == "str":
        return pa.array(values, pa.string())
    if kind == "vector":
        return pa.array(values, pa.list_(pa.float32(), dim))
    if kind == "ragged":
        return pa.array(values, pa.list_(pa.float32()))
    if kind == "int_vector":
        return pa.array(values, pa.list_(pa.int64(), dim))
    if kind == "int_ragged":
        return pa.array(values, pa.list_(pa.int64()))
    if kind == "dict":
        try:
            return pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
            pass
    return pa.array(_json_text(values), pa.string())


def to_arrow(result: Result) -> Any:
    """The result as a ``pyarrow.Table`` (see the module table for the column types)."""
    pa = _require("pyarrow", "arrow", "to_arrow")
    columns = result.columns
    arrays = [_arrow_array(pa, tuple(values)) for values in columns.values()]
    return pa.Table.from_arrays(arrays, names=list(columns))


def _pandas_series(pd: Any, np: Any, values: tuple[Any, ...]) -> Any:
    kind, _ = column_kind(values)
    has_none = any(v is None for v in values)
    if kind == "int":
        if has_none:
            return pd.array(list(values), dtype="Int64")
        return np.array(values, dtype=np.int64)
    if kind == "float":
        return np.array([np.nan if v is None else v for v in values], dtype=np.float64)
    if kind == "bool":
        if has_none:
            return pd.array(list(values), dtype="boolean")
        return np.array(values, dtype=np.bool_)
    if kind == "str":
        return pd.array(list(values), dtype="string")
    cells = np.empty(len(values), dtype=object)
    for index, value in enumerate(values):
        if kind in ("vector", "ragged") and value is not None:
            cells[index] = np.array(value, dtype=np.float32)
        elif kind in ("int_vector", "int_ragged") and value is not None:
            cells[index] = np.array(value, dtype=np.int64)
        else:
            cells[index] = value
    return cells


def to_pandas(result: Result) -> Any:
    """The result as a ``pandas.DataFrame`` (see the module table for the column dtypes)."""
    pd = _require("pandas", "pandas", "to_pandas")
    import numpy as np

    columns = result.columns
    data = {name: _pandas_series(pd, np, tuple(values)) for name, values in columns.items()}
    return pd.DataFrame(data, columns=list(columns), index=pd.RangeIndex(len(result)))
