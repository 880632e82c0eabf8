"""SELECT levels: one SELECT as written, and set operations between them.

The compiler lowers a builder `Query` into a tree of levels
(`tqlbuilder.compiler.lower`); the parser reads text into the same tree
(`tqlbuilder.parser.grammar`) and recognises the builder's shapes in it by comparing level
trees (`tqlbuilder.parser.recognise`); `tqlbuilder.levels.printer` writes a tree as one
line of TQL for both.

>>> from tqlbuilder.tree.expr import col
>>> level = Select(items=(col("id"),), where=(col("year") > 2020,), limit=5)
>>> level.has_tail, level.grouped
(True, False)
"""

from __future__ import annotations

from typing import Any

import attrs

from tqlbuilder.tree.expr import Expr, OrderKey
from tqlbuilder.tree.sources import Dataset, Sampling

__all__ = ["Level", "Select", "SetOp"]


@attrs.frozen(eq=False)
class Select:
    """One SELECT level.

    Attributes:
        items: the select list; empty means ``*``.
        source: ``FROM``: a dataset, a nested level, or None (the handle a query runs on).
        where: conditions joined with AND.
        groups: ``GROUP BY`` keys.
        ungroup: ``UNGROUP BY n``.
        order: the single ``ORDER BY`` key (the engine sorts on the first key only), with its
            direction as written (``descending`` is a bool here).
        limit, offset: ``LIMIT`` / ``OFFSET`` (an offset of 0 is not written).
        sampling: ``SAMPLE BY ... REPLACE ... [LIMIT n]``.
        start: where the level starts in parsed text (0 for compiled levels; not compared).
    """

    items: tuple[Expr, ...] = ()
    source: Dataset | Select | SetOp | None = None
    where: tuple[Expr, ...] = ()
    groups: tuple[Expr, ...] = ()
    ungroup: int | None = None
    order: OrderKey | None = None
    limit: int | None = None
    offset: int | None = None
    sampling: Sampling | None = None
    start: int = 0

    def with_order(self, order: OrderKey | None) -> Select:
        """This level with another ORDER BY key (``attrs.evolve`` unrolled: a compiler hot path)."""
        return Select(
            self.items,
            self.source,
            self.where,
            self.groups,
            self.ungroup,
            order,
            self.limit,
            self.offset,
            self.sampling,
            self.start,
        )

    def with_tail(self, limit: int | None, offset: int | None, sampling: Sampling | None) -> Select:
        """This level with another LIMIT, OFFSET and SAMPLE BY (``attrs.evolve`` unrolled)."""
        return Select(
            self.items,
            self.source,
            self.where,
            self.groups,
            self.ungroup,
            self.order,
            limit,
            offset,
            sampling,
            self.start,
        )

    @property
    def has_tail(self) -> bool:
        """Whether LIMIT, OFFSET or SAMPLE BY limits the rows this level returns."""
        return self.limit is not None or bool(self.offset) or self.sampling is not None

    @property
    def grouped(self) -> bool:
        """Whether the level groups or ungroups rows."""
        return bool(self.groups) or self.ungroup is not None

    def key(self) -> tuple[Any, ...]:
        """A structural fingerprint: equal keys print identical TQL."""
        source = self.source
        return (
            "Select",
            tuple(item.key() for item in self.items),
            None if source is None else source.key(),
            tuple(c.key() for c in self.where),
            tuple(g.key() for g in self.groups),
            self.ungroup,
            None if self.order is None else self.order.key(),
            self.limit,
            self.offset or None,
            None if self.sampling is None else self.sampling.key(),
        )


@attrs.frozen(eq=False)
class SetOp:
    """``(A) UNION (B) ...``: operands are levels (UNION keeps duplicates on the engine)."""

    op: str
    operands: tuple[Select | SetOp, ...]
    start: int = 0

    def key(self) -> tuple[Any, ...]:
        """A structural fingerprint: equal keys print identical TQL."""
        return ("SetOp", self.op, tuple(operand.key() for operand in self.operands))


Level = Select | SetOp
