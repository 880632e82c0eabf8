"""The function catalog: one entry per engine function, and the vector-search metrics.

Data only. ``F.*`` validates its arguments by the roles listed here; the parser accepts exactly
these names with these arities; the compiler reads the ranking direction (best first) and top-k
safety; the checker reads the direction, column-first and positional sets. Adding an engine
function is one `Function` entry (``F`` serves it by name even before it gets a typed
wrapper in `tqlbuilder.tree.functions`).

Sources: the engine probe (``shared/reference/engine-probe.md`` §3, functions that exist and
work on deeplake 4.7) and this project's engine tests: ``tests/test_engine_conformance.py``
(``test_top_k_matches_numpy``: ranking directions of every metric), ``tests/test_hazards.py``
(L1/LINF top-k failure, ``CONTAINS`` crash).

>>> FUNCTIONS["L1_NORM"].ranking, FUNCTIONS["L1_NORM"].top_k_safe
('asc', False)
>>> resolve_metric("Inner_Product").function
'DOT'
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Literal

import attrs

__all__ = [
    "ABSENT_FUNCTIONS",
    "BM25_MAX_LIMIT",
    "FUNCTIONS",
    "METRICS",
    "METRIC_ALIASES",
    "VECTOR_FUNCTIONS",
    "Function",
    "Metric",
    "Role",
    "by_ranking",
    "resolve_metric",
]

#: How an argument is validated and rendered by ``F``:
#: ``expr`` any expression or column name; ``vector`` an expression, a column name or a 1-D
#: list/ndarray (``ARRAY[...]``); ``matrix`` the same, 2-D; ``text`` a str literal; ``row`` a
#: non-negative int literal; ``weights`` one or more ``(condition, weight)`` pairs.
Role = Literal["expr", "vector", "matrix", "text", "row", "weights"]
Ranking = Literal["asc", "desc"]


@attrs.frozen
class Function:
    """One engine function.

    Attributes:
        name: the engine's name (upper case).
        params: parameter names, in order (as ``F`` spells them).
        roles: one `Role` per parameter; ``("weights",)`` means variadic pairs.
        ranking: best-first sort direction when the function scores rows (``"desc"`` for
            similarities, ``"asc"`` for distances), else None.
        top_k_safe: False when ``ORDER BY <fn> LIMIT k`` fails on the engine although the same
            sort without LIMIT works (L1/LINF, pinned by ``tests/test_hazards.py``); the compiler
            then sorts in a subquery and limits one level up.
        column_first: the engine needs a column (not a literal) as the first argument.
        positional: the value depends on the row's position (ROW_NUMBER, RANDOM): a filter on
            it cannot move between levels.
        doc: one line for ``F``'s docstring.
    """

    name: str
    params: tuple[str, ...]
    roles: tuple[Role, ...]
    ranking: Ranking | None = None
    top_k_safe: bool = True
    column_first: bool = False
    positional: bool = False
    doc: str = ""

    @property
    def arity(self) -> int | None:
        """Number of arguments, or None for variadic ``cond: weight`` pairs."""
        return None if self.roles == ("weights",) else len(self.roles)


def _catalog(*entries: Function) -> MappingProxyType[str, Function]:
    return MappingProxyType({entry.name: entry for entry in entries})


_V: tuple[Role, ...] = ("vector", "vector")
_E: tuple[Role, ...] = ("expr",)

#: Every engine function the builder offers and the parser accepts, by engine name.
FUNCTIONS: MappingProxyType[str, Function] = _catalog(
    # similarity and distance: rank rows
    Function("COSINE_SIMILARITY", ("a", "b"), _V, "desc", column_first=True,
             doc="cosine similarity in [-1, 1]; higher is more similar"),
    Function("DOT", ("a", "b"), _V, "desc", column_first=True,
             doc="the inner product; higher is more similar"),
    Function("MAXSIM", ("doc", "query"), ("matrix", "matrix"), "desc", column_first=True,
             doc="multi-vector (ColBERT-style) late interaction; the query is 2-D"),
    Function("BM25_SIMILARITY", ("column", "text"), ("expr", "text"), "desc", column_first=True,
             doc="BM25 relevance of an indexed text column; only as ORDER BY ... DESC LIMIT k"),
    Function("L2_NORM", ("x",), ("vector",), "asc",
             doc="Euclidean length; pass a difference for a distance"),
    Function("L1_NORM", ("x",), ("vector",), "asc", top_k_safe=False,
             doc="Manhattan length; pass a difference for a distance"),
    Function("LINF_NORM", ("x",), ("vector",), "asc", top_k_safe=False,
             doc="largest absolute element; pass a difference for a distance"),
    Function("HAMMING_DISTANCE", ("a", "b"), _V, "asc", column_first=True,
             doc="Hamming distance (returned wrapped in a 1-element array)"),
    # arrays, JSON
    Function("CONTAINS", ("x", "value"), ("expr", "expr"), column_first=True,
             doc="substring (text, JSON strings) or array membership"),
    Function("SHAPE", ("x",), _E, doc="the shape of each row's value, as an array"),
    Function("DATA", ("x", "row"), ("expr", "row"), doc="the value of x at source row `row`"),
    Function("ANY", ("x",), _E, doc="true if any element of a boolean array is true"),
    Function("ALL", ("x",), _E, doc="true if every element is true (true when empty)"),
    Function("ALL_STRICT", ("x",), _E, doc="like ALL but false for an empty array"),
    Function("LOGICAL_AND", ("a", "b"), ("expr", "expr"), doc="element-wise AND of two arrays"),
    Function("LOGICAL_OR", ("a", "b"), ("expr", "expr"), doc="element-wise OR of two arrays"),
    Function("NONZERO", ("x",), _E, doc="indices of the non-zero elements"),
    Function("KEYS", ("x",), _E, doc="the keys of a JSON / dict value"),
    # reductions, math
    Function("SUM", ("x",), _E, doc="sum of a row's array, or over a group"),
    Function("AVG", ("x",), _E, doc="mean of a row's array, or over a group"),
    Function("PROD", ("x",), _E, doc="product of a row's array, or over a group"),
    Function("AMIN", ("x",), _E, doc="smallest element (the engine has no MIN)"),
    Function("AMAX", ("x",), _E, doc="largest element (the engine has no MAX)"),
    Function("SQRT", ("x",), _E, doc="square root (F promotes its argument to float)"),
    Function("ABS", ("x",), _E, doc="absolute value"),
    # rows, sampling
    Function("ROW_NUMBER", (), (), positional=True,
             doc="0-based position (source position in WHERE, output position in SELECT)"),
    Function("RANDOM", (), (), positional=True, doc="a random integer per row"),
    Function("MAX_WEIGHT", ("pairs",), ("weights",),
             doc="a row's weight is the largest weight whose condition holds"),
    Function("SUM_WEIGHT", ("pairs",), ("weights",),
             doc="a row's weight is the sum of the weights whose conditions hold"),
)  # fmt: skip

#: The largest LIMIT a BM25 ranking reads correctly: the engine reads it as a 32-bit int
#: (``LIMIT 4294967298`` returns 2 rows; ``LIMIT 2147483648`` fails with "cannot be used without
#: index"). Source: ``tests/probes/paging_ties.md``, pinned by ``tests/test_engine_semantics.py``.
BM25_MAX_LIMIT = 2**31 - 1

#: Functions users reach for that the engine does not have, with what to use instead.
ABSENT_FUNCTIONS: MappingProxyType[str, str] = MappingProxyType(
    {
        "COUNT": "count with SHAPE(x)[0] (F.count)",
        "MIN": "use AMIN",
        "MAX": "use AMAX",
    }
)


#: Functions that take a query vector (a ``vector`` or ``matrix`` argument).
VECTOR_FUNCTIONS: frozenset[str] = frozenset(
    name
    for name, function in FUNCTIONS.items()
    if any(role in ("vector", "matrix") for role in function.roles)
)


def by_ranking(direction: Ranking) -> frozenset[str]:
    """Names of the functions whose best-first order is ``direction``."""
    return frozenset(name for name, fn in FUNCTIONS.items() if fn.ranking == direction)


@attrs.frozen
class Metric:
    """A vector-search metric: the engine function, how it is called, and its best-first order.

    Attributes:
        name: the canonical metric name (``"cosine"``, ``"l2"``...).
        function: the engine function it calls (a `FUNCTIONS` key).
        difference: True: ``FN(column - vector)``; False: ``FN(column, vector)``.
        ndim: dimensions of the query vector (2 for multi-vector maxsim).
    """

    name: str
    function: str
    difference: bool
    ndim: int

    @property
    def descending(self) -> bool:
        """True for similarities (higher is better), False for distances."""
        return FUNCTIONS[self.function].ranking == "desc"


#: The metrics ``similar_to(metric=...)`` accepts, by canonical name.
METRICS: MappingProxyType[str, Metric] = MappingProxyType(
    {
        "cosine": Metric("cosine", "COSINE_SIMILARITY", False, 1),
        "dot": Metric("dot", "DOT", False, 1),
        "l2": Metric("l2", "L2_NORM", True, 1),
        "l1": Metric("l1", "L1_NORM", True, 1),
        "linf": Metric("linf", "LINF_NORM", True, 1),
        "maxsim": Metric("maxsim", "MAXSIM", False, 2),
    }
)

#: Other names vector stores use for the same metrics (matched case-insensitively).
METRIC_ALIASES: MappingProxyType[str, str] = MappingProxyType(
    {
        "cos": "cosine",
        "cosine_similarity": "cosine",
        "ip": "dot",
        "inner_product": "dot",
        "dot_product": "dot",
        "euclidean": "l2",
        "l2_norm": "l2",
        "manhattan": "l1",
        "l1_norm": "l1",
        "chebyshev": "linf",
        "linf_norm": "linf",
        "max_sim": "maxsim",
    }
)


def resolve_metric(name: str) -> Metric | None:
    """The metric for a canonical name or an alias (case-insensitive), or None if unknown."""
    key = name.strip().lower()
    return METRICS.get(METRIC_ALIASES.get(key, key))
