"""A lexer that reads TQL exactly as the Deep Lake v4 engine's flex lexer does.

It mirrors ``cpp/3rd_party/sql-parser/src/parser/flex_lexer.l`` rule for rule (longest match,
earlier rule on ties, the inclusive ``COMMENT`` state), so callers can tell where the engine
stops reading, which comments swallow more than their line, and how numbers are really read.
It never raises and always lexes the whole text, including what the engine would not see.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable

import attrs

from tqlbuilder.engine.lexicon import INT64_MAX, INT64_MIN, RESERVED_WORDS, is_bare_name

__all__ = [
    "INT64_MAX",
    "INT64_MIN",
    "RESERVED_WORDS",
    "Token",
    "TokenKind",
    "engine_prefix_end",
    "is_bare_identifier",
    "lex",
]


class TokenKind(enum.Enum):
    """What a token is, as the engine's lexer classifies it."""

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


@attrs.frozen
class Token:
    """One token: ``text`` is the exact source slice ``[start, end)`` (0-based str offsets).

    ``value`` is the keyword in upper case, the identifier name, the decoded string, the number
    the engine reads (``octal`` tells a leading zero changed it) or ``None``.
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

_K = TokenKind

# One master pattern for the INITIAL state. Alternatives that share a first character are
# ordered so that Python's leftmost-first choice equals flex's longest match / earliest rule;
# the last alternative matches any other character, so every position yields a token.
_MASTER = re.compile(
    r"""
    (?P<ws>[ \t\n]+)
  | (?P<comment>--)
  | (?P<float>[0-9]+\.[0-9]*(?:[eE][-+]?[0-9]+)?|\.[0-9]+(?:[eE][-+]?[0-9]+)?|[0-9]+[eE][-+]?[0-9]+)
  | (?P<int>[0-9]+)
  | (?P<llmin>-9223372036854775808)
  | (?P<op>==|!=|<>|<=|>=|\|\||[-+*/(){},.;<>=^%:?\[\]|])
  | (?P<charvar>[Cc][Hh][Aa][Rr][Aa][Cc][Tt][Ee][Rr][ \t\n]+[Vv][Aa][Rr][Yy][Ii][Nn][Gg])
  | (?P<word>[A-Za-z][A-Za-z0-9_]*)
  | (?P<qident>"[^"\n]+")
  | (?P<qempty>"")
  | (?P<qopen>"[^"\n]*)
  | (?P<string>'(?P<body>[^']*(?:''[^']*)*)(?P<close>')?)
  | (?P<other>[\s\S])
    """,
    re.VERBOSE,
)
_OCTAL_PREFIX = re.compile(r"0[0-7]*")
_WS_RUN = re.compile(r"[ \t\n]+")
_CHARVAR = re.compile(r"[Cc][Hh][Aa][Rr][Aa][Cc][Tt][Ee][Rr][ \t\n]+[Vv][Aa][Rr][Yy][Ii][Nn][Gg]")


def _decimal(digits: str) -> int:
    """``int(digits)`` without Python's 4300-digit limit (a huge literal is still legal text)."""
    if len(digits) <= 4000:
        return int(digits)
    half = len(digits) // 2
    scale: int = 10 ** (len(digits) - half)
    return _decimal(digits[:half]) * scale + _decimal(digits[half:])


def _int_value(text: str) -> tuple[int, bool]:
    """The value ``strtoll(text, NULL, 0)`` reads (unclamped) and whether a leading 0 changed it."""
    if len(text) > 1 and text[0] == "0":
        prefix = _OCTAL_PREFIX.match(text)
        assert prefix is not None
        value = int(prefix.group(), 8)
        return value, value != _decimal(text)
    return _decimal(text), False


def _lex_comment(text: str, start: int, out: list[Token]) -> int:
    """Lex the comment that starts with ``--`` at ``start``; return where INITIAL lexing resumes.

    flex's COMMENT state is inclusive (``%s``), so every INITIAL rule competes with the comment
    rules. A newline followed by space, tab or another newline is eaten by the whitespace rule
    (the longer match) and the state does not end there: the comment swallows the next line.
    A ``CHARACTER<ws>VARYING`` spanning a line end out-matches the comment rule and is emitted.
    """
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
                    out.append(Token(_K.COMMENT, text[seg:pos], seg, pos, None))
                out.append(Token(_K.KEYWORD, cv.group(), pos, cv.end(), "CHARACTER VARYING"))
                pos = seg = cv.end()
                continue
        pos = line_end
    if pos > seg:
        out.append(Token(_K.COMMENT, text[seg:pos], seg, pos, None))
    return pos


def lex(text: str, *, include_whitespace: bool = False) -> list[Token]:
    """Split ``text`` into tokens the way the engine does; never raises.

    The whole text is lexed, also after the point where the engine stops (see
    :func:`engine_prefix_end`). Comments are always included; whitespace only on request.
    Concatenating every token's text with ``include_whitespace=True`` gives back ``text``.
    """
    out: list[Token] = []
    append = out.append
    n = len(text)
    pos = 0
    while pos < n:
        end = pos
        for m in _MASTER.finditer(text, pos):
            kind = m.lastgroup
            start = end  # matches are contiguous: the last alternative matches any character
            end = m.end()
            tok_text = text[start:end]
            if kind == "ws":
                if include_whitespace:
                    append(Token(_K.WHITESPACE, tok_text, start, end, None))
            elif kind == "op":
                append(Token(_K.OPERATOR, tok_text, start, end, tok_text))
            elif kind == "float":
                append(Token(_K.FLOAT, tok_text, start, end, float(tok_text)))
            elif kind == "int":
                value, octal = _int_value(tok_text)
                append(Token(_K.INTEGER, tok_text, start, end, value, octal))
            elif kind == "word":
                upper = tok_text.upper()
                if upper in RESERVED_WORDS:
                    append(Token(_K.KEYWORD, tok_text, start, end, upper))
                else:
                    append(Token(_K.IDENTIFIER, tok_text, start, end, tok_text))
            elif kind == "qident":
                append(Token(_K.QUOTED_IDENTIFIER, tok_text, start, end, tok_text[1:-1]))
            elif kind == "string":
                body = m.group("body").replace("''", "'")
                closed = m.group("close") is not None
                kind_ = _K.STRING if closed else _K.UNTERMINATED_STRING
                append(Token(kind_, tok_text, start, end, body))
            elif kind == "comment":
                # The COMMENT state needs its own scanner; restart the master scan after it.
                pos = _lex_comment(text, start, out)
                break
            elif kind == "other":
                append(Token(_K.UNKNOWN, tok_text, start, end, None))
            elif kind == "qopen":
                # An unclosed or newline-broken quoted identifier: the engine sees an unknown
                # character at the quote and stops.
                append(Token(_K.UNTERMINATED_IDENTIFIER, tok_text, start, end, tok_text[1:]))
            elif kind == "qempty":  # "" is not an identifier: unknown character at the quote
                append(Token(_K.UNKNOWN, tok_text, start, end, None))
            elif kind == "charvar":
                append(Token(_K.KEYWORD, tok_text, start, end, "CHARACTER VARYING"))
            else:  # llmin: flex special-cases the one int64 that has no positive counterpart
                append(Token(_K.INTEGER, tok_text, start, end, INT64_MIN))
        else:
            break
    return out


def engine_prefix_end(tokens: Iterable[Token]) -> int | None:
    """Offset ``p`` such that the engine runs ``text[:p]``, or ``None`` if it reads everything.

    The engine stops at the first unknown character or unterminated string/identifier, and at
    a NUL anywhere (the query is a C string), even inside a literal or a comment.
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
    """
    return is_bare_name(name)
