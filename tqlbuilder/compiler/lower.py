"""Lower a builder `Query` into SELECT levels, by small named steps.

A builder query says what rows are wanted; the engine needs some of that written over several
nested SELECTs (engine probe and ``shared/reference/tql-reference.md``). Each step below is one
such rewrite, and its inverse sits beside it in `tqlbuilder.parser.recognise`:

- `score_wrap()` - a vector search computes its score once, in the base level, and ranks
  one level up where the alias exists;
- `alias_wrap()` - filters and sort keys that read a select-list alias run one level up;
- `nested_sorts()` - the engine sorts on the first ORDER BY key only, stably, so several
  keys become nested sorts, with the direction flipped under a DESC level;
- `sort_below_projection()` - several keys on source columns: sort whole rows, project last;
- `group_before_limit()` - a LIMIT on a grouped query limits groups, so grouping is wrapped;
- `top_k_wrap()` - ``ORDER BY <L1/LINF score> LIMIT k`` fails on the engine, so the sort runs
  in a subquery and the LIMIT one level up (``tests/test_hazards.py`` pins the failure);
- `bm25_paging()` - BM25 runs only as ``ORDER BY BM25_SIMILARITY(...) DESC LIMIT n`` and
  breaks ties differently for every ``n``, so it ranks every match once, with a fixed LIMIT, in a
  subquery, and pages are cut one level up.

`compile_query()` is ``print_level(lower(query))``.

>>> from tqlbuilder import select
>>> compile_query(select("id").from_("ds").order_by("a", "b").limit(2))
'SELECT id FROM (SELECT * FROM ds ORDER BY b ASC) ORDER BY a ASC LIMIT 2'
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tqlbuilder.compiler.json_nulls import check_order_keys, lower_conditions
from tqlbuilder.engine.catalog import BM25_MAX_LIMIT, FUNCTIONS
from tqlbuilder.errors import BuildError, UnsupportedConstructError
from tqlbuilder.levels.nodes import Select, SetOp
from tqlbuilder.levels.printer import compile_expr, print_level
from tqlbuilder.tree.expr import Alias, Column, Expr, Func, IsNull, OrderKey, Star
from tqlbuilder.tree.sources import Dataset, SetOperation, Subquery, TextSearch, VectorSearch
from tqlbuilder.tree.walk import output_names, reads_json, referenced_columns

if TYPE_CHECKING:  # pragma: no cover
    from tqlbuilder.build.query import Query

__all__ = ["compile_query", "lower", "sort_levels"]


def compile_query(query: Query) -> str:
    """TQL text of a whole query (one line)."""
    return print_level(lower(query))


def lower(query: Query) -> Select:
    """The level tree the engine needs for ``query``."""
    present: tuple[Expr, ...] = ()
    # conditions that read no JSON key are their own null-semantics form and hold no JSON LIKE
    if query.conditions and any(map(reads_json, query.conditions)):
        conditions, present = lower_conditions(query.conditions)
        if len(conditions) != len(query.conditions) or any(
            new is not old for new, old in zip(conditions, query.conditions, strict=True)
        ):
            query = query._replace(conditions=conditions)
    if isinstance(query.search, TextSearch):
        return bm25_paging(query, query.search, present)
    return _select_levels(query, present)


def lower_source(query: Query, present: tuple[Expr, ...] = ()) -> Dataset | Select | SetOp | None:
    """The ``FROM`` of the base level: a dataset, a lowered subquery or set operation, or None.

    ``present`` are JSON keys a LIKE reads (see `json_nulls`): the
    base then reads a subquery that keeps only rows having them, unless its source already is
    such a filter.
    """
    source = query.source
    lowered: Dataset | Select | SetOp | None
    if source is None or isinstance(source, Dataset):
        lowered = source
    elif isinstance(source, Subquery):
        lowered = lower(source.query)
    elif isinstance(source, SetOperation):
        lowered = SetOp(source.op, tuple(lower(operand) for operand in source.operands))
    else:  # pragma: no cover
        raise TypeError(f"unknown source {source!r}")
    if not present:
        return lowered
    guards = tuple(IsNull(key, True) for key in present)
    if isinstance(lowered, Select) and _is_plain_filter(lowered):
        have = {c.key() for c in lowered.where}
        if all(g.key() in have for g in guards):
            return lowered
    return Select(source=lowered, where=guards)


def _is_plain_filter(level: Select) -> bool:
    return not (level.items or level.grouped or level.order or level.has_tail)


# =========================================================================== sort keys


def natural_descending(expr: Expr, search: VectorSearch | None) -> bool:
    """Best-first direction of a sort key: DESC for similarities and a similarity score."""
    if search is not None and isinstance(expr, Column) and expr.name == search.alias:
        return search.metric.descending
    if isinstance(expr, Func):
        function = FUNCTIONS.get(expr.name)
        return function is not None and function.ranking == "desc"
    return False


def sort_levels(query: Query, search: VectorSearch | None) -> list[OrderKey]:
    """Sort keys outermost first, each with the direction its nested stable sort must use.

    The engine sorts on the first ORDER BY key only, stably; DESC reverses the whole stable
    ascending order, so ties come out reversed. To honour ``order_by(a, b)`` the secondary key
    is sorted in an inner level and, under a DESC level, in the flipped direction. The inverse
    is `tqlbuilder.parser.recognise.unflip_sorts()`.
    """
    keys: list[tuple[Expr, bool]] = []
    if not query.ordering and search is not None:
        keys.append((Column(search.alias, search.alias_text), search.metric.descending))
    for key in query.ordering:
        descending = key.descending
        if descending is None:
            descending = natural_descending(key.expr, search)
        keys.append((key.expr, descending))
    levels: list[OrderKey] = []
    flip = False
    for expr, descending in keys:
        effective = descending != flip
        levels.append(OrderKey(expr, effective))
        flip = flip != effective
    return levels


# =========================================================================== SELECT queries


def _select_levels(query: Query, present: tuple[Expr, ...]) -> Select:
    search = query.search if isinstance(query.search, VectorSearch) else None
    items = query.items
    aliases = {item.name for item in items if isinstance(item, Alias)}
    if search is not None:
        aliases.add(search.alias)
    levels = sort_levels(query, search)
    check_order_keys((key.expr for key in query.ordering), query.conditions)
    if search is not None and query.row_limit is None:
        raise BuildError(
            "similar_to() needs .limit(k): without it the engine sorts every row and skips its "
            "top-k path; use a large k if you really want them all (an explicit "
            "order_by(F.cosine_similarity(...)) may sort every row)"
        )
    inner: list[Expr] = []
    outer: list[Expr] = []  # filters on an alias run one level up, where it exists
    for condition in query.conditions:
        reads_alias = bool(aliases) and bool(referenced_columns(condition) & aliases)
        (outer if reads_alias else inner).append(condition)
    grouped = bool(query.groups) or query.ungroup_count is not None
    alias_keys = bool(aliases) and any(referenced_columns(k.expr) & aliases for k in levels)
    if len(levels) > 1 and not (search or grouped or alias_keys or outer):
        return sort_below_projection(query, levels, present)
    needs_wrap = (
        search is not None
        or bool(outer)
        or len(levels) > 1
        or alias_keys
        or (grouped and (bool(levels) or query.row_limit is not None or bool(query.row_offset)))
    )
    base = Select(
        items=items if search is None else (*(items or (Star(),)), score_item(search)),
        source=lower_source(query, present),
        where=tuple(inner),
        groups=query.groups,
        ungroup=query.ungroup_count,
    )
    if not needs_wrap:
        if levels:
            base = base.with_order(levels[0])
        return top_k_wrap(base, query, levels, search)
    _check_visible(levels, outer, items, search)
    return top_k_wrap(alias_wrap(base, levels, tuple(outer), aliases), query, levels, search)


def score_item(search: VectorSearch) -> Alias:
    """``score_wrap``: the base level's extra select item ``<metric>(column, vector) AS alias``.

    The wrapping itself is `alias_wrap()`: ranking by the alias happens one level up.
    """
    return Alias(search.score(), search.alias)


def alias_wrap(
    base: Select, levels: list[OrderKey], outer: tuple[Expr, ...], aliases: set[str]
) -> Select:
    """Wrap ``base`` in ``SELECT * FROM (...)`` levels for alias filters and nested sorts.

    The innermost sort key goes into the base when it reads no alias; the filters on aliases go
    on the first wrapper; each remaining key gets its own wrapper (`nested_sorts()`).
    """
    remaining = list(levels)
    if remaining and not (aliases and referenced_columns(remaining[-1].expr) & aliases):
        base = base.with_order(remaining.pop())
    return nested_sorts(base, remaining, outer)


def nested_sorts(base: Select, remaining: list[OrderKey], where: tuple[Expr, ...]) -> Select:
    """One ``SELECT * FROM (...) ORDER BY key`` wrapper per key, innermost key first."""
    node = base
    while len(remaining) > 1:
        node = Select(source=node, where=where, order=remaining.pop())
        where = ()
    return Select(source=node, where=where, order=remaining[0] if remaining else None)


def sort_below_projection(
    query: Query, levels: list[OrderKey], present: tuple[Expr, ...] = ()
) -> Select:
    """Several sort keys on source columns: sort whole rows in nested levels, project last.

    ``SELECT items FROM (SELECT * FROM (SELECT * FROM src WHERE f ORDER BY k3) ORDER BY k2)
    ORDER BY k1 LIMIT n``: every level sees every column, so keys need not be selected.
    """
    remaining = list(levels)
    node = Select(
        source=lower_source(query, present), where=query.conditions, order=remaining.pop()
    )
    while len(remaining) > 1:
        node = Select(source=node, order=remaining.pop())
    top = Select(items=query.items, source=node, order=remaining[0])
    return top_k_wrap(top, query, levels, None)


def top_k_wrap(
    node: Select, query: Query, levels: list[OrderKey], search: VectorSearch | None
) -> Select:
    """Put LIMIT/OFFSET/SAMPLE BY on the outer level, one level further up when top-k fails.

    Also ``group_before_limit``: a grouped level is already wrapped by `_select_levels()`
    whenever it has a LIMIT, so the LIMIT counts groups.
    """
    limit, offset, sampling = query.row_limit, query.row_offset or None, query.sampling
    if limit is not None and levels and _breaks_top_k(levels[0].expr, search):
        return Select(source=node, limit=limit, offset=offset, sampling=sampling)
    return node.with_tail(limit, offset, sampling)


def _breaks_top_k(expr: Expr, search: VectorSearch | None) -> bool:
    if isinstance(expr, Func):
        function = FUNCTIONS.get(expr.name)
        return function is not None and not function.top_k_safe
    return (
        search is not None
        and isinstance(expr, Column)
        and expr.name == search.alias
        and not FUNCTIONS[search.metric.function].top_k_safe
    )


def _check_visible(
    levels: list[OrderKey],
    conditions: list[Expr],
    items: tuple[Expr, ...],
    search: VectorSearch | None,
) -> None:
    """Keys and filters applied one level up can only see the columns the base selects."""
    visible = output_names(items) if items else None
    if visible is None:
        return
    if search is not None:
        visible.add(search.alias)
    for what, expr in [("order_by key", k.expr) for k in levels] + [
        ("filter", c) for c in conditions
    ]:
        missing = referenced_columns(expr) - visible
        if missing:
            names = ", ".join(sorted(repr(m) for m in missing))
            raise BuildError(
                f"{what} {compile_expr(expr)} reads {names}, which the select list does not "
                "include; this query sorts or filters one level above the select list (to see "
                "the score or an alias), so add the column(s) to select()"
            )


# =========================================================================== BM25


def bm25_paging(query: Query, search: TextSearch, present: tuple[Expr, ...] = ()) -> Select:
    """A BM25 page: ``SELECT items FROM (<ranked>) LIMIT k [OFFSET o]``.

    ``<ranked>`` is ``SELECT * FROM src WHERE ... ORDER BY BM25_SIMILARITY(col, 't') DESC LIMIT M``.

    The engine runs BM25 only as the single ORDER BY key with a LIMIT, and its top-k heap breaks
    ties differently for every LIMIT: pages written as ``LIMIT o+k OFFSET o`` repeat and skip
    rows (20 pages of 50 over tied scores gave 503 distinct rows of 1000). Ranking every match
    with the fixed ``M`` = `BM25_MAX_LIMIT` gives one order, and
    every page is a slice of it (``tests/probes/paging_ties.md``; cost measured equal). The
    inverse is `tqlbuilder.parser.recognise.Recogniser.text_search()`.
    """
    if query.row_limit is None:
        raise BuildError(
            "text_search() needs .limit(k): the engine only runs BM25 as "
            "ORDER BY BM25_SIMILARITY(...) DESC LIMIT k"
        )
    for what, used in (
        ("order_by()", bool(query.ordering)),
        ("group_by()", bool(query.groups)),
        ("ungroup_by()", query.ungroup_count is not None),
        ("sample_by()", query.sampling is not None),
    ):
        if used:
            raise UnsupportedConstructError(
                f"text_search() cannot be combined with {what}: the engine accepts BM25 only "
                "as the single ORDER BY key with LIMIT; wrap it: select().from_(bm25_query)..."
            )
    aliases = {item.name for item in query.items if isinstance(item, Alias)}
    if referenced_columns(search.column) & aliases:
        raise UnsupportedConstructError(
            "text_search() column is a select-list alias; BM25 needs an indexed source column"
        )
    for condition in query.conditions:
        if referenced_columns(condition) & aliases:
            raise UnsupportedConstructError(
                "a text_search() filter cannot use a select-list alias; filter on source columns"
            )
    ranked = Select(
        source=lower_source(query, present),
        where=query.conditions,
        order=OrderKey(Func("BM25_SIMILARITY", (search.column, search.text)), True),
        limit=BM25_MAX_LIMIT,
    )
    return Select(
        items=query.items, source=ranked, limit=query.row_limit, offset=query.row_offset or None
    )
