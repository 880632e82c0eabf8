"""Walks over the expression tree: which columns an expression reads, what a select list outputs.

>>> from tqlbuilder.tree.expr import col
>>> sorted(referenced_columns((col("a") + col("b")) > 1))
['a', 'b']
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

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
    Neg,
    Not,
    Star,
    Subscript,
    Verbatim,
    WeightPair,
)

__all__ = ["calls_any", "output_names", "reads_json", "referenced_columns"]


def referenced_columns(expr: Expr | WeightPair) -> set[str]:
    """Names of every column an expression reads."""
    found: set[str] = set()
    stack: list[Any] = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, Column):
            found.add(node.name)
        elif isinstance(node, WeightPair):
            stack.append(node.condition)
        elif isinstance(node, Func):
            stack.extend(node.args)
        elif isinstance(node, BoolOp):
            stack.extend(node.operands)
        elif isinstance(node, Binary):
            stack.extend((node.left, node.right))
        elif isinstance(node, Between):
            stack.extend((node.operand, node.low, node.high))
        elif isinstance(node, (Not, Neg, InList, Like, IsNull, Subscript, Alias, Verbatim)):
            stack.append(node.operand)
    return found


def output_names(items: Iterable[Expr]) -> set[str] | None:
    """Names of the columns a select list produces, or None when it includes ``*``."""
    names: set[str] = set()
    for item in items:
        if isinstance(item, Star):
            return None
        if isinstance(item, (Alias, Column)):
            names.add(item.name)
        else:
            names.update(referenced_columns(item))
    return names


def calls_any(expr: Expr | WeightPair, names: frozenset[str]) -> bool:
    """True if ``expr`` calls one of the functions ``names`` anywhere inside."""
    stack: list[Any] = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, Func):
            if node.name in names:
                return True
            stack.extend(node.args)
        elif isinstance(node, WeightPair):
            stack.extend((node.condition, node.weight))
        elif isinstance(node, BoolOp):
            stack.extend(node.operands)
        elif isinstance(node, Binary):
            stack.extend((node.left, node.right))
        elif isinstance(node, Between):
            stack.extend((node.operand, node.low, node.high))
        elif isinstance(node, (Not, Neg, InList, Like, IsNull, Subscript, Alias, Verbatim)):
            stack.append(node.operand)
    return False


def reads_json(expr: Expr) -> bool:
    """Whether ``expr`` reads a JSON key anywhere inside (a `Verbatim` is opaque)."""
    stack: list[object] = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, Subscript):
            if node.json_key:
                return True
            stack.append(node.operand)
        elif isinstance(node, BoolOp):
            stack.extend(node.operands)
        elif isinstance(node, Binary):
            stack.extend((node.left, node.right))
        elif isinstance(node, Between):
            stack.extend((node.operand, node.low, node.high))
        elif isinstance(node, Func):
            stack.extend(arg for arg in node.args if isinstance(arg, Expr))
        elif isinstance(node, (Not, Neg, InList, Like, IsNull)):
            stack.append(node.operand)
    return False
