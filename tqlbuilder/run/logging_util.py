"""Shorten TQL for log records: long vector literals become ``ARRAY[0.1,0.2,…(1536 values)]``.

Every executor logs the query it sends at DEBUG level on the ``tqlbuilder`` logger hierarchy
(``tqlbuilder.run.rest``, ``tqlbuilder.run.async_rest``, ...). A 1536-d embedding is ~20 KB of
digits, so `abbreviate_tql()` keeps the first values of each long ``ARRAY[...]`` and the
count. Executors call it only when DEBUG is enabled for their logger (see `log_query()`).
"""

from __future__ import annotations

import logging
import re

__all__ = ["abbreviate_tql", "log_query"]

_NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
# A numeric ARRAY literal: what tqlbuilder.tree.literals writes for vectors (ARRAY[0.1,0.2]),
# with optional spaces for hand-written text. Nested (2-D) literals match per inner array.
_ARRAY = re.compile(rf"ARRAY\s*\[\s*{_NUMBER}(?:\s*,\s*{_NUMBER})*\s*\]", re.IGNORECASE)
_VALUE = re.compile(_NUMBER)


def abbreviate_tql(text: str, *, keep: int = 2, max_chars: int = 4000) -> str:
    """Return ``text`` with every numeric ``ARRAY[...]`` of more than ``keep`` values shortened.

    Only for logs and messages: the result is not valid TQL. Text longer than ``max_chars``
    after shortening is cut and ends with the number of characters left out.

    Args:
        text: TQL text.
        keep: how many leading values of a long vector to keep (>= 0).
        max_chars: the longest text returned (before the ``…(N more characters)`` note).

    Returns:
        The shortened text; ``text`` itself when nothing needed shortening.

    Examples:
        >>> abbreviate_tql("SELECT id ORDER BY L2_NORM(e - ARRAY[0.1,0.2,0.3,0.4]) LIMIT 5")
        'SELECT id ORDER BY L2_NORM(e - ARRAY[0.1,0.2,…(4 values)]) LIMIT 5'
        >>> abbreviate_tql("SELECT ARRAY[1, 2]")
        'SELECT ARRAY[1, 2]'
        >>> abbreviate_tql("x" * 10, max_chars=4)
        'xxxx…(6 more characters)'
    """

    def shorten(match: re.Match[str]) -> str:
        values = _VALUE.findall(match.group(0))
        if len(values) <= keep:
            return match.group(0)
        head = ",".join(values[:keep])
        return (
            f"ARRAY[{head},…({len(values)} values)]" if head else f"ARRAY[…({len(values)} values)]"
        )

    shortened = _ARRAY.sub(shorten, text) if "[" in text else text
    if len(shortened) > max_chars:
        return f"{shortened[:max_chars]}…({len(shortened) - max_chars} more characters)"
    return shortened


def log_query(logger: logging.Logger, what: str, tql: str) -> None:
    """Log ``what: <abbreviated tql>`` at DEBUG on ``logger`` (no work when DEBUG is off).

    ``what`` must not hold secrets: executors pass the method and URL, never headers.
    """
    if logger.isEnabledFor(logging.DEBUG):
        logger.debug("%s: %s", what, abbreviate_tql(tql))
