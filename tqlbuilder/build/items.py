"""Validation of what a query is built from: select items, sort keys, counts, sampling weights.

Each function raises the builder's error (naming the argument and the fix) or returns the
validated node; `tqlbuilder.build.query` calls them from its steps.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NoReturn

import attrs
import numpy as np

from tqlbuilder.engine.lexicon import INT64_MAX
from tqlbuilder.engine.rules import unaliased_item_problem
from tqlbuilder.errors import InvalidValueError, UnsupportedConstructError, UnsupportedTypeError
from tqlbuilder.tree.expr import (
    Alias,
    Column,
    Expr,
    Func,
    Literal,
    OrderKey,
    Star,
    Subscript,
    WeightPair,
    as_expr,
)
from tqlbuilder.tree.walk import referenced_columns

__all__: list[str] = []


def _count(value: object, argument: str) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise UnsupportedTypeError(
            f"{argument} must be a non-negative int, got {type(value).__name__}: {value!r}"
        )
    if not 0 <= int(value) <= INT64_MAX:
        raise InvalidValueError(
            f"{argument} must be between 0 and {INT64_MAX}, got {int(value)} (the engine "
            "returns no rows for a negative LIMIT rather than all of them)"
        )
    return int(value)


def _select_item(item: object, position: int) -> Expr:
    if isinstance(item, str):
        if item == "*":
            return Star()
        return as_expr(item, argument=f"select item {position}")
    if isinstance(item, Expr):
        return item
    raise UnsupportedTypeError(
        f"select item {position} must be a column name (str), an expression or '*', got "
        f"{type(item).__name__}: {item!r}; wrap values in lit(...).alias('name')"
    )


def _select_items(items: tuple[str | Expr, ...]) -> tuple[Expr, ...]:
    new_items = tuple([_select_item(item, i) for i, item in enumerate(items)])
    _check_items(new_items)
    return new_items


def _output_name(item: Expr) -> str | None:
    if isinstance(item, Alias):
        return item.name
    if isinstance(item, Column):
        return item.name
    return None


def _nodes(node: object) -> Iterator[object]:
    """``node`` and every expression node below it (depth first, pre-order, no recursion)."""
    stack = [node]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, (Expr, WeightPair, OrderKey)):
            children: list[object] = []
            fields: tuple[attrs.Attribute[Any], ...] = attrs.fields(type(node))  # type: ignore[arg-type]
            for field in fields:
                value = getattr(node, field.name)
                if isinstance(value, tuple):
                    children.extend(value)
                else:
                    children.append(value)
            stack.extend(reversed(children))


def _json_list_index(node: object) -> Subscript | None:
    """The first ``x['key'][i]`` (an index into a JSON value) inside ``node``, if any."""
    for inner in _nodes(node):
        if isinstance(inner, Subscript) and not inner.json_key:
            operand = inner.operand
            if isinstance(operand, Subscript) and operand.json_key:
                return inner
    return None


def _calls_random(node: object) -> bool:
    return any(isinstance(inner, Func) and inner.name == "RANDOM" for inner in _nodes(node))


def _duplicate(name: str) -> NoReturn:
    raise InvalidValueError(
        f"the select list names {name!r} twice; the engine refuses duplicate output "
        "columns: give one of them another .alias()"
    )


def _check_items(items: tuple[Expr, ...]) -> None:
    seen: set[str] = set()
    for position, item in enumerate(items):
        if type(item) is Column:  # a leaf: nothing below it to walk (the common case)
            if item.name in seen:
                _duplicate(item.name)
            seen.add(item.name)
            continue
        if _calls_random(item):
            raise UnsupportedConstructError(
                f"select item {position} uses F.random(): as a value RANDOM() gives garbage on "
                "the engine (repeating, address-like numbers, not random ones; deeplake 4.7.4), "
                "although ORDER BY RANDOM() shuffles correctly; use .order_by(F.random()) to "
                "shuffle or .sample_by(1, limit=n) to draw rows"
            )
        indexed = _json_list_index(item)
        if indexed is not None:
            raise UnsupportedConstructError(
                f"select item {position} indexes a JSON list ({indexed.to_tql()}): the engine "
                'rejects that in a select list ("String subscript can be applied to Json data '
                'only.", deeplake 4.7.4), although WHERE and ORDER BY accept it; select the '
                "whole list and index it in Python"
            )
        name = _output_name(item)
        if name is None and not isinstance(item, Star):
            problem = unaliased_item_problem(len(referenced_columns(item)))
            if problem is not None:
                raise InvalidValueError(
                    f"select item {position} ({item.to_tql()}) needs a name: {problem}; "
                    "add .alias('name')"
                )
        if name is None:
            continue
        if name in seen:
            _duplicate(name)
        seen.add(name)


def _order_key(key: object, position: int) -> OrderKey:
    if isinstance(key, OrderKey):
        order = key
    elif isinstance(key, (str, Expr)):
        order = OrderKey(as_expr(key, argument=f"order_by key {position}"), None)
    else:
        raise UnsupportedTypeError(
            f"order_by key {position} must be a column name, an expression or "
            f"col(...).asc()/.desc(), got {type(key).__name__}: {key!r}"
        )
    return order


def _weight_nonzero_everywhere(weight: Expr) -> bool:
    """A positive constant, or MAX_WEIGHT/SUM_WEIGHT with a ``(True, w > 0)`` pair.

    The builder refuses negative weights, so a positive catch-all pair keeps every row's weight
    above zero (engine/sampling.py has the rule and the probe behind it).
    """
    if isinstance(weight, Literal):
        return not isinstance(weight.value, (str, bool)) and weight.value > 0
    if isinstance(weight, Func) and weight.name in ("MAX_WEIGHT", "SUM_WEIGHT"):
        return any(
            isinstance(pair, WeightPair)
            and isinstance(pair.condition, Literal)
            and pair.condition.value is True
            and pair.weight.value > 0
            for pair in weight.args
        )
    return False
