"""Operands that are validated Python values, not nodes: subscript items and IN lists.

`tqlbuilder.tree.expr` builds ``Subscript`` and ``InList`` nodes from what these return.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from tqlbuilder.engine.rules import open_slice_problem
from tqlbuilder.errors import (
    InvalidValueError,
    UnsupportedConstructError,
    UnsupportedTypeError,
)
from tqlbuilder.tree.literals import (
    render_scalar,
)

__all__ = ["IndexItem", "in_values", "index_item"]

IndexItem = int | tuple[int | None, int | None, int | None]


def index_item(item: object) -> IndexItem:
    def bound(value: object, what: str) -> int | None:
        if value is None:
            return None
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
            raise UnsupportedTypeError(
                f"slice {what} must be an int or None, got {type(value).__name__}"
            )
        if int(value) < 0:
            raise InvalidValueError(
                f"negative slice {what} {int(value)}: the engine rejects negative bounds; "
                "use non-negative positions"
            )
        return int(value)

    if isinstance(item, slice):
        start, stop, step = (
            bound(item.start, "start"),
            bound(item.stop, "stop"),
            bound(item.step, "step"),
        )
        if step == 0:
            raise InvalidValueError("slice step must be positive, got 0")
        problem = open_slice_problem(start, stop)
        if problem is not None:
            raise UnsupportedConstructError(
                f"open-ended slice [{start}:] is refused because {problem}; give the end "
                "explicitly, e.g. x[1:384]"
            )
        if start == 0 and stop is None:
            start = None
        return (start, stop, step)
    if isinstance(item, (bool, np.bool_)) or not isinstance(item, (int, np.integer)):
        raise UnsupportedTypeError(
            f"index must be an int, a slice or a JSON key str, got {type(item).__name__}"
        )
    if int(item) < 0:
        raise InvalidValueError(
            f"negative index {int(item)}: the engine fails on negative indices; use a "
            "non-negative position"
        )
    return int(item)


def in_values(values: Iterable[Any]) -> tuple[tuple[Any, ...], str]:
    """Validate an IN list; return the Python values and their rendered ``v1, v2, ...`` text."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise UnsupportedTypeError(
            f"isin() takes a collection of values (list, tuple, set, array), got "
            f"{type(values).__name__}; wrap a single value in a list"
        )
    items = values.tolist() if isinstance(values, np.ndarray) else list(values)
    if set(map(type, items)) == {str}:
        # fast path for the common list of strings, all in C: join on NUL (which no valid value
        # holds: a NUL count other than len - 1 sends the list down the checking path below),
        # double every quote, then turn the NULs into the "', '" separators
        joined = "\x00".join(items)
        if joined.count("\x00") == len(items) - 1:
            return tuple(items), "'" + joined.replace("'", "''").replace("\x00", "', '") + "'"
    rendered = []
    for position, value in enumerate(items):
        if hasattr(value, "to_tql"):  # an expression or a query (no import of the nodes here)
            raise UnsupportedConstructError(
                "isin() takes literal values only: IN (subquery) and IN (expressions) return "
                "wrong results on the engine; use == and | for expressions"
            )
        if isinstance(value, np.ndarray) and value.ndim == 0:
            value = items[position] = value.item()
        rendered.append(render_scalar(value, argument=f"isin() value at position {position}"))
    if len({isinstance(value, str) for value in items}) > 1:
        raise InvalidValueError(
            "isin() values mix strings and numbers; the engine cannot compare them in one list"
        )
    return tuple(items), ", ".join(rendered)
