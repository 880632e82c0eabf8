"""The statement grammar: SELECT levels, set operations, clauses, in the engine's order.

Produces `Select` / `SetOp` trees
whose expressions are already builder nodes; constructs the builder does not offer because the
engine gets them wrong are refused here with `UnsupportedSyntaxError`.
"""

from __future__ import annotations

import attrs

from tqlbuilder.engine.lexicon import (
    JOIN_WORDS,
)
from tqlbuilder.engine.rules import (
    constant_sampling_problem,
    unaliased_item_problem,
)
from tqlbuilder.levels.nodes import Select, SetOp
from tqlbuilder.levels.printer import compile_expr
from tqlbuilder.parser.cursor import _KEYWORD, _OPERATOR, _STRING, _describe, _is_count, _split_and
from tqlbuilder.parser.expressions import _JOIN_REASON, ExpressionParser
from tqlbuilder.tree.expr import (
    Alias,
    Column,
    Expr,
    Literal,
    OrderKey,
    Star,
    Vector,
    Verbatim,
)
from tqlbuilder.tree.literals import render_identifier
from tqlbuilder.tree.sources import (
    Dataset,
    Sampling,
)
from tqlbuilder.tree.walk import reads_json, referenced_columns

__all__ = ["Parser"]

_TAIL_WORDS = frozenset({"ORDER", "LIMIT", "OFFSET", "SAMPLE"})
_Node = Select | SetOp


class Parser(ExpressionParser):
    """Recursive descent over the lexer's tokens, one statement."""

    # ------------------------------------------------------------------ statements
    def statement(self) -> _Node:
        """``query := select_statement [';']``; exactly one statement."""
        if not self.tokens:
            self._error("empty query; expected SELECT")
        if self._is_kw("WITH"):
            self._unsupported(
                "WITH (common table expressions)",
                "the engine treats the CTE name as a dataset path and fails; use a subquery",
            )
        node = self._query_expr()
        if self._accept_op(";") and self._peek() is not None:
            self._error("multiple statements are not supported in TQL (text after ';')")
        if self._peek() is not None:
            self._unexpected("end of query")
        return node

    def _query_expr(self) -> _Node:
        """A SELECT with its ORDER BY/LIMIT/SAMPLE, a parenthesised query, or a UNION chain."""
        self._nest()
        try:
            return self._query_body()
        finally:
            self.depth -= 1

    def _query_body(self) -> _Node:
        start = self.position()
        first: _Node
        if self._is_op("("):
            first = self._paren_query()
            if not self._is_kw("UNION", "INTERSECT", "EXCEPT"):
                return first
        else:
            core = self._select_core()
            if not self._is_kw("UNION", "INTERSECT", "EXCEPT"):
                return self._select_tail(core)
            first = core
        operands: list[_Node] = [first]
        op = ""
        while self._is_kw("UNION", "INTERSECT", "EXCEPT"):
            tok = self.tokens[self.i]
            self.i += 1
            this = str(tok.value)
            if this == "UNION" and self._accept_kw("ALL"):
                this = "UNION ALL"
            if op and this != op:
                self._unsupported(
                    f"mixing {op} and {this}",
                    "write one kind of set operation per level and nest the others: "
                    "(A) UNION ((B) INTERSECT (C))",
                    tok.start,
                )
            op = this
            if self._is_op("("):
                operands.append(self._paren_query())
            elif self._is_kw("SELECT"):
                operands.append(self._select_core())
            else:
                self._unexpected(f"SELECT or '(' after {op}")
        if self._is_kw(*_TAIL_WORDS):
            self._unsupported(
                f"{_describe(self._peek())} after a UNION",
                "the engine ignores ORDER BY/LIMIT written after a UNION (and leaks an extra "
                "column); wrap the union: SELECT * FROM ((A) UNION (B)) ORDER BY ... LIMIT ...",
            )
        return SetOp(op, tuple(operands), start)

    def _paren_query(self) -> _Node:
        opened = self.position()
        self.i += 1  # '('
        if self._is_kw("WITH"):
            self._unsupported("WITH (common table expressions)", "use a subquery")
        node = self._query_expr()
        self._expect_op(")", f"to close the subquery opened at position {opened}")
        return node

    def _select_core(self) -> Select:
        """``SELECT list [FROM src] [WHERE e] [GROUP BY ...] [UNGROUP BY n]``."""
        if not self._is_kw("SELECT"):
            self._unexpected("SELECT")
        start = self.position()
        source: Dataset | _Node | None = None
        where: tuple[Expr, ...] = ()
        groups: tuple[Expr, ...] = ()
        ungroup: int | None = None
        self.i += 1
        if self._is_kw("TOP"):
            self._unsupported(
                "TOP n", "the builder writes LIMIT n, which the engine reads the same way"
            )
        if self._is_kw("DISTINCT"):
            self._unsupported(
                "DISTINCT", "the engine silently ignores it and returns every row (duplicates)"
            )
        items = self._select_list()
        if self._accept_kw("FROM"):
            source = self._table_ref()
        if self._accept_kw("WHERE"):
            # text means what the engine does with it: keep JSON conditions verbatim
            where = tuple(Verbatim(c) if reads_json(c) else c for c in _split_and(self._expr()))
        if self._is_kw("EXPAND"):
            self._unsupported(
                "EXPAND BY", "it is deprecated and the engine does not expand (it is a no-op)"
            )
        if self._accept_kw("GROUP"):
            self._expect_kw("BY", "after GROUP")
            groups = self._expr_list("GROUP BY")
        if self._is_kw("HAVING"):
            self._unsupported(
                "HAVING", "the engine parses it and silently ignores it (all groups are returned)"
            )
        if self._is_kw("ACROSS"):
            self._unsupported("GROUP BY ... ACROSS", "its meaning on the engine is undocumented")
        if self._accept_kw("UNGROUP"):
            self._expect_kw("BY", "after UNGROUP")
            ungroup = self._ungroup_count()
        return Select(items, source, where, groups, ungroup, start=start)

    def _select_list(self) -> tuple[Expr, ...]:
        items: list[Expr] = []
        unnamed: list[tuple[Expr, int]] = []
        while True:
            if self._accept_op("*"):
                items.append(Star())
            else:
                start = self.position()
                expr = self._expr()
                if self._accept_kw("AS"):
                    expr = Alias(expr, self._alias_name())
                elif self._is_name():
                    expr = Alias(expr, self._alias_name())  # bare alias: SELECT id ident
                elif not isinstance(expr, Column):
                    unnamed.append((expr, start))
                items.append(expr)
            if not self._accept_op(","):
                break
        after = self._peek()
        if after is None or after.kind in (_KEYWORD, _OPERATOR):
            for expr, start in unnamed:  # not before a syntax error the next token makes
                problem = unaliased_item_problem(len(referenced_columns(expr)))
                if problem is not None:
                    self._unsupported(
                        f"the select item {compile_expr(expr)}", f"{problem}; add AS name", start
                    )
        if len(items) == 1 and isinstance(items[0], Star):
            return ()
        return tuple(items)

    def _alias_name(self) -> str:
        tok = self._peek()
        if tok is None or not self._is_name():
            if tok is not None and tok.kind is _KEYWORD:
                self._error(
                    f"unexpected {tok.value}; expected an alias name (a keyword must be quoted: "
                    f'AS "{tok.text.lower()}")'
                )
            self._unexpected("an alias name")
        self.i += 1
        return str(tok.value)

    def _expr_list(self, clause: str) -> tuple[Expr, ...]:
        exprs = [self._expr()]
        while self._accept_op(","):
            exprs.append(self._expr())
        if self._is_kw("AS"):
            self._unsupported(f"an alias in {clause}", "name the column in the select list")
        return tuple(exprs)

    def _ungroup_count(self) -> int:
        start = self.position()
        if self._is_kw("SPLIT"):
            self._unsupported(
                "UNGROUP BY SPLIT", "the builder only offers ungroup_by(n) (UNGROUP BY n)"
            )
        expr = self._expr()
        if isinstance(expr, Vector):
            self._unsupported(
                "UNGROUP BY ARRAY[...]",
                "the engine splits erratically (rows from the wrong groups); use UNGROUP BY n",
                start,
            )
        if not isinstance(expr, Literal) or not _is_count(expr) or expr.value < 1:
            self._unsupported(
                "UNGROUP BY with anything but a positive integer",
                "the engine accepts only a number or an array there",
                start,
            )
        return int(expr.value)

    def _table_ref(self) -> Dataset | _Node:
        source: Dataset | _Node
        tok = self._peek()
        if self._is_op("("):
            source = self._paren_query()
        elif tok is not None and self._is_name():
            self.i += 1
            if self._is_op("."):
                self._unsupported(
                    "a schema-qualified source name", 'quote the whole path: FROM "a.b"'
                )
            path = str(tok.value)
            source = Dataset(path, render_identifier(path, argument="dataset path"))
        elif tok is not None and tok.kind is _STRING:
            self._error(
                'unexpected string; a dataset path must be double-quoted: FROM "hub://org/ds" '
                "(single quotes make a string literal)"
            )
        else:
            self._unexpected("a dataset path in double quotes or a parenthesised SELECT")
        if self._is_kw("AS") or self._is_name():
            self._unsupported(
                "a table alias (FROM ... AS t)",
                "the builder has no table aliases or qualified names; drop the alias",
            )
        if self._is_op(","):
            self._unsupported(
                "a comma join (FROM a, b)",
                "the engine zips the sources row by row instead of forming a cross product",
            )
        if self._is_kw(*JOIN_WORDS):
            self._unsupported("JOIN", _JOIN_REASON)
        return source

    def _select_tail(self, sel: Select) -> Select:
        """``[ORDER BY key [ASC|DESC]] [LIMIT n [OFFSET m] | OFFSET m] [SAMPLE BY ...]``."""
        if self._accept_kw("ORDER"):
            self._expect_kw("BY", "after ORDER")
            key = self._expr()
            descending = False
            if self._accept_kw("DESC"):
                descending = True
            else:
                self._accept_kw("ASC")
            if self._is_op(","):
                self._unsupported(
                    "a second ORDER BY key",
                    "the engine sorts on the first key only and silently ignores the others; "
                    "order_by(a, b) in the builder does what was meant (nested stable sorts)",
                )
            sel = attrs.evolve(sel, order=OrderKey(key, descending))
        if self._accept_kw("LIMIT"):
            if not self._accept_kw("ALL"):
                sel = attrs.evolve(sel, limit=self._count("LIMIT"))
            if self._accept_kw("OFFSET"):
                sel = attrs.evolve(sel, offset=self._count("OFFSET"))
        elif self._accept_kw("OFFSET"):
            sel = attrs.evolve(sel, offset=self._count("OFFSET"))
            if self._is_kw("LIMIT"):
                self._error("unexpected LIMIT: OFFSET must come after LIMIT (LIMIT n OFFSET m)")
        if self._is_kw("PERCENT"):
            self._error("unexpected PERCENT: LIMIT n PERCENT is only valid after SAMPLE BY")
        if self._accept_kw("SAMPLE"):
            self._expect_kw("BY", "after SAMPLE")
            sel = attrs.evolve(sel, sampling=self._sampling())
        return sel

    def _sampling(self) -> Sampling:
        start = self.position()
        weights = self._expr()
        if isinstance(weights, Literal):
            problem = constant_sampling_problem(weights.value)
            if problem is not None:
                self._unsupported(f"SAMPLE BY {weights.text}", problem, start)
        replace = True  # the engine's default: sampling with replacement
        if self._accept_kw("REPLACE"):
            if self._accept_kw("FALSE"):
                replace = False
            else:
                self._accept_kw("TRUE")
        limit = None
        if self._accept_kw("LIMIT"):
            limit = self._count("SAMPLE BY ... LIMIT")
            if self._is_kw("PERCENT"):
                self._unsupported(
                    "SAMPLE BY ... LIMIT n PERCENT", "the builder's sample_by(limit=n) is a count"
                )
        return Sampling(weights, replace, limit)

    def _count(self, clause: str) -> int:
        start = self.position()
        expr = self._expr()
        if isinstance(expr, Literal) and type(expr.value) is int and expr.value >= 0:
            return int(expr.value)
        if isinstance(expr, Literal) and isinstance(expr.value, (int, float)):
            reason = (
                "the engine returns no rows for a negative count instead of all of them"
                if expr.value < 0
                else "the engine truncates a fractional count; write an integer"
            )
        else:
            reason = "the engine fails on an expression there (std::get: wrong index)"
        self._unsupported(f"{clause} {compile_expr(expr)}", reason, start)
