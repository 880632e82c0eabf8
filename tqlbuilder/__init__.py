"""tqlbuilder: compose Deep Lake TQL in typed, immutable Python and run it safely.

>>> from tqlbuilder import select, col
>>> str(select("text").from_("hub://org/docs").where(col("year") > 2020).limit(5))
'SELECT "text" FROM "hub://org/docs" WHERE "year" > 2020 LIMIT 5'

Importing the package is cheap and has no side effects: every public name is loaded on first
use, so ``requests`` and ``deeplake`` are only imported when an executor needs them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from tqlbuilder.errors import (
    AuthenticationError,
    BuildError,
    EngineNotInstalledError,
    ExecutionError,
    InvalidIdentifierError,
    InvalidValueError,
    MissingTokenError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    QueryError,
    RateLimitError,
    RawFragmentError,
    ResponseFormatError,
    ServerError,
    TQLError,
    TQLSyntaxError,
    TransportError,
    UnsafeTransportError,
    UnsupportedConstructError,
    UnsupportedSyntaxError,
    UnsupportedTypeError,
)

__version__ = "0.1.0"

if TYPE_CHECKING:  # pragma: no cover - for type checkers only
    from tqlbuilder import functions
    from tqlbuilder import functions as F
    from tqlbuilder.expr import Expr, col, lit, raw
    from tqlbuilder.formatter import format
    from tqlbuilder.fusion import reciprocal_rank_fusion
    from tqlbuilder.hazards import Finding, check
    from tqlbuilder.lexer import Token, TokenKind, lex
    from tqlbuilder.local import LocalExecutor
    from tqlbuilder.parser import parse
    from tqlbuilder.query import Query, select
    from tqlbuilder.rest import RestExecutor
    from tqlbuilder.result import Result

# public name -> (module, attribute); attribute None means the module itself
_LAZY: dict[str, tuple[str, str | None]] = {
    "select": ("tqlbuilder.query", "select"),
    "Query": ("tqlbuilder.query", "Query"),
    "col": ("tqlbuilder.expr", "col"),
    "lit": ("tqlbuilder.expr", "lit"),
    "raw": ("tqlbuilder.expr", "raw"),
    "Expr": ("tqlbuilder.expr", "Expr"),
    "functions": ("tqlbuilder.functions", None),
    "F": ("tqlbuilder.functions", None),
    "lex": ("tqlbuilder.lexer", "lex"),
    "Token": ("tqlbuilder.lexer", "Token"),
    "TokenKind": ("tqlbuilder.lexer", "TokenKind"),
    "parse": ("tqlbuilder.parser", "parse"),
    "check": ("tqlbuilder.hazards", "check"),
    "Finding": ("tqlbuilder.hazards", "Finding"),
    "format": ("tqlbuilder.formatter", "format"),
    "reciprocal_rank_fusion": ("tqlbuilder.fusion", "reciprocal_rank_fusion"),
    "Result": ("tqlbuilder.result", "Result"),
    "RestExecutor": ("tqlbuilder.rest", "RestExecutor"),
    "LocalExecutor": ("tqlbuilder.local", "LocalExecutor"),
}

__all__ = [
    "AuthenticationError",
    "BuildError",
    "EngineNotInstalledError",
    "ExecutionError",
    "Expr",
    "F",
    "Finding",
    "InvalidIdentifierError",
    "InvalidValueError",
    "LocalExecutor",
    "MissingTokenError",
    "NotFoundError",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "Query",
    "QueryError",
    "RateLimitError",
    "RawFragmentError",
    "ResponseFormatError",
    "RestExecutor",
    "Result",
    "ServerError",
    "TQLError",
    "TQLSyntaxError",
    "Token",
    "TokenKind",
    "TransportError",
    "UnsafeTransportError",
    "UnsupportedConstructError",
    "UnsupportedSyntaxError",
    "UnsupportedTypeError",
    "__version__",
    "check",
    "col",
    "format",
    "functions",
    "lex",
    "lit",
    "parse",
    "raw",
    "reciprocal_rank_fusion",
    "select",
]


def __getattr__(name: str) -> Any:
    """Load public names on first access (PEP 562) so the package import stays light."""
    try:
        module_name, attribute = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'tqlbuilder' has no attribute {name!r}") from None
    module = importlib.import_module(module_name)
    return module if attribute is None else getattr(module, attribute)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
