"""Pretty-print TQL for reading, without changing a single token.

One clause keyword per line, sub-selects indented by four spaces (up to `MAX_INDENT`
levels; deeper sub-selects stay at that indentation, so the output grows linearly with any
nesting depth), expressions (and long ARRAY literals) kept on one line. Only the whitespace
between tokens changes, and the result is re-lexed to prove the token sequence is identical.
Text the engine would read differently once re-spaced (comments, unknown characters,
unterminated quotes, NUL) is refused.
"""

from __future__ import annotations

from collections.abc import Sequence

from tqlbuilder.engine.lexicon import CLAUSE_KEYWORDS, SET_OPERATIONS
from tqlbuilder.errors import TQLSyntaxError
from tqlbuilder.text.lexer import (
    R_COMMENT_TEXT,
    R_OTHER,
    R_QEMPTY,
    R_QOPEN,
    Scan,
    Token,
    TokenKind,
    engine_prefix_end,
    lex,
    scan,
    tokens_of,
)

__all__ = ["MAX_INDENT", "format"]

_K = TokenKind
_INDENT = "    "
#: Sub-selects nested deeper than this are not indented further (output stays linear in size).
MAX_INDENT = 8
# Clause keywords from the lexicon; the BY-clauses start a line only when BY follows, and
# HAVING (parsed, then ignored by the engine) gets its own line too.
_BY_WORDS = frozenset({"GROUP", "UNGROUP", "ORDER", "SAMPLE", "EXPAND"}) & CLAUSE_KEYWORDS
_CLAUSE_WORDS = (CLAUSE_KEYWORDS - _BY_WORDS) | {"HAVING"}
_SET_OPS = SET_OPERATIONS
_OPENERS = frozenset({"(", "[", "{"})
_CLOSERS = frozenset({")", "]", "}"})
_OPERAND_KEYWORDS = frozenset({"TRUE", "FALSE", "NULL"})

_REFUSED = {
    _K.COMMENT: (
        "cannot format text with a comment: in the engine a comment followed by an indented or "
        "blank line swallows that line, so re-spacing could change the query; remove the comment"
    ),
    _K.UNKNOWN: (
        "cannot format text with a character the engine does not know: the engine stops reading "
        "there, so the query it runs is not this text; remove it or put it inside quotes"
    ),
    _K.UNTERMINATED_STRING: "cannot format text with an unterminated string literal",
    _K.UNTERMINATED_IDENTIFIER: "cannot format text with an unterminated quoted name",
}


_REFUSED_RULES = frozenset({R_COMMENT_TEXT, R_OTHER, R_QEMPTY, R_QOPEN})


def _refuse(text: str, tokens: Sequence[Token], raw: Scan) -> None:
    unterminated = bool(tokens) and tokens[-1].kind is _K.UNTERMINATED_STRING
    if not (unterminated or _REFUSED_RULES.intersection(raw.kinds) or "\0" in text):
        return
    for tok in tokens:
        reason = _REFUSED.get(tok.kind)
        if reason is not None:
            raise TQLSyntaxError(
                f"{reason} (run tqlbuilder.check(text) for details)", text=text, position=tok.start
            )
    stop = engine_prefix_end(tokens)
    if stop is not None:
        nul = text.find("\0")
        raise TQLSyntaxError(
            "cannot format text with a NUL character: the engine reads the query as a C string "
            "and stops there (run tqlbuilder.check(text) for details)",
            text=text,
            position=nul if nul >= 0 else stop,
        )


def _query_openers(tokens: Sequence[Token]) -> set[int]:
    """Indices of ``(`` that open a sub-select (``(SELECT``, ``((SELECT ...) UNION ...``)."""
    found: set[int] = set()
    for i in range(len(tokens) - 2, -1, -1):
        if tokens[i].text != "(" or tokens[i].kind is not _K.OPERATOR:
            continue
        nxt = tokens[i + 1]
        if (nxt.kind is _K.KEYWORD and nxt.value in ("SELECT", "WITH")) or (i + 1) in found:
            found.add(i)
    return found


def _is_unary_minus(tokens: Sequence[Token], i: int) -> bool:
    """True if the ``-`` at ``i`` is a sign (no operand before it), as in ``a - -1``."""
    if i == 0:
        return True
    prev = tokens[i - 1]
    if prev.kind is _K.OPERATOR:
        return prev.text not in _CLOSERS
    return prev.kind is _K.KEYWORD and prev.value not in _OPERAND_KEYWORDS


def _glues(tokens: Sequence[Token], i: int, in_brackets: bool) -> bool:
    """True if token ``i`` is written right after token ``i - 1`` without a space."""
    prev, tok = tokens[i - 1], tokens[i]
    p, t = prev.text, tok.text
    p_op = prev.kind is _K.OPERATOR
    t_op = tok.kind is _K.OPERATOR
    if p_op and p in ("(", "[", "{"):
        return True
    if t_op and t in (")", "]", "}", ",", ";", ":"):
        return True
    if t_op and t == "(":
        before = tokens[i - 2] if i >= 2 else None
        set_op = before is not None and before.kind is _K.KEYWORD and before.value in _SET_OPS
        return prev.kind is _K.IDENTIFIER or (prev.value == "ALL" and not set_op)
    if t_op and t == "[":
        return (
            prev.kind in (_K.IDENTIFIER, _K.QUOTED_IDENTIFIER)
            or prev.value == "ARRAY"
            or (p_op and p in (")", "]"))
        )
    names = (_K.IDENTIFIER, _K.QUOTED_IDENTIFIER)
    if t_op and t == ".":
        return prev.kind in names
    if p_op and p == ".":
        return tok.kind in names or t == "*"
    if p_op and p == ":":
        return in_brackets
    if p_op and p == "-" and _is_unary_minus(tokens, i - 1):
        pair = lex(p + t)
        return [(x.kind, x.text) for x in pair] == [(prev.kind, p), (tok.kind, t)]
    return False


def _layout(tokens: Sequence[Token], glue: bool) -> str:
    """Lay the tokens out on lines; with ``glue`` False every pair on a line gets a space."""
    queries = _query_openers(tokens)
    lines: list[str] = []
    line: list[str] = []
    line_indent = 0
    indent = 0
    stack: list[tuple[str, bool]] = []  # (opener text, opens a sub-select)
    pending_break = False

    def flush() -> None:
        nonlocal line
        if line:
            lines.append(_INDENT * min(line_indent, MAX_INDENT) + "".join(line))
            line = []

    for i, tok in enumerate(tokens):
        is_op = tok.kind is _K.OPERATOR
        if is_op and tok.text in _CLOSERS and stack:
            _, was_query = stack.pop()
            if was_query:
                indent = max(indent - 1, 0)
                flush()
                pending_break = False
        at_query_level = not stack or stack[-1][1]
        if at_query_level and tok.kind is _K.KEYWORD:
            nxt = tokens[i + 1] if i + 1 < len(tokens) else None
            by_clause = tok.value in _BY_WORDS and nxt is not None and nxt.value == "BY"
            if tok.value in _CLAUSE_WORDS or tok.value in _SET_OPS or by_clause:
                flush()
        if pending_break:
            flush()
            pending_break = False
        if not line:
            line_indent = indent
        elif not (glue and _glues(tokens, i, bool(stack) and stack[-1][0] == "[")):
            line.append(" ")
        line.append(_written(tok))
        if is_op and tok.text in _OPENERS:
            opens_query = i in queries
            stack.append((tok.text, opens_query))
            if opens_query:
                indent += 1
                pending_break = True
        elif is_op and tok.text == ";":
            pending_break = True
        elif tok.kind is _K.KEYWORD and tok.value in _SET_OPS:
            nxt = tokens[i + 1] if i + 1 < len(tokens) else None
            pending_break = not (nxt is not None and nxt.value == "ALL")
        elif (
            tok.kind is _K.KEYWORD and tok.value == "ALL" and i and tokens[i - 1].value in _SET_OPS
        ):
            pending_break = True
    flush()
    return "\n".join(lines)


def format(text: str) -> str:
    """Return ``text`` pretty-printed on several lines, with exactly the same tokens.

    Works at any nesting depth in time linear in the text (no recursion); sub-selects deeper
    than `MAX_INDENT` levels keep that indentation.

    Args:
        text: the query text.

    Returns:
        The query on several lines; only the whitespace between tokens differs.

    Raises:
        TQLSyntaxError: (pointing at the position) for text with comments, characters the
            engine does not know, unterminated quotes or NUL.

    Examples:
        >>> print(format("SELECT id FROM (SELECT * FROM x WHERE a = 1) LIMIT 3"))
        SELECT id
        FROM (
            SELECT *
            FROM x
            WHERE a = 1
        )
        LIMIT 3
    """
    raw = scan(text)
    tokens = tokens_of(text, raw)
    _refuse(text, tokens, raw)
    expected = [_written(tok) for tok in tokens]
    for glue in (True, False):
        result = _layout(tokens, glue)
        again = scan(result)  # same lexer rules and same texts: the same tokens
        if (
            again.kinds == raw.kinds
            and [result[start:end] for start, end in zip(again.starts, again.ends, strict=True)]
            == expected
        ):
            return result
    raise AssertionError("formatting changed the token sequence")  # pragma: no cover


def _written(tok: Token) -> str:
    """A token as the layout writes it: ``CHARACTER VARYING`` with one space, whatever it had."""
    if tok.kind is _K.KEYWORD and not tok.text.isalpha():
        return " ".join(tok.text.split())
    return tok.text
