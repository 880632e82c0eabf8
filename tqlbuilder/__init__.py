"""tqlbuilder: compose Deep Lake TQL in typed, immutable Python and run it safely.

>>> from tqlbuilder import LocalExecutor, col, select
>>> query = select("id", "text").from_("hub://org/docs").where(col("year") > 2024).limit(5)
>>> str(query)
'SELECT id, text FROM "hub://org/docs" WHERE year > 2024 LIMIT 5'
>>> str(select(col("order")).from_("hub://org/docs"))
'SELECT "order" FROM "hub://org/docs"'

Names are written bare where the engine reads them so and quoted otherwise (``order`` is a
reserved word). Run the query on the embedded engine over a folder of datasets
(``DATASET_ROOT`` holds ``org/docs``):

>>> with LocalExecutor(DATASET_ROOT) as executor:
...     executor.execute(query).column("id")
[10, 11]

Importing the package is cheap and has no side effects: every public name is loaded on first
use, so ``requests`` and ``deeplake`` are only imported when an executor needs them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from tqlbuilder.errors import (
    AuthenticationError,
    BuildError,
    DeadlineExceededError,
    EngineNotInstalledError,
    ExecutionError,
    InvalidIdentifierError,
    InvalidValueError,
    MalformedTokenError,
    MissingDependencyError,
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
    from tqlbuilder import filters, strategies
    from tqlbuilder.build.logic import and_, or_
    from tqlbuilder.build.query import Query, select
    from tqlbuilder.parser import parse
    from tqlbuilder.rank.fusion import reciprocal_rank_fusion
    from tqlbuilder.rank.mmr import mmr
    from tqlbuilder.run.async_rest import AsyncRestExecutor
    from tqlbuilder.run.dataset import DatasetExecutor
    from tqlbuilder.run.executor import Executor, SupportsTQL
    from tqlbuilder.run.local import LocalExecutor
    from tqlbuilder.run.rest import RestExecutor
    from tqlbuilder.run.result import Result
    from tqlbuilder.text.formatter import format
    from tqlbuilder.text.hazards import Finding, check
    from tqlbuilder.text.lexer import Token, TokenKind, lex
    from tqlbuilder.tree import functions
    from tqlbuilder.tree import functions as F
    from tqlbuilder.tree.expr import Expr, col, lit
    from tqlbuilder.tree.raw import raw

# public name -> (module, attribute); attribute None means the module itself
_LAZY: dict[str, tuple[str, str | None]] = {
    "select": ("tqlbuilder.build.query", "select"),
    "Query": ("tqlbuilder.build.query", "Query"),
    "col": ("tqlbuilder.tree.expr", "col"),
    "lit": ("tqlbuilder.tree.expr", "lit"),
    "raw": ("tqlbuilder.tree.raw", "raw"),
    "Expr": ("tqlbuilder.tree.expr", "Expr"),
    "functions": ("tqlbuilder.tree.functions", None),
    "F": ("tqlbuilder.tree.functions", None),
    "lex": ("tqlbuilder.text.lexer", "lex"),
    "Token": ("tqlbuilder.text.lexer", "Token"),
    "TokenKind": ("tqlbuilder.text.lexer", "TokenKind"),
    "parse": ("tqlbuilder.parser", "parse"),
    "check": ("tqlbuilder.text.hazards", "check"),
    "Finding": ("tqlbuilder.text.hazards", "Finding"),
    "format": ("tqlbuilder.text.formatter", "format"),
    "reciprocal_rank_fusion": ("tqlbuilder.rank.fusion", "reciprocal_rank_fusion"),
    "Result": ("tqlbuilder.run.result", "Result"),
    "Executor": ("tqlbuilder.run.executor", "Executor"),
    "SupportsTQL": ("tqlbuilder.run.executor", "SupportsTQL"),
    "RestExecutor": ("tqlbuilder.run.rest", "RestExecutor"),
    "AsyncRestExecutor": ("tqlbuilder.run.async_rest", "AsyncRestExecutor"),
    "LocalExecutor": ("tqlbuilder.run.local", "LocalExecutor"),
    "DatasetExecutor": ("tqlbuilder.run.dataset", "DatasetExecutor"),
    "filters": ("tqlbuilder.filters", None),
    "and_": ("tqlbuilder.build.logic", "and_"),
    "or_": ("tqlbuilder.build.logic", "or_"),
    "mmr": ("tqlbuilder.rank.mmr", "mmr"),
    "strategies": ("tqlbuilder.strategies", None),
}

__all__ = [
    "AsyncRestExecutor",
    "AuthenticationError",
    "BuildError",
    "DatasetExecutor",
    "DeadlineExceededError",
    "EngineNotInstalledError",
    "ExecutionError",
    "Executor",
    "Expr",
    "F",
    "Finding",
    "InvalidIdentifierError",
    "InvalidValueError",
    "LocalExecutor",
    "MalformedTokenError",
    "MissingDependencyError",
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
    "SupportsTQL",
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
    "and_",
    "check",
    "col",
    "filters",
    "format",
    "functions",
    "lex",
    "lit",
    "mmr",
    "or_",
    "parse",
    "raw",
    "reciprocal_rank_fusion",
    "select",
    "strategies",
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
