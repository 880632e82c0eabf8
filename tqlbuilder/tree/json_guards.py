"""The engine's facts about JSON value types and key presence, as guard expressions (one home).

A JSON (``types.Dict``) column holds values of several types under one key, and rows may lack
the key. TQL has no type test, so the type of ``k`` (a `Subscript`
such as ``meta['v']``) is read from how the engine orders it. Facts (deeplake 4.7.4, embedded;
pinned row by row over every kind of stored value by ``tests/test_json_guards.py``, first
found in ``tests/probes/json_missing_keys.md``):

* ``k >= -1.7976931348623157e+308`` (``-MAX``, the lowest finite double) holds exactly for JSON
  numbers *and booleans* (every int64 but ``-2**63``, every finite float, ``true``, ``false``);
* ``k < -MAX`` holds exactly for the other present values: strings, JSON null, lists, objects;
* a row that lacks the key satisfies neither, nor any other comparison; ``NOT`` is two-valued
  (``NOT (k >= -MAX)`` keeps the rows that lack the key);
* ``k >= ''`` holds exactly for strings and numbers, never for booleans, null, lists, objects;
* so: number = ``k >= -MAX AND k >= ''``; boolean = ``k >= -MAX AND NOT (k >= '')``;
  string = ``k < -MAX AND k >= ''``; present = ``CONTAINS(KEYS(m), 'k')``, or
  ``k >= -MAX OR k < -MAX`` for a key with no engine word (``CONTAINS`` with such a string
  is refused by the executors' crash check).
* ``k IS NULL`` holds for a missing key *and* for a stored null or ``{}``; ``k IS NOT NULL`` for
  the other present values; both fail the query ("Can't eval dynamic shape array.") when any
  row of the view holds a list under the key. So neither is a presence test (``present()``
  is); `tqlbuilder.compiler.json_nulls` keeps them for ``is_null()``/``is_not_null()``.
* Ints outside int64 and ``-2**63`` itself are written to a JSON column as null (``{}``): they
  read back as ``{}``, and ``k < -MAX`` holds for them like for any null. ``inf``/``nan``
  make the stored JSON unparsable ("Failed to parse JSON" on read).

Two formulations of "is a number or a boolean" were in use; this one won. ``ABS(k) >= 0``
(formerly in `tqlbuilder.build.filters`) selects the same rows on every parsable value,
but fails the whole query ("Can't convert json to orderable value.") when any row of the view
holds an unparsable value (written from ``inf``/``nan``), where ``k >= -MAX`` just excludes it;
on an ``Int64`` column ``ABS(-2**63)`` overflows to a negative number (the row is dropped) while
``n >= -MAX`` keeps it; and a plain comparison is a form `tqlbuilder.compiler.json_nulls`
can recognise to stay idempotent. Likewise ``k = k`` (formerly the presence test for keys with
no word) is false for a key holding null, a list or an object, and fails on unparsable values;
``k >= -MAX OR k < -MAX`` is true for every present value.

Examples:
    >>> from tqlbuilder import col
    >>> k = col("meta")["v"]
    >>> number(k).to_tql()
    "(meta['v'] >= -1.7976931348623157e+308) AND (meta['v'] >= '')"
    >>> string(k).to_tql()
    "(meta['v'] < -1.7976931348623157e+308) AND (meta['v'] >= '')"
    >>> present(col("meta"), "v").to_tql()
    "CONTAINS(KEYS(meta), 'v')"
    >>> present(col("meta"), "%").to_tql()
    "(meta['%'] >= -1.7976931348623157e+308) OR (meta['%'] < -1.7976931348623157e+308)"
    >>> atom(number_or_bool(k)) == ("number_or_bool", k.key())
    True
"""

from __future__ import annotations

import sys
from typing import Literal as Kind

from tqlbuilder.engine.rules import contains_problem
from tqlbuilder.tree.expr import Binary, BoolOp, Expr, Func, Literal, Neg, Not, Subscript
from tqlbuilder.tree.literals import render_scalar, render_string

__all__ = [
    "EMPTY",
    "LOWEST",
    "atom",
    "boolean",
    "guard_for",
    "not_number",
    "number",
    "number_or_bool",
    "orders_as_text",
    "present",
    "string",
]

#: ``-1.7976931348623157e+308``: below every JSON number and boolean, above every other value.
LOWEST = Literal(-sys.float_info.max, render_scalar(-sys.float_info.max, argument="JSON guard"))
#: ``''``: every JSON string and number orders at or above it; booleans and null do not.
EMPTY = Literal("", "''")

AtomKind = Kind["number_or_bool", "not_number", "text"]


def number_or_bool(key: Expr) -> Expr:
    """``k >= -MAX``: the rows where ``key`` holds a JSON number or boolean.

    Args:
        key: a JSON key (``col("meta")["v"]``).

    Returns:
        A condition; false on rows that lack the key (see the module docstring for the facts).
    """
    return Binary(">=", key, LOWEST)


def not_number(key: Expr) -> Expr:
    """``k < -MAX``: the rows where ``key`` holds a string, null, a list or an object.

    Args:
        key: a JSON key.

    Returns:
        A condition; false on rows that lack the key.
    """
    return Binary("<", key, LOWEST)


def orders_as_text(key: Expr) -> Expr:
    """``k >= ''``: the rows where ``key`` holds a string or a number (not a boolean).

    Args:
        key: a JSON key.

    Returns:
        A condition; false on rows that lack the key.
    """
    return Binary(">=", key, EMPTY)


def number(key: Expr) -> Expr:
    """The rows where ``key`` holds a JSON number (int or float, not a boolean).

    Args:
        key: a JSON key.

    Returns:
        ``(k >= -MAX) AND (k >= '')``.
    """
    return BoolOp("AND", (number_or_bool(key), orders_as_text(key)))


def boolean(key: Expr) -> Expr:
    """The rows where ``key`` holds ``true`` or ``false``.

    Args:
        key: a JSON key.

    Returns:
        ``(k >= -MAX) AND (NOT (k >= ''))`` (the first part keeps out rows that lack the key,
        which the engine's two-valued ``NOT`` would let in).
    """
    return BoolOp("AND", (number_or_bool(key), Not(orders_as_text(key))))


def string(key: Expr) -> Expr:
    """The rows where ``key`` holds a JSON string.

    Args:
        key: a JSON key.

    Returns:
        ``(k < -MAX) AND (k >= '')``.
    """
    return BoolOp("AND", (not_number(key), orders_as_text(key)))


def guard_for(key: Expr, literal: object) -> Expr:
    """The rows where ``key`` holds a value of ``literal``'s type, the engine's way.

    A bool literal counts as a number: the engine compares JSON booleans as 0/1 numbers
    (``meta['v'] = 1`` matches ``true``; tests/probes/json_missing_keys.md).

    Args:
        literal: a Python int, float or bool (a number guard) or a str (a string guard).
        key: a JSON key.

    Returns:
        `number_or_bool()` for a number or bool, `string()` otherwise.
    """
    if isinstance(literal, (int, float)):
        return number_or_bool(key)
    return string(key)


def present(column: Expr, name: str) -> Expr:
    """The rows whose JSON ``column`` has the key ``name``, whatever value it holds.

    Args:
        column: the JSON column (``col("meta")``).
        name: the key, verbatim.

    Returns:
        ``CONTAINS(KEYS(column), 'name')``; for a key with no engine word character (which
        ``CONTAINS`` must not get: the executors' crash check refuses it)
        ``(k >= -MAX) OR (k < -MAX)``, true for every present value (null, lists and objects
        too) and false for a missing key.

    Raises:
        InvalidValueError: ``name`` cannot be a TQL string (a NUL character).
    """
    if contains_problem(name) is not None:
        key = column[name]
        return BoolOp("OR", (number_or_bool(key), not_number(key)))
    quoted = Literal(name, render_string(name, argument="JSON key"))
    return Func("CONTAINS", (Func("KEYS", (column,)), quoted))


def atom(expr: Expr) -> tuple[AtomKind, tuple[object, ...]] | None:
    """Which guard atom ``expr`` is, and the key of the JSON key it tests; None if none.

    Recognises ``k >= -MAX`` (``"number_or_bool"``), ``k < -MAX`` (``"not_number"``) and
    ``k >= ''`` (``"text"``) on a JSON key, with ``-MAX`` a literal or a negated literal.

    Args:
        expr: any expression.

    Returns:
        ``(kind, key.key())`` or None.
    """
    if not isinstance(expr, Binary) or not _is_json(expr.left):
        return None
    found, value = _literal_value(expr.right)
    if not found:
        return None
    is_lowest = not isinstance(value, (str, bool)) and value == LOWEST.value
    if expr.op == ">=" and is_lowest:
        return "number_or_bool", expr.left.key()
    if expr.op == "<" and is_lowest:
        return "not_number", expr.left.key()
    if expr.op == ">=" and value == "":
        return "text", expr.left.key()
    return None


def _is_json(expr: Expr) -> bool:
    return isinstance(expr, Subscript) and expr.json_key


def _literal_value(expr: Expr) -> tuple[bool, object]:
    if isinstance(expr, Literal):
        return True, expr.value
    if isinstance(expr, Neg) and isinstance(expr.operand, Literal):
        inner = expr.operand.value
        if isinstance(inner, (int, float)) and not isinstance(inner, bool):
            return True, -inner
    return False, None
