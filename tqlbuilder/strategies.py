"""Hypothesis strategies for fuzzing code that builds or runs TQL (needs ``hypothesis``).

The project's own property tests use these; adapters can use them to fuzz their own layer:
nasty text (quotes, comment markers, wildcards, CR/LF, emoji), awkward column names, int64 and
float values, float32 vectors, random conditions and whole queries, and Mongo-style filter
dicts over sparse metadata with [`matches()`][tqlbuilder.strategies.matches], a plain-Python
model of their semantics to compare an engine's answer with (see ``docs/testing.md``).

Install with ``pip install 'tqlbuilder[strategies]'``; importing this module without
hypothesis raises ImportError naming that extra.

Examples:
    >>> from hypothesis import given
    >>> from tqlbuilder import col, select, strategies as S
    >>> @given(S.strings)
    ... def test_quoting(text):
    ...     assert str(select("*").from_("ds").where(col("text") == text))
    >>> test_quoting()
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

try:
    from hypothesis import strategies as st
except ImportError as exc:  # pragma: no cover - exercised in a subprocess test
    raise ImportError(
        "tqlbuilder.strategies needs hypothesis; install it with "
        "pip install 'tqlbuilder[strategies]' (or pip install hypothesis)"
    ) from exc

import numpy as np

from tqlbuilder.build.query import Query, select
from tqlbuilder.engine.rules import like_pattern_problem
from tqlbuilder.engine.words import has_engine_word
from tqlbuilder.errors import InvalidValueError
from tqlbuilder.tree import functions as F
from tqlbuilder.tree.expr import Expr, OrderKey, col
from tqlbuilder.tree.literals import check_cosine_query

__all__ = [
    "AWKWARD_NAMES",
    "INT64",
    "TRICKY_VALUES",
    "conditions",
    "cosine_accepts",
    "filter_dicts",
    "floats32",
    "floats64",
    "matches",
    "metadata",
    "metadata_values",
    "names",
    "numbers",
    "queries",
    "scalars",
    "select_items",
    "strings",
    "vectors",
    "word_strings",
]

INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
"""Any int64 (the range of the engine's integer literals)."""

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
    # "*" is excluded: select("*") means every column, so it cannot name one
    return bool(name) and name != "*" and not any(c in name for c in '"\n\r\x00')


names = st.one_of(
    st.sampled_from(AWKWARD_NAMES),
    st.text(min_size=1, max_size=12).filter(_valid_name),
)
"""Column names that can be written in TQL, weighted toward keywords and awkward characters."""

#: any string the engine can hold (everything except NUL), weighted toward awkward characters
strings = st.one_of(
    st.text(max_size=20).filter(lambda s: "\x00" not in s),
    st.text(alphabet="'\"\\\n\r\t-;/*%_?#@~$` éü中😀", max_size=12),
    st.sampled_from(["", "'", "''", "--", "/*", "a--1", "it's", "\\'", "x\r\ny", "DROP"]),
)

word_strings = strings.filter(has_engine_word)  # the engine's word rule, not str.isalnum
"""Strings with at least one letter or digit (what ``contains()`` accepts)."""

floats64 = st.floats(allow_nan=False, allow_infinity=False)
"""Finite Python floats (float64)."""
floats32 = st.floats(allow_nan=False, allow_infinity=False, width=32)
"""Finite floats exactly representable as float32."""
numbers = st.one_of(INT64, floats64, floats32.map(np.float32), st.integers(-50, 50))
"""int64 ints, float64, numpy float32 scalars and small ints."""

scalars = st.one_of(strings, numbers, st.booleans())
"""Any literal value: strings, numbers, bools."""


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
        number = draw(numbers)
        op = draw(st.sampled_from(["==", "!=", "<", "<=", ">", ">="]))
        return _compare(column, op, number), used
    if choice == 2:
        texts = draw(st.lists(strings, max_size=5))
        used.extend(texts)
        return (column.isin(texts) if draw(st.booleans()) else column.not_in(texts)), used
    if choice == 3:
        ints = draw(st.lists(st.integers(-(2**63), 2**63 - 1), max_size=5))
        return column.isin(ints), used
    if choice == 4:
        low, high = sorted([draw(st.integers(-1000, 1000)), draw(st.integers(-1000, 1000))])
        return column.between(low, high), used
    if choice == 5:
        # any text, but one the engine's regex can compile (the builder refuses the others)
        pattern = draw(strings.filter(lambda text: like_pattern_problem(text) is None))
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
"""float32 numpy vectors of dimension 1 to 8."""


def _directions(name: str) -> list[str | OrderKey]:
    return [name, col(name).asc(), col(name).desc()]


def cosine_accepts(vector: Any) -> bool:
    """Whether ``similar_to(vector, metric="cosine")`` accepts ``vector``.

    Args:
        vector: a 1-D list or array of numbers.

    Returns:
        ``False`` when its float32 norm is zero or overflows (the builder refuses those: every
        cosine score would be 0 or NaN on the engine), else ``True``.
    """
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
            choices: list[str | OrderKey] = ["score", best]
            query = query.order_by(draw(st.sampled_from(choices)))
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
            directed = [draw(st.sampled_from(_directions(k))) for k in keys]
            query = query.order_by(*directed)
        if draw(st.booleans()):
            query = query.limit(draw(st.integers(0, 2**63 - 1)))
        if draw(st.booleans()):
            query = query.offset(draw(st.integers(0, 1000)))
    return query, used


# =========================================================================== filter dicts

#: scalar metadata values that stress type handling: look-alike strings, bools, 0/1, -0.0, big ints
TRICKY_VALUES: list[Any] = [
    "", "a", "A", "a.txt", "it's", "1", "true", "naïve", "😀 x", "x\ny", "%", "_", "a_b",
    "x*y", "q?", "[a]", "\\", " ", 0, 1, -1, 3, -3, 1000, -(2**31), 2**40, 2**53 + 1,
    0.5, -2.5, 3.0, 0.1, -0.0, 1e-300, 1e300, True, False,
]  # fmt: skip

metadata_values = st.one_of(
    st.sampled_from(TRICKY_VALUES),
    st.integers(-(2**53), 2**53),
    st.floats(-1e6, 1e6, allow_nan=False),
    st.text(max_size=6).filter(lambda s: "\x00" not in s),
)
"""Scalar metadata values: str, int (|x| <= 2**53), finite float, bool; overlapping often."""


def metadata(
    keys: Sequence[str], values: st.SearchStrategy[Any] = metadata_values
) -> st.SearchStrategy[dict[str, Any]]:
    """Metadata dicts over ``keys``, each key present or missing at random.

    Args:
        keys: the keys to draw from (awkward keys welcome: dots, quotes, Unicode, "").
        values: the strategy for values (default `metadata_values`).

    Returns:
        A strategy of ``dict[str, scalar]``.
    """
    return st.dictionaries(st.sampled_from(list(keys)), values, max_size=len(keys))


_ORDER_OPS = ("$gt", "$gte", "$lt", "$lte")
_numbers = st.one_of(
    st.sampled_from([v for v in TRICKY_VALUES if type(v) in (int, float)]),
    st.integers(-10, 10),
    st.floats(-5, 5, allow_nan=False),
)
_words = st.one_of(
    st.sampled_from(["a", "txt", "it's", "naïve", "1", "A", "x\ny", "a_b", "😀 x"]),
    st.text(alphabet="ab.%_x1", min_size=1, max_size=4),
).filter(lambda s: any(c.isalnum() for c in s))
_plain_words = _words.map(lambda s: s.replace("%", "").replace("_", "") or "a")
_safe_likes = st.one_of(
    st.sampled_from(["%", "", "a", "a.txt", "a%", "ab%", "it%", "x\n%", "😀%"]),
    _plain_words,
    _plain_words.map(lambda s: f"%{s}%"),
    _plain_words.map(lambda s: f"{s}%"),
    st.text(alphabet="ab.'é😀\n \U0010ffff", min_size=1, max_size=3).map(lambda s: s + "%"),
)
_regex_likes = st.one_of(
    st.sampled_from(["a%", "%.txt", "_", "a_b", "%\\%%", "a\\_b", "x_y", "%t_t", "_%"]),
    st.text(alphabet="ab.%_*?[]x\n😀", max_size=5).filter(lambda s: not s.endswith("\\")),
)


@st.composite
def _field_condition(
    draw: st.DrawFn, values: st.SearchStrategy[Any], regex_like: bool, depth: int
) -> Any:
    choice = draw(st.integers(0, 12 if depth > 0 else 11))
    if choice == 0:
        return draw(values)
    if choice in (1, 2):
        return {draw(st.sampled_from(["$eq", "$ne"])): draw(values)}
    if choice in (3, 4):
        return {draw(st.sampled_from(_ORDER_OPS)): draw(_numbers)}
    if choice in (5, 6):
        return {draw(st.sampled_from(["$in", "$nin"])): draw(st.lists(values, max_size=4))}
    if choice == 7:
        return {"$exists": draw(st.booleans())}
    if choice == 8:
        return {"$contains": draw(_words)}
    if choice in (9, 10):
        return {"$like": draw(_regex_likes if regex_like else _safe_likes)}
    if choice == 11:
        low, high = sorted([draw(_numbers), draw(_numbers)])
        return {"$gte": low, "$lt": high}
    inner = draw(
        _field_condition(values, regex_like, depth - 1).filter(lambda c: isinstance(c, dict))
    )
    return {"$not": inner}


@st.composite
def filter_dicts(
    draw: st.DrawFn,
    keys: Sequence[str],
    values: st.SearchStrategy[Any] = metadata_values,
    *,
    regex_like_keys: Sequence[str] = (),
    depth: int = 2,
) -> dict[str, Any]:
    """Random Mongo-style filter dicts, as [`from_dict()`][tqlbuilder.filters.from_dict] takes them.

    Every operator appears (``$eq $ne $gt $gte $lt $lte $in $nin $exists $contains $like
    $not $and $or $nor``), nested up to ``depth`` logical levels, with bare values, several keys
    and several operators per key; ``$and``/``$or``/``$nor`` lists may be empty. ``$like``
    patterns that need the engine's regex LIKE (an ``_``, or ``%`` other than around one
    literal) are drawn only for ``regex_like_keys``: on a JSON key that some rows lack the engine
    fails on them ("Key not found"), so pass the keys every row has.

    Args:
        keys: the keys to filter on.
        values: the strategy for compared values (default `metadata_values`).
        regex_like_keys: keys present in every row.
        depth: nesting depth of ``$and``/``$or``/``$nor``/``$not``.

    Returns:
        A filter dict (``{}`` is possible: "no filter").
    """
    spec: dict[str, Any] = {}
    for key in draw(st.lists(st.sampled_from(list(keys)), max_size=2, unique=True)):
        spec[key] = draw(_field_condition(values, key in regex_like_keys, 1))
    if depth > 0 and draw(st.booleans()):
        op = draw(st.sampled_from(["$and", "$or", "$nor", "$not"]))
        inner = filter_dicts(keys, values, regex_like_keys=regex_like_keys, depth=depth - 1)
        spec[op] = draw(inner) if op == "$not" else draw(st.lists(inner, max_size=3))
    return spec


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    return "str"


def _same(stored: Any, value: Any) -> bool:
    return _kind(stored) == _kind(value) and bool(stored == value)


def _sql_like(pattern: str) -> re.Pattern[str]:
    out = []
    chars = iter(pattern)
    for char in chars:
        if char == "\\":
            out.append(re.escape(next(chars)))
        elif char == "%":
            out.append(".*")
        elif char == "_":
            out.append(".")
        else:
            out.append(re.escape(char))
    return re.compile("".join(out), re.DOTALL)


def _ordered(op: str, stored: Any, value: Any) -> bool:
    if op == "$gt":
        return bool(stored > value)
    if op == "$gte":
        return bool(stored >= value)
    if op == "$lt":
        return bool(stored < value)
    return bool(stored <= value)


def _field_matches(row: Mapping[str, Any], key: str, condition: Any) -> bool:
    if not isinstance(condition, Mapping):
        condition = {"$eq": condition}
    present = key in row
    stored = row.get(key)
    for op, value in condition.items():
        if op == "$eq":
            ok = present and _same(stored, value)
        elif op == "$ne":
            ok = not (present and _same(stored, value))
        elif op in _ORDER_OPS:
            ok = present and _kind(stored) == "number" and _ordered(op, stored, value)
        elif op == "$in":
            ok = present and any(_same(stored, v) for v in value)
        elif op == "$nin":
            ok = not (present and any(_same(stored, v) for v in value))
        elif op == "$exists":
            ok = present == value
        elif op == "$contains":
            ok = present and isinstance(stored, str) and value in stored
        elif op == "$like":
            ok = present and isinstance(stored, str) and bool(_sql_like(value).fullmatch(stored))
        elif op == "$not":
            ok = not _field_matches(row, key, value)
        else:
            raise ValueError(f"unknown operator {op!r}")
        if not ok:
            return False
    return True


def matches(row: Mapping[str, Any], spec: Mapping[str, Any]) -> bool:
    """Whether a metadata dict satisfies a filter dict: a plain-Python model of the semantics.

    MongoDB's semantics for scalar values, as [`from_dict()`][tqlbuilder.filters.from_dict]
    documents them: a missing key satisfies only ``$ne``, ``$nin`` and ``$exists: False``;
    values compare only within their type (``1`` is not ``True`` nor ``"1"``; ``1 == 1.0``);
    ordering is numeric only; ``$contains`` is a substring test and ``$like`` a SQL LIKE
    (``%``, ``_``, backslash escapes) on strings. ``tests/test_filters.py`` holds the engine to
    this model.

    Args:
        row: one row's metadata.
        spec: the filter dict.

    Returns:
        True when the row matches.

    Raises:
        ValueError: an operator the model does not know.

    Examples:
        >>> matches({"year": 2021}, {"year": {"$gte": 2020}, "lang": {"$ne": "de"}})
        True
        >>> matches({"flag": 1}, {"flag": True})
        False
    """
    for key, condition in spec.items():
        if key == "$and":
            ok = all(matches(row, s) for s in condition)
        elif key == "$or":
            ok = any(matches(row, s) for s in condition)
        elif key == "$nor":
            ok = not any(matches(row, s) for s in condition)
        elif key == "$not":
            ok = not matches(row, condition)
        else:
            ok = _field_matches(row, key, condition)
        if not ok:
            return False
    return True
