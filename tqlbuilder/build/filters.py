"""Mongo-style filter dicts (the language vector stores share) as TQL conditions.

``from_dict({"year": {"$gte": 2020}, "$or": [{"lang": "en"}, {"lang": "de"}]})`` returns an
[`Expr`][tqlbuilder.Expr] for [`Query.where()`][tqlbuilder.Query.where]. With
``json_column="metadata"`` the keys address entries of a JSON (``Dict``) column; without it
they are column names.

Semantics on a JSON column are MongoDB's for scalar values (str, int, float, bool), whichever
rows lack which keys (checked on the engine by ``tests/test_filters.py``):

* a row that lacks the key matches ``$ne``, ``$nin`` and ``$exists: False``, and no other
  comparison;
* values compare only within their type: ``1`` never equals ``True`` or ``"1"``; a number
  matches a number whether stored as int or float (``1 == 1.0``);
* ``$gt``/``$gte``/``$lt``/``$lte`` take numbers only (strings and bools are refused: the
  engine orders text and bools inconsistently with numbers).

The engine does not give these semantics by itself (engine-probe, this module's tests):
``m['k'] != v`` drops rows that lack the key, ``m['k'] = 1`` matches ``true``,
``m['k'] < 1`` matches every string, ``m['k'] IN (-3)`` fails ("Can't apply minus on
string") and ``m['k'] IS NULL`` fails ("Can't eval dynamic shape array"). So each operator is
compiled to a guarded form built from `tqlbuilder.tree.json_guards` (which states the
engine facts): presence is ``CONTAINS(KEYS(m), 'k')`` (``m['k'] >= -MAX OR m['k'] < -MAX`` for
a key with no letter or digit, which the executors' crash check refuses inside CONTAINS), "is a
number" is ``m['k'] >= -MAX AND m['k'] >= ''`` (``-MAX`` = ``-1.7976931348623157e+308``: numbers
and bools order at or above it, everything else below; bools never order at or above ``''``),
a bool ``true`` is ``m['k'] = TRUE AND NOT (m['k'] >= '')``, "is a string" is
``m['k'] < -MAX AND m['k'] >= ''``, and ``$ne`` is ``NOT (...)`` of the ``$eq`` form.
"""

from __future__ import annotations

import copy
import difflib
import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

import numpy as np

from tqlbuilder.engine.rules import contains_problem
from tqlbuilder.errors import BuildError, InvalidValueError
from tqlbuilder.tree import json_guards
from tqlbuilder.tree.expr import (
    Binary,
    Expr,
    Like,
    Literal,
    Not,
    Verbatim,
    col,
    lit,
)
from tqlbuilder.tree.literals import render_scalar, render_string
from tqlbuilder.tree.walk import reads_json

__all__ = ["from_dict", "like_pattern"]

_FIELD_OPERATORS = (
    "$eq",
    "$ne",
    "$gt",
    "$gte",
    "$lt",
    "$lte",
    "$in",
    "$nin",
    "$exists",
    "$contains",
    "$like",
    "$not",
)
_LOGICAL_OPERATORS = ("$and", "$or", "$nor", "$not")
_ORDERING = {"$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}
_ANY_CHAR = "[\\s\\S]"


def _true() -> Expr:
    from tqlbuilder.build.logic import and_

    return and_()


def _false() -> Expr:
    from tqlbuilder.build.logic import or_

    return or_()


def _and(parts: Iterable[Expr]) -> Expr:
    from tqlbuilder.build.logic import and_

    return and_(parts)


def _or(parts: Iterable[Expr]) -> Expr:
    from tqlbuilder.build.logic import or_

    return or_(parts)


def like_pattern(pattern: str) -> str:
    r"""Translate a SQL ``LIKE`` pattern into the engine's ``LIKE`` pattern with the same meaning.

    SQL ``%`` (any run, newlines included) and ``_`` (exactly one character) become
    ``[\s\S]{0,}`` and ``[\s\S]``; every other character matches itself. ``\%``, ``\_`` and
    ``\\`` are a literal ``%``, ``_`` and backslash (PostgreSQL's default escape).

    The engine's LIKE is a regular expression in disguise (engine-probe §3.4): it rewrites
    ``%`` and ``*`` to ``.*`` and ``?`` to ``.``, keeps every other RE2 operator, treats ``_``
    as a literal, anchors the match at both ends, and ``.`` skips newlines. So every character
    other than an ASCII letter or digit is written as an RE2 code-point escape ``\x{..}``, which
    contains none of the rewritten characters.

    Args:
        pattern: a SQL LIKE pattern (str).

    Returns:
        The engine pattern (str), to pass to [`Expr.like()`][tqlbuilder.Expr.like].

    Raises:
        InvalidValueError: the pattern ends with a lone backslash.
        UnsupportedTypeError: the pattern is not a str.

    Examples:
        >>> like_pattern("a%.txt")
        'a[\\s\\S]{0,}\\x{2e}txt'
        >>> like_pattern("x_1")
        'x[\\s\\S]1'
    """
    if not isinstance(pattern, str):
        from tqlbuilder.errors import UnsupportedTypeError

        raise UnsupportedTypeError(f"a LIKE pattern must be a str, got {type(pattern).__name__}")
    out: list[str] = []
    chars = iter(pattern)
    for char in chars:
        if char == "\\":
            escaped = next(chars, None)
            if escaped is None:
                raise InvalidValueError(
                    "LIKE pattern ends with a lone backslash; write \\\\ for a literal backslash"
                )
            out.append(_literal_char(escaped))
        elif char == "%":
            out.append(_ANY_CHAR + "{0,}")
        elif char == "_":
            out.append(_ANY_CHAR)
        else:
            out.append(_literal_char(char))
    return "".join(out)


def _literal_char(char: str) -> str:
    if char.isascii() and char.isalnum():
        return char
    return f"\\x{{{ord(char):x}}}"


def _split_like(pattern: str) -> list[str | None]:
    """SQL pattern -> literal runs and ``None`` for ``%``; raises ValueError on ``_``."""
    parts: list[str | None] = []
    current: list[str] = []
    chars = iter(pattern)
    for char in chars:
        if char == "\\":
            escaped = next(chars, None)
            if escaped is None:
                raise ValueError("lone backslash")
            current.append(escaped)
        elif char == "%":
            if current:
                parts.append("".join(current))
                current = []
            if not parts or parts[-1] is not None:  # "%%" is one "%"
                parts.append(None)
        elif char == "_":
            raise ValueError("single-character wildcard")
        else:
            current.append(char)
    if current:
        parts.append("".join(current))
    return parts


# =========================================================================== path naming


def _step(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}[{json.dumps(key, ensure_ascii=False)}]"


def _fail(path: str, message: str) -> InvalidValueError:
    return InvalidValueError(f"{path}: {message}")


def _guard(path: str, build: Callable[[], Expr]) -> Expr:
    """Run a builder call; re-raise its BuildError as InvalidValueError naming ``path``."""
    try:
        return build()
    except InvalidValueError as exc:
        if str(exc).startswith(path):
            raise
        raise _fail(path, str(exc)) from None
    except BuildError as exc:
        raise _fail(path, str(exc)) from None


# =========================================================================== values


def _scalar(value: Any, path: str, *, what: str) -> str | bool | int | float:
    """A filter value as a plain Python str/bool/int/float (numpy scalars unwrapped)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, (str, bool, int)):
        if isinstance(value, int) and not isinstance(value, bool):
            try:
                render_scalar(value, argument=what)  # int64 range check
            except BuildError as exc:
                raise _fail(path, str(exc)) from None
        if isinstance(value, str) and "\x00" in value:
            raise _fail(path, f"{what} contains a NUL character, which TQL cannot carry")
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _fail(path, f"{what} is {value!r}; TQL has no NaN or infinity literal")
        return value
    if value is None:
        raise _fail(
            path,
            f"{what} is None: stored metadata has no null (the engine reads a None back as "
            '{}); to match rows that lack the key use {"$exists": False}',
        )
    if isinstance(value, (list, tuple, set, dict)):
        raise _fail(
            path,
            f"{what} is a {type(value).__name__}; comparisons take a str, bool, int or float "
            "(use $in for a list of values)",
        )
    raise _fail(
        path, f"{what} must be a str, bool, int or float, got {type(value).__name__}: {value!r}"
    )


def _number(value: Any, path: str, op: str) -> int | float:
    scalar = _scalar(value, path, what=f"the value of {op}")
    if isinstance(scalar, (bool, str)):
        raise _fail(
            path,
            f"{op} takes a number, got {type(scalar).__name__} {scalar!r}: the engine orders "
            "text and bools inconsistently, so ordering comparisons are numeric only",
        )
    return scalar


def _string(value: Any, path: str, op: str) -> str:
    if isinstance(value, np.str_):
        value = str(value)
    if not isinstance(value, str):
        raise _fail(path, f"{op} takes a str, got {type(value).__name__}: {value!r}")
    return _scalar(value, path, what=f"the value of {op}")  # type: ignore[return-value]


def _values(value: Any, path: str, op: str) -> list[str | bool | int | float]:
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):
        raise _fail(path, f"{op} takes a list of values, got {type(value).__name__}: {value!r}")
    return [
        _scalar(item, _step(path, index), what=f"{op} item")
        for index, item in enumerate(list(value))
    ]


# =========================================================================== fields


class _Field:
    """How one key is read and compared: a column, or a key inside a JSON column."""

    def __init__(self, key: str, json_column: str | None, path: str) -> None:
        self.key = key
        self.path = path
        self.json = json_column is not None
        if json_column is None:
            self.expr: Expr = _guard(path, lambda: col(key))
            self.column: Expr | None = None
        else:
            self.column = col(json_column)
            column = self.column
            self.expr = _guard(path, lambda: column[key])

    def at(self, path: str) -> _Field:
        """The same field, naming ``path`` (an operator inside it) in errors."""
        other = copy.copy(self)
        other.path = path
        return other

    # -- type guards (JSON only): the engine facts live in tqlbuilder.tree.json_guards
    def present(self) -> Expr:
        assert self.column is not None
        column = self.column
        return _guard(self.path, lambda: json_guards.present(column, self.key))

    def _orders_as_text(self) -> Expr:
        return json_guards.orders_as_text(self.expr)

    def is_number(self) -> Expr:
        return json_guards.number(self.expr)

    def is_string(self) -> Expr:
        return json_guards.string(self.expr)

    # -- operators
    def eq(self, value: str | bool | int | float) -> Expr:
        equal = _guard(self.path, lambda: self.expr == value)
        if not self.json or isinstance(value, str):
            return equal  # a string literal only ever equals a stored string
        if isinstance(value, bool):
            return _and([equal, Not(self._orders_as_text())])
        return _and([equal, self._orders_as_text()])

    def in_(self, values: list[str | bool | int | float]) -> Expr:
        if not values:
            return _false()
        if not self.json:
            # the engine fails on a bool inside IN ("std::get: wrong index for variant", probed
            # on a Bool column and on JSON), so bools become = TRUE / = FALSE
            plain = [v for v in values if not isinstance(v, bool)]
            bools = [v for v in _distinct(values) if isinstance(v, bool)]
            column_parts = [_guard(self.path, lambda: self.expr.isin(plain))] if plain else []
            column_parts.extend(self.eq(v) for v in bools)
            return _or(column_parts)
        strings = [v for v in values if isinstance(v, str)]
        others = [v for v in values if not isinstance(v, str)]
        parts: list[Expr] = []
        if strings:
            parts.append(_guard(self.path, lambda: self.expr.isin(strings)))
        parts.extend(self.eq(v) for v in _distinct(others))
        return _or(parts)

    def compare(self, op: str, value: int | float) -> Expr:
        rendered = _guard(self.path, lambda: lit(value))
        comparison = Binary(op, self.expr, rendered)
        if not self.json:
            return comparison
        return _and([comparison, self.is_number()])

    def exists(self, value: bool) -> Expr:
        if not self.json:
            return self.expr.is_not_null() if value else self.expr.is_null()
        return self.present() if value else Not(self.present())

    def contains(self, value: str) -> Expr:
        found = _guard(self.path, lambda: self.expr.contains(value))
        if not self.json:
            return found
        return _and([found, self.is_string()])

    def prefix(self, text: str) -> Expr:
        """A string value that starts with ``text``, as a range (the engine compares text by
        code point, i.e. UTF-8 bytes: probed with ASCII, accents, BMP and astral characters)."""
        parts: list[Expr] = [Binary(">=", self.expr, Literal(text, render_string(text)))]
        upper = _successor(text)
        if upper is not None:
            parts.append(Binary("<", self.expr, Literal(upper, render_string(upper))))
        parts.append(self.is_string())
        return _and(parts)

    def like(self, pattern: str) -> Expr:
        engine_pattern = _guard(self.path, lambda: lit(like_pattern(pattern)))
        if not self.json:
            return _guard(self.path, lambda: self.expr.like(like_pattern(pattern)))
        # LIKE on a JSON key fails with "Key not found" when any row lacks the key (even
        # guarded in the same WHERE), so the shapes that need no regex avoid LIKE entirely.
        try:
            parts = _split_like(pattern)
        except ValueError:
            parts = [pattern, "_"]  # forces the LIKE form below
        literals = [p for p in parts if p is not None]
        if all(p is None for p in parts):  # "", "%", "%%": any string
            return self.eq("") if not parts else self.is_string()
        if len(parts) == 1 and literals:
            return self.eq(literals[0])
        if len(parts) == 2 and isinstance(parts[0], str) and parts[1] is None:
            return self.prefix(parts[0])
        if (
            len(parts) == 3
            and parts[0] is None
            and parts[2] is None
            and isinstance(parts[1], str)
            and _word(parts[1])
        ):
            return self.contains(parts[1])
        assert isinstance(engine_pattern, Literal)
        return Like(self.expr, engine_pattern, False, False)


def _successor(text: str) -> str | None:
    """The smallest string above every string that starts with ``text`` (None: no such one)."""
    chars = list(text)
    while chars:
        code = ord(chars[-1]) + 1
        if 0xD800 <= code <= 0xDFFF:  # surrogates are not characters; UTF-8 skips them
            code = 0xE000
        if code <= 0x10FFFF:
            chars[-1] = chr(code)
            return "".join(chars)
        chars.pop()
    return None


_T = TypeVar("_T")


def _distinct(values: Sequence[_T]) -> list[_T]:
    """Values without repeats, telling True from 1 and False from 0 (MongoDB does)."""
    return list({(type(value), value): value for value in values}.values())


def _word(text: str) -> bool:
    return contains_problem(text) is None


# =========================================================================== the walk


class _Translator:
    def __init__(self, json_column: str | None) -> None:
        self.json_column = json_column

    def filter(self, spec: Any, path: str) -> Expr:
        if not isinstance(spec, Mapping):
            raise _fail(
                path, f"a filter must be a dict of keys and conditions, got {type(spec).__name__}"
            )
        parts: list[Expr] = []
        for key, condition in spec.items():
            here = _step(path, key) if isinstance(key, str) else f"{path}[{key!r}]"
            if not isinstance(key, str):
                raise _fail(here, f"filter keys must be str, got {type(key).__name__}")
            if key.startswith("$"):
                parts.append(self.logical(key, condition, here))
            else:
                parts.append(self.field(_Field(key, self.json_column, here), condition, here))
        return _and(parts)

    def logical(self, op: str, value: Any, path: str) -> Expr:
        if op == "$not":
            return Not(self.filter(value, path))
        if op not in _LOGICAL_OPERATORS:
            raise _unknown(op, _LOGICAL_OPERATORS, path, where="at the top level of a filter")
        if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):
            raise _fail(path, f"{op} takes a list of filters, got {type(value).__name__}")
        parts = [self.filter(item, _step(path, i)) for i, item in enumerate(list(value))]
        if op == "$and":
            return _and(parts)
        combined = _or(parts)
        return Not(combined) if op == "$nor" else combined

    def field(self, field: _Field, condition: Any, path: str) -> Expr:
        if isinstance(condition, Mapping) and any(
            isinstance(k, str) and k.startswith("$") for k in condition
        ):
            return _and(self.operator(field, op, v, path) for op, v in condition.items())
        if isinstance(condition, Mapping):
            raise _fail(
                path,
                "a dict value must hold operators such as {'$gte': 2020}; matching a whole "
                "sub-document is not supported",
            )
        return field.eq(_scalar(condition, path, what="the value"))

    def operator(self, field: _Field, op: Any, value: Any, path: str) -> Expr:
        here = _step(path, op) if isinstance(op, str) else f"{path}[{op!r}]"
        field = field.at(here)
        if op == "$eq":
            return field.eq(_scalar(value, here, what="the value of $eq"))
        if op == "$ne":
            return Not(field.eq(_scalar(value, here, what="the value of $ne")))
        if op in _ORDERING:
            return field.compare(_ORDERING[op], _number(value, here, op))
        if op == "$in":
            return field.in_(_values(value, here, op))
        if op == "$nin":
            return Not(field.in_(_values(value, here, op)))
        if op == "$exists":
            if isinstance(value, np.bool_):
                value = bool(value)
            if not isinstance(value, bool):
                raise _fail(here, f"$exists takes True or False, got {value!r}")
            return field.exists(value)
        if op == "$contains":
            return field.contains(_string(value, here, op))
        if op == "$like":
            return field.like(_string(value, here, op))
        if op == "$not":
            if not isinstance(value, Mapping) or not value:
                raise _fail(here, "$not takes a dict of operators, e.g. {'$not': {'$gt': 5}}")
            return Not(self.field(field, value, here))
        if not isinstance(op, str):
            raise _fail(here, f"operator names are str, got {type(op).__name__}")
        if not op.startswith("$"):
            raise _fail(
                here,
                f"{op!r} is not an operator; a condition dict holds only operators "
                f"({', '.join(_FIELD_OPERATORS)})",
            )
        raise _unknown(op, _FIELD_OPERATORS, here, where="on a field")


def _unknown(op: str, known: tuple[str, ...], path: str, *, where: str) -> InvalidValueError:
    close = difflib.get_close_matches(op.strip().lower(), known, n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return _fail(path, f"unknown operator {op!r} {where} (accepted: {', '.join(known)}){hint}")


def from_dict(spec: Mapping[str, Any], *, json_column: str | None = None) -> Expr:
    """Translate a Mongo-style filter dict into a condition for ``Query.where()``.

    Operators: ``$eq $ne $gt $gte $lt $lte $in $nin $exists $contains $like`` on a key,
    ``$and $or $nor`` (lists of filters) and ``$not`` (on a key: ``{"k": {"$not": {...}}}``; at
    the top: ``{"$not": {...filter...}}``). Several keys, or several operators on one key, are
    combined with AND; a bare value means ``$eq``. ``$contains`` is a case-sensitive substring
    test on string values; ``$like`` takes a SQL LIKE pattern (``%``, ``_``, ``\\`` escapes;
    see [`like_pattern()`][tqlbuilder.filters.like_pattern]). An empty filter ``{}`` (or
    ``$and: []``) means "no filter" and [`Query.where()`][tqlbuilder.Query.where] adds nothing
    for it; ``$or: []`` matches nothing.

    With ``json_column``, keys are looked up in that JSON column, verbatim (a key may hold
    dots, quotes, any Unicode; a dot is not a path separator), with MongoDB's semantics for
    missing keys and mixed value types (see the module docstring). Without it, keys are column
    names and ``$exists`` is ``IS [NOT] NULL``.

    Limits (engine 4.7.4): a ``$like`` pattern that needs a regex (an ``_``, a leading ``%``
    before text, or ``%`` between texts) on a JSON key that some rows lack fails on the engine
    with "Key not found" (engine-probe §4.5; no guard in the same WHERE avoids it); patterns
    without wildcards, ``%``, ``text%`` (a range) and ``%text%`` (``CONTAINS``) are compiled
    without LIKE and work on any key.
    Ints are exact within int64 but ``-2**63`` stored in JSON matches no numeric comparison
    (deeplake writes it, like any int outside int64, as null: see
    `tqlbuilder.tree.json_guards`).

    Args:
        spec: the filter dict.
        json_column: the name of a JSON (``types.Dict``) column holding the metadata, or None.

    Returns:
        An Expr (``TRUE`` for an empty filter).

    Raises:
        InvalidValueError: an unknown operator or typo, a wrong value type (a list for
            ``$gt``, NaN, None, a str for ``$gt``), naming the place, e.g.
            ``filter["$or"][1]["year"]["$gt"]``.

    Examples:
        >>> from_dict({"year": {"$gte": 2020}, "lang": {"$in": ["en", "de"]}}).to_tql()
        "(year >= 2020) AND (lang IN ('en', 'de'))"
        >>> from_dict({"src": {"$exists": True}}, json_column="meta").to_tql()
        "CONTAINS(KEYS(meta), 'src')"
        >>> from tqlbuilder import InvalidValueError
        >>> try:
        ...     from_dict({"year": {"$gte ": 2020}})
        ... except InvalidValueError as exc:
        ...     message = str(exc)
        >>> print(message.split(" (accepted")[0])
        filter["year"]["$gte "]: unknown operator '$gte ' on a field
        >>> print(message.split("; ")[-1])
        did you mean '$gte'?
    """
    if json_column is not None:
        _guard("json_column", lambda: col(json_column))
    condition = _Translator(json_column).filter(spec, "filter")
    # the forms above already say exactly what the engine should do on missing keys and mixed
    # types (Mongo semantics); keep the compiler's SQL-null rewrite of JSON keys away from them
    return Verbatim(condition) if reads_json(condition) else condition
