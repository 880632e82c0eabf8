"""``and_()`` / ``or_()``: combine any number of conditions, including none.

The empty AND is ``TRUE`` ("no filter": [`Query.where()`][tqlbuilder.Query.where] drops a
``TRUE`` condition, so ``where(and_())`` adds nothing) and the empty OR is ``FALSE`` (matches
nothing). ``TRUE`` in an AND and ``FALSE`` in an OR are dropped, so building a condition from a
list that may be empty needs no special case.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tqlbuilder.tree.expr import BoolOp, Expr, Literal, as_condition

__all__ = ["FALSE", "TRUE", "and_", "is_false", "is_true", "or_"]

TRUE = Literal(True, "TRUE")
"""The condition that matches every row (the empty AND)."""

FALSE = Literal(False, "FALSE")
"""The condition that matches no row (the empty OR)."""


def is_true(condition: object) -> bool:
    """Whether ``condition`` is the literal ``TRUE`` (what ``Query.where()`` drops)."""
    return isinstance(condition, Literal) and condition.value is True


def is_false(condition: object) -> bool:
    """Whether ``condition`` is the literal ``FALSE``."""
    return isinstance(condition, Literal) and condition.value is False


def _conditions(name: str, conditions: tuple[Any, ...]) -> list[Expr]:
    items: Iterable[Any] = conditions
    if len(conditions) == 1 and not isinstance(conditions[0], (Expr, str, bool)):
        candidate = conditions[0]
        if isinstance(candidate, Iterable):
            items = candidate
    return [as_condition(c, argument=f"{name}() condition {i}") for i, c in enumerate(list(items))]


def and_(*conditions: Any) -> Expr:
    """All of ``conditions`` (``a AND b AND ...``); ``TRUE`` for none.

    Args:
        *conditions: conditions (Expr), column names (truthy columns) or bools, or one
            iterable of them.

    Returns:
        An Expr: the single condition itself when there is one, ``TRUE`` for none (which
        [`Query.where()`][tqlbuilder.Query.where] ignores).

    Raises:
        UnsupportedTypeError: an item is not a condition, a column name or a bool.

    Examples:
        >>> from tqlbuilder import col, select
        >>> and_(col("a") > 1, col("b") < 2).to_tql()
        '(a > 1) AND (b < 2)'
        >>> and_([]).to_tql()
        'TRUE'
        >>> str(select("*").from_("ds").where(and_()))
        'SELECT * FROM ds'
    """
    parts = [c for c in _conditions("and_", conditions) if not is_true(c)]
    if not parts:
        return TRUE
    if len(parts) == 1:
        return parts[0]
    return BoolOp.of("AND", *parts)


def or_(*conditions: Any) -> Expr:
    """Any of ``conditions`` (``a OR b OR ...``); ``FALSE`` (matches nothing) for none.

    Args:
        *conditions: conditions (Expr), column names or bools, or one iterable of them.

    Returns:
        An Expr: the single condition itself when there is one, ``FALSE`` for none.

    Raises:
        UnsupportedTypeError: an item is not a condition, a column name or a bool.

    Examples:
        >>> from tqlbuilder import col
        >>> or_([col("a") == 1, col("a") == 2]).to_tql()
        '(a = 1) OR (a = 2)'
        >>> or_().to_tql()
        'FALSE'
    """
    parts = [c for c in _conditions("or_", conditions) if not is_false(c)]
    if not parts:
        return FALSE
    if len(parts) == 1:
        return parts[0]
    return BoolOp.of("OR", *parts)
