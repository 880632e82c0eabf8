"""The one printer: expressions and SELECT levels to one line of TQL.

The compiler (`tqlbuilder.compiler.lower`) and the parser (`tqlbuilder.parser`) both
print through here, and `Query.to_tql()` is
``print_level(lower(query))``. The printer only assembles text that the leaves already rendered
and validated (names, strings, numbers, vectors), adding keywords, operators and parentheses.
Every compound operand is parenthesised and every operator is surrounded by spaces, so
precedence never matters and ``a - -1`` can never become the comment ``a--1``. Left-nested
chains of one operator (a 100,000-term sum) are printed without recursion.

>>> from tqlbuilder.tree.expr import col
>>> print_level(Select(items=(col("id"),), where=(col("year") > 2020,), limit=5))
'SELECT id WHERE year > 2020 LIMIT 5'
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tqlbuilder.levels.nodes import Select, SetOp
from tqlbuilder.tree.expr import (
    Alias,
    Between,
    Binary,
    BoolOp,
    Column,
    Expr,
    Func,
    InList,
    IsNull,
    Like,
    Literal,
    Neg,
    Not,
    Raw,
    Star,
    Subscript,
    Vector,
    Verbatim,
    WeightPair,
)
from tqlbuilder.tree.sources import Dataset

__all__ = ["compile_expr", "conjunction", "print_level"]


def compile_expr(expr: Expr) -> str:
    """TQL text of one expression."""
    return _VISIT[type(expr)](expr)


_ATOMS = (Column, Literal, Vector, Func, Subscript, Raw, Star)
_ATOM_TYPES = frozenset(_ATOMS)  # dispatch is on the exact node type (see _VISIT)


# =========================================================================== expressions


def _operand(expr: Expr) -> str:
    """An operand of an operator: atoms bare, everything else in parentheses."""
    kind = type(expr)
    text: str = _VISIT[kind](expr)
    if kind in _ATOM_TYPES or (kind is Verbatim and isinstance(expr.operand, _ATOMS)):  # type: ignore[attr-defined]
        return text
    return f"({text})"


def _column(expr: Column) -> str:
    return expr.text


def _literal(expr: Literal) -> str:
    return expr.text


def _vector(expr: Vector) -> str:
    return expr.text


def _star(expr: Star) -> str:
    return "*"


def _verbatim(expr: Verbatim) -> str:
    return compile_expr(expr.operand)


def _raw(expr: Raw) -> str:
    return f"({expr.text})"


def _binary(expr: Binary) -> str:
    """``left op right``; a left-nested chain is walked in a loop, not by recursion."""
    left = expr.left
    if type(left) is not Binary:  # the common single comparison: no spine to walk
        return f"{_operand(left)} {expr.op} {_operand(expr.right)}"
    spine: list[Binary] = []
    node: Expr = expr
    while type(node) is Binary:
        spine.append(node)
        node = node.left
    parts = ["(" * (len(spine) - 1), _operand(node)]
    for index, level in enumerate(reversed(spine)):
        if index:
            parts.append(")")
        parts.append(f" {level.op} {_operand(level.right)}")
    return "".join(parts)


def _bool_op(expr: BoolOp) -> str:
    return f" {expr.op} ".join(_operand(operand) for operand in expr.operands)


def _not(expr: Not) -> str:
    return f"NOT ({compile_expr(expr.operand)})"


def _neg(expr: Neg) -> str:
    text = _operand(expr.operand)
    if text.startswith("-"):
        text = f"({text})"
    return f"-{text}"


def _in_list(expr: InList) -> str:
    if not expr.values:
        return "TRUE" if expr.negated else "FALSE"
    keyword = "NOT IN" if expr.negated else "IN"
    return f"{_operand(expr.operand)} {keyword} ({expr.text})"


def _between(expr: Between) -> str:
    return f"{_operand(expr.operand)} BETWEEN {_operand(expr.low)} AND {_operand(expr.high)}"


def _like(expr: Like) -> str:
    keyword = "ILIKE" if expr.case_insensitive else "LIKE"
    text = f"{_operand(expr.operand)} {keyword} {expr.pattern.text}"
    if not expr.negated:
        return text
    if expr.case_insensitive:  # the engine has no NOT ILIKE
        return f"NOT ({text})"
    return f"{_operand(expr.operand)} NOT LIKE {expr.pattern.text}"


def _is_null(expr: IsNull) -> str:
    return f"{_operand(expr.operand)} IS {'NOT NULL' if expr.negated else 'NULL'}"


def _argument(arg: Expr | WeightPair) -> str:
    if isinstance(arg, WeightPair):
        return f"{_operand(arg.condition)}: {arg.weight.text}"
    return compile_expr(arg)


def _func(expr: Func) -> str:
    parts = [expr.name, "("]
    for index, arg in enumerate(expr.args):
        if index:
            parts.append(", ")
        parts.append(_argument(arg))
    parts.append(")")
    return "".join(parts)


def _index(item: Any) -> str:
    if isinstance(item, int):
        return str(item)
    start, stop, step = item
    text = f"{'' if start is None else start}:{'' if stop is None else stop}"
    return text if step is None else f"{text}:{step}"


def _subscript(expr: Subscript) -> str:
    inner = expr.items[0] if expr.json_key else ", ".join(_index(i) for i in expr.items)
    return f"{_operand(expr.operand)}[{inner}]"


def _alias(expr: Alias) -> str:
    return f"{_operand(expr.operand)} AS {expr.text}"


_VISIT: dict[type, Callable[[Any], str]] = {
    Column: _column,
    Literal: _literal,
    Vector: _vector,
    Star: _star,
    Raw: _raw,
    Verbatim: _verbatim,
    Binary: _binary,
    BoolOp: _bool_op,
    Not: _not,
    Neg: _neg,
    InList: _in_list,
    Between: _between,
    Like: _like,
    IsNull: _is_null,
    Func: _func,
    Subscript: _subscript,
    Alias: _alias,
}


# =========================================================================== levels


def conjunction(conditions: tuple[Expr, ...] | list[Expr]) -> str:
    """Conditions joined with AND (each compound one parenthesised)."""
    if len(conditions) == 1:
        return compile_expr(conditions[0])
    return " AND ".join([_operand(c) for c in conditions])


def print_level(level: Select | SetOp) -> str:
    """One line of TQL for a level tree (a top-level set operation is wrapped in SELECT *)."""
    parts: list[str] = []
    if isinstance(level, SetOp):
        parts.append("SELECT * FROM ")
        _set_op(level, parts)
    else:
        _select(level, parts)
    # Parts are joined once: a 1536-d vector is ~16 KB of text, worth not copying per level.
    return "".join(parts)


def _set_op(level: SetOp, parts: list[str]) -> None:
    parts.append("(")
    for index, operand in enumerate(level.operands):
        if index:
            parts.append(f" {level.op} ")
        parts.append("(")
        parts.append(print_level(operand))
        parts.append(")")
    parts.append(")")


def _emit(expr: Expr, parts: list[str]) -> None:
    """Append the text of ``expr`` to ``parts``: `compile_expr()` without the copies.

    A select item such as ``COSINE_SIMILARITY(embedding, ARRAY[...]) AS score`` holds a vector
    of ~16 KB; building its text through nested joins would copy it once per node, so aliases
    and calls append their pieces here and the level is joined once.
    """
    kind = type(expr)
    if kind is Alias:
        assert isinstance(expr, Alias)
        operand = expr.operand
        if isinstance(operand, _ATOMS):
            _emit(operand, parts)
        else:
            parts.append(f"({compile_expr(operand)})")
        parts.append(" AS ")
        parts.append(expr.text)
    elif kind is Func:
        assert isinstance(expr, Func)
        parts.append(expr.name)
        parts.append("(")
        for index, arg in enumerate(expr.args):
            if index:
                parts.append(", ")
            if isinstance(arg, Expr):
                _emit(arg, parts)
            else:
                parts.append(_argument(arg))
        parts.append(")")
    else:
        parts.append(compile_expr(expr))


def _select(level: Select, parts: list[str]) -> None:
    parts.append("SELECT ")
    items = level.items
    if not items:
        parts.append("*")
    for index, item in enumerate(items):
        if index:
            parts.append(", ")
        _emit(item, parts)
    source = level.source
    if isinstance(source, Dataset):
        parts.append(" FROM ")
        parts.append(source.text)
    elif isinstance(source, Select):
        parts.append(" FROM (")
        _select(source, parts)
        parts.append(")")
    elif isinstance(source, SetOp):
        parts.append(" FROM ")
        _set_op(source, parts)
    if level.where:
        parts.append(" WHERE ")
        parts.append(conjunction(level.where))
    if level.groups:
        parts.append(f" GROUP BY {', '.join(compile_expr(g) for g in level.groups)}")
    if level.ungroup is not None:
        parts.append(f" UNGROUP BY {level.ungroup}")
    if level.order is not None:
        direction = "DESC" if level.order.descending else "ASC"
        parts.append(f" ORDER BY {compile_expr(level.order.expr)} {direction}")
    if level.limit is not None:
        parts.append(f" LIMIT {level.limit}")
    if level.offset:
        parts.append(f" OFFSET {level.offset}")
    sampling = level.sampling
    if sampling is not None:
        parts.append(f" SAMPLE BY {compile_expr(sampling.weights)}")
        parts.append(f" REPLACE {'TRUE' if sampling.replace else 'FALSE'}")
        if sampling.limit is not None:
            parts.append(f" LIMIT {sampling.limit}")
