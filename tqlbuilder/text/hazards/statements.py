"""Rules on the flat sequence of code tokens: statements and keywords the engine mishandles.

Engine facts: tests/test_hazards.py (Deep Lake 4.7.4), engine-probe.md §3.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from tqlbuilder.engine.lexicon import ORDERING_OPERATORS
from tqlbuilder.engine.rules import text_ordering_problem
from tqlbuilder.text.hazards._model import Hit, rule, rules_in
from tqlbuilder.text.hazards._scan import Context, is_kw, is_op
from tqlbuilder.text.lexer import R_STRING, Token, TokenKind

_K = TokenKind
_ORDERINGS = ORDERING_OPERATORS


def _keywords(ctx: Context, *words: str) -> Iterator[tuple[int, Token]]:
    found = sorted(i for word in words for i in ctx.keywords.get(word, ()))
    for i in found:
        yield i, ctx.code[i]


def _statement_starts(ctx: Context) -> Iterator[Token]:
    """The first token of every statement (after depth-0 ``;``)."""
    if ";" not in ctx.text:  # one statement
        yield from ctx.code[:1]
        return
    depth = 0
    at_start = True
    for tok in ctx.code:
        if at_start and not is_op(tok, ";"):
            yield tok
        at_start = False
        if tok.kind is _K.OPERATOR:
            text = tok.text
            if text in "([{":
                depth += 1
            elif text in ")]}":
                depth = max(depth - 1, 0)
            elif text == ";" and depth == 0:
                at_start = True


@rule("update-statement", "error", "crash", "Dies (SIGSEGV) on UPDATE")
def update_statement(ctx: Context) -> Iterator[Hit]:
    for tok in _statement_starts(ctx):
        if is_kw(tok, "UPDATE"):
            yield Hit(
                tok.start,
                "UPDATE kills the embedded engine process (SIGSEGV) instead of failing; TQL "
                "only reads: change data with the deeplake Python API",
            )


@rule("multiple-statements", "error", "engine-rejects", "Refuses a second statement after `;`")
def multiple_statements(ctx: Context) -> Iterator[Hit]:
    for index, tok in enumerate(_statement_starts(ctx)):
        if index:
            yield Hit(
                tok.start,
                "a second statement after ';': the engine refuses it ('Multiple query "
                "statements are not supported in TQL.'); send one query at a time",
            )


@rule("text-ordering-comparison", "error", "silent-wrong", "`<`, `>` against a string: no rows")
def text_ordering(ctx: Context) -> Iterator[Hit]:
    if R_STRING not in ctx.rules_seen:
        return
    code = ctx.code
    last = len(code) - 1
    for i, tok in enumerate(code):
        if tok.kind is not _K.OPERATOR or tok.text not in _ORDERINGS:
            continue
        prev = code[i - 1] if i else None
        nxt = code[i + 1] if i < last else None
        if (prev is not None and prev.kind is _K.STRING) or (
            nxt is not None and nxt.kind is _K.STRING
        ):
            if text_ordering_problem(_json_key_before(code, i) or _json_key_after(code, i)) is None:
                continue  # JSON strings order lexicographically (engine.rules)
            yield Hit(
                tok.start,
                f"'{tok.text}' against a string: the engine's text ordering comparisons "
                "never match, so this silently selects no rows; use = / IN / LIKE, "
                "or BETWEEN 'a' AND 'b' (which is lexicographic)",
            )


def _json_key_before(code: Sequence[Token], i: int) -> bool:
    """``x['key'] <op>``: the operand left of ``code[i]`` ends in a JSON key subscript."""
    return (
        i >= 3
        and code[i - 1].text == "]"
        and code[i - 2].kind is _K.STRING
        and code[i - 3].text == "["
    )


def _json_key_after(code: Sequence[Token], i: int) -> bool:
    """``<op> x['key']``: the operand right of ``code[i]`` is a name with a JSON key subscript."""
    return (
        i + 4 < len(code)
        and code[i + 1].kind in (_K.IDENTIFIER, _K.QUOTED_IDENTIFIER)
        and code[i + 2].text == "["
        and code[i + 3].kind is _K.STRING
        and code[i + 4].text == "]"
    )


@rule("distinct-ignored", "error", "silent-wrong", "Accepts DISTINCT and returns every row")
def distinct_ignored(ctx: Context) -> Iterator[Hit]:
    for _, tok in _keywords(ctx, "DISTINCT"):
        yield Hit(
            tok.start,
            "the engine accepts DISTINCT (and DISTINCT ON) and ignores it: every row is "
            "returned; de-duplicate on the client, or GROUP BY the column",
        )


@rule("having-ignored", "error", "silent-wrong", "Parses HAVING and returns every group")
def having_ignored(ctx: Context) -> Iterator[Hit]:
    for _, tok in _keywords(ctx, "HAVING"):
        yield Hit(
            tok.start,
            "the engine parses HAVING and ignores it: every group is returned; filter "
            "the groups in an outer query: SELECT * FROM (... GROUP BY ...) WHERE ...",
        )


@rule("expand-by", "error", "silent-wrong", "EXPAND BY is deprecated and adds no rows")
def expand_by(ctx: Context) -> Iterator[Hit]:
    code = ctx.code
    for i, tok in _keywords(ctx, "EXPAND"):
        if i + 1 < len(code) and is_kw(code[i + 1], "BY"):
            yield Hit(
                tok.start,
                "EXPAND BY is deprecated and does nothing in the engine (no neighbouring rows"
                " are added); select the neighbours' row ranges explicitly",
            )


@rule("null-literal", "error", "engine-rejects", "Has no NULL literal ('NULL is not supported.')")
def null_literal(ctx: Context) -> Iterator[Hit]:
    code = ctx.code
    for i, tok in _keywords(ctx, "NULL"):
        prev = code[i - 1] if i else None
        if is_kw(prev, "IS") or (is_kw(prev, "NOT") and i >= 2 and is_kw(code[i - 2], "IS")):
            continue
        yield Hit(
            tok.start,
            "the engine has no NULL literal ('NULL is not supported.'); test for missing "
            "values with IS NULL / IS NOT NULL",
        )


@rule(
    "infix-contains",
    "error",
    "engine-rejects",
    "`text CONTAINS 'word'` is a syntax error; CONTAINS is a function",
)
def infix_contains(ctx: Context) -> Iterator[Hit]:
    if not ctx.mentions("contains"):
        return
    code = ctx.code
    for i, tok in enumerate(code):
        if tok.kind is _K.IDENTIFIER and tok.text.upper() == "CONTAINS" and i:
            nxt = code[i + 1] if i + 1 < len(code) else None
            prev = code[i - 1]
            operand_before = prev.kind in (
                _K.IDENTIFIER,
                _K.QUOTED_IDENTIFIER,
                _K.STRING,
            ) or is_op(prev, ")", "]")
            if operand_before and not is_op(nxt, "(", "."):
                yield Hit(
                    tok.start,
                    "infix CONTAINS is not TQL: the engine fails with 'syntax error, unexpected "
                    "IDENTIFIER'; write the function form CONTAINS(column, 'word')",
                )


RULES = rules_in(globals())
