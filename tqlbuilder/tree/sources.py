"""Frozen nodes for the parts of a query that are not expressions: sources, searches, sampling.

Also the metric table, which keeps each similarity function and its best-first direction in one
place so the two can never disagree.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import attrs

from tqlbuilder.tree.expr import Binary, Expr, Func, Literal

if TYPE_CHECKING:  # pragma: no cover
    from tqlbuilder.build.query import Query

__all__ = [
    "METRICS",
    "Dataset",
    "Metric",
    "Sampling",
    "SetOperation",
    "Subquery",
    "TextSearch",
    "VectorSearch",
]


@attrs.frozen
class Metric:
    """A vector-search metric: the engine function, how it is called, and its best-first order."""

    name: str
    function: str
    descending: bool  # True for similarities (higher is better), False for distances
    difference: bool  # True: FN(column - vector); False: FN(column, vector)
    ndim: int  # dimensions of the query vector (2 for multi-vector maxsim)

    def score(self, column: Expr, vector: Expr) -> Func:
        """The score expression for ``column`` against ``vector``."""
        if self.difference:
            return Func(self.function, (Binary("-", column, vector),))
        return Func(self.function, (column, vector))


METRICS: MappingProxyType[str, Metric] = MappingProxyType(
    {
        "cosine": Metric("cosine", "COSINE_SIMILARITY", True, False, 1),
        "dot": Metric("dot", "DOT", True, False, 1),
        "l2": Metric("l2", "L2_NORM", False, True, 1),
        "l1": Metric("l1", "L1_NORM", False, True, 1),
        "linf": Metric("linf", "LINF_NORM", False, True, 1),
        "maxsim": Metric("maxsim", "MAXSIM", True, False, 2),
    }
)

#: functions whose natural (best-first) order is descending / ascending
SIMILARITY_FUNCTIONS = frozenset({"COSINE_SIMILARITY", "DOT", "MAXSIM", "BM25_SIMILARITY"})
DISTANCE_FUNCTIONS = frozenset({"L2_NORM", "L1_NORM", "LINF_NORM", "HAMMING_DISTANCE"})
RANKING_FUNCTIONS = SIMILARITY_FUNCTIONS | DISTANCE_FUNCTIONS


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
    """``FROM ((SELECT ...) UNION (SELECT ...))``: UNION keeps duplicates (UNION ALL)."""

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
        return self.metric.score(self.column, self.vector)

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
