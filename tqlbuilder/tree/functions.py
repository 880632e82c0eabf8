"""The engine's functions (``from tqlbuilder import functions as F``).

Only functions that exist and work on the Deep Lake 4.7 engine are offered: the entries of the
function catalog (`tqlbuilder.engine.catalog`). Each typed wrapper below validates its
arguments by the roles its catalog entry lists (`call()`); a catalog entry without a wrapper
is still served by name (``F.some_function(...)``) through the same validation. Arguments in an
expression position accept expressions or column names (a plain ``str`` is a column name);
vectors accept lists or numpy arrays; value arguments (a search text, a JSON key) take Python
values.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeAlias

import numpy.typing as npt

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

ExprLike: TypeAlias = Expr | str
"""An expression, or a column name (a plain ``str`` is always a column name, never TQL)."""

VectorLike: TypeAlias = Expr | str | Sequence[float] | npt.NDArray[Any]
"""A vector: a column name or expression, or a literal 1-D list, tuple or numpy array of finite
numbers (written as ``ARRAY[...]``; float32 arrays in their shortest exact form)."""

MatrixLike: TypeAlias = Expr | str | Sequence[Sequence[float]] | npt.NDArray[Any]
"""Several vectors: a column name or expression, or a 2-D list or numpy array ``(m, d)``."""

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

    Args:
        name: The engine's function name, upper case (``"L2_NORM"``).
        *args: The arguments, as the typed wrappers take them.

    Returns:
        The function call (``Func``).

    Raises:
        InvalidValueError: ``name`` is not an engine function, or a value is out of range.
        UnsupportedTypeError: an argument has the wrong type for its role.

    Examples:
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


def cosine_similarity(a: VectorLike, b: VectorLike) -> Func:
    """``COSINE_SIMILARITY(a, b)``, in [-1, 1]; higher is more similar (sort DESC).

    Args:
        a: A vector column (name or expression), or a literal vector.
        b: The other side, usually the query vector: a 1-D list or numpy array of finite
            numbers with as many elements as the column's vectors (float32 arrays are written
            in their shortest exact form).

    Returns:
        The function call, an expression (``Func``) to select, alias or sort by.

    Raises:
        InvalidValueError: a literal vector is empty, not finite, or its float32 norm is zero
            or overflows (every score would be 0 or NaN on the engine).
        UnsupportedTypeError: an argument is neither an expression, a name nor a vector.

    Examples:
        >>> cosine_similarity("embedding", [0.5, -0.25]).to_tql()
        'COSINE_SIMILARITY(embedding, ARRAY[0.5,-0.25])'
    """
    result = call("COSINE_SIMILARITY", a, b)
    for value, argument in ((a, "a"), (b, "b")):
        if not isinstance(value, (Expr, str)):
            check_cosine_query(value, argument=f"cosine_similarity() {argument}")
    return result


def dot(a: VectorLike, b: VectorLike) -> Func:
    """``DOT(a, b)``, the inner product; higher is more similar (sort DESC).

    Args:
        a: A vector column (name or expression), or a literal vector.
        b: The other side, usually the query vector (1-D list or numpy array).

    Returns:
        The function call (``Func``).

    Examples:
        >>> import numpy as np
        >>> dot("embedding", np.array([1, 2], dtype=np.float32)).to_tql()
        'DOT(embedding, ARRAY[1.0,2.0])'
    """
    return call("DOT", a, b)


def l2_norm(x: VectorLike) -> Func:
    """``L2_NORM(x)``, the Euclidean length; lower is nearer (sort ASC).

    Args:
        x: A vector expression; for a distance pass a difference, ``col("e") - vector``.

    Returns:
        The function call (``Func``).

    Examples:
        >>> from tqlbuilder import col
        >>> l2_norm(col("embedding") - [0.5, -0.25]).to_tql()
        'L2_NORM(embedding - ARRAY[0.5,-0.25])'
    """
    return call("L2_NORM", x)


def l1_norm(x: VectorLike) -> Func:
    """``L1_NORM(x)``, the Manhattan length; lower is nearer (sort ASC).

    Args:
        x: A vector expression; for a distance pass a difference, ``col("e") - vector``.

    Returns:
        The function call (``Func``).
    """
    return call("L1_NORM", x)


def linf_norm(x: VectorLike) -> Func:
    """``LINF_NORM(x)``, the largest absolute element; lower is nearer (sort ASC).

    Args:
        x: A vector expression; for a distance pass a difference, ``col("e") - vector``.

    Returns:
        The function call (``Func``).
    """
    return call("LINF_NORM", x)


def hamming_distance(a: VectorLike, b: VectorLike) -> Func:
    """``HAMMING_DISTANCE(a, b)``: the number of differing elements; lower is nearer.

    The engine returns it wrapped in a one-element array.

    Args:
        a: A vector column (name or expression), or a literal vector.
        b: The other side (a list or numpy array of 0/1 or integers).

    Returns:
        The function call (``Func``).

    Examples:
        >>> hamming_distance("bits", [1, 0, 1]).to_tql()
        'HAMMING_DISTANCE(bits, ARRAY[1,0,1])'
    """
    return call("HAMMING_DISTANCE", a, b)


def maxsim(doc: VectorLike, query: MatrixLike) -> Func:
    """``MAXSIM(doc, query)``: multi-vector (ColBERT-style) late interaction; higher is better.

    Args:
        doc: A column holding several vectors per row (shape ``(n, d)``).
        query: The query's vectors, 2-D: a list of lists or a numpy array of shape ``(m, d)``.

    Returns:
        The function call (``Func``).

    Examples:
        >>> maxsim("vecs", [[0.5, -0.25], [1.0, 0.0]]).to_tql()
        'MAXSIM(vecs, ARRAY[ARRAY[0.5,-0.25],ARRAY[1.0,0.0]])'
    """
    return call("MAXSIM", doc, query)


def bm25_similarity(column: ExprLike, text: str) -> Func:
    """``BM25_SIMILARITY(column, 'text')``; needs a BM25 index on the column.

    The engine accepts it only as ``ORDER BY BM25_SIMILARITY(...) DESC LIMIT k`` (its score
    cannot be selected); prefer [`Query.text_search()`][tqlbuilder.Query.text_search], which
    compiles to exactly that.

    Args:
        column: The text column with the BM25 index.
        text: The search text (a Python ``str``, written as a quoted literal).

    Returns:
        The function call (``Func``).

    Examples:
        >>> bm25_similarity("text", "moon").to_tql()
        "BM25_SIMILARITY(text, 'moon')"
    """
    return call("BM25_SIMILARITY", column, text)


# --------------------------------------------------------------------------- arrays, JSON


def contains(x: ExprLike, value: str | int | float) -> Expr:
    """``CONTAINS(x, value)``: substring (text, JSON strings) or array membership.

    Args:
        x: A text, JSON or array column (name or expression).
        value: The text or element to look for.

    Returns:
        A condition for [`Query.where()`][tqlbuilder.Query.where].

    Raises:
        InvalidValueError: ``value`` is a string without a word character (the engine crashes
            on it for an indexed column).

    Examples:
        >>> contains("tags", "red").to_tql()
        "CONTAINS(tags, 'red')"
    """
    return as_expr(x, argument="x").contains(value)


def shape(x: ExprLike) -> Func:
    """``SHAPE(x)``: the shape of each row's value, as an array (index it: ``shape(x)[0]``).

    Args:
        x: A column (name or expression).

    Returns:
        The function call (``Func``).
    """
    return call("SHAPE", x)


def count(x: ExprLike) -> Expr:
    """The number of elements per row, or per group after ``group_by``: ``SHAPE(x)[0]``.

    The engine has no ``COUNT``.

    Args:
        x: A column (name or expression).

    Returns:
        The expression ``SHAPE(x)[0]``.

    Examples:
        >>> count("id").to_tql()
        'SHAPE(id)[0]'
    """
    return shape(x)[0]


def data(x: ExprLike, row: int) -> Func:
    """``DATA(x, row)``: the value of column ``x`` at source row ``row`` (query by example).

    Args:
        x: A column (name or expression).
        row: A non-negative source row index.

    Returns:
        The function call (``Func``).

    Raises:
        InvalidValueError: ``row`` is negative or not an ``int``.

    Examples:
        >>> data("embedding", 42).to_tql()
        'DATA(embedding, 42)'
    """
    return call("DATA", x, row)


def any(x: ExprLike) -> Func:
    """``ANY(x)``: true if any element of a boolean array is true.

    Args:
        x: A boolean array column (name or expression).

    Returns:
        The function call (``Func``), usable as a condition.
    """
    return call("ANY", x)


def all(x: ExprLike) -> Func:
    """``ALL(x)``: true if every element is true (true for an empty array).

    Args:
        x: A boolean array column (name or expression).

    Returns:
        The function call (``Func``), usable as a condition.
    """
    return call("ALL", x)


def all_strict(x: ExprLike) -> Func:
    """``ALL_STRICT(x)``: like ``ALL`` but false for an empty array.

    Args:
        x: A boolean array column (name or expression).

    Returns:
        The function call (``Func``), usable as a condition.
    """
    return call("ALL_STRICT", x)


def logical_and(a: ExprLike, b: ExprLike) -> Func:
    """``LOGICAL_AND(a, b)``: element-wise AND of two boolean arrays.

    Args:
        a: A boolean array (name or expression).
        b: Another boolean array of the same shape.

    Returns:
        The function call (``Func``).
    """
    return call("LOGICAL_AND", a, b)


def logical_or(a: ExprLike, b: ExprLike) -> Func:
    """``LOGICAL_OR(a, b)``: element-wise OR of two boolean arrays.

    Args:
        a: A boolean array (name or expression).
        b: Another boolean array of the same shape.

    Returns:
        The function call (``Func``).
    """
    return call("LOGICAL_OR", a, b)


def nonzero(x: ExprLike) -> Func:
    """``NONZERO(x)``: the indices of the non-zero elements.

    Args:
        x: An array column (name or expression).

    Returns:
        The function call (``Func``).
    """
    return call("NONZERO", x)


def keys(x: ExprLike) -> Func:
    """``KEYS(x)``: the keys of a JSON or dict value.

    Args:
        x: A JSON column (name or expression).

    Returns:
        The function call (``Func``).

    Examples:
        >>> keys("meta").to_tql()
        'KEYS(meta)'
    """
    return call("KEYS", x)


# --------------------------------------------------------------------------- reductions, math


def sum(x: ExprLike) -> Func:
    """``SUM(x)``: the sum of a row's array, or over a group after ``group_by``.

    Args:
        x: A numeric column (name or expression).

    Returns:
        The function call (``Func``).
    """
    return call("SUM", x)


def avg(x: ExprLike) -> Func:
    """``AVG(x)``: the mean of a row's array, or over a group.

    Args:
        x: A numeric column (name or expression).

    Returns:
        The function call (``Func``).
    """
    return call("AVG", x)


def prod(x: ExprLike) -> Func:
    """``PROD(x)``: the product of a row's array, or over a group.

    Args:
        x: A numeric column (name or expression).

    Returns:
        The function call (``Func``).
    """
    return call("PROD", x)


def amin(x: ExprLike) -> Func:
    """``AMIN(x)``: the smallest element (the engine has no ``MIN``).

    Args:
        x: A numeric column (name or expression).

    Returns:
        The function call (``Func``).
    """
    return call("AMIN", x)


def amax(x: ExprLike) -> Func:
    """``AMAX(x)``: the largest element (the engine has no ``MAX``).

    Args:
        x: A numeric column (name or expression).

    Returns:
        The function call (``Func``).
    """
    return call("AMAX", x)


def sqrt(x: ExprLike) -> Func:
    """``SQRT(x * 1.0)``: the engine returns garbage for ``SQRT`` of an integer, so promote first.

    Args:
        x: A numeric column (name or expression).

    Returns:
        The function call (``Func``).

    Examples:
        >>> sqrt("n").to_tql()
        'SQRT(n * 1.0)'
    """
    return call("SQRT", Binary("*", as_expr(x, argument="x"), lit(1.0)))


def abs(x: ExprLike) -> Func:
    """``ABS(x)``.

    Args:
        x: A numeric column (name or expression).

    Returns:
        The function call (``Func``).
    """
    return call("ABS", x)


# --------------------------------------------------------------------------- rows, sampling


def row_number() -> Func:
    """``ROW_NUMBER()``: 0-based position (source position in WHERE, output position in SELECT).

    Returns:
        The function call (``Func``).
    """
    return call("ROW_NUMBER")


def random() -> Func:
    """``RANDOM()``: a sort key that shuffles: ``order_by(F.random())``.

    ``ORDER BY RANDOM()`` returns every row in a new random order on each run (re-probed on
    deeplake 4.7.4, ``tests/test_engine_fatal.py::test_order_by_random_shuffles``). As a value
    (in a select list) it gives garbage, so the builder refuses it there.

    Returns:
        The function call (``Func``).
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


def max_weight(*pairs: tuple[ExprLike | bool, float]) -> Func:
    """``MAX_WEIGHT(cond: w, ...)``: a row's weight is the largest weight whose condition holds.

    A sampling weight for [`Query.sample_by()`][tqlbuilder.Query.sample_by].

    Args:
        *pairs: ``(condition, weight)`` tuples; a condition is an expression, a boolean column
            name or ``True``; a weight is a non-negative ``int`` or ``float``.

    Returns:
        The function call (``Func``).

    Raises:
        InvalidValueError: no pairs, or weights the engine cannot sample with (negative, or all
            zero: it allocates memory without bound).
        UnsupportedTypeError: a pair is not a 2-tuple or a weight is not a number.

    Examples:
        >>> from tqlbuilder import col
        >>> max_weight((col("label") == "cat", 5), (True, 1)).to_tql()
        "MAX_WEIGHT((label = 'cat'): 5, TRUE: 1)"
    """
    return _weights("MAX_WEIGHT", pairs)


def sum_weight(*pairs: tuple[ExprLike | bool, float]) -> Func:
    """``SUM_WEIGHT(cond: w, ...)``: a row's weight is the sum of weights whose condition holds.

    Args:
        *pairs: ``(condition, weight)`` tuples, as for [`max_weight()`][tqlbuilder.F.max_weight].

    Returns:
        The function call (``Func``).

    Raises:
        InvalidValueError: no pairs, or weights the engine cannot sample with.
        UnsupportedTypeError: a pair is not a 2-tuple or a weight is not a number.

    Examples:
        >>> from tqlbuilder import col
        >>> sum_weight((col("year") > 1900, 2), (col("topic") == "art", 1)).to_tql()
        "SUM_WEIGHT((year > 1900): 2, (topic = 'art'): 1)"
    """
    return _weights("SUM_WEIGHT", pairs)
