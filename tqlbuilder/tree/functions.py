"""The engine's functions (``from tqlbuilder import functions as F``).

Only functions that exist and work on the Deep Lake 4.7 engine are offered. Arguments in an
expression position accept expressions or column names (a plain ``str`` is a column name);
vectors accept lists or numpy arrays; value arguments (a search text, a JSON key) take Python
values.
"""

from __future__ import annotations

from typing import Any

from tqlbuilder.engine.rules import sampling_weight_problem, sampling_weights_problem
from tqlbuilder.errors import InvalidValueError, UnsupportedTypeError
from tqlbuilder.tree.expr import (
    Binary,
    Expr,
    Func,
    Literal,
    WeightPair,
    as_condition,
    as_expr,
    as_literal,
    lit,
    vector,
)
from tqlbuilder.tree.literals import render_scalar

__all__ = [
    "abs",
    "all",
    "all_strict",
    "amax",
    "amin",
    "any",
    "avg",
    "bm25_similarity",
    "contains",
    "cosine_similarity",
    "count",
    "data",
    "dot",
    "hamming_distance",
    "keys",
    "l1_norm",
    "l2_norm",
    "linf_norm",
    "logical_and",
    "logical_or",
    "max_weight",
    "maxsim",
    "nonzero",
    "prod",
    "random",
    "row_number",
    "shape",
    "sqrt",
    "sum",
    "sum_weight",
]


def _expr(value: Any, argument: str) -> Expr:
    return as_expr(value, argument=argument)


def _vec(value: Any, argument: str, ndim: int | None = 1) -> Expr:
    """A vector argument: an expression/column name, or a list/ndarray rendered as ARRAY[...]."""
    if isinstance(value, (Expr, str)):
        return as_expr(value, argument=argument)
    return vector(value, ndim=ndim, argument=argument)


def _call(name: str, *args: Expr | WeightPair) -> Func:
    return Func(name, tuple(args))


# --------------------------------------------------------------------------- similarity


def cosine_similarity(a: Any, b: Any) -> Func:
    """``COSINE_SIMILARITY(a, b)`` in [-1, 1]; higher is more similar (sort DESC)."""
    return _call("COSINE_SIMILARITY", _vec(a, "a"), _vec(b, "b"))


def dot(a: Any, b: Any) -> Func:
    """``DOT(a, b)``, the inner product; higher is more similar (sort DESC)."""
    return _call("DOT", _vec(a, "a"), _vec(b, "b"))


def l2_norm(x: Any) -> Func:
    """``L2_NORM(x)``; for a distance pass a difference: ``F.l2_norm(col("e") - vec)`` (ASC)."""
    return _call("L2_NORM", _vec(x, "x"))


def l1_norm(x: Any) -> Func:
    """``L1_NORM(x)`` (Manhattan length; ASC for nearest)."""
    return _call("L1_NORM", _vec(x, "x"))


def linf_norm(x: Any) -> Func:
    """``LINF_NORM(x)`` (largest absolute element; ASC for nearest)."""
    return _call("LINF_NORM", _vec(x, "x"))


def hamming_distance(a: Any, b: Any) -> Func:
    """``HAMMING_DISTANCE(a, b)`` (the engine returns it wrapped in a 1-element array)."""
    return _call("HAMMING_DISTANCE", _vec(a, "a"), _vec(b, "b"))


def maxsim(doc: Any, query: Any) -> Func:
    """``MAXSIM(doc, query)``: multi-vector (ColBERT-style) late interaction; query is 2-D."""
    return _call("MAXSIM", _vec(doc, "doc", ndim=2), _vec(query, "query", ndim=2))


def bm25_similarity(column: Any, text: str) -> Func:
    """``BM25_SIMILARITY(column, 'text')``; needs a BM25 index on the column.

    The engine accepts it only as ``ORDER BY BM25_SIMILARITY(...) DESC LIMIT k`` (its score
    cannot be selected); prefer :meth:`Query.text_search`, which compiles to exactly that.
    """
    if not isinstance(text, str):
        raise UnsupportedTypeError(f"text must be a str, got {type(text).__name__}")
    return _call("BM25_SIMILARITY", _expr(column, "column"), as_literal(text, argument="text"))


# --------------------------------------------------------------------------- arrays, JSON


def contains(x: Any, value: Any) -> Expr:
    """``CONTAINS(x, value)``: substring (text, JSON strings) or array membership."""
    return _expr(x, "x").contains(value)


def shape(x: Any) -> Func:
    """``SHAPE(x)``: the shape of each row's value, as an array (index it: ``shape(x)[0]``)."""
    return _call("SHAPE", _expr(x, "x"))


def count(x: Any) -> Expr:
    """Number of elements per row or per group: ``SHAPE(x)[0]`` (the engine has no COUNT)."""
    return shape(x)[0]


def data(x: Any, row: int) -> Func:
    """``DATA(x, row)``: the value of column ``x`` at source row ``row`` (query by example)."""
    if isinstance(row, bool) or not isinstance(row, int) or row < 0:
        raise InvalidValueError(f"row must be a non-negative int, got {row!r}")
    return _call("DATA", _expr(x, "x"), lit(row))


def any(x: Any) -> Func:
    """``ANY(x)``: true if any element of a boolean array is true."""
    return _call("ANY", _expr(x, "x"))


def all(x: Any) -> Func:
    """``ALL(x)``: true if every element is true (true for an empty array)."""
    return _call("ALL", _expr(x, "x"))


def all_strict(x: Any) -> Func:
    """``ALL_STRICT(x)``: like ``ALL`` but false for an empty array."""
    return _call("ALL_STRICT", _expr(x, "x"))


def logical_and(a: Any, b: Any) -> Func:
    """``LOGICAL_AND(a, b)``: element-wise AND of two boolean arrays."""
    return _call("LOGICAL_AND", _expr(a, "a"), _expr(b, "b"))


def logical_or(a: Any, b: Any) -> Func:
    """``LOGICAL_OR(a, b)``: element-wise OR of two boolean arrays."""
    return _call("LOGICAL_OR", _expr(a, "a"), _expr(b, "b"))


def nonzero(x: Any) -> Func:
    """``NONZERO(x)``: indices of the non-zero elements."""
    return _call("NONZERO", _expr(x, "x"))


def keys(x: Any) -> Func:
    """``KEYS(x)``: the keys of a JSON / dict value."""
    return _call("KEYS", _expr(x, "x"))


# --------------------------------------------------------------------------- reductions, math


def sum(x: Any) -> Func:
    """``SUM(x)``: sum of a row's array, or over a group after ``group_by``."""
    return _call("SUM", _expr(x, "x"))


def avg(x: Any) -> Func:
    """``AVG(x)``: mean of a row's array, or over a group."""
    return _call("AVG", _expr(x, "x"))


def prod(x: Any) -> Func:
    """``PROD(x)``: product of a row's array, or over a group."""
    return _call("PROD", _expr(x, "x"))


def amin(x: Any) -> Func:
    """``AMIN(x)``: smallest element (the engine has no MIN)."""
    return _call("AMIN", _expr(x, "x"))


def amax(x: Any) -> Func:
    """``AMAX(x)``: largest element (the engine has no MAX)."""
    return _call("AMAX", _expr(x, "x"))


def sqrt(x: Any) -> Func:
    """``SQRT(x * 1.0)``: the engine returns garbage for SQRT of an integer, so promote first."""
    return _call("SQRT", Binary("*", _expr(x, "x"), lit(1.0)))


def abs(x: Any) -> Func:
    """``ABS(x)``."""
    return _call("ABS", _expr(x, "x"))


# --------------------------------------------------------------------------- rows, sampling


def row_number() -> Func:
    """``ROW_NUMBER()``: 0-based position (source position in WHERE, output position in SELECT)."""
    return _call("ROW_NUMBER")


def random() -> Func:
    """``RANDOM()``: a random integer. Not usable as a sort key; use ``sample_by`` to draw rows."""
    return _call("RANDOM")


def _weights(name: str, pairs: tuple[tuple[Any, Any], ...]) -> Func:
    if not pairs:
        raise InvalidValueError(f"{name.lower()}() needs at least one (condition, weight) pair")
    items: list[WeightPair] = []
    for position, pair in enumerate(pairs):
        if not isinstance(pair, tuple) or len(pair) != 2:
            raise UnsupportedTypeError(
                f"{name.lower()}() argument {position} must be a (condition, weight) tuple, got "
                f"{pair!r}"
            )
        condition, weight = pair
        if isinstance(weight, bool) or not isinstance(weight, (int, float)):
            raise UnsupportedTypeError(
                f"{name.lower()}() weight {position} must be a number, got {weight!r}"
            )
        problem = sampling_weight_problem(weight)
        if problem is not None:
            raise InvalidValueError(
                f"{name.lower()}() weight {position}={weight!r} is refused because {problem}"
            )
        text = render_scalar(weight, argument=f"{name.lower()}() weight {position}")
        items.append(
            WeightPair(
                as_condition(condition, argument=f"{name.lower()}() condition {position}"),
                Literal(weight, text),
            )
        )
    problem = sampling_weights_problem([item.weight.value for item in items])
    if problem is not None:
        raise InvalidValueError(f"{name.lower()}() is refused because {problem}")
    return Func(name, tuple(items))


def max_weight(*pairs: tuple[Any, Any]) -> Func:
    """``MAX_WEIGHT(cond: w, ...)``: a row's weight is the largest weight whose condition holds.

    >>> from tqlbuilder import col
    >>> w = max_weight((col("label") == "cat", 5), (True, 1))
    """
    return _weights("MAX_WEIGHT", pairs)


def sum_weight(*pairs: tuple[Any, Any]) -> Func:
    """``SUM_WEIGHT(cond: w, ...)``: a row's weight is the sum of weights whose condition holds."""
    return _weights("SUM_WEIGHT", pairs)
