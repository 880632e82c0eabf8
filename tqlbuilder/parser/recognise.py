"""Recognise the builder's shapes in a level tree: levels -> `Query`.

Each shape is the inverse of one lowering step in `tqlbuilder.compiler.lower`, and a
candidate ``Query`` is accepted only when lowering it gives exactly the level tree that was
read (`lowers_to()`): structural equality of level trees is what makes recognition safe. In
order: BM25 paging (`Recogniser.text_search()`); a chain of ``SELECT * FROM (...)``
wrappers folded back into one query (nested sorts via `unflip_sorts()`, a vector search's
score wrap); a vector search whose filter sits one level up (REST shape A), accepted if it
lowers to the input with that filter moved into the search; the level mapped one to one.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NoReturn

import attrs

from tqlbuilder.build.query import Query
from tqlbuilder.compiler.lower import lower
from tqlbuilder.engine.catalog import BM25_MAX_LIMIT, FUNCTIONS, METRICS, Metric
from tqlbuilder.errors import (
    BuildError,
    UnsupportedSyntaxError,
)
from tqlbuilder.levels.nodes import Select, SetOp
from tqlbuilder.tree.expr import (
    Alias,
    Binary,
    Column,
    Expr,
    Func,
    Literal,
    OrderKey,
    Star,
    Vector,
)
from tqlbuilder.tree.sources import (
    Dataset,
    SetOperation,
    Subquery,
    TextSearch,
    VectorSearch,
)
from tqlbuilder.tree.walk import calls_any, referenced_columns

__all__ = ["Recogniser", "lowers_to", "unflip_sorts"]

_POSITIONAL_FUNCTIONS = frozenset(name for name, fn in FUNCTIONS.items() if fn.positional)
_METRIC_BY_FUNCTION: dict[str, Metric] = {m.function: m for m in METRICS.values()}


_Node = Select | SetOp


def _alias_names(items: tuple[Expr, ...]) -> set[str]:
    return {item.name for item in items if isinstance(item, Alias)}


def unflip_sorts(levels: list[OrderKey]) -> tuple[OrderKey, ...]:
    """Undo the compiler's nested-sort direction flips (see ``compiler._sort_levels``).

    The compiler writes key i with ``effective = descending XOR flip`` and then sets
    ``flip ^= effective``; so ``descending = effective XOR flip`` with the same running flip.
    """
    flip = False
    keys = []
    for level in levels:
        effective = bool(level.descending)
        keys.append(OrderKey(level.expr, effective != flip))
        flip = flip != effective
    return tuple(keys)


def _wrapper_chain(sel: Select) -> list[Select]:
    """``sel`` and the ``SELECT * FROM (...)`` levels below it that could be one builder query.

    Every level but the first and the last must be a pure wrapper: ``SELECT *`` (no items), no
    grouping, no LIMIT/OFFSET/SAMPLE. The first may project and page; the last is any SELECT.
    """
    chain = [sel]
    current = sel
    while isinstance(current.source, Select) and len(chain) < 8:
        if current.grouped or (current is not sel and (current.items or current.has_tail)):
            break
        current = current.source
        chain.append(current)
    return chain


def _vector_search(items: tuple[Expr, ...]) -> VectorSearch | None:
    """The search a select list ends with: ``..., <metric>(col, vec) AS "alias"`` (or None)."""
    if not items:
        return None
    last = items[-1]
    if not isinstance(last, Alias) or not isinstance(last.operand, Func):
        return None
    func = last.operand
    metric = _METRIC_BY_FUNCTION.get(func.name)
    if metric is None:
        return None
    if metric.difference:
        if len(func.args) != 1:
            return None
        diff = func.args[0]
        if not isinstance(diff, Binary) or diff.op != "-":
            return None
        column, query_vector = diff.left, diff.right
    else:
        if len(func.args) != 2:
            return None
        first, second = func.args
        if not isinstance(first, Expr) or not isinstance(second, Expr):
            return None
        column, query_vector = first, second
    if isinstance(column, Vector):
        return None
    if isinstance(query_vector, Vector) and len(query_vector.shape) != metric.ndim:
        return None
    return VectorSearch(column, query_vector, metric, last.name, last.text)


def _movable(condition: Expr, aliases: set[str]) -> bool:
    """Whether a wrapper's filter can be applied inside the base instead (same rows).

    Filters on the base's aliases must stay above it. So must filters that read no column at
    all: the builder writes an empty IN list on an alias as a bare TRUE/FALSE one level up,
    and moving it would change the text of such builder output.
    """
    columns = referenced_columns(condition)
    return bool(columns) and not columns & aliases


def lowers_to(query: Query, level: Select) -> bool:
    """Whether the builder writes ``query`` as exactly the level tree ``level``."""
    try:
        return lower(query).key() == level.key()
    except BuildError:
        return False


class Recogniser:
    """Turns the syntax tree into builder queries, recognising the builder's compiled shapes."""

    def __init__(self, text: str) -> None:
        self.text = text
        # id(node) -> (node, value): holding the node keeps its id from being reused
        self._queries: dict[int, tuple[_Node, Query]] = {}

    def query(self, node: _Node) -> Query:
        hit = self._queries.get(id(node))
        if hit is not None:
            return hit[1]
        if isinstance(node, SetOp):
            result = Query(source=self._set_operation(node))
        else:
            result = self._select(node)
        self._queries[id(node)] = (node, result)
        return result

    # ------------------------------------------------------------------ levels
    def _source(self, source: Dataset | _Node | None) -> Dataset | Subquery | SetOperation | None:
        if source is None or isinstance(source, Dataset):
            return source
        if isinstance(source, SetOp):
            return self._set_operation(source)
        return Subquery(self.query(source))

    def _set_operation(self, node: SetOp) -> SetOperation:
        return SetOperation(node.op, tuple(self.query(operand) for operand in node.operands))

    def _select(self, sel: Select) -> Query:
        target = sel
        text_search = self.text_search(sel)
        if text_search is not None and lowers_to(text_search, target):
            return text_search
        for candidate in self._chain_candidates(sel):
            if lowers_to(candidate, target):
                return candidate
        # A vector search filtered one level up (REST shape A) is still a vector search; this
        # comes before the exact one-to-one mapping, which would keep it as two plain levels.
        pushdowns = list(self._pushdown_candidates(sel))
        for candidate, pushed in pushdowns:
            if candidate.search is not None and lowers_to(candidate, pushed):
                return candidate
        generic = self._generic(sel)
        if lowers_to(generic, target):
            return generic
        # No exact match: the result will be written differently, so make sure it means the same.
        self._check_level(sel)
        for candidate, pushed in pushdowns:
            if lowers_to(candidate, pushed):
                return candidate
        try:
            generic.to_tql()
        except BuildError as exc:
            raise UnsupportedSyntaxError(str(exc), text=self.text, position=sel.start) from exc
        return generic

    def _check_level(self, sel: Select) -> None:
        """Refuse same-level combinations whose meaning the builder would change."""

        def refuse(construct: str, reason: str) -> NoReturn:
            raise UnsupportedSyntaxError(
                f"{construct} is not supported: {reason}", text=self.text, position=sel.start
            )

        aliases = _alias_names(sel.items)
        used = [("WHERE", c) for c in sel.where]
        if sel.order is not None:
            used.append(("ORDER BY", sel.order.expr))
        for clause, expr in used:
            clash = referenced_columns(expr) & aliases
            if clash:
                names = ", ".join(sorted(repr(name) for name in clash))
                refuse(
                    f"{clause} on the select-list alias {names} of the same SELECT",
                    "the engine does not see aliases at their own level (it reads a source "
                    "column of that name or fails with 'Tensor does not exist'); wrap it: "
                    f"SELECT * FROM (SELECT ... AS name ...) {clause} name ...",
                )
        if sel.groups and sel.ungroup is not None:
            refuse(
                "GROUP BY and UNGROUP BY in one SELECT",
                "the engine fails with 'GROUP and UNGROUP can't be used on the same statement'",
            )
        if sel.grouped and (sel.limit is not None or sel.offset):
            refuse(
                "LIMIT/OFFSET on the same level as GROUP BY / UNGROUP BY",
                "the engine applies it to the rows before grouping, while the builder's "
                "group_by(...).limit(n) limits the groups; write SELECT * FROM (... GROUP BY ...) "
                "LIMIT n, or put the LIMIT in a subquery under the GROUP BY",
            )

    def _generic(self, sel: Select) -> Query:
        return Query(
            items=sel.items,
            source=self._source(sel.source),
            conditions=sel.where,
            groups=sel.groups,
            ungroup_count=sel.ungroup,
            ordering=(sel.order,) if sel.order is not None else (),
            row_limit=sel.limit,
            row_offset=sel.offset,
            sampling=sel.sampling,
        )

    def _chain_candidates(self, sel: Select) -> Iterator[Query]:
        chain = _wrapper_chain(sel)
        for depth in range(len(chain) - 1, 0, -1):
            yield from self._merged(chain, depth)

    def _merged(self, chain: list[Select], depth: int) -> Iterator[Query]:
        """Builder queries that could compile to ``chain[0]`` over base ``chain[depth]``."""
        top, base = chain[0], chain[depth]
        if base.has_tail or (top.items and base.items):
            return
        items = top.items or base.items
        conditions = base.where + tuple(c for level in reversed(chain[:depth]) for c in level.where)
        levels = [level.order for level in chain[: depth + 1] if level.order is not None]
        ordering = unflip_sorts(levels)
        source = self._source(base.source)

        def build(
            items: tuple[Expr, ...], ordering: tuple[OrderKey, ...], search: VectorSearch | None
        ) -> Query:
            return Query(
                items=items,
                source=source,
                conditions=conditions,
                groups=base.groups,
                ungroup_count=base.ungroup,
                ordering=ordering,
                row_limit=top.limit,
                row_offset=top.offset,
                sampling=top.sampling,
                search=search,
            )

        search = None if top.items else _vector_search(items)
        if search is not None:
            search_items = items[:-1]
            if len(search_items) == 1 and isinstance(search_items[0], Star):
                search_items = ()
            natural = (
                len(levels) == 1
                and isinstance(levels[0].expr, Column)
                and levels[0].expr.name == search.alias
                and levels[0].descending == search.metric.descending
            )
            yield build(search_items, () if natural else ordering, search)
        yield build(items, ordering, None)

    def text_search(self, sel: Select) -> Query | None:
        """The builder's BM25 page (see `bm25_paging()`).

        ``SELECT items FROM (SELECT * FROM src WHERE ... ORDER BY BM25_SIMILARITY(col, 't') DESC
        LIMIT M) LIMIT k [OFFSET o]`` with the fixed ``M``. A hand-written ``ORDER BY BM25...
        DESC LIMIT n`` stays a plain ordered query (it means that heap's top n).
        """
        ranked = sel.source
        if (
            not isinstance(ranked, Select)
            or sel.limit is None
            or sel.where
            or sel.order is not None
            or sel.grouped
            or sel.sampling is not None
            or ranked.items
            or ranked.grouped
            or ranked.offset
            or ranked.sampling is not None
            or ranked.limit != BM25_MAX_LIMIT
        ):
            return None
        key = ranked.order
        if key is None or not key.descending:
            return None
        func = key.expr
        if not isinstance(func, Func) or func.name != "BM25_SIMILARITY" or len(func.args) != 2:
            return None
        column, query_text = func.args
        if not isinstance(column, Expr) or not isinstance(query_text, Literal):
            return None
        return Query(
            items=sel.items,
            source=self._source(ranked.source),
            conditions=ranked.where,
            row_limit=sel.limit,
            row_offset=sel.offset or None,
            search=TextSearch(column, query_text),
        )

    def _pushdown_candidates(self, sel: Select) -> Iterator[tuple[Query, Select]]:
        """Chain candidates paired with the chain rewritten so movable filters sit in the base.

        A filter written on a ``SELECT * FROM (base)`` wrapper reads the same rows when it is
        applied inside the base instead, as long as it does not use the base's aliases and the
        base has no LIMIT/OFFSET/SAMPLE, grouping or ROW_NUMBER()/RANDOM() items. This is what
        recognises hand-written vector searches filtered one level up (REST shape A).
        """
        chain = _wrapper_chain(sel)
        for depth in range(len(chain) - 1, 0, -1):
            base = chain[depth]
            if (
                base.has_tail
                or base.grouped
                or any(calls_any(item, _POSITIONAL_FUNCTIONS) for item in base.items)
            ):
                continue
            aliases = _alias_names(base.items)
            moved: list[Expr] = []
            kept: list[tuple[Expr, ...]] = []
            for level in reversed(chain[:depth]):
                stay = tuple(c for c in level.where if not _movable(c, aliases))
                moved.extend(c for c in level.where if _movable(c, aliases))
                kept.append(stay)
            if not moved:
                continue
            node = attrs.evolve(base, where=base.where + tuple(moved))
            for level, stay in zip(reversed(chain[:depth]), kept, strict=True):
                node = attrs.evolve(level, where=stay, source=node)
            for candidate in self._merged(chain, depth):
                yield candidate, node
