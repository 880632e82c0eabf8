"""``from_metadata_filters``: LlamaIndex-shaped ``MetadataFilters`` as a condition.

Duck-typed (``filters``, ``condition``, each filter with ``key``, ``value``, ``operator``;
nested), so LlamaIndex is never imported. The translation itself is
`tqlbuilder.build.filters.from_dict()`.
"""

from __future__ import annotations

from typing import Any

from tqlbuilder.build.filters import from_dict
from tqlbuilder.errors import InvalidValueError
from tqlbuilder.tree.expr import (
    Expr,
)

__all__ = ["from_metadata_filters"]


_LLAMA_OPERATORS = {
    "==": "$eq",
    "=": "$eq",
    "eq": "$eq",
    "!=": "$ne",
    "ne": "$ne",
    ">": "$gt",
    "gt": "$gt",
    ">=": "$gte",
    "gte": "$gte",
    "<": "$lt",
    "lt": "$lt",
    "<=": "$lte",
    "lte": "$lte",
    "in": "$in",
    "nin": "$nin",
    "text_match": "$contains",
    "contains": "$contains",
    "is_empty": "is_empty",
}


def _name(value: Any) -> Any:
    """An enum member's value (LlamaIndex uses str enums), else the value itself."""
    inner = getattr(value, "value", value)
    return inner.lower() if isinstance(inner, str) else inner


def from_metadata_filters(obj: Any, *, json_column: str | None = None) -> Expr:
    """Translate a LlamaIndex-shaped ``MetadataFilters`` object (duck-typed) into a condition.

    ``obj.filters`` is a list of filters (objects with ``key``, ``value``, ``operator``) or
    nested filter groups (objects with ``filters`` and ``condition``); ``obj.condition`` is
    ``"and"`` (default), ``"or"`` or ``"not"`` (NOT of the AND), as a str or a str enum.
    Operators: ``== != > >= < <= in nin``, ``text_match`` and ``contains`` (both
    ``$contains``: a case-sensitive substring of a string value) and ``is_empty`` (the key is
    missing, ``$exists: False``). LlamaIndex is not imported. The result has the semantics of
    `from_dict()` for the same filter.

    Args:
        obj: the filter group.
        json_column: as in `from_dict()`.

    Returns:
        An Expr.

    Raises:
        InvalidValueError: a missing attribute, an unknown operator or condition
            (``any``, ``all`` and ``text_match_insensitive`` have no engine form), or an invalid
            value, naming the place in the equivalent filter dict.

    Examples:
        >>> from types import SimpleNamespace as NS
        >>> group = NS(filters=[NS(key="year", value=2020, operator=">=")], condition="and")
        >>> from_metadata_filters(group).to_tql()
        'year >= 2020'
    """
    return from_dict(_llama_spec(obj, "filters"), json_column=json_column)


def _llama_spec(obj: Any, path: str) -> dict[str, Any]:
    if not hasattr(obj, "filters"):
        raise InvalidValueError(f"{path}: expected an object with .filters and .condition")
    condition = _name(getattr(obj, "condition", None) or "and")
    items = obj.filters
    if items is None:
        items = []
    specs: list[dict[str, Any]] = []
    for index, item in enumerate(list(items)):
        here = f"{path}.filters[{index}]"
        if hasattr(item, "filters"):
            specs.append(_llama_spec(item, here))
            continue
        for attribute in ("key", "operator"):
            if not hasattr(item, attribute):
                raise InvalidValueError(f"{here}: a filter needs .key, .value and .operator")
        operator = _name(item.operator)
        op = _LLAMA_OPERATORS.get(operator) if isinstance(operator, str) else None
        if op is None:
            raise InvalidValueError(
                f"{here}.operator: unsupported operator {operator!r} (accepted: "
                f"{', '.join(_LLAMA_OPERATORS)})"
            )
        if not isinstance(item.key, str):
            raise InvalidValueError(f"{here}.key: must be a str, got {type(item.key).__name__}")
        if op == "is_empty":
            specs.append({item.key: {"$exists": False}})
        else:
            specs.append({item.key: {op: getattr(item, "value", None)}})
    if condition == "and":
        return {"$and": specs}
    if condition == "or":
        return {"$or": specs}
    if condition == "not":
        return {"$not": {"$and": specs}}
    raise InvalidValueError(f"{path}.condition: must be 'and', 'or' or 'not', got {condition!r}")
