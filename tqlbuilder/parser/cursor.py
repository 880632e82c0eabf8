"""The parser's token cursor, and the refusal of text the engine would read only in part.

Shared by `tqlbuilder.parser.expressions` and `tqlbuilder.parser.grammar`.
"""

from __future__ import annotations

from typing import NoReturn

from tqlbuilder.errors import (
    TQLSyntaxError,
    UnsupportedSyntaxError,
)
from tqlbuilder.levels.nodes import Select, SetOp
from tqlbuilder.text.lexer import Token, TokenKind
from tqlbuilder.tree.expr import (
    BoolOp,
    Expr,
    Literal,
)

__all__ = ["MAX_DEPTH", "Cursor"]

#: How deeply parentheses, NOT, unary minus, calls and subqueries may nest in text that
#: `parse()` reads. Deeper text is refused with a TQLSyntaxError at the level that
#: goes past it, in time linear in the text before it; operator chains (``a + b + ...``, ``x AND y
#: AND ...``) do not nest and may be of any length.
MAX_DEPTH = 100

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


_Node = Select | SetOp


def _split_and(expr: Expr) -> tuple[Expr, ...]:
    """A WHERE expression as the builder's list of conditions (its top-level AND operands)."""
    if isinstance(expr, BoolOp) and expr.op == "AND":
        return expr.operands
    return (expr,)


def _is_text(expr: Expr) -> bool:
    return isinstance(expr, Literal) and isinstance(expr.value, str)


def _is_count(expr: Expr) -> bool:
    return isinstance(expr, Literal) and type(expr.value) is int


class Cursor:
    """A position in the lexer's tokens (whitespace dropped, hazards already refused)."""

    def __init__(self, text: str, tokens: list[Token]) -> None:
        self.text = text
        self.tokens = tokens
        self.n = len(tokens)
        self.i = 0
        self.depth = 0

    def _nest(self) -> None:
        """Enter one level of nesting; refuse text nested deeper than `MAX_DEPTH`."""
        self.depth += 1
        if self.depth > MAX_DEPTH:
            self._error(
                f"the query nests deeper than {MAX_DEPTH} levels (parentheses, NOT, calls and "
                "subqueries together) here; tqlbuilder reads at most that many"
            )

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
