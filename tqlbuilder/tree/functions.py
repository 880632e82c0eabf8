"""The engine's functions (``from tqlbuilder import functions as F``).

Only functions that exist and work on the Deep Lake 4.7 engine are offered: the entries of the
function catalog (:mod:`tqlbuilder.engine.catalog`). Each typed wrapper below validates its
arguments by the roles its catalog entry lists (:func:`call`); a catalog entry without a wrapper
is still served by name (``F.some_function(...)``) through the same validation. Arguments in an
expression position accept expressions or column names (a plain ``str`` is a column name);
vectors accept lists or numpy arrays; value arguments (a search text, a JSON key) take Python
values.
"""

from __future__ import annotations

from typing import Any

from tqlbuilder.engine.catalog import ABSENT_FUNCTIONS, FUNCTIONS
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
from tqlbuilder.tree.literals import check_cosine_query, render_scalar

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


def _vec(value: Any, argument: str, ndim: int | None = 1) -> Expr:
    """A vector argument: an expression/column name, or a list/ndarray rendered as ARRAY[...]."""
    if isinstance(value, (Expr, str)):
        return as_expr(value, argument=argument)
    return vector(value, ndim=ndim, argument=argument)


def _text(value: Any, argument: str) -> Expr:
    if not isinstance(value, str):
        raise UnsupportedTypeError(f"{argument} must be a str, got {type(value).__name__}")
    return as_literal(value, argument=argument)


def _row(value: Any, argument: str) -> Expr:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidValueError(f"{argument} must be a non-negative int, got {value!r}")
    return lit(value)


_BY_ROLE = {
    "expr": lambda value, argument: as_expr(value, argument=argument),
    "vector": _vec,
    "matrix": lambda value, argument: _vec(value, argument, ndim=2),
    "text": _text,
    "row": _row,
}


def call(name: str, *args: Any) -> Func:
    """``NAME(args)`` for a catalog function, each argument validated by its role.

    Raises:
        InvalidValueError: ``name`` is not an engine function, or a value is out of range.
        UnsupportedTypeError: an argument has the wrong type for its role.

    >>> call("L2_NORM", [0.5, 1]).to_tql()
    'L2_NORM(ARRAY[0.5,1.0])'
    """
    function = FUNCTIONS.get(name)
    if function is None:
        hint = ABSENT_FUNCTIONS.get(name)
        raise InvalidValueError(
            f"{name} is not an engine function{f' ({hint})' if hint else ''}; available: "
            f"{', '.join(sorted(FUNCTIONS))}"
        )
    if function.arity is None:
        return _weights(name, args)
    if len(args) != function.arity:
        raise InvalidValueError(
            f"{name.lower()}() takes {function.arity} argument(s) "
            f"({', '.join(function.params) or 'none'}), got {len(args)}"
        )
    return Func(
        name,
        tuple(
            _BY_ROLE[role](value, param)
            for value, param, role in zip(args, function.params, function.roles, strict=True)
        ),
    )


def __getattr__(attribute: str) -> Any:
    """Serve catalog functions that have no typed wrapper yet: ``F.name(...)``."""
    name = attribute.upper()
    if attribute.islower() and name in FUNCTIONS:

        def wrapper(*args: Any) -> Func:
            return call(name, *args)

        wrapper.__name__ = attribute
        wrapper.__doc__ = f"``{name}(...)``: {FUNCTIONS[name].doc}."
        return wrapper
    raise AttributeError(f"module 'tqlbuilder.tree.functions' has no attribute {attribute!r}")


# --------------------------------------------------------------------------- similarity


def cosine_similarity(a: Any, b: Any) -> Func:
    """``COSINE_SIMILARITY(a, b)`` in [-1, 1]; higher is more similar (sort DESC).

    A literal vector whose float32 norm is zero or overflows is refused (every score would be
    0 or NaN on the engine; see ``check_cosine_query``).
    """
    result = call("COSINE_SIMILARITY", a, b)
    for value, argument in ((a, "a"), (b, "b")):
        if not isinstance(value, (Expr, str)):
            check_cosine_query(value, argument=f"cosine_similarity() {argument}")
    return result


def dot(a: Any, b: Any) -> Func:
    """``DOT(a, b)``, the inner product; higher is more similar (sort DESC)."""
    return call("DOT", a, b)


def l2_norm(x: Any) -> Func:
    """``L2_NORM(x)``; for a distance pass a difference: ``F.l2_norm(col("e") - vec)`` (ASC)."""
    return call("L2_NORM", x)


def l1_norm(x: Any) -> Func:
    """``L1_NORM(x)`` (Manhattan length; ASC for nearest)."""
    return call("L1_NORM", x)


def linf_norm(x: Any) -> Func:
    """``LINF_NORM(x)`` (largest absolute element; ASC for nearest)."""
    return call("LINF_NORM", x)


def hamming_distance(a: Any, b: Any) -> Func:
    """``HAMMING_DISTANCE(a, b)`` (the engine returns it wrapped in a 1-element array)."""
    return call("HAMMING_DISTANCE", a, b)


def maxsim(doc: Any, query: Any) -> Func:
    """``MAXSIM(doc, query)``: multi-vector (ColBERT-style) late interaction; query is 2-D."""
    return call("MAXSIM", doc, query)


def bm25_similarity(column: Any, text: str) -> Func:
    """``BM25_SIMILARITY(column, 'text')``; needs a BM25 index on the column.

    The engine accepts it only as ``ORDER BY BM25_SIMILARITY(...) DESC LIMIT k`` (its score
    cannot be selected); prefer :meth:`Query.text_search`, which compiles to exactly that.
    """
    return call("BM25_SIMILARITY", column, text)


# --------------------------------------------------------------------------- arrays, JSON


def contains(x: Any, value: Any) -> Expr:
    """``CONTAINS(x, value)``: substring (text, JSON strings) or array membership."""
    return as_expr(x, argument="x").contains(value)


def shape(x: Any) -> Func:
    """``SHAPE(x)``: the shape of each row's value, as an array (index it: ``shape(x)[0]``)."""
    return call("SHAPE", x)


def count(x: Any) -> Expr:
    """Number of elements per row or per group: ``SHAPE(x)[0]`` (the engine has no COUNT)."""
    return shape(x)[0]


def data(x: Any, row: int) -> Func:
    """``DATA(x, row)``: the value of column ``x`` at source row ``row`` (query by example)."""
    return call("DATA", x, row)


def any(x: Any) -> Func:
    """``ANY(x)``: true if any element of a boolean array is true."""
    return call("ANY", x)


def all(x: Any) -> Func:
    """``ALL(x)``: true if every element is true (true for an empty array)."""
    return call("ALL", x)


def all_strict(x: Any) -> Func:
    """``ALL_STRICT(x)``: like ``ALL`` but false for an empty array."""
    return call("ALL_STRICT", x)


def logical_and(a: Any, b: Any) -> Func:
    """``LOGICAL_AND(a, b)``: element-wise AND of two boolean arrays."""
    return call("LOGICAL_AND", a, b)


def logical_or(a: Any, b: Any) -> Func:
    """``LOGICAL_OR(a, b)``: element-wise OR of two boolean arrays."""
    return call("LOGICAL_OR", a, b)


def nonzero(x: Any) -> Func:
    """``NONZERO(x)``: indices of the non-zero elements."""
    return call("NONZERO", x)


def keys(x: Any) -> Func:
    """``KEYS(x)``: the keys of a JSON / dict value."""
    return call("KEYS", x)


# --------------------------------------------------------------------------- reductions, math


def sum(x: Any) -> Func:
    """``SUM(x)``: sum of a row's array, or over a group after ``group_by``."""
    return call("SUM", x)


def avg(x: Any) -> Func:
    """``AVG(x)``: mean of a row's array, or over a group."""
    return call("AVG", x)


def prod(x: Any) -> Func:
    """``PROD(x)``: product of a row's array, or over a group."""
    return call("PROD", x)


def amin(x: Any) -> Func:
    """``AMIN(x)``: smallest element (the engine has no MIN)."""
    return call("AMIN", x)


def amax(x: Any) -> Func:
    """``AMAX(x)``: largest element (the engine has no MAX)."""
    return call("AMAX", x)


def sqrt(x: Any) -> Func:
    """``SQRT(x * 1.0)``: the engine returns garbage for SQRT of an integer, so promote first."""
    return call("SQRT", Binary("*", as_expr(x, argument="x"), lit(1.0)))


def abs(x: Any) -> Func:
    """``ABS(x)``."""
    return call("ABS", x)


# --------------------------------------------------------------------------- rows, sampling


def row_number() -> Func:
    """``ROW_NUMBER()``: 0-based position (source position in WHERE, output position in SELECT)."""
    return call("ROW_NUMBER")


def random() -> Func:
    """``RANDOM()``: a sort key that shuffles: ``order_by(F.random())``.

    ``ORDER BY RANDOM()`` returns every row in a new random order on each run (re-probed on
    deeplake 4.7.4, ``tests/test_engine_fatal.py::test_order_by_random_shuffles``). As a value
    (in a select list) it gives garbage, so the builder refuses it there.
    """
    return call("RANDOM")


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
