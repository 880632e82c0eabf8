"""The expression tree: frozen nodes, and the operators that build them.

Nodes hold only validated data (leaves keep their already-rendered TQL text, so bad input fails
when the expression is built, not when it is sent). Turning a tree into text is the compiler's
job. Plain strings are column names wherever an expression is expected; values come from the
right side of an operator or from [`lit()`][tqlbuilder.lit].
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, NoReturn

import attrs
import numpy as np

from tqlbuilder.engine.lexicon import ORDERING_OPERATORS
from tqlbuilder.engine.rules import (
    array_comparison_problem,
    contains_problem,
    like_pattern_problem,
    text_ordering_problem,
)
from tqlbuilder.errors import (
    InvalidValueError,
    UnsupportedConstructError,
    UnsupportedTypeError,
)
from tqlbuilder.tree.literals import (
    render_identifier,
    render_scalar,
    render_string,
    render_vector_shape,
)
from tqlbuilder.tree.operands import in_values, index_item

__all__ = [
    "Alias",
    "Between",
    "Binary",
    "BoolOp",
    "Column",
    "Expr",
    "Func",
    "InList",
    "IsNull",
    "Like",
    "Literal",
    "Neg",
    "Not",
    "OrderKey",
    "Raw",
    "Star",
    "Subscript",
    "Vector",
    "Verbatim",
    "WeightPair",
    "as_expr",
    "as_value",
    "col",
    "lit",
]

_SCALAR_TYPES = (str, bool, int, float, np.generic)


def _key_of(value: Any) -> Any:
    if isinstance(value, (Expr, OrderKey, WeightPair)):
        return value.key()
    if isinstance(value, tuple):
        return tuple(_key_of(v) for v in value)
    return value


class Expr:
    """Base of every expression node: operators build new nodes, nothing mutates.

    ``==`` builds a comparison, so use [`equals()`][equals] for structural equality.
    """

    __slots__ = ()

    # ----------------------------------------------------------------- structure
    def key(self) -> tuple[Any, ...]:
        """A hashable structural fingerprint: equal keys mean identical TQL."""
        return (type(self).__name__, *(_key_of(getattr(self, f.name)) for f in _fields(self)))

    def equals(self, other: object) -> bool:
        """Structural equality (``==`` is taken by the TQL comparison)."""
        return isinstance(other, Expr) and self.key() == other.key()

    def __hash__(self) -> int:
        return hash(self.key())

    def __bool__(self) -> NoReturn:
        raise TypeError(
            "the truth value of a TQL expression is undefined: combine conditions with "
            "& (and), | (or), ~ (not) instead of 'and', 'or', 'not', and use .isin() / "
            ".between() instead of 'in' or chained comparisons"
        )

    def __iter__(self) -> Iterator[Any]:
        raise TypeError("a TQL expression is not iterable; index it with expr[0] or expr[0:8]")

    def __contains__(self, item: object) -> bool:
        raise TypeError("use expr.contains(value) or expr.isin(values) instead of 'in'")

    def to_tql(self) -> str:
        """The TQL text of this expression on its own (e.g. ``'"year" > 2020'``)."""
        from tqlbuilder.levels.printer import compile_expr

        return compile_expr(self)

    def __repr__(self) -> str:
        from tqlbuilder.levels.printer import compile_expr

        try:
            return f"<{type(self).__name__} {compile_expr(self)}>"
        except Exception as exc:  # pragma: no cover - repr must never raise
            return f"<{type(self).__name__} (not compilable: {exc})>"

    # ----------------------------------------------------------------- comparisons
    def _compare(self, op: str, other: Any) -> Expr:
        right = as_value(other, argument="right operand")
        if isinstance(right, Vector) or isinstance(self, Vector):
            raise UnsupportedConstructError(
                f"comparison {op} with an ARRAY is refused because {array_comparison_problem()}"
            )
        if op in ORDERING_OPERATORS and (_is_text_literal(right) or _is_text_literal(self)):
            json = _is_json_key(self) or _is_json_key(right)
            problem = text_ordering_problem(json)
            if problem is not None:
                raise UnsupportedConstructError(
                    f"ordering comparison {op} with a string literal is refused because "
                    f"{problem}; compare text with ==, .isin(), .like() or .between() "
                    "(lexicographic) instead (on a JSON key, orderings compare strings)"
                )
        return Binary(op, self, right)

    def __eq__(self, other: object) -> Expr:  # type: ignore[override]
        if other is None:
            return IsNull(self, False)
        return self._compare("=", other)

    def __ne__(self, other: object) -> Expr:  # type: ignore[override]
        if other is None:
            return IsNull(self, True)
        return self._compare("!=", other)

    def __lt__(self, other: Any) -> Expr:
        return self._compare("<", other)

    def __le__(self, other: Any) -> Expr:
        return self._compare("<=", other)

    def __gt__(self, other: Any) -> Expr:
        return self._compare(">", other)

    def __ge__(self, other: Any) -> Expr:
        return self._compare(">=", other)

    # ----------------------------------------------------------------- arithmetic
    def _arith(self, op: str, other: Any, *, reflected: bool = False) -> Expr:
        value = as_value(other, argument="operand")
        if _is_text_literal(value) or _is_text_literal(self):
            raise UnsupportedConstructError(
                f"arithmetic {op} with a string: TQL has no string concatenation or text math"
            )
        return Binary(op, value, self) if reflected else Binary(op, self, value)

    def __add__(self, other: Any) -> Expr:
        return self._arith("+", other)

    def __radd__(self, other: Any) -> Expr:
        return self._arith("+", other, reflected=True)

    def __sub__(self, other: Any) -> Expr:
        return self._arith("-", other)

    def __rsub__(self, other: Any) -> Expr:
        return self._arith("-", other, reflected=True)

    def __mul__(self, other: Any) -> Expr:
        return self._arith("*", other)

    def __rmul__(self, other: Any) -> Expr:
        return self._arith("*", other, reflected=True)

    def __truediv__(self, other: Any) -> Expr:
        return self._arith("/", other)

    def __rtruediv__(self, other: Any) -> Expr:
        return self._arith("/", other, reflected=True)

    def __mod__(self, other: Any) -> Expr:
        return self._arith("%", other)

    def __rmod__(self, other: Any) -> Expr:
        return self._arith("%", other, reflected=True)

    def __neg__(self) -> Expr:
        return Neg(self)

    # ----------------------------------------------------------------- logic
    def __and__(self, other: Any) -> Expr:
        return BoolOp.of("AND", self, as_condition(other, argument="right operand of &"))

    def __rand__(self, other: Any) -> Expr:
        return BoolOp.of("AND", as_condition(other, argument="left operand of &"), self)

    def __or__(self, other: Any) -> Expr:
        return BoolOp.of("OR", self, as_condition(other, argument="right operand of |"))

    def __ror__(self, other: Any) -> Expr:
        return BoolOp.of("OR", as_condition(other, argument="left operand of |"), self)

    def __invert__(self) -> Expr:
        return Not(self)

    # ----------------------------------------------------------------- predicates
    def isin(self, values: Iterable[Any]) -> Expr:
        """``x IN (v1, v2, ...)``; an empty collection matches nothing (``FALSE``)."""
        return InList(self, *in_values(values), False)

    def not_in(self, values: Iterable[Any]) -> Expr:
        """``x NOT IN (v1, ...)``; an empty collection matches everything (``TRUE``)."""
        return InList(self, *in_values(values), True)

    def between(self, low: Any, high: Any) -> Expr:
        """``x BETWEEN low AND high``, inclusive at both ends.

        The engine runs ``BETWEEN`` only on a column or JSON key with literal bounds: on an
        array element or slice (``e[0] BETWEEN 0.5 AND 1.0``) the process dies (SIGSEGV), on
        any other expression or with a column as a bound it fails (deeplake 4.7.4,
        ``tests/probes/array_elements.py``). Everything else compiles to the same test written
        as ``(x >= low) AND (x <= high)``.
        """
        low_value = as_value(low, argument="low")
        high_value = as_value(high, argument="high")
        native = (isinstance(self, Column) or (isinstance(self, Subscript) and self.json_key)) and (
            isinstance(low_value, Literal) and isinstance(high_value, Literal)
        )
        if native:
            return Between(self, low_value, high_value)
        return (self >= low_value) & (self <= high_value)

    def contains(self, value: Any) -> Expr:
        """``CONTAINS(x, value)``: substring of text / JSON strings, or array membership.

        A string with no word character (``''``, ``' '``, ``'!!'``, ``'²'``) is refused: on a
        column with a text index the engine process dies on it (SIGSEGV). Word characters are
        the engine's, probed for every code point: Unicode 15.1 letters and decimal digits
        (``tqlbuilder/engine/words.py``).
        """
        if isinstance(value, str) and (problem := contains_problem(value)) is not None:
            raise InvalidValueError(
                f"contains() value {value!r} is refused because {problem}; pass text with at "
                "least one letter or decimal digit (superscripts, fractions, Roman numerals and "
                "'_' are not words to the engine)"
            )
        return Func("CONTAINS", (self, as_value(value, argument="contains() value")))

    def like(self, pattern: str) -> Expr:
        """``x LIKE 'pattern'`` in the engine's raw pattern syntax (a regex in disguise).

        ``%`` and ``*`` match any run, ``?`` one character, ``_`` is literal, and every other
        regex character (``. [ ] ( ) | ^ $ + { } \\``) keeps its regex meaning. For a literal
        substring use [`contains()`][contains].
        """
        return Like(self, _pattern(pattern), False, False)

    def ilike(self, pattern: str) -> Expr:
        """Case-insensitive [`like()`][like]."""
        return Like(self, _pattern(pattern), True, False)

    def not_like(self, pattern: str) -> Expr:
        """``x NOT LIKE 'pattern'``."""
        return Like(self, _pattern(pattern), False, True)

    def is_null(self) -> Expr:
        """``x IS NULL`` (note: the engine stores an empty string as null)."""
        return IsNull(self, False)

    def is_not_null(self) -> Expr:
        """``x IS NOT NULL``."""
        return IsNull(self, True)

    # ----------------------------------------------------------------- naming, ordering
    def alias(self, name: str) -> Alias:
        """``expr AS "name"``: name a computed column in a select list."""
        return Alias(self, name)

    def asc(self) -> OrderKey:
        """Ascending sort key for [`Query.order_by()`][tqlbuilder.Query.order_by]."""
        return OrderKey(self, False)

    def desc(self) -> OrderKey:
        """Descending sort key for [`Query.order_by()`][tqlbuilder.Query.order_by]."""
        return OrderKey(self, True)

    # ----------------------------------------------------------------- subscripts
    def __getitem__(self, item: Any) -> Expr:
        """``x['key']`` (JSON), ``x[0]``, ``x[0:8]``, ``x[::2]``, ``x[:, 0]`` (tensors)."""
        if isinstance(item, str):
            return Subscript(self, (render_string(item, argument="JSON key"),), True)
        items = item if isinstance(item, tuple) else (item,)
        if not items:
            raise InvalidValueError("an empty index tuple selects nothing; pass an index")
        if isinstance(self, Subscript) and not self.json_key:
            raise UnsupportedConstructError(
                "chained tensor subscripts such as x[0][1] come out transposed on the engine; "
                "index once with a tuple: x[0, 1]"
            )
        if (
            isinstance(self, Subscript)
            and self.json_key
            and (len(items) > 1 or isinstance(items[0], slice))
        ):
            raise UnsupportedConstructError(
                "a slice or tuple index on a JSON value fails on the engine (\"Slicing can't be "
                "applied to Json data\"); index a JSON list with one int, e.g. x['tags'][0]"
            )
        return Subscript(self, tuple(index_item(i) for i in items), False)


def _fields(node: Any) -> tuple[attrs.Attribute[Any], ...]:
    fields: tuple[attrs.Attribute[Any], ...] = attrs.fields(type(node))
    return fields


def _is_json_key(expr: Expr) -> bool:
    return isinstance(expr, Subscript) and expr.json_key


def _is_text_literal(expr: Expr) -> bool:
    return isinstance(expr, Literal) and isinstance(expr.value, str)


def _pattern(pattern: object) -> Literal:
    if isinstance(pattern, str) and (problem := like_pattern_problem(pattern)) is not None:
        raise InvalidValueError(f"pattern {pattern!r} is refused because {problem}")
    if not isinstance(pattern, str):
        raise UnsupportedTypeError(f"pattern must be a str, got {type(pattern).__name__}")
    return Literal(pattern, render_string(pattern, argument="pattern"))


# =========================================================================== leaves


@attrs.frozen(eq=False, repr=False)
class Column(Expr):
    """A column (tensor) reference; ``text`` is the name as written (bare or double-quoted)."""

    name: str
    text: str


@attrs.frozen(eq=False, repr=False)
class Literal(Expr):
    """A scalar literal: ``value`` is the Python value, ``text`` its TQL rendering."""

    value: Any
    text: str


@attrs.frozen(eq=False, repr=False)
class Vector(Expr):
    """An ``ARRAY[...]`` literal (1-D, or 2-D for multi-vector search), rendered once."""

    text: str
    shape: tuple[int, ...]

    def key(self) -> tuple[Any, ...]:
        return ("Vector", self.text)


@attrs.frozen(eq=False, repr=False)
class Star(Expr):
    """``*`` in a select list: every column."""


@attrs.frozen(eq=False, repr=False)
class Raw(Expr):
    """A checked raw TQL fragment (see ``raw()``); always parenthesised when compiled."""

    text: str


@attrs.frozen(eq=False, repr=False)
class Verbatim(Expr):
    """A condition that means exactly what the engine does with its text.

    The builder's operators give SQL null semantics on JSON keys some rows lack
    (`tqlbuilder.compiler.json_nulls` rewrites them); text read by ``tqlbuilder.parse()`` and
    conditions ``tqlbuilder.filters`` already wrote in the engine's own terms are wrapped in
    ``Verbatim`` so that they keep their meaning: the rewrite leaves them alone and they print
    unchanged.
    """

    operand: Expr


# =========================================================================== composites


@attrs.frozen(eq=False, repr=False)
class Binary(Expr):
    """A comparison (``= != < <= > >=``) or arithmetic (``+ - * / %``) between two operands.

    A left-nested chain (``a + b + c ...``, as the parser reads it) has a flat key, built in a
    loop, so chains of any length hash and compare without recursion.
    """

    op: str
    left: Expr
    right: Expr

    def key(self) -> tuple[Any, ...]:
        spine: list[Binary] = []
        node: Expr = self
        while type(node) is Binary:
            spine.append(node)
            node = node.left
        return ("Binary", node.key(), *((b.op, b.right.key()) for b in reversed(spine)))


@attrs.frozen(eq=False, repr=False)
class BoolOp(Expr):
    """``AND`` / ``OR`` over two or more operands (nested same-op chains are flattened)."""

    op: str
    operands: tuple[Expr, ...]

    @classmethod
    def of(cls, op: str, *operands: Expr) -> BoolOp:
        flat: list[Expr] = []
        for operand in operands:
            if isinstance(operand, BoolOp) and operand.op == op:
                flat.extend(operand.operands)
            else:
                flat.append(operand)
        return cls(op, tuple(flat))


@attrs.frozen(eq=False, repr=False)
class Not(Expr):
    """``NOT (x)``."""

    operand: Expr


@attrs.frozen(eq=False, repr=False)
class Neg(Expr):
    """Unary minus."""

    operand: Expr


@attrs.frozen(eq=False, repr=False)
class InList(Expr):
    """``x [NOT] IN (v1, v2, ...)``: ``values`` are the Python values, ``text`` their rendering."""

    operand: Expr
    values: tuple[Any, ...]
    text: str
    negated: bool


@attrs.frozen(eq=False, repr=False)
class Between(Expr):
    """``x BETWEEN low AND high`` (inclusive)."""

    operand: Expr
    low: Expr
    high: Expr


@attrs.frozen(eq=False, repr=False)
class Like(Expr):
    """``x LIKE 'p'`` / ``x ILIKE 'p'``; negation renders ``NOT LIKE`` or ``NOT (x ILIKE p)``."""

    operand: Expr
    pattern: Literal
    case_insensitive: bool
    negated: bool


@attrs.frozen(eq=False, repr=False)
class IsNull(Expr):
    """``x IS [NOT] NULL``."""

    operand: Expr
    negated: bool


@attrs.frozen(eq=False, repr=False)
class Func(Expr):
    """A call of a whitelisted engine function; ``name`` is upper case."""

    name: str
    args: tuple[Expr | WeightPair, ...]


@attrs.frozen(eq=False, repr=False)
class Subscript(Expr):
    """``x['key']`` (``json_key``, items hold the rendered key) or tensor ``x[i, a:b:c]``."""

    operand: Expr
    items: tuple[Any, ...]
    json_key: bool


@attrs.frozen(eq=False, repr=False)
class Alias(Expr):
    """``expr AS "name"`` in a select list."""

    operand: Expr
    name: str = attrs.field()
    text: str = attrs.field(init=False)

    @text.default
    def _render_name(self) -> str:
        return render_identifier(self.name, argument="alias")


@attrs.frozen(repr=False)
class OrderKey:
    """A sort key: ``descending`` is True, False, or None for "the natural direction"."""

    expr: Expr
    descending: bool | None

    def key(self) -> tuple[Any, ...]:
        return ("OrderKey", self.expr.key(), self.descending)

    def __repr__(self) -> str:
        direction = {None: "default", True: "DESC", False: "ASC"}[self.descending]
        return f"<OrderKey {self.expr!r} {direction}>"


@attrs.frozen(repr=False)
class WeightPair:
    """``condition: weight`` inside ``MAX_WEIGHT`` / ``SUM_WEIGHT`` (sampling)."""

    condition: Expr
    weight: Literal

    def key(self) -> tuple[Any, ...]:
        return ("WeightPair", self.condition.key(), self.weight.key())


# =========================================================================== constructors


def col(name: str) -> Column:
    """Reference a column by name: ``col("year") > 2020``.

    Any non-empty name works (spaces, keywords, unicode); names containing ``"``, a newline, CR
    or NUL cannot be written in TQL and are refused.
    """
    return Column(name, render_identifier(name, argument="column name"))


def lit(value: Any, *, dtype: str | None = None) -> Expr:
    """A literal value: str, bool, int, float, numpy scalar, or a vector (list / ndarray).

    ``dtype="float32"`` renders a float as the exact value a float32 column stores, so that
    ``col("f") == lit(0.1, dtype="float32")`` matches a stored float32 0.1.
    """
    if isinstance(value, Expr):
        return value
    if isinstance(value, (list, tuple, np.ndarray)) and not (
        isinstance(value, np.ndarray) and value.ndim == 0
    ):
        if dtype is not None:
            raise InvalidValueError("dtype applies to scalar literals, not to vectors")
        return vector(value)
    if isinstance(value, np.ndarray):
        value = value.item()
    return Literal(value, render_scalar(value, argument="lit() value", dtype=dtype))


def vector(value: Any, *, ndim: int | None = None, argument: str = "vector") -> Vector:
    """An ``ARRAY[...]`` literal from a list or ndarray (1-D or 2-D), validated and rendered."""
    text, shape = render_vector_shape(value, argument=argument, ndim=ndim)
    return Vector(text, shape)


def as_literal(value: Any, *, argument: str) -> Literal:
    """Coerce a Python scalar to a `Literal` (used for IN lists and weights)."""
    if isinstance(value, Literal):
        return value
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    return Literal(value, render_scalar(value, argument=argument))


def as_value(value: Any, *, argument: str) -> Expr:
    """Coerce the value side of an operator: expressions pass, Python values become literals."""
    kind = type(value)
    if kind is int or kind is float or kind is str:  # the common literals, as as_literal does
        return Literal(value, render_scalar(value, argument=argument))
    if isinstance(value, Expr):
        return value
    if isinstance(value, _SCALAR_TYPES) or value is None:
        return as_literal(value, argument=argument)
    if isinstance(value, (list, tuple, np.ndarray)):
        return vector(value, argument=argument)
    raise UnsupportedTypeError(
        f"{argument} must be an expression, a str, bool, int, float or a vector, got "
        f"{type(value).__name__}: {value!r}"
    )


def as_expr(value: Any, *, argument: str) -> Expr:
    """Coerce an expression position: a plain ``str`` is a column name, never raw text."""
    if isinstance(value, Expr):
        return value
    if isinstance(value, str):
        return Column(value, render_identifier(value, argument=argument))
    return as_value(value, argument=argument)


def as_condition(value: Any, *, argument: str) -> Expr:
    """Coerce a filter condition: an expression, a column name (truthy column), or a bool."""
    if isinstance(value, (bool, np.bool_)):
        return as_literal(bool(value), argument=argument)
    if isinstance(value, (Expr, str)):
        return as_expr(value, argument=argument)
    raise UnsupportedTypeError(
        f"{argument} must be a condition expression (e.g. col('year') > 2020), a column name "
        f"or a bool, got {type(value).__name__}: {value!r}"
    )
