"""Frozen nodes for the parts of a query that are not expressions: sources, searches, sampling.

Metrics and their best-first directions live in `tqlbuilder.engine.catalog`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs

from tqlbuilder.engine.catalog import Metric
from tqlbuilder.tree.expr import Binary, Expr, Func, Literal

if TYPE_CHECKING:  # pragma: no cover
    from tqlbuilder.build.query import Query

__all__ = [
    "Dataset",
    "Sampling",
    "SetOperation",
    "Subquery",
    "TextSearch",
    "VectorSearch",
]


@attrs.frozen
class Dataset:
    """``FROM "path"``: a dataset URL (``hub://org/ds``, ``al://``, ``s3://``, a local path)."""

    path: str
    text: str

    def key(self) -> tuple[Any, ...]:
        return ("Dataset", self.path)


@attrs.frozen(eq=False)
class Subquery:
    """``FROM (SELECT ...)``."""

    query: Query

    def key(self) -> tuple[Any, ...]:
        return ("Subquery", self.query.key())


@attrs.frozen(eq=False)
class SetOperation:
    """``FROM ((SELECT ...) UNION/INTERSECT/EXCEPT (SELECT ...))`` (see ``Query.union``)."""

    op: str
    operands: tuple[Query, ...]

    def key(self) -> tuple[Any, ...]:
        return ("SetOperation", self.op, tuple(q.key() for q in self.operands))


@attrs.frozen(eq=False)
class VectorSearch:
    """A similarity score column (``alias``) computed against ``vector``, ranked best first."""

    column: Expr
    vector: Expr
    metric: Metric
    alias: str
    alias_text: str

    def score(self) -> Func:
        """The score expression: ``FN(column - vector)`` or ``FN(column, vector)``."""
        metric = self.metric
        if metric.difference:
            return Func(metric.function, (Binary("-", self.column, self.vector),))
        return Func(metric.function, (self.column, self.vector))

    def key(self) -> tuple[Any, ...]:
        return ("VectorSearch", self.column.key(), self.vector.key(), self.metric.name, self.alias)


@attrs.frozen(eq=False)
class TextSearch:
    """BM25 ranking: ``ORDER BY BM25_SIMILARITY(column, 'text') DESC LIMIT k``."""

    column: Expr
    text: Literal

    def key(self) -> tuple[Any, ...]:
        return ("TextSearch", self.column.key(), self.text.key())


@attrs.frozen(eq=False)
class Sampling:
    """``SAMPLE BY weights REPLACE TRUE|FALSE [LIMIT n]``."""

    weights: Expr
    replace: bool
    limit: int | None

    def key(self) -> tuple[Any, ...]:
        return ("Sampling", self.weights.key(), self.replace, self.limit)
