"""A lexer that reads TQL exactly as the Deep Lake v4 engine's flex lexer does.

It mirrors ``cpp/3rd_party/sql-parser/src/parser/flex_lexer.l`` rule for rule (longest match,
earlier rule on ties, the inclusive ``COMMENT`` state), so callers can tell where the engine
stops reading, which comments swallow more than their line, and how numbers are really read.
It never raises and always lexes the whole text, including what the engine would not see.

The lexer is table-driven: one compiled pattern holds every INITIAL-state rule, and a scan
produces three parallel lists (rule index, start, end) with no per-token Python code outside a
list comprehension. [`Token`][] objects (with their decoded values) are built from those
lists only when asked for, so [`check()`][tqlbuilder.check] can skip the tokens it
never looks at (the numbers inside a long ``ARRAY[...]`` literal). It works without recursion,
so any nesting depth lexes in time linear in the text.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable
from typing import NamedTuple

from tqlbuilder.engine.lexicon import INT64_MAX, INT64_MIN, RESERVED_WORDS, is_bare_name

__all__ = [
    "INT64_MAX",
    "INT64_MIN",
    "NUMERIC_LIST",
    "RESERVED_WORDS",
    "STOP_KINDS",
    "Token",
    "TokenKind",
    "engine_prefix_end",
    "is_bare_identifier",
    "lex",
]


class TokenKind(enum.Enum):
    """What a token is, as the engine's lexer classifies it.

    The last three kinds are where the engine stops reading: it runs only the text before them
    (see ``STOP_KINDS``).

    Attributes:
        KEYWORD: A reserved word (``SELECT``, ``WHERE``, ``AND``...), in any case.
        IDENTIFIER: A bare name (``year``).
        QUOTED_IDENTIFIER: A name in double quotes (``"hub://org/ds"``).
        STRING: A single-quoted string; ``''`` inside stands for one quote.
        INTEGER: An integer literal (a leading zero means octal to the engine).
        FLOAT: A decimal or exponent literal.
        OPERATOR: An operator or punctuation (``=``, ``<=``, ``(``, ``,``...).
        COMMENT: A ``--`` comment, to the end of its line (or further: see the Safety guide).
        WHITESPACE: Spaces, tabs and line feeds (only with ``include_whitespace=True``).
        UNKNOWN: A character the engine does not know (``#``, ``\r``, non-ASCII...).
        UNTERMINATED_STRING: A ``'`` that is never closed.
        UNTERMINATED_IDENTIFIER: A ``"`` that is never closed.
    """

    KEYWORD = "keyword"
    IDENTIFIER = "identifier"
    QUOTED_IDENTIFIER = "quoted_identifier"
    STRING = "string"
    INTEGER = "integer"
    FLOAT = "float"
    OPERATOR = "operator"
    COMMENT = "comment"
    WHITESPACE = "whitespace"
    UNKNOWN = "unknown"
    UNTERMINATED_STRING = "unterminated_string"
    UNTERMINATED_IDENTIFIER = "unterminated_identifier"


class Token(NamedTuple):
    """One token of TQL text, as [`lex()`][tqlbuilder.lex] returns it.

    Tokens are immutable named tuples: cheap to build, compared field by field.

    Attributes:
        kind: What the token is.
        text: The exact source slice ``text[start:end]``.
        start: The 0-based offset of the first character (``str`` offsets, not bytes).
        end: The offset just past the last character.
        value: The keyword in upper case, the identifier's name, the decoded string, the number
            the engine reads, or ``None`` (operators, comments, unknown characters).
        octal: ``True`` when a leading zero made the engine read an integer as octal.

    Examples:
        >>> lex("id = 010")[2]
        Token(kind=<TokenKind.INTEGER: 'integer'>, text='010', start=5, end=8, value=8,
              octal=True)
    """

    kind: TokenKind
    text: str
    start: int
    end: int
    value: str | int | float | None
    octal: bool = False

    @property
    def out_of_range(self) -> bool:
        """True for an integer literal the engine rejects (beyond int64: a syntax error)."""
        return (
            self.kind is TokenKind.INTEGER
            and isinstance(self.value, int)
            and not INT64_MIN <= self.value <= INT64_MAX
        )


#: Kinds after which the engine reads nothing more (it returns end-of-input there).
STOP_KINDS: frozenset[TokenKind] = frozenset(
    {TokenKind.UNKNOWN, TokenKind.UNTERMINATED_STRING, TokenKind.UNTERMINATED_IDENTIFIER}
)

#: A bracketed list of plain numbers, ``[1, -2.5, 3e4]`` (the lexer's number forms; ``--`` is
#: excluded, it starts a comment). Its contents hold no keyword or name, so the hazard scan and
#: the executors' source checks skip or collapse such lists (a 1536-d vector is most of a query).
# Possessive and atomic throughout: one left-to-right pass, no backtracking. The number forms
# are the lexer's (int, and the three float rules) in one alternation.
_NUM = r"(?>[0-9]++(?:\.[0-9]*+)?+|\.[0-9]++)(?:[eE][-+]?[0-9]++)?+"
_SIGNED = rf"(?:-(?!-)[ \t\n]*+)*+{_NUM}"
NUMERIC_LIST = re.compile(rf"\[[ \t\n]*+{_SIGNED}(?:[ \t\n]*+,[ \t\n]*+{_SIGNED})*+[ \t\n]*+\]")

_K = TokenKind

# One master pattern for the INITIAL state, each alternative one flex rule. Leading whitespace
# is skipped inside the match (so a token costs one match, not two); the token is the span of
# the group that matched. Alternatives that share a first character are ordered so that
# Python's leftmost-first choice equals flex's longest match / earliest rule; ``other`` matches
# any character that is not whitespace, so every token position yields a token, and ``end``
# matches trailing whitespace once (without it the search would retry at every trailing blank).
_MASTER = re.compile(
    r"""
    [ \t\n]*+
    (?:
      (?P<comment>--)
    | (?P<float>[0-9]+\.[0-9]*(?:[eE][-+]?[0-9]+)?
               |\.[0-9]+(?:[eE][-+]?[0-9]+)?
               |[0-9]+[eE][-+]?[0-9]+)
    | (?P<int>[0-9]+)
    | (?P<llmin>-9223372036854775808)
    | (?P<op>==|!=|<>|<=|>=|\|\||[-+*/(){},.;<>=^%:?\[\]|])
    | (?P<charvar>[Cc][Hh][Aa][Rr][Aa][Cc][Tt][Ee][Rr][ \t\n]+[Vv][Aa][Rr][Yy][Ii][Nn][Gg])
    | (?P<word>[A-Za-z][A-Za-z0-9_]*)
    | (?P<qident>"[^"\n]+")
    | (?P<qempty>"")
    | (?P<qopen>"[^"\n]*)
    | (?P<string>'[^']*(?:''[^']*)*'?)
    | (?P<other>[^ \t\n])
    | (?P<end>\Z)
    )
    """,
    re.VERBOSE,
)
_G = _MASTER.groupindex
#: Rule numbers of the scan (``kinds`` lists hold these): the pattern's group numbers.
R_COMMENT, R_FLOAT, R_INT, R_LLMIN, R_OP = (
    _G["comment"],
    _G["float"],
    _G["int"],
    _G["llmin"],
    _G["op"],
)
R_CHARVAR, R_WORD, R_QIDENT, R_QEMPTY, R_QOPEN = (
    _G["charvar"],
    _G["word"],
    _G["qident"],
    _G["qempty"],
    _G["qopen"],
)
R_STRING, R_OTHER, R_END = _G["string"], _G["other"], _G["end"]
#: The rule number given to a comment segment and to CHARACTER VARYING found in a comment.
R_COMMENT_TEXT = R_END + 1

_OCTAL_PREFIX = re.compile(r"0[0-7]*")
_WS_RUN = re.compile(r"[ \t\n]+")
_CHARVAR = re.compile(r"[Cc][Hh][Aa][Rr][Aa][Cc][Tt][Ee][Rr][ \t\n]+[Vv][Aa][Rr][Yy][Ii][Nn][Gg]")


def _decimal(digits: str) -> int:
    """``int(digits)`` without Python's 4300-digit limit (a huge literal is still legal text)."""
    if len(digits) <= 4000:
        return int(digits)
    value = 0
    for start in range(0, len(digits), 4000):
        chunk = digits[start : start + 4000]
        value = value * 10 ** len(chunk) + int(chunk)
    return value


def _int_value(text: str) -> tuple[int, bool]:
    """The value ``strtoll(text, NULL, 0)`` reads (unclamped) and whether a leading 0 changed it."""
    if len(text) > 1 and text[0] == "0":
        prefix = _OCTAL_PREFIX.match(text)
        assert prefix is not None
        value = int(prefix.group(), 8)
        return value, value != _decimal(text)
    return _decimal(text), False


class Scan(NamedTuple):
    """The raw scan: parallel lists of rule numbers (``R_*``), starts and ends, no whitespace."""

    kinds: list[int]
    starts: list[int]
    ends: list[int]


def _comment(text: str, start: int, scan: Scan) -> int:
    """Scan the comment that starts with ``--`` at ``start``; return where INITIAL resumes.

    flex's COMMENT state is inclusive (``%s``), so every INITIAL rule competes with the comment
    rules. A newline followed by space, tab or another newline is eaten by the whitespace rule
    (the longer match) and the state does not end there: the comment swallows the next line.
    A ``CHARACTER<ws>VARYING`` spanning a line end out-matches the comment rule and is emitted.
    """
    kinds, starts, ends = scan
    n = len(text)
    seg = start  # start of the current COMMENT segment
    pos = start + 2
    while pos < n:
        ch = text[pos]
        if ch == "\n":
            ws = _WS_RUN.match(text, pos)
            assert ws is not None
            if ws.end() - pos == 1:  # tie with <COMMENT>\n, the earlier rule: back to INITIAL
                break
            pos = ws.end()  # the whitespace rule wins; still in COMMENT state
            continue
        line_end = text.find("\n", pos)
        if line_end < 0:
            line_end = n
        if ch in " \t":
            ws = _WS_RUN.match(text, pos)
            assert ws is not None
            pos = max(ws.end(), line_end)
            continue
        if ch in "Cc":
            cv = _CHARVAR.match(text, pos)
            if cv is not None and cv.end() > line_end:
                if pos > seg:
                    kinds.append(R_COMMENT_TEXT)
                    starts.append(seg)
                    ends.append(pos)
                kinds.append(R_CHARVAR)
                starts.append(pos)
                ends.append(cv.end())
                pos = seg = cv.end()
                continue
        pos = line_end
    if pos > seg:
        kinds.append(R_COMMENT_TEXT)
        starts.append(seg)
        ends.append(pos)
    return pos


def scan(text: str) -> Scan:
    """Scan ``text`` into parallel lists (rule number, start, end); whitespace is left out.

    Linear in the text, no recursion, never raises. Text without ``--`` (no comment can start)
    is scanned by one list comprehension over the master pattern.
    """
    if "--" not in text:
        matches = list(_MASTER.finditer(text))
        while matches and matches[-1].lastindex == R_END:  # at most two: after blanks, at n
            matches.pop()
        kinds = [m.lastindex or 0 for m in matches]
        starts = [m.start(m.lastindex or 0) for m in matches]
        ends = [m.end() for m in matches]
        return Scan(kinds, starts, ends)
    result = Scan([], [], [])
    kinds, starts, ends = result
    pos, n = 0, len(text)
    while pos < n:
        for m in _MASTER.finditer(text, pos):
            rule = m.lastindex or 0
            if rule == R_END:
                pos = n
                break
            if rule == R_COMMENT:
                pos = _comment(text, m.start(rule), result)
                break
            kinds.append(rule)
            starts.append(m.start(rule))
            ends.append(m.end())
        else:
            break
    return result


def token_at(text: str, raw: Scan, index: int) -> Token:
    """The [`Token`][] for entry ``index`` of ``raw`` (its value decoded)."""
    rule, start, end = raw.kinds[index], raw.starts[index], raw.ends[index]
    tok_text = text[start:end]
    if rule == R_OP:
        return Token(_K.OPERATOR, tok_text, start, end, tok_text)
    if rule == R_WORD:
        upper = tok_text.upper()
        if upper in RESERVED_WORDS:
            return Token(_K.KEYWORD, tok_text, start, end, upper)
        return Token(_K.IDENTIFIER, tok_text, start, end, tok_text)
    if rule == R_FLOAT:
        return Token(_K.FLOAT, tok_text, start, end, float(tok_text))
    if rule == R_INT:
        value, octal = _int_value(tok_text)
        return Token(_K.INTEGER, tok_text, start, end, value, octal)
    if rule == R_QIDENT:
        return Token(_K.QUOTED_IDENTIFIER, tok_text, start, end, tok_text[1:-1])
    if rule == R_STRING:
        closed = len(tok_text) >= 2 and tok_text.endswith("'") and tok_text.count("'") % 2 == 0
        body = tok_text[1:-1] if closed else tok_text[1:]
        kind = _K.STRING if closed else _K.UNTERMINATED_STRING
        return Token(kind, tok_text, start, end, body.replace("''", "'"))
    if rule == R_COMMENT_TEXT:
        return Token(_K.COMMENT, tok_text, start, end, None)
    if rule == R_QOPEN:
        # An unclosed or newline-broken quoted identifier: the engine sees an unknown
        # character at the quote and stops.
        return Token(_K.UNTERMINATED_IDENTIFIER, tok_text, start, end, tok_text[1:])
    if rule == R_CHARVAR:
        return Token(_K.KEYWORD, tok_text, start, end, "CHARACTER VARYING")
    if rule == R_LLMIN:  # flex special-cases the one int64 that has no positive counterpart
        return Token(_K.INTEGER, tok_text, start, end, INT64_MIN)
    return Token(_K.UNKNOWN, tok_text, start, end, None)  # other, and "" (not an identifier)


def tokens_of(text: str, raw: Scan, indices: Iterable[int] | None = None) -> list[Token]:
    """The [`Token`][] s of entries ``indices`` of ``raw`` (all of them by default).

    Operators, words and floats, most of any text, are built inline (``tuple.__new__`` skips the
    named tuple's Python-level constructor); the other kinds go through `token_at()`.
    """
    new = tuple.__new__
    tok_cls, op_kind, kw_kind, id_kind = Token, _K.OPERATOR, _K.KEYWORD, _K.IDENTIFIER
    float_kind = _K.FLOAT
    reserved = RESERVED_WORDS
    kinds, starts, ends = raw
    out: list[Token] = []
    append = out.append
    for i in range(len(kinds)) if indices is None else indices:
        rule = kinds[i]
        if rule == R_OP:
            start, end = starts[i], ends[i]
            tok_text = text[start:end]
            append(new(tok_cls, (op_kind, tok_text, start, end, tok_text, False)))
        elif rule == R_WORD:
            start, end = starts[i], ends[i]
            tok_text = text[start:end]
            upper = tok_text.upper()
            if upper in reserved:
                append(new(tok_cls, (kw_kind, tok_text, start, end, upper, False)))
            else:
                append(new(tok_cls, (id_kind, tok_text, start, end, tok_text, False)))
        elif rule == R_FLOAT:
            start, end = starts[i], ends[i]
            tok_text = text[start:end]
            append(new(tok_cls, (float_kind, tok_text, start, end, float(tok_text), False)))
        else:
            append(token_at(text, raw, i))
    return out


def lex(text: str, *, include_whitespace: bool = False) -> list[Token]:
    """Split ``text`` into tokens the way the engine does; never raises.

    The whole text is lexed, also after the point where the engine stops (see
    `engine_prefix_end()`). Comments are always included; whitespace only on request.
    Concatenating every token's text with ``include_whitespace=True`` gives back ``text``.
    Time is linear in the text and independent of nesting depth.

    Args:
        text: the query text.
        include_whitespace: also return the runs of space, tab and newline between tokens.

    Returns:
        The tokens in order.

    Examples:
        >>> [(t.kind.value, t.value) for t in lex("SELECT 'it''s'")]
        [('keyword', 'SELECT'), ('string', "it's")]
    """
    tokens = tokens_of(text, scan(text))
    if not include_whitespace:
        return tokens
    out: list[Token] = []
    pos = 0
    for tok in tokens:
        if tok.start > pos:
            out.append(Token(_K.WHITESPACE, text[pos : tok.start], pos, tok.start, None))
        out.append(tok)
        pos = tok.end
    if pos < len(text):
        out.append(Token(_K.WHITESPACE, text[pos:], pos, len(text), None))
    return out


def engine_prefix_end(tokens: Iterable[Token]) -> int | None:
    """Offset ``p`` such that the engine runs ``text[:p]``, or ``None`` if it reads everything.

    The engine stops at the first unknown character or unterminated string/identifier, and at
    a NUL anywhere (the query is a C string), even inside a literal or a comment.

    Examples:
        >>> engine_prefix_end(lex("SELECT 1 # two"))
        9
    """
    for tok in tokens:
        if tok.kind in STOP_KINDS:
            return tok.start
        nul = tok.text.find("\0")
        if nul >= 0:
            # Inside a literal the engine sees an unterminated string or identifier, i.e. it
            # stops where the literal starts; inside a comment it stops at the NUL itself.
            return tok.start + nul if tok.kind is TokenKind.COMMENT else tok.start
    return None


def is_bare_identifier(name: str) -> bool:
    """True if ``name`` can be written unquoted: ``[A-Za-z][A-Za-z0-9_]*`` and not reserved.

    ``CHARACTER`` is refused too, since ``CHARACTER VARYING`` lexes as one keyword.

    Examples:
        >>> is_bare_identifier("score"), is_bare_identifier("order")
        (True, False)
    """
    return is_bare_name(name)
