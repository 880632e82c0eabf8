"""Rules on single tokens: where the engine stops reading, comments, and how numbers are read.

These rules read the lexer's raw scan (``ctx.raw``) and build `Token` objects only for
the few tokens that can be hazards, so a 30 KB vector literal costs a handful of C-level
passes. Engine facts: tests/test_lexer.py and tests/test_hazards.py (Deep Lake 4.7.4).
"""

from __future__ import annotations

import operator
from bisect import bisect_right
from collections.abc import Iterator

from tqlbuilder.text.hazards._model import Hit, rule, rules_in
from tqlbuilder.text.hazards._scan import Context
from tqlbuilder.text.lexer import (
    R_COMMENT_TEXT,
    R_FLOAT,
    R_INT,
    R_OTHER,
    R_QEMPTY,
    R_QOPEN,
    R_STRING,
    Token,
    TokenKind,
    token_at,
)

_K = TokenKind
STOP_STATEMENT = "the engine stops reading here and silently runs only the text before it"
_INFINITIES = (float("inf"), float("-inf"))

_UNKNOWN_HINTS = {
    "#": "'#' is not a comment",
    "!": "write != for 'not equal' and NOT for negation",
    "&": "write AND",
    "~": "there is no regex operator; use LIKE",
    "_": "numbers have no '_' separators",
    "`": "quote names with double quotes",
    "$": "there are no $ parameters",
    "@": "there is no @ syntax",
    "\\": "backslash only exists inside quotes",
}


def _line_of(text: str, position: int) -> int:
    return text.count("\n", 0, position) + 1


def _unknown_code(char: str) -> str:
    if char == "\0":
        return "nul-byte"
    if char == "\r":
        return "carriage-return"
    if ord(char[0]) > 127:
        return "non-ascii-outside-quotes"
    return "unknown-character"


def _unknowns(ctx: Context, code: str) -> Iterator[Hit]:
    """The first unknown character of ``code``'s class, with how many more follow."""
    found = ctx.indices(R_OTHER, R_QEMPTY)
    text, raw = ctx.text, ctx.raw
    matching = [i for i in found if _unknown_code(text[raw.starts[i] : raw.ends[i]]) == code]
    if not matching:
        return
    tok = token_at(text, raw, matching[0])
    more = len(matching) - 1
    suffix = f" ({more} more later in the text)" if more else ""
    yield Hit(tok.start, _unknown_message(code, tok.text) + suffix)


def _unknown_message(code: str, char: str) -> str:
    if code == "nul-byte":
        return (
            "NUL character: the query is passed to the engine as a C string, which ends "
            "here; everything after it is silently dropped; remove it"
        )
    if code == "carriage-return":
        return (
            f"carriage return (CR, as in CRLF line ends): {STOP_STATEMENT}; "
            "use LF line ends or spaces"
        )
    if code == "non-ascii-outside-quotes":
        return (
            f"non-ASCII character {char!a} (U+{ord(char[0]):04X}) outside quotes: "
            f"{STOP_STATEMENT}; only space, tab and LF separate tokens, quote names "
            'that need it ("my col") and put text in single-quoted strings'
        )
    if char == '""':
        return (
            f'empty quoted name "": the engine sees an unknown character and '
            f"{STOP_STATEMENT}; a quoted name needs at least one character"
        )
    hint = _UNKNOWN_HINTS.get(char, "remove it or put it inside quotes")
    return f"unknown character {char!a}: {STOP_STATEMENT}; {hint}"


@rule("unknown-character", "error", "truncation", "Stops reading there and runs the text before it")
def unknown_character(ctx: Context) -> Iterator[Hit]:
    return _unknowns(ctx, "unknown-character")


@rule("carriage-return", "error", "truncation", "Stops reading at a CR (CRLF line ends)")
def carriage_return(ctx: Context) -> Iterator[Hit]:
    return _unknowns(ctx, "carriage-return")


@rule(
    "non-ascii-outside-quotes",
    "error",
    "truncation",
    "Stops reading at a non-ASCII character outside quotes",
)
def non_ascii(ctx: Context) -> Iterator[Hit]:
    return _unknowns(ctx, "non-ascii-outside-quotes")


@rule("nul-byte", "error", "truncation", "Ends the query at a NUL (it is passed as a C string)")
def nul_byte(ctx: Context) -> Iterator[Hit]:
    if "\0" not in ctx.text:
        return
    yield from _unknowns(ctx, "nul-byte")
    for tok in ctx.tokens:
        if tok.kind is not _K.UNKNOWN and "\0" in tok.text:
            yield Hit(
                tok.start + tok.text.index("\0"),
                "NUL character: the query is passed to the engine as a C string, which ends "
                "here (inside a literal this gives 'syntax error, unexpected end of file'); "
                "remove it, a NUL cannot be written in TQL",
            )


@rule("unterminated-string", "error", "truncation", "Stops reading at the opening quote")
def unterminated_string(ctx: Context) -> Iterator[Hit]:
    for i in ctx.indices(R_STRING)[-1:]:  # an unclosed string runs to the end: the last one
        tok = token_at(ctx.text, ctx.raw, i)
        if tok.kind is _K.UNTERMINATED_STRING:
            yield Hit(
                tok.start,
                "this string literal is never closed: the engine reads to the end, reports "
                "'Unterminated string' on stderr and runs only the text before the quote; "
                "close it with ' (write a quote inside as '')",
            )


@rule("unterminated-identifier", "error", "truncation", "Stops reading at the opening quote")
def unterminated_identifier(ctx: Context) -> Iterator[Hit]:
    for i in ctx.indices(R_QOPEN):
        yield Hit(
            ctx.raw.starts[i],
            'this quoted name has no closing " on its line: the engine sees an unknown '
            f'character at the quote and {STOP_STATEMENT}; close it with " (a name '
            'cannot contain " or a newline)',
        )


def _comments(ctx: Context) -> Iterator[tuple[int, int, bool]]:
    """Every comment as ``(start, end, arithmetic)``; ``end`` spans a CHARACTER VARYING split."""
    if R_COMMENT_TEXT not in ctx.rules_seen:
        return
    tokens = ctx.tokens
    text = ctx.text
    for index, tok in enumerate(tokens):
        if tok.kind is not _K.COMMENT or not tok.text.startswith("--"):
            continue
        end = tok.end
        for nxt in tokens[index + 1 :]:  # a CHARACTER VARYING split can continue the comment
            if nxt.start != end or nxt.kind not in (_K.COMMENT, _K.KEYWORD):
                break
            if nxt.kind is _K.KEYWORD and "\n" not in nxt.text:
                break
            end = nxt.end
        after = text[tok.start + 2 : tok.start + 3]
        before = text[tok.start - 1] if tok.start else ""
        glued = bool(before) and before not in " \t\n"
        yield tok.start, end, glued or after.isdigit() or after == "."


@rule("double-dash", "error", "truncation", "A comment inside an expression: `a--1` runs as `a`")
def double_dash(ctx: Context) -> Iterator[Hit]:
    for start, _, arithmetic in _comments(ctx):
        if arithmetic:
            yield Hit(
                start,
                "'--' starts a comment, also inside an expression: the engine drops everything "
                "to the end of the line (a--1 runs as a); write a minus before a negative "
                "number with spaces or parentheses: a - -1 or a - (-1)",
            )


@rule(
    "comment-swallows-rest",
    "error",
    "truncation",
    "A comment followed by an indented or blank line eats that line",
)
def comment_swallows_rest(ctx: Context) -> Iterator[Hit]:
    text = ctx.text
    for start, end, _ in _comments(ctx):
        if "\n" in text[start:end]:
            resumes = end < len(text) and text[end:].strip(" \t\n") != ""
            until = f"through line {_line_of(text, end)}" if resumes else "to the end of the query"
            yield Hit(
                start,
                "this comment does not end at its line: in the engine's lexer a newline followed "
                "by a space, a tab or a blank line (or a comment that is only blanks) keeps the "
                f"comment going, so the engine silently skips the text {until}; remove the "
                "comment (TQL needs none) or start the next line in column 1",
            )


@rule("comment", "warning", "fragile", "A comment: one indented next line and it swallows it")
def comment(ctx: Context) -> Iterator[Hit]:
    text = ctx.text
    for start, end, arithmetic in _comments(ctx):
        if not arithmetic and "\n" not in text[start:end]:
            yield Hit(
                start,
                "comment: the engine skips it to the end of the line, but as soon as the next "
                "line is indented or blank the comment runs on and swallows it; generated or "
                "shared queries should carry no comments",
            )


def _suspect_numbers(ctx: Context) -> list[Token]:
    """The number tokens that may be read other than as written, in text order.

    Integers with a leading zero (octal) or 19+ digits (beyond int64), floats with an exponent
    or 300+ characters (beyond the double range). Found without a Python loop over every token:
    integers are rare in long texts, exponent letters are found with ``str.find``.
    """
    cached = ctx.memo.get("suspect-numbers")
    if cached is not None:
        return cached
    text, raw = ctx.text, ctx.raw
    kinds, starts, ends = raw
    found: set[int] = set()
    if R_INT in ctx.rules_seen:
        i = -1
        for _ in range(kinds.count(R_INT)):  # list.index: a C-level search for each integer
            i = kinds.index(R_INT, i + 1)
            if (text[starts[i]] == "0" and ends[i] - starts[i] > 1) or ends[i] - starts[i] >= 19:
                found.add(i)
    if R_FLOAT in ctx.rules_seen:
        for letter in "eE":  # str.find: a C-level search for each exponent letter
            at = text.find(letter)
            while at >= 0:
                index = bisect_right(starts, at) - 1
                if index >= 0 and kinds[index] == R_FLOAT:
                    found.add(index)
                at = text.find(letter, at + 1)
        if max(map(operator.sub, ends, starts)) >= 300:
            found.update(
                i for i, k in enumerate(kinds) if k == R_FLOAT and ends[i] - starts[i] >= 300
            )
    tokens = [token_at(text, raw, i) for i in sorted(found)]
    ctx.memo["suspect-numbers"] = tokens
    return tokens


@rule("octal-integer", "error", "silent-wrong", "Reads `010` as 8 (a leading zero means octal)")
def octal_integer(ctx: Context) -> Iterator[Hit]:
    for tok in _suspect_numbers(ctx):
        if tok.kind is _K.INTEGER and tok.octal and not tok.out_of_range:
            written = tok.text.lstrip("0")
            if len(written) > 30:
                written = written[:27] + "..."
            yield Hit(
                tok.start,
                f"{tok.text[:30]} has a leading zero, so the engine reads it as octal: "
                f"{tok.value}, not {written}; write the number without leading zeros",
            )


@rule("integer-out-of-range", "error", "engine-rejects", "An integer beyond int64: syntax error")
def integer_out_of_range(ctx: Context) -> Iterator[Hit]:
    for tok in _suspect_numbers(ctx):
        if tok.out_of_range:
            yield Hit(
                tok.start,
                f"{tok.text[:30]} does not fit in a signed 64-bit integer: the engine's lexer "
                "fails ('Integer cannot be parsed', then 'syntax error, unexpected invalid "
                "token'); use a value between -9223372036854775808 and 9223372036854775807",
            )


@rule("float-out-of-range", "warning", "silent-wrong", "Reads a float beyond double as inf or 0")
def float_out_of_range(ctx: Context) -> Iterator[Hit]:
    for tok in _suspect_numbers(ctx):
        if tok.kind is not _K.FLOAT:
            continue
        digits = tok.text.split("e")[0].split("E")[0]
        if tok.value in _INFINITIES:
            yield Hit(
                tok.start,
                f"{tok.text[:30]} is beyond the double range: the engine silently reads infinity",
            )
        elif tok.value == 0.0 and any(c in "123456789" for c in digits):
            yield Hit(
                tok.start, f"{tok.text[:30]} is below the double range: the engine silently reads 0"
            )


RULES = rules_in(globals())
