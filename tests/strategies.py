"""Hypothesis strategies for random names, values, conditions and whole builder queries."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from hypothesis import strategies as st

from tqlbuilder import F, col, select
from tqlbuilder.build.query import Query
from tqlbuilder.engine.words import has_engine_word
from tqlbuilder.errors import InvalidValueError
from tqlbuilder.tree.expr import Expr
from tqlbuilder.tree.literals import check_cosine_query

INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)

#: names that stress quoting: keywords, spaces, unicode, leading digits, quotes, dots, tabs
AWKWARD_NAMES = [
    "text",
    "year",
    "select",
    "order",
    "from",
    "date",
    "key",
    "my col",
    "my-col",
    "dot.name",
    "naïve",
    "emoji😀",
    "1abc",
    "_under",
    "it's",
    "back\\slash",
    "tab\tname",
    "a--b",
    "x;y",
]


def _valid_name(name: str) -> bool:
    return bool(name) and not any(c in name for c in '"\n\r\x00')


names = st.one_of(
    st.sampled_from(AWKWARD_NAMES),
    st.text(min_size=1, max_size=12).filter(_valid_name),
)

#: any string the engine can hold (everything except NUL), weighted toward awkward characters
strings = st.one_of(
    st.text(max_size=20).filter(lambda s: "\x00" not in s),
    st.text(alphabet="'\"\\\n\r\t-;/*%_?#@~$` éü中😀", max_size=12),
    st.sampled_from(["", "'", "''", "--", "/*", "a--1", "it's", "\\'", "x\r\ny", "DROP"]),
)

word_strings = strings.filter(has_engine_word)  # the engine's word rule, not str.isalnum

floats64 = st.floats(allow_nan=False, allow_infinity=False)
floats32 = st.floats(allow_nan=False, allow_infinity=False, width=32)
numbers = st.one_of(INT64, floats64, floats32.map(np.float32), st.integers(-50, 50))

scalars = st.one_of(strings, numbers, st.booleans())


@st.composite
def conditions(draw: st.DrawFn, depth: int = 2) -> tuple[Expr, list[str]]:
    """A random condition and the string literals it contains (in any order)."""
    used: list[str] = []
    column = col(draw(names))
    choice = draw(st.integers(0, 11 if depth > 0 else 8))
    if choice == 0:
        value = draw(strings)
        used.append(value)
        op = draw(st.sampled_from(["==", "!="]))
        return (column == value) if op == "==" else (column != value), used
    if choice == 1:
        value = draw(numbers)
        op = draw(st.sampled_from(["==", "!=", "<", "<=", ">", ">="]))
        return _compare(column, op, value), used
    if choice == 2:
        values = draw(st.lists(strings, max_size=5))
        used.extend(values)
        return (column.isin(values) if draw(st.booleans()) else column.not_in(values)), used
    if choice == 3:
        values = draw(st.lists(st.integers(-(2**63), 2**63 - 1), max_size=5))
        return column.isin(values), used
    if choice == 4:
        low, high = sorted([draw(st.integers(-1000, 1000)), draw(st.integers(-1000, 1000))])
        return column.between(low, high), used
    if choice == 5:
        pattern = draw(strings)
        used.append(pattern)
        kind = draw(st.sampled_from(["like", "ilike", "not_like"]))
        return getattr(column, kind)(pattern), used
    if choice == 6:
        return (column.is_null() if draw(st.booleans()) else column.is_not_null()), used
    if choice == 7:
        key, value = draw(strings), draw(strings)
        used.extend([key, value])
        return column[key] == value, used
    if choice == 8:
        value = draw(word_strings)
        used.append(value)
        return column.contains(value), used
    left, left_used = draw(conditions(depth - 1))
    used.extend(left_used)
    if choice == 11:
        return ~left, used
    right, right_used = draw(conditions(depth - 1))
    used.extend(right_used)
    return (left & right) if choice == 9 else (left | right), used


def _compare(column: Expr, op: str, value: Any) -> Expr:
    ops: dict[str, Callable[[Any, Any], Expr]] = {
        "==": lambda a, b: a == b,
        "!=": lambda a, b: a != b,
        "<": lambda a, b: a < b,
        "<=": lambda a, b: a <= b,
        ">": lambda a, b: a > b,
        ">=": lambda a, b: a >= b,
    }
    return ops[op](column, value)


@st.composite
def select_items(draw: st.DrawFn) -> list[Any]:
    """A select list: "*", plain names, or aliased arithmetic."""
    if draw(st.booleans()):
        return []
    chosen = draw(st.lists(names, min_size=1, max_size=3, unique=True))
    items: list[Any] = list(chosen)
    if draw(st.booleans()):
        alias = draw(names.filter(lambda n: n not in chosen))
        arithmetic = draw(st.sampled_from(["+", "-", "*", "/", "%"]))
        base = col(chosen[0])
        operand = draw(st.integers(-5, 5))
        expr = {
            "+": base + operand,
            "-": base - operand,
            "*": base * operand,
            "/": base / (operand or 1),
            "%": base % (operand or 1),
        }[arithmetic]
        items.append(expr.alias(alias))
    return items


vectors = st.integers(1, 8).flatmap(
    lambda dim: st.lists(floats32, min_size=dim, max_size=dim).map(
        lambda v: np.array(v, dtype=np.float32)
    )
)


def cosine_accepts(vector: Any) -> bool:
    """True when similar_to(metric="cosine") accepts the vector (non-zero float32 norm)."""
    try:
        check_cosine_query(vector)
    except InvalidValueError:
        return False
    return True


@st.composite
def queries(draw: st.DrawFn) -> tuple[Query, list[str]]:
    """A random valid builder query and the string literals it contains."""
    used: list[str] = []
    items = draw(select_items())
    query = select(*items).from_(draw(st.sampled_from(["hub://org/ds", "file:///tmp/d s", "x"])))
    for _ in range(draw(st.integers(0, 2))):
        condition, condition_used = draw(conditions())
        used.extend(condition_used)
        query = query.where(condition)
    mode = draw(st.sampled_from(["plain", "vector", "text", "group", "sample", "union"]))
    if mode == "vector":
        metric = draw(st.sampled_from(["cosine", "dot", "l2", "l1", "linf"]))
        vector = draw(vectors)
        if metric == "cosine" and not cosine_accepts(vector):
            metric = "dot"  # cosine refuses zero and overflowing float32 norms (issue 10, item 4)
        query = query.similar_to(vector, column=draw(names), metric=metric, alias="score")
        if draw(st.booleans()):
            best = col("score").desc() if metric in ("cosine", "dot") else col("score").asc()
            query = query.order_by(draw(st.sampled_from(["score", best])))
        query = query.limit(draw(st.integers(0, 100)))
    elif mode == "text":
        text = draw(strings)
        used.append(text)
        query = query.text_search(text, column=draw(names)).limit(draw(st.integers(0, 50)))
        if draw(st.booleans()):
            query = query.offset(draw(st.integers(0, 50)))
    elif mode == "group":
        query = query.select(draw(names))
        query = query.group_by(query.items[0])
        if draw(st.booleans()):
            query = query.limit(draw(st.integers(0, 10)))
    elif mode == "sample":
        weights = draw(
            st.sampled_from(
                [
                    1,
                    2.5,
                    F.max_weight((col("flag"), 10), (True, 1)),
                    F.sum_weight((col("n") > 0, 2), (True, 1)),
                ]
            )
        )
        query = query.sample_by(
            weights, replace=draw(st.booleans()), limit=draw(st.none() | st.integers(0, 20))
        )
    elif mode == "union":
        other = select(*(query.items or ["*"])).from_("hub://org/other")
        query = query.union(other)
    else:
        if draw(st.booleans()):
            keys = draw(st.lists(names, min_size=1, max_size=3, unique=True))
            directed = [draw(st.sampled_from([k, col(k).asc(), col(k).desc()])) for k in keys]
            query = query.order_by(*directed)
        if draw(st.booleans()):
            query = query.limit(draw(st.integers(0, 2**63 - 1)))
        if draw(st.booleans()):
            query = query.offset(draw(st.integers(0, 1000)))
    return query, used
