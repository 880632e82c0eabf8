"""Read TQL text back into a builder :class:`~tqlbuilder.build.query.Query`.

:func:`parse` is a hand-written recursive-descent parser over the project's lexer, following the
engine's grammar (the v4 bison grammar, reference sections 2-5) and its operator precedence. It
works in two steps:

1. **Syntax.** The text becomes a small tree of SELECT levels whose expressions are already
   builder nodes (``Column``, ``Literal``, ``Binary``...). Constructs the builder deliberately
   does not offer are refused here with :class:`UnsupportedSyntaxError` (an
   :class:`~tqlbuilder.errors.UnsupportedConstructError`) saying what the engine gets wrong and
   where; text the engine would silently truncate (unknown character, CR, NUL, comment,
   unterminated quote) and text that is not TQL are refused with a
   :class:`~tqlbuilder.errors.TQLSyntaxError` carrying the 0-based position.
2. **Shapes.** Each level becomes a ``Query``. The builder compiles one ``Query`` into several
   nested SELECTs (vector search, nested sorts, grouping under a LIMIT, BM25 paging), so
   candidate ``Query`` values that fold a chain of ``SELECT * FROM (...)`` wrappers back into one
   query are proposed and *accepted only if they compile to exactly the canonical text of the
   input* (the builder's own rendering of the same tree): text equality is what makes the
   recognition safe. In order: an exact candidate; a vector search whose filter sits one level
   up (REST shape A), accepted if it compiles to the input with that filter moved into the
   search (same rows: nothing between the two levels limits or groups); the level mapped one to
   one onto a ``Query``; and, when that one-to-one ``Query`` would be written differently, the
   same-level constructs whose meaning the builder would change are refused first (an alias
   used in its own SELECT's WHERE/ORDER BY, LIMIT next to GROUP BY).

For builder output, ``parse(q.to_tql()).to_tql() == q.to_tql()``; for hand-written TQL the
recompiled text means the same (names quoted, ``==`` -> ``=``, ``<>`` -> ``!=``, compound
operands parenthesised).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import NoReturn

import attrs
import numpy as np

from tqlbuilder.build.query import Query
from tqlbuilder.compiler.compile import compile_expr, referenced_columns
from tqlbuilder.errors import (
    BuildError,
    TQLSyntaxError,
    UnsupportedSyntaxError,
)
from tqlbuilder.text.lexer import Token, TokenKind, lex
from tqlbuilder.tree.expr import (
    Alias,
    Binary,
    BoolOp,
    Column,
    Expr,
    Func,
    InList,
    IsNull,
    Like,
    Literal,
    Neg,
    Not,
    OrderKey,
    Star,
    Vector,
    WeightPair,
    as_literal,
    col,
    vector,
)
from tqlbuilder.tree.literals import has_word_token, render_identifier
from tqlbuilder.tree.sources import (
    METRICS,
    Dataset,
    Metric,
    Sampling,
    SetOperation,
    Subquery,
    TextSearch,
    VectorSearch,
)

__all__ = ["SUPPORTED_FUNCTIONS", "UnsupportedSyntaxError", "parse"]

# Token kinds as module constants: an enum attribute lookup costs ~8x a global read, and the
# parser compares kinds for every token of 1536-number ARRAY literals.
_KEYWORD = TokenKind.KEYWORD
_OPERATOR = TokenKind.OPERATOR
_IDENTIFIER = TokenKind.IDENTIFIER
_QUOTED = TokenKind.QUOTED_IDENTIFIER
_STRING = TokenKind.STRING
_INTEGER = TokenKind.INTEGER
_FLOAT = TokenKind.FLOAT
_COMMENT = TokenKind.COMMENT
_UNKNOWN = TokenKind.UNKNOWN
_UNTERMINATED_STRING = TokenKind.UNTERMINATED_STRING
_UNTERMINATED_IDENTIFIER = TokenKind.UNTERMINATED_IDENTIFIER

#: Engine functions the builder offers, with their arity (None: one or more ``cond: w`` pairs).
SUPPORTED_FUNCTIONS: Mapping[str, int | None] = MappingProxyType(
    {
        "ABS": 1,
        "ALL": 1,
        "ALL_STRICT": 1,
        "AMAX": 1,
        "AMIN": 1,
        "ANY": 1,
        "AVG": 1,
        "BM25_SIMILARITY": 2,
        "CONTAINS": 2,
        "COSINE_SIMILARITY": 2,
        "DATA": 2,
        "DOT": 2,
        "HAMMING_DISTANCE": 2,
        "KEYS": 1,
        "L1_NORM": 1,
        "L2_NORM": 1,
        "LINF_NORM": 1,
        "LOGICAL_AND": 2,
        "LOGICAL_OR": 2,
        "MAXSIM": 2,
        "MAX_WEIGHT": None,
        "NONZERO": 1,
        "PROD": 1,
        "RANDOM": 0,
        "ROW_NUMBER": 0,
        "SHAPE": 1,
        "SQRT": 1,
        "SUM": 1,
        "SUM_WEIGHT": None,
    }
)

_FUNCTION_HINTS = {
    "COUNT": "count with SHAPE(x)[0] (F.count)",
    "MIN": "use AMIN",
    "MAX": "use AMAX",
}

# Binding powers, lowest to highest (reference 3.1; the bison %left/%nonassoc/%right table).
_BP_NOT = 3  # prefix NOT: its operand takes everything that binds tighter
_BP_EQUALITY = 4  # = == != <> LIKE NOT LIKE ILIKE (non-associative)
_BP_ORDERING = 5  # < > <= >= (non-associative)
_BP_IS = 7  # IS [NOT] NULL, ISNULL (postfix)
_BP_ADD = 9  # + -
_BP_MUL = 10  # * / %; also the operand of a unary minus: -x * y is -(x * y) in the grammar
_NON_ASSOCIATIVE = frozenset({_BP_EQUALITY, _BP_ORDERING})

_INFIX: dict[str, tuple[str, int]] = {
    "=": ("=", _BP_EQUALITY),
    "==": ("=", _BP_EQUALITY),
    "!=": ("!=", _BP_EQUALITY),
    "<>": ("!=", _BP_EQUALITY),
    "<": ("<", _BP_ORDERING),
    ">": (">", _BP_ORDERING),
    "<=": ("<=", _BP_ORDERING),
    ">=": (">=", _BP_ORDERING),
    "+": ("+", _BP_ADD),
    "-": ("-", _BP_ADD),
    "*": ("*", _BP_MUL),
    "/": ("/", _BP_MUL),
    "%": ("%", _BP_MUL),
}
_ORDERING_OPS = frozenset({"<", "<=", ">", ">="})
_ARITHMETIC_OPS = frozenset({"+", "-", "*", "/", "%"})
_JOIN_WORDS = frozenset({"JOIN", "INNER", "LEFT", "RIGHT", "FULL", "OUTER", "CROSS", "NATURAL"})
_TAIL_WORDS = frozenset({"ORDER", "LIMIT", "OFFSET", "SAMPLE"})
_UNSUPPORTED_WORDS = {
    "NULL": (
        "the NULL literal",
        "the engine fails with 'NULL is not supported'; use IS NULL / IS NOT NULL",
    ),
    "CASE": ("CASE", "the engine fails with 'CASE is not supported'"),
    "CAST": ("CAST", "the engine fails with 'CAST is not supported'"),
    "EXISTS": ("EXISTS", "the engine fails with 'EXIST is not supported'"),
    "EXTRACT": ("EXTRACT", "the engine never runs it (date/time functions are not supported)"),
    "INTERVAL": ("INTERVAL", "the engine never runs it (date/time literals are not supported)"),
    "DATE": ("DATE literals", "the engine never runs them (date/time literals are not supported)"),
}
_JOIN_REASON = (
    "the builder does not offer joins (the engine joins only on column equality, and joins are "
    "not known to work over the REST endpoint); join on the client"
)
_POSITIONAL_FUNCTIONS = frozenset({"ROW_NUMBER", "RANDOM"})
_METRIC_BY_FUNCTION: dict[str, Metric] = {m.function: m for m in METRICS.values()}


# =========================================================================== entry point


def parse(text: str) -> Query:
    """Parse one TQL ``SELECT`` statement into a builder :class:`Query`.

    The result is an ordinary builder value (extend it with ``.where()``, ``.limit()``...).
    Raises :class:`~tqlbuilder.errors.TQLSyntaxError` (with ``position``) for text that is not
    valid TQL or that the engine would silently truncate, and :class:`UnsupportedSyntaxError`
    (an ``UnsupportedConstructError``) for valid TQL the builder does not offer because the
    engine gets it wrong (DISTINCT, JOIN, HAVING, a second ORDER BY key, ...).

    >>> parse('SELECT id FROM "hub://org/ds" WHERE year == 2020').to_tql()
    'SELECT "id" FROM "hub://org/ds" WHERE "year" = 2020'
    """
    if not isinstance(text, str):
        raise TypeError(f"parse() takes a str, got {type(text).__name__}")
    tokens = lex(text)
    _refuse_truncation(text, tokens)
    parser = _Parser(text, tokens)
    try:
        node = parser.statement()
        return _Converter(text).query(node)
    except (TQLSyntaxError, UnsupportedSyntaxError):
        raise
    except BuildError as exc:  # a builder constructor refused a value (e.g. CR in a name)
        raise UnsupportedSyntaxError(str(exc), text=text, position=parser.position()) from exc


def _refuse_truncation(text: str, tokens: list[Token]) -> None:
    """Refuse text the engine would read only in part, or not at all, as written."""
    for tok in tokens:
        kind = tok.kind
        if kind is _OPERATOR or kind is _FLOAT or kind is _KEYWORD or kind is _IDENTIFIER:
            continue  # the common kinds, none of them a hazard
        if kind is _COMMENT:
            _syntax(
                text,
                tok.start,
                "comment: the engine drops comments, and a -- comment followed by an indented or "
                "blank line silently swallows the rest of the query; remove it (write 'a - -1', "
                "not 'a--1')",
            )
        if kind is _UNKNOWN:
            char = tok.text
            what = {
                "\r": "carriage return (CR)",
                "\0": "NUL character",
                '""': 'empty quoted name ""',
            }.get(char, f"unknown character {char!r}")
            _syntax(
                text,
                tok.start,
                f"{what} outside quotes: the engine's lexer stops there and silently runs only "
                f"the text before it ({_prefix(text, tok.start)}); remove it or put it inside "
                "quotes",
            )
        if kind is _UNTERMINATED_STRING:
            _syntax(text, tok.start, "unterminated string literal (a ' is never closed)")
        if kind is _UNTERMINATED_IDENTIFIER:
            _syntax(
                text,
                tok.start,
                'unterminated quoted name (a " is never closed, or the name contains a newline): '
                f"the engine silently stops reading there ({_prefix(text, tok.start)})",
            )
        if (kind is _STRING or kind is _QUOTED) and "\0" in tok.text:
            _syntax(
                text,
                tok.start + tok.text.index("\0"),
                "NUL character: the engine reads the query as a C string and stops there",
            )
        if kind is _INTEGER and len(tok.text) > 18 and tok.out_of_range:
            _syntax(
                text,
                tok.start,
                f"integer literal {tok.text} is outside the int64 range the engine reads",
            )


def _prefix(text: str, end: int) -> str:
    head = text[:end]
    shown = head if len(head) <= 60 else "..." + head[-57:]
    return f"it would run {shown!r}"


def _syntax(text: str, position: int, message: str) -> NoReturn:
    raise TQLSyntaxError(message, text=text, position=position)


def _describe(tok: Token | None) -> str:
    """How a token is named in error messages (like the engine: ``unexpected LIMIT``)."""
    if tok is None:
        return "end of query"
    kind = tok.kind
    if kind is _KEYWORD:
        return str(tok.value)
    if kind is _OPERATOR:
        return repr(tok.text)
    if kind is _IDENTIFIER or kind is _QUOTED:
        return f"name {tok.text}"
    if kind is _STRING:
        shown = tok.text if len(tok.text) <= 24 else tok.text[:20] + "...'"
        return f"string {shown}"
    if kind is _INTEGER or kind is _FLOAT:
        return f"number {tok.text}"
    return repr(tok.text)  # pragma: no cover - other kinds are refused before parsing


# =========================================================================== syntax tree


@attrs.define(eq=False)
class _Select:
    """One SELECT level as written (expressions already builder nodes; no shape recognised)."""

    start: int
    items: tuple[Expr, ...] = ()
    source: Dataset | _Select | _Union | None = None
    where: tuple[Expr, ...] = ()
    groups: tuple[Expr, ...] = ()
    ungroup: int | None = None
    order: OrderKey | None = None
    limit: int | None = None
    offset: int | None = None
    sampling: Sampling | None = None

    @property
    def has_tail(self) -> bool:
        return self.limit is not None or bool(self.offset) or self.sampling is not None

    @property
    def grouped(self) -> bool:
        return bool(self.groups) or self.ungroup is not None


@attrs.define(eq=False)
class _Union:
    """``(A) UNION (B) ...`` (operands are SELECT levels or nested unions)."""

    start: int
    op: str
    operands: tuple[_Select | _Union, ...]


_Node = _Select | _Union


def _split_and(expr: Expr) -> tuple[Expr, ...]:
    """A WHERE expression as the builder's list of conditions (its top-level AND operands)."""
    if isinstance(expr, BoolOp) and expr.op == "AND":
        return expr.operands
    return (expr,)


def _is_text(expr: Expr) -> bool:
    return isinstance(expr, Literal) and isinstance(expr.value, str)


def _is_count(expr: Expr) -> bool:
    return isinstance(expr, Literal) and type(expr.value) is int


# =========================================================================== parser


class _Parser:
    """Recursive descent over the lexer's tokens (whitespace dropped, hazards already refused)."""

    def __init__(self, text: str, tokens: list[Token]) -> None:
        self.text = text
        self.tokens = tokens
        self.n = len(tokens)
        self.i = 0

    # ------------------------------------------------------------------ token helpers
    def _peek(self, offset: int = 0) -> Token | None:
        j = self.i + offset
        return self.tokens[j] if j < self.n else None

    def position(self) -> int:
        """Offset of the current token (the end of the text once every token is read)."""
        tok = self._peek()
        return tok.start if tok is not None else len(self.text)

    def _is_op(self, text: str, offset: int = 0) -> bool:
        tok = self._peek(offset)
        return tok is not None and tok.kind is _OPERATOR and tok.text == text

    def _is_kw(self, *words: str, offset: int = 0) -> bool:
        tok = self._peek(offset)
        return tok is not None and tok.kind is _KEYWORD and tok.value in words

    def _is_name(self, offset: int = 0) -> bool:
        tok = self._peek(offset)
        return tok is not None and (tok.kind is _IDENTIFIER or tok.kind is _QUOTED)

    def _accept_op(self, text: str) -> bool:
        if self._is_op(text):
            self.i += 1
            return True
        return False

    def _accept_kw(self, word: str) -> bool:
        if self._is_kw(word):
            self.i += 1
            return True
        return False

    def _expect_op(self, text: str, context: str) -> None:
        if not self._accept_op(text):
            self._error(f"expected {text!r} {context}, got {_describe(self._peek())}")

    def _expect_kw(self, word: str, context: str) -> None:
        if not self._accept_kw(word):
            self._error(f"expected {word} {context}, got {_describe(self._peek())}")

    def _error(self, message: str, position: int | None = None) -> NoReturn:
        _syntax(self.text, self.position() if position is None else position, message)

    def _unexpected(self, expected: str) -> NoReturn:
        self._error(f"unexpected {_describe(self._peek())}; expected {expected}")

    def _unsupported(self, construct: str, reason: str, position: int | None = None) -> NoReturn:
        where = self.position() if position is None else position
        raise UnsupportedSyntaxError(
            f"{construct} is not supported: {reason}", text=self.text, position=where
        )

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
        start = self.position()
        first: _Node
        if self._is_op("("):
            first = self._paren_query()
            if not self._is_kw("UNION", "INTERSECT", "EXCEPT"):
                return first
        else:
            core = self._select_core()
            if not self._is_kw("UNION", "INTERSECT", "EXCEPT"):
                self._select_tail(core)
                return core
            first = core
        operands: list[_Node] = [first]
        op = ""
        while self._is_kw("UNION", "INTERSECT", "EXCEPT"):
            tok = self.tokens[self.i]
            if tok.value != "UNION":
                self._unsupported(
                    str(tok.value),
                    "the engine fails with 'Can't compute intersection/difference of two "
                    "independent datasets'; combine conditions with AND / AND NOT instead",
                )
            self.i += 1
            this = "UNION ALL" if self._accept_kw("ALL") else "UNION"
            if op and this != op:
                self._unsupported(
                    "mixing UNION and UNION ALL", "write one kind of set operation", tok.start
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
        return _Union(start, op, tuple(operands))

    def _paren_query(self) -> _Node:
        opened = self.position()
        self.i += 1  # '('
        if self._is_kw("WITH"):
            self._unsupported("WITH (common table expressions)", "use a subquery")
        node = self._query_expr()
        self._expect_op(")", f"to close the subquery opened at position {opened}")
        return node

    def _select_core(self) -> _Select:
        """``SELECT list [FROM src] [WHERE e] [GROUP BY ...] [UNGROUP BY n]``."""
        if not self._is_kw("SELECT"):
            self._unexpected("SELECT")
        sel = _Select(self.position())
        self.i += 1
        if self._is_kw("TOP"):
            self._unsupported(
                "TOP n", "the builder writes LIMIT n, which the engine reads the same way"
            )
        if self._is_kw("DISTINCT"):
            self._unsupported(
                "DISTINCT", "the engine silently ignores it and returns every row (duplicates)"
            )
        sel.items = self._select_list()
        if self._accept_kw("FROM"):
            sel.source = self._table_ref()
        if self._accept_kw("WHERE"):
            sel.where = _split_and(self._expr())
        if self._is_kw("EXPAND"):
            self._unsupported(
                "EXPAND BY", "it is deprecated and the engine does not expand (it is a no-op)"
            )
        if self._accept_kw("GROUP"):
            self._expect_kw("BY", "after GROUP")
            sel.groups = self._expr_list("GROUP BY")
        if self._is_kw("HAVING"):
            self._unsupported(
                "HAVING", "the engine parses it and silently ignores it (all groups are returned)"
            )
        if self._is_kw("ACROSS"):
            self._unsupported("GROUP BY ... ACROSS", "its meaning on the engine is undocumented")
        if self._accept_kw("UNGROUP"):
            self._expect_kw("BY", "after UNGROUP")
            sel.ungroup = self._ungroup_count()
        return sel

    def _select_list(self) -> tuple[Expr, ...]:
        items: list[Expr] = []
        while True:
            if self._accept_op("*"):
                items.append(Star())
            else:
                expr = self._expr()
                if self._accept_kw("AS"):
                    expr = Alias(expr, self._alias_name())
                elif self._is_name():
                    expr = Alias(expr, self._alias_name())  # bare alias: SELECT id ident
                items.append(expr)
            if not self._accept_op(","):
                break
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
        if self._is_kw(*_JOIN_WORDS):
            self._unsupported("JOIN", _JOIN_REASON)
        return source

    def _select_tail(self, sel: _Select) -> None:
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
            sel.order = OrderKey(key, descending)
        if self._accept_kw("LIMIT"):
            if not self._accept_kw("ALL"):
                sel.limit = self._count("LIMIT")
            if self._accept_kw("OFFSET"):
                sel.offset = self._count("OFFSET")
        elif self._accept_kw("OFFSET"):
            sel.offset = self._count("OFFSET")
            if self._is_kw("LIMIT"):
                self._error("unexpected LIMIT: OFFSET must come after LIMIT (LIMIT n OFFSET m)")
        if self._is_kw("PERCENT"):
            self._error("unexpected PERCENT: LIMIT n PERCENT is only valid after SAMPLE BY")
        if self._accept_kw("SAMPLE"):
            self._expect_kw("BY", "after SAMPLE")
            sel.sampling = self._sampling()

    def _sampling(self) -> Sampling:
        start = self.position()
        weights = self._expr()
        if isinstance(weights, Literal) and (
            isinstance(weights.value, (str, bool)) or weights.value <= 0
        ):
            self._unsupported(
                f"SAMPLE BY {weights.text}",
                "a constant sampling weight must be a positive number (all-zero weights make "
                "the engine allocate memory without bound)",
                start,
            )
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

    # ------------------------------------------------------------------ expressions
    def _expr(self) -> Expr:
        """``expr OR expr``: the lowest precedence level."""
        first = self._conjunction()
        if not self._is_kw("OR"):
            return first
        operands = [first]
        while self._accept_kw("OR"):
            operands.append(self._conjunction())
        return BoolOp("OR", tuple(operands))  # not .of(): a parenthesised OR stays nested

    def _conjunction(self) -> Expr:
        first = self._predicate()
        if not self._is_kw("AND"):
            return first
        operands = [first]
        while self._accept_kw("AND"):
            operands.append(self._predicate())
        return BoolOp("AND", tuple(operands))

    def _predicate(self) -> Expr:
        """``operand [NOT] IN (...)`` / ``operand BETWEEN a AND b``: they apply to a whole operand.

        In the grammar IN and BETWEEN take a complete operand on their left, so
        ``NOT x IN (1)`` is ``(NOT x) IN (1)`` and ``a = b BETWEEN ...`` is ``(a = b) BETWEEN``.
        """
        left = self._operand(0)
        if self._is_kw("IN"):
            self.i += 1
            return self._in_list(left, negated=False)
        if self._is_kw("NOT") and self._is_kw("IN", offset=1):
            self.i += 2
            return self._in_list(left, negated=True)
        if self._accept_kw("BETWEEN"):
            low = self._operand(0)
            self._expect_kw("AND", "between the BETWEEN bounds")
            # .between(): writes (x >= a) AND (x <= b) where BETWEEN would kill the engine
            return left.between(low, self._operand(0))
        return left

    def _in_list(self, operand: Expr, *, negated: bool) -> Expr:
        if not self._is_op("("):
            self._error(
                f"expected '(' after IN, got {_describe(self._peek())} (TQL has no IN ARRAY[...])"
            )
        j = 1
        while self._is_op("(", offset=j):
            j += 1
        if self._is_kw("SELECT", "WITH", offset=j):
            self._unsupported(
                "IN (subquery)", "the engine silently returns no rows for x IN (SELECT ...)"
            )
        self.i += 1
        values: list[Literal] = []
        kinds: set[bool] = set()
        while True:
            start = self.position()
            value = self._expr()
            if not isinstance(value, Literal):
                self._unsupported(
                    f"IN with the non-literal value {compile_expr(value)}",
                    "the builder offers IN lists of literal values only (IN over expressions "
                    "returns wrong results on the engine); use = and OR",
                    start,
                )
            if self._is_kw("AS") or self._is_name():
                self._unsupported("an alias inside an IN list", "remove it")
            kinds.add(isinstance(value.value, str))
            if len(kinds) > 1:
                self._unsupported(
                    "an IN list mixing strings and numbers",
                    "the engine cannot compare them in one list ('Can't convert string to "
                    "numeric')",
                    start,
                )
            values.append(value)
            if not self._accept_op(","):
                break
        self._expect_op(")", "after IN list")
        text = ", ".join(value.text for value in values)
        return InList(operand, tuple(value.value for value in values), text, negated)

    def _operand(self, min_bp: int) -> Expr:
        """Precedence climbing over the operators of one operand (everything but AND/OR/IN)."""
        left = self._prefix()
        last_bp = 0  # binding power of the non-associative operator just applied, if any
        while True:
            tok = self._peek()
            if tok is None:
                return left
            if tok.kind is _OPERATOR:
                text = tok.text
                if text == "[":
                    left = self._subscript(left)
                    continue
                info = _INFIX.get(text)
                if info is None:
                    self._check_operator(text)
                    return left
                op, bp = info
                if bp < min_bp:
                    return left
                if bp == last_bp:
                    self._unexpected(
                        "AND, OR or the end of the comparison (comparisons do not chain: "
                        "write a < b AND b < c)"
                    )
                self.i += 1
                left = self._binary(op, left, self._operand(bp + 1), tok.start)
                last_bp = bp if bp in _NON_ASSOCIATIVE else 0
                continue
            if tok.kind is not _KEYWORD:
                return left
            word = tok.value
            if word in ("LIKE", "ILIKE") or (word == "NOT" and self._is_kw("LIKE", offset=1)):
                if min_bp > _BP_EQUALITY:
                    return left
                if last_bp == _BP_EQUALITY:
                    self._unexpected("AND, OR or the end of the comparison")
                negated = word == "NOT"
                self.i += 2 if negated else 1
                left = self._like(left, case_insensitive=word == "ILIKE", negated=negated)
                last_bp = _BP_EQUALITY
            elif word == "NOT":
                if min_bp > _BP_EQUALITY or self._is_kw("IN", offset=1):
                    return left
                after = self._peek(1)
                hint = {
                    "BETWEEN": " (there is no NOT BETWEEN: write NOT (x BETWEEN a AND b))",
                    "ILIKE": " (there is no NOT ILIKE: write NOT (x ILIKE 'p'))",
                }.get(str(after.value) if after is not None else "", "")
                self.i += 1
                self._unexpected(f"LIKE or IN after NOT{hint}")
            elif word == "IS" or word == "ISNULL":
                if min_bp > _BP_IS:
                    return left
                self.i += 1
                negated = False
                if word == "IS":
                    negated = self._accept_kw("NOT")
                    self._expect_kw("NULL", "after IS (only IS [NOT] NULL exists)")
                left = IsNull(left, negated)
            else:
                return left

    def _check_operator(self, text: str) -> None:
        if text in ("^", "||"):
            self._unsupported(
                f"the {text} operator",
                f"the engine fails with '{'CONCAT' if text == '||' else '^'} is not supported'",
            )
        if text == ".":
            for tok in self.tokens[self.i :]:  # t.column usually comes from a JOIN: name that
                if tok.kind is _KEYWORD and tok.value == "JOIN":
                    self._unsupported("JOIN", _JOIN_REASON, tok.start)
            self._unsupported(
                "a qualified name (t.column)",
                "the builder has no table aliases or joins; quote a dotted column name as "
                '"t.column"',
            )

    def _binary(self, op: str, left: Expr, right: Expr, position: int) -> Expr:
        if (_is_text(left) or _is_text(right)) and op in _ORDERING_OPS:
            self._unsupported(
                f"the text ordering comparison {op}",
                "the engine silently returns no rows for text < > <= >=; use =, IN, LIKE or "
                "BETWEEN (lexicographic)",
                position,
            )
        if (_is_text(left) or _is_text(right)) and op in _ARITHMETIC_OPS:
            self._unsupported(
                f"arithmetic {op} with a string",
                "TQL has no string concatenation or text arithmetic",
                position,
            )
        return Binary(op, left, right)

    def _like(self, operand: Expr, *, case_insensitive: bool, negated: bool) -> Expr:
        start = self.position()
        pattern = self._operand(_BP_EQUALITY + 1)
        if not isinstance(pattern, Literal) or not isinstance(pattern.value, str):
            self._unsupported(
                "a LIKE pattern that is not a string literal",
                "the builder's like()/ilike() take a pattern string",
                start,
            )
        return Like(operand, pattern, case_insensitive, negated)

    def _prefix(self) -> Expr:
        """An operand's first part: a name, literal, call, ARRAY, (expr), -x or NOT x."""
        tok = self._peek()
        if tok is None:
            self._unexpected("an expression")
        kind = tok.kind
        if kind is _IDENTIFIER or kind is _QUOTED:
            self.i += 1
            name = str(tok.value)
            if self._is_op("("):
                return self._call(name, tok.start)
            if self._is_op("."):
                self._check_operator(".")
            return col(name)
        if kind is _INTEGER or kind is _FLOAT:
            self.i += 1
            return self._number(tok, negative=False)
        if kind is _STRING:
            self.i += 1
            return as_literal(tok.value, argument="string literal")
        if kind is _OPERATOR:
            text = tok.text
            if text == "(":
                return self._parenthesized()
            if text == "-":
                return self._negation()
            if text == "*":
                self._unsupported(
                    "'*' inside an expression", "'*' is only valid alone in a select list"
                )
            if text == "?":
                self._unsupported(
                    "a ? parameter",
                    "placeholders exist only in the local SDK's prepared queries; put the value "
                    "in the query",
                )
            if text == "[":
                self._error(
                    "unexpected '['; a bare [...] is not an array literal in TQL: write ARRAY[...]"
                )
            self._unexpected("an expression")
        if kind is _KEYWORD:
            word = tok.value
            if word == "TRUE" or word == "FALSE":
                self.i += 1
                return as_literal(word == "TRUE", argument="boolean literal")
            if word == "NOT":
                self.i += 1
                if self._is_kw("EXISTS"):
                    construct, reason = _UNSUPPORTED_WORDS["EXISTS"]
                    self._unsupported(construct, reason)
                operand = self._operand(_BP_EQUALITY)
                if isinstance(operand, Like) and operand.case_insensitive and not operand.negated:
                    return Like(operand.operand, operand.pattern, True, True)  # same text
                return Not(operand)
            if word == "ARRAY":
                return self._array()
            if word == "ALL" and self._is_op("(", offset=1):
                self.i += 1
                return self._call("ALL", tok.start)
            if word in _UNSUPPORTED_WORDS:
                construct, reason = _UNSUPPORTED_WORDS[str(word)]
                self._unsupported(construct, reason)
            if word == "SELECT":
                self._unsupported(
                    "a subquery used as a value", "the engine fails with 'SELECT is not supported'"
                )
        self._unexpected("an expression")

    def _number(self, tok: Token, *, negative: bool) -> Literal:
        value = tok.value
        if isinstance(value, float) and math.isinf(value):
            self._unsupported(
                f"the literal {tok.text}",
                "it overflows to infinity on the engine, and TQL has no infinity literal",
                tok.start,
            )
        assert isinstance(value, (int, float))
        return as_literal(-value if negative else value, argument="number literal")

    def _negation(self) -> Expr:
        """Unary minus; applied directly to a number it folds into a negative literal."""
        self.i += 1
        tok = self._peek()
        if (
            tok is not None
            and (tok.kind is _INTEGER or tok.kind is _FLOAT)
            and not self._is_op("[", offset=1)
        ):
            self.i += 1
            if tok.value == 0 and tok.kind is _INTEGER:
                return Neg(self._number(tok, negative=False))  # keep "-0" (an int has no -0)
            return self._number(tok, negative=True)
        return Neg(self._operand(_BP_MUL))

    def _parenthesized(self) -> Expr:
        opened = self.position()
        j = 1
        while self._is_op("(", offset=j):
            j += 1
        if self._is_kw("SELECT", "WITH", offset=j):
            self._unsupported(
                "a subquery used as a value", "the engine fails with 'SELECT is not supported'"
            )
        number = self._peek(2)
        if (
            self._is_op("-", offset=1)
            and number is not None
            and (number.kind is _INTEGER or number.kind is _FLOAT)
            and self._is_op(")", offset=3)
        ):
            # "(-5)" is how the builder writes a negated literal as an operand (a bare -5 is a
            # negative literal); keep the negation so the text comes back the same
            self.i += 4
            return Neg(self._number(number, negative=False))
        if self._is_kw("TRUE", "FALSE", offset=1) and self._is_op(")", offset=2):
            # "(FALSE)" is how the builder writes an empty IN list inside AND/OR; keep it one
            value = self._is_kw("TRUE", offset=1)
            self.i += 3
            return InList(as_literal(value, argument="boolean literal"), (), "", value)
        self.i += 1
        inner = self._expr()
        self._expect_op(")", f"to close '(' opened at position {opened}")
        return inner

    def _call(self, written: str, start: int) -> Expr:
        """``NAME(args)`` / ``NAME(cond: w, ...)``, checked against the builder's functions."""
        name = written.upper()
        if name not in SUPPORTED_FUNCTIONS:
            hint = _FUNCTION_HINTS.get(name, "")
            self._unsupported(
                f"the function {written}",
                f"the engine does not have it{f' ({hint})' if hint else ''}; supported "
                f"functions: {', '.join(sorted(SUPPORTED_FUNCTIONS))}",
                start,
            )
        self.i += 1  # '('
        if self._is_kw("DISTINCT"):
            self._unsupported("DISTINCT inside a function call", "the engine ignores DISTINCT")
        args: list[Expr | WeightPair] = []
        pairs = 0
        if not self._accept_op(")"):
            while True:
                if self._is_op("*"):
                    self._unsupported(
                        f"{name}(*)", "'*' is not a function argument (COUNT does not exist)"
                    )
                arg_start = self.position()
                arg = self._expr()
                if self._is_kw("AS") or self._is_name():
                    self._unsupported("an alias inside a function call", "remove it")
                if self._accept_op(":"):
                    args.append(self._weight_pair(arg, arg_start))
                    pairs += 1
                else:
                    args.append(arg)
                if not self._accept_op(","):
                    break
            self._expect_op(")", f"after the arguments of {name}")
        self._check_call(name, args, pairs, start)
        return Func(name, tuple(args))

    def _weight_pair(self, condition: Expr, start: int) -> WeightPair:
        weight = self._expr()
        if (
            not isinstance(weight, Literal)
            or isinstance(weight.value, (str, bool))
            or weight.value < 0
        ):
            self._unsupported(
                "a sampling weight that is not a non-negative number",
                "MAX_WEIGHT/SUM_WEIGHT weights must be number literals >= 0",
                start,
            )
        return WeightPair(condition, weight)

    def _check_call(self, name: str, args: list[Expr | WeightPair], pairs: int, at: int) -> None:
        arity = SUPPORTED_FUNCTIONS[name]
        if arity is None:
            if not args or pairs != len(args):
                self._unsupported(
                    f"{name} without 'condition: weight' pairs",
                    f"{name}(cond1: w1, cond2: w2, ...) takes only such pairs",
                    at,
                )
            if all(isinstance(a, WeightPair) and a.weight.value == 0 for a in args):
                self._unsupported(
                    f"{name} with all weights zero",
                    "the engine allocates memory without bound on all-zero sampling weights",
                    at,
                )
            return
        if pairs:
            self._unsupported(
                f"'condition: weight' pairs in {name}",
                "they are only meaningful in MAX_WEIGHT / SUM_WEIGHT",
                at,
            )
        if len(args) != arity:
            self._unsupported(
                f"{name} with {len(args)} argument(s)",
                f"the engine's {name} takes {arity} (it fails with 'requires {arity} arguments')",
                at,
            )
        second = args[1] if arity == 2 else None
        if name == "BM25_SIMILARITY" and not (isinstance(second, Expr) and _is_text(second)):
            self._unsupported(
                "BM25_SIMILARITY without a string literal query", "write the search text", at
            )
        if (
            name == "CONTAINS"
            and isinstance(second, Literal)
            and isinstance(second.value, str)
            and not has_word_token(second.value)
        ):
            self._unsupported(
                f"CONTAINS with {second.text}",
                "a value without any word character kills the engine process (SIGSEGV) on a "
                "column with a text index",
                at,
            )
        if name == "DATA" and not (isinstance(second, Expr) and _is_count(second)):
            self._unsupported(
                "DATA with a row that is not a non-negative integer literal",
                "write DATA(column, 10)",
                at,
            )

    def _subscript(self, operand: Expr) -> Expr:
        """``x['key']`` (JSON) or ``x[i]``, ``x[a:b:c]``, ``x[:, i]`` (tensor)."""
        opened = self.position()
        self.i += 1  # '['
        tok = self._peek()
        if tok is not None and tok.kind is _STRING and self._is_op("]", offset=1):
            self.i += 2
            return self._index(operand, str(tok.value), opened)
        items: list[int | slice] = [self._slice_item()]
        while self._accept_op(","):
            items.append(self._slice_item())
        self._expect_op("]", f"to close the index opened at position {opened}")
        return self._index(operand, tuple(items), opened)

    def _index(self, operand: Expr, item: str | tuple[int | slice, ...], at: int) -> Expr:
        try:
            return operand[item]
        except BuildError as exc:  # e.g. chained tensor subscripts, which come out transposed
            raise UnsupportedSyntaxError(
                f"this index is not supported: {exc}", text=self.text, position=at
            ) from exc

    def _slice_item(self) -> int | slice:
        """One index: an integer literal, or a slice of them (``[a]:[b][:[c]]``)."""
        start = self.position()
        j = self.i
        parts: list[int | None] = [None]
        while j < self.n:
            tok = self.tokens[j]
            if tok.kind is _INTEGER and parts[-1] is None and isinstance(tok.value, int):
                parts[-1] = tok.value
            elif tok.kind is _OPERATOR and tok.text == ":" and len(parts) < 3:
                parts.append(None)
            else:
                break
            j += 1
        end = self.tokens[j] if j < self.n else None
        if end is None or end.kind is not _OPERATOR or end.text not in (",", "]"):
            self._unsupported(
                "a negative or computed index",
                "the engine fails with 'Indexes should be 1D array.' when the row is read (and "
                "x[ARRAY[...]] is not offered); use non-negative integer literals and slices",
                start,
            )
        self.i = j
        if len(parts) == 1:
            assert parts[0] is not None  # an empty item was refused above
            return parts[0]
        if len(parts) == 2 and parts[0] is not None and parts[1] is None:
            self._unsupported(
                f"the open-ended slice [{parts[0]}:]",
                f"the engine reads x[{parts[0]}:] as the single element x[{parts[0]}]; give the "
                "end explicitly, e.g. x[1:384]",
                start,
            )
        if len(parts) == 3 and parts[0] and parts[1] is None:
            self._unsupported(
                "an open-ended slice with a start",
                "the builder does not offer them (the engine reads x[n:] as the element x[n]); "
                "give the end explicitly, e.g. x[1:384:2]",
                start,
            )
        return slice(*parts)

    def _array(self) -> Vector:
        """``ARRAY[...]`` of number literals (1-D, or 2-D of equal-length rows)."""
        start = self.position()
        self.i += 1  # ARRAY
        self._expect_op("[", "after ARRAY")
        text, shape, values, is_float = self._array_body(start, depth=1)
        array = np.array(values, dtype=np.float64 if is_float else np.int64).reshape(shape)
        canonical = vector(array, ndim=None, argument="ARRAY literal")
        if canonical.text == text:
            return canonical
        return Vector(text, shape)

    def _array_body(
        self, start: int, depth: int
    ) -> tuple[str, tuple[int, ...], list[int | float], bool]:
        """Elements after ``[``: the normalised text, shape, flat values, any float element."""
        tokens, n = self.tokens, self.n
        parts: list[str] = []
        values: list[int | float] = []
        rows: list[tuple[int, ...]] = []
        is_float = False
        i = self.i
        if i < n and tokens[i].kind is _OPERATOR and tokens[i].text == "]":
            self._error("ARRAY[] is empty; TQL has no empty array literal")
        while True:
            tok = tokens[i] if i < n else None
            negative = tok is not None and tok.kind is _OPERATOR and tok.text == "-"
            num = tokens[i + 1] if negative and i + 1 < n else tok
            after = tokens[i + 2] if negative else (tokens[i + 1] if i + 1 < n else None)
            if (
                num is not None
                and (num.kind is _INTEGER or num.kind is _FLOAT)
                and after is not None
                and after.kind is _OPERATOR
                and (after.text == "," or after.text == "]")
            ):  # fast path: [-]NUMBER followed by ',' or ']'
                value = num.value
                assert isinstance(value, (int, float))
                if isinstance(value, float):
                    if math.isinf(value):
                        self.i = i
                        self._number(num, negative=negative)  # refuses infinity
                    is_float = True
                    parts.append(f"-{num.text}" if negative else num.text)
                    values.append(-value if negative else value)
                else:
                    value = -value if negative else value
                    parts.append(str(value))
                    values.append(value)
                i += 3 if negative else 2
                if after.text == "]":
                    break
                continue
            if tok is not None and tok.kind is _KEYWORD and tok.value == "ARRAY":
                if depth >= 2:
                    self._unsupported(
                        "an ARRAY nested more than two deep",
                        "the builder's vectors are 1-D or 2-D",
                        tok.start,
                    )
                self.i = i + 1
                self._expect_op("[", "after ARRAY")
                text, shape, row_values, row_float = self._array_body(tok.start, depth + 1)
                parts.append(text)
                values.extend(row_values)
                rows.append(shape)
                is_float = is_float or row_float
                i = self.i
            else:  # anything else: parse it properly, then accept only a number literal
                self.i = i
                element_start = self.position()
                element = self._expr()
                if not isinstance(element, Literal) or isinstance(element.value, (str, bool)):
                    self._unsupported(
                        f"the ARRAY element {compile_expr(element)}",
                        "the builder's vectors hold number literals only",
                        element_start,
                    )
                is_float = is_float or isinstance(element.value, float)
                parts.append(element.text)
                values.append(element.value)
                i = self.i
            sep = tokens[i] if i < n else None
            if sep is None or sep.kind is not _OPERATOR or sep.text not in (",", "]"):
                self.i = i
                self._unexpected("',' or ']' in ARRAY[...]")
            i += 1
            if sep.text == "]":
                break
        self.i = i
        if rows and len(rows) != len(parts):
            self._unsupported(
                "an ARRAY mixing numbers and nested arrays", "write a rectangular matrix", start
            )
        if rows and len(set(rows)) > 1:
            self._unsupported(
                "a ragged ARRAY (rows of different lengths)",
                "every row of a multi-vector query must have the same dimension",
                start,
            )
        shape = (len(parts), *rows[0]) if rows else (len(parts),)
        return "ARRAY[" + ",".join(parts) + "]", shape, values, is_float


# =========================================================================== shapes


def _conjunction_text(conditions: tuple[Expr, ...]) -> str:
    if len(conditions) == 1:
        return compile_expr(conditions[0])
    return compile_expr(BoolOp("AND", conditions))


def _alias_names(items: tuple[Expr, ...]) -> set[str]:
    return {item.name for item in items if isinstance(item, Alias)}


def _calls_any(expr: Expr | WeightPair, names: frozenset[str]) -> bool:
    """True if ``expr`` calls one of ``names`` anywhere inside."""
    stack: list[object] = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, Func) and node.name in names:
            return True
        if attrs.has(type(node)):
            stack.extend(getattr(node, field.name) for field in attrs.fields(type(node)))  # type: ignore[arg-type]
        elif isinstance(node, tuple):
            stack.extend(node)
    return False


def _invert_levels(levels: list[OrderKey]) -> tuple[OrderKey, ...]:
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


def _wrapper_chain(sel: _Select) -> list[_Select]:
    """``sel`` and the ``SELECT * FROM (...)`` levels below it that could be one builder query.

    Every level but the first and the last must be a pure wrapper: ``SELECT *`` (no items), no
    grouping, no LIMIT/OFFSET/SAMPLE. The first may project and page; the last is any SELECT.
    """
    chain = [sel]
    current = sel
    while isinstance(current.source, _Select) and len(chain) < 8:
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


def _compiles_to(query: Query, text: str) -> bool:
    try:
        return query.to_tql() == text
    except BuildError:
        return False


class _Converter:
    """Turns the syntax tree into builder queries, recognising the builder's compiled shapes."""

    def __init__(self, text: str) -> None:
        self.text = text
        # id(node) -> (node, value): holding the node keeps its id from being reused
        self._queries: dict[int, tuple[_Node, Query]] = {}
        self._texts: dict[int, tuple[_Node, str]] = {}

    def query(self, node: _Node) -> Query:
        hit = self._queries.get(id(node))
        if hit is not None:
            return hit[1]
        if isinstance(node, _Union):
            result = Query(source=self._set_operation(node))
        else:
            result = self._select(node)
        self._queries[id(node)] = (node, result)
        return result

    # ------------------------------------------------------------------ canonical text
    def render(self, node: _Node) -> str:
        """The builder's canonical one-line text of a syntax tree, level by level as written."""
        hit = self._texts.get(id(node))
        if hit is not None:
            return hit[1]
        if isinstance(node, _Union):
            text = f"SELECT * FROM {self._render_set(node)}"
        else:
            parts = ["SELECT ", ", ".join(compile_expr(item) for item in node.items) or "*"]
            source = node.source
            if isinstance(source, Dataset):
                parts.append(f" FROM {source.text}")
            elif isinstance(source, _Select):
                parts.append(f" FROM ({self.render(source)})")
            elif isinstance(source, _Union):
                parts.append(f" FROM {self._render_set(source)}")
            if node.where:
                parts.append(f" WHERE {_conjunction_text(node.where)}")
            if node.groups:
                parts.append(f" GROUP BY {', '.join(compile_expr(g) for g in node.groups)}")
            if node.ungroup is not None:
                parts.append(f" UNGROUP BY {node.ungroup}")
            if node.order is not None:
                direction = "DESC" if node.order.descending else "ASC"
                parts.append(f" ORDER BY {compile_expr(node.order.expr)} {direction}")
            if node.limit is not None:
                parts.append(f" LIMIT {node.limit}")
            if node.offset:
                parts.append(f" OFFSET {node.offset}")
            sampling = node.sampling
            if sampling is not None:
                parts.append(f" SAMPLE BY {compile_expr(sampling.weights)}")
                parts.append(f" REPLACE {'TRUE' if sampling.replace else 'FALSE'}")
                if sampling.limit is not None:
                    parts.append(f" LIMIT {sampling.limit}")
            text = "".join(parts)
        self._texts[id(node)] = (node, text)
        return text

    def _render_set(self, node: _Union) -> str:
        joined = f" {node.op} ".join(f"({self.render(operand)})" for operand in node.operands)
        return f"({joined})"

    # ------------------------------------------------------------------ levels
    def _source(self, source: Dataset | _Node | None) -> Dataset | Subquery | SetOperation | None:
        if source is None or isinstance(source, Dataset):
            return source
        if isinstance(source, _Union):
            return self._set_operation(source)
        return Subquery(self.query(source))

    def _set_operation(self, node: _Union) -> SetOperation:
        return SetOperation(node.op, tuple(self.query(operand) for operand in node.operands))

    def _select(self, sel: _Select) -> Query:
        target = self.render(sel)
        text_search = self._text_search(sel)
        if text_search is not None and _compiles_to(text_search, target):
            return text_search
        for candidate in self._chain_candidates(sel):
            if _compiles_to(candidate, target):
                return candidate
        # A vector search filtered one level up (REST shape A) is still a vector search; this
        # comes before the exact one-to-one mapping, which would keep it as two plain levels.
        pushdowns = list(self._pushdown_candidates(sel))
        for candidate, pushed in pushdowns:
            if candidate.search is not None and _compiles_to(candidate, self.render(pushed)):
                return candidate
        generic = self._generic(sel)
        if _compiles_to(generic, target):
            return generic
        # No exact match: the result will be written differently, so make sure it means the same.
        self._check_level(sel)
        for candidate, pushed in pushdowns:
            if _compiles_to(candidate, self.render(pushed)):
                return candidate
        try:
            generic.to_tql()
        except BuildError as exc:
            raise UnsupportedSyntaxError(str(exc), text=self.text, position=sel.start) from exc
        return generic

    def _check_level(self, sel: _Select) -> None:
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

    def _generic(self, sel: _Select) -> Query:
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

    def _chain_candidates(self, sel: _Select) -> Iterator[Query]:
        chain = _wrapper_chain(sel)
        for depth in range(len(chain) - 1, 0, -1):
            yield from self._merged(chain, depth)

    def _merged(self, chain: list[_Select], depth: int) -> Iterator[Query]:
        """Builder queries that could compile to ``chain[0]`` over base ``chain[depth]``."""
        top, base = chain[0], chain[depth]
        if base.has_tail or (top.items and base.items):
            return
        items = top.items or base.items
        conditions = base.where + tuple(c for level in reversed(chain[:depth]) for c in level.where)
        levels = [level.order for level in chain[: depth + 1] if level.order is not None]
        ordering = _invert_levels(levels)
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

    def _text_search(self, sel: _Select) -> Query | None:
        """``... ORDER BY BM25_SIMILARITY(col, 'text') DESC LIMIT n [OFFSET o]`` as text_search."""
        key = sel.order
        if key is None or not key.descending or sel.limit is None or sel.grouped:
            return None
        func = key.expr
        if not isinstance(func, Func) or func.name != "BM25_SIMILARITY" or len(func.args) != 2:
            return None
        column, query_text = func.args
        if not isinstance(column, Expr) or not isinstance(query_text, Literal):
            return None
        offset = sel.offset or 0
        if sel.sampling is not None or sel.limit < offset:
            return None
        return Query(
            items=sel.items,
            source=self._source(sel.source),
            conditions=sel.where,
            row_limit=sel.limit - offset,
            row_offset=offset or None,
            search=TextSearch(column, query_text),
        )

    def _pushdown_candidates(self, sel: _Select) -> Iterator[tuple[Query, _Select]]:
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
                or any(_calls_any(item, _POSITIONAL_FUNCTIONS) for item in base.items)
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
