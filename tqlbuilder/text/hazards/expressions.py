"""Rules inside expressions: sub-selects, quoted names, subscripts, function calls.

Engine facts: tests/test_hazards.py (Deep Lake 4.7.4; each rule has an engine test there).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from tqlbuilder.engine.catalog import ABSENT_FUNCTIONS
from tqlbuilder.engine.rules import contains_problem, unaliased_item_problem
from tqlbuilder.text.hazards._model import Hit, rule, rules_in
from tqlbuilder.text.hazards._scan import (
    COMPARISONS,
    Context,
    Group,
    Item,
    Level,
    call,
    constant_string,
    ends_operand,
    is_kw,
    is_op,
    is_query_group,
    pos,
    split,
    walk_tokens,
)
from tqlbuilder.text.lexer import R_QIDENT, Token, TokenKind

_K = TokenKind


def _groups(ctx: Context) -> list[tuple[str, Level | None, Item | None, Group]]:
    """Every bracket group as ``(clause, level, item before it, group)``."""
    return ctx.groups


def _calls(ctx: Context, name: str) -> list[tuple[str, Token, Group]]:
    """Every call ``NAME(...)`` (upper case), with its clause."""
    return ctx.calls.get(name, [])


@rule("in-subquery", "error", "silent-wrong", "`x IN (SELECT ...)` silently returns no rows")
def in_subquery(ctx: Context) -> Iterator[Hit]:
    for _, _, prev, group in _groups(ctx):
        if is_kw(prev, "IN") and is_query_group(group):
            yield Hit(
                group.open.start,
                "x IN (SELECT ...) silently returns no rows in the engine; run the inner "
                "query first and inline its values: x IN (1, 2, 3), or use a JOIN",
            )


@rule(
    "scalar-subquery",
    "error",
    "engine-rejects",
    "A sub-select as a value: 'SELECT is not supported.'",
)
def scalar_subquery(ctx: Context) -> Iterator[Hit]:
    for clause, _, prev, group in _groups(ctx):
        if clause not in ("", "FROM") and not is_kw(prev, "IN") and is_query_group(group):
            yield Hit(
                group.open.start,
                "a sub-select used as a value: the engine fails with 'SELECT is not supported.' "
                "(sub-selects work only as a FROM source); run it first and write its value",
            )


def _double_quoted(tok: Token) -> Hit:
    value = str(tok.value).replace("'", "''")
    return Hit(
        tok.start,
        f"{tok.text} is a column name, not a string: double quotes quote names in TQL, so "
        f"the engine compares with column {tok.text} (or fails: 'Tensor does not exist'); "
        f"if you meant the text, write '{value}'",
    )


def _lone_quoted(items: Sequence[Item], index: int) -> Token | None:
    """``items[index]`` if it is a quoted name standing alone as an operand."""
    if index >= len(items):
        return None
    tok = items[index]
    if not (isinstance(tok, Token) and tok.kind is _K.QUOTED_IDENTIFIER):
        return None
    after = items[index + 1] if index + 1 < len(items) else None
    if is_op(after, ".", "+", "-", "*", "/", "%") or isinstance(after, Group):
        return None
    return tok


def _single_quoted_name(items: Sequence[Item]) -> Token | None:
    if len(items) == 1 and isinstance(items[0], Token) and items[0].kind is _K.QUOTED_IDENTIFIER:
        return items[0]
    return None


@rule("double-quoted-string", "warning", "silent-wrong", 'Reads `"text"` as a column name')
def double_quoted_string(ctx: Context) -> Iterator[Hit]:
    if R_QIDENT not in ctx.rules_seen:
        return
    op_kind, kw_kind, token = _K.OPERATOR, _K.KEYWORD, Token
    for seq in ctx.sequences:  # comparisons with a lone quoted name (not FROM: JOIN ... ON)
        if seq.clause == "FROM":
            continue
        items = seq.items
        for i, item in enumerate(items):
            if type(item) is token and (
                (item.kind is op_kind and item.text in COMPARISONS)
                or (item.kind is kw_kind and item.value in ("LIKE", "ILIKE"))
            ):
                tok = _lone_quoted(items, i + 1)
                if tok is not None:
                    yield _double_quoted(tok)
    for _, _, prev, group in ctx.groups:  # a subscript key, an IN element, a CONTAINS value
        opener = group.open.text
        if (opener == "[" and ends_operand(prev) and not is_kw(prev, "ARRAY")) or (
            opener == "(" and is_kw(prev, "IN") and not is_query_group(group)
        ):
            parts = split(group.items, ",")
        elif (
            opener == "("
            and isinstance(prev, Token)
            and prev.kind is _K.IDENTIFIER
            and str(prev.value).upper() == "CONTAINS"
            and not is_query_group(group)
        ):
            args = split(group.items, ",")
            parts = args[1:] if len(args) == 2 else []
        else:
            continue
        for part in parts:
            tok = _single_quoted_name(part)
            if tok is not None:
                yield _double_quoted(tok)


def _subscripts(ctx: Context) -> Iterator[Group]:
    for _, _, prev, group in _groups(ctx):
        if group.open.text == "[" and ends_operand(prev) and not is_kw(prev, "ARRAY"):
            yield group


@rule(
    "between-on-element",
    "error",
    "crash",
    "BETWEEN right after a position subscript: the engine process dies (SIGSEGV)",
)
def between_on_element(ctx: Context) -> Iterator[Hit]:
    code = ctx.code
    for i, tok in enumerate(code):
        if not (is_kw(tok, "BETWEEN") and i and code[i - 1].text == "]"):
            continue
        depth, j = 0, i - 1
        while j >= 0:  # back to the '[' that opens this subscript
            if code[j].text == "]":
                depth += 1
            elif code[j].text == "[":
                depth -= 1
                if depth == 0:
                    break
            j -= 1
        inside = code[j + 1 : i - 1]
        if len(inside) == 1 and inside[0].kind is TokenKind.STRING:
            continue  # a JSON key: BETWEEN works there
        yield Hit(
            tok.start,
            "BETWEEN on an array element or slice (x[0] BETWEEN a AND b) kills the engine "
            "process (SIGSEGV, deeplake 4.7.4; tests/test_engine_fatal.py); write "
            "(x[0] >= a) AND (x[0] <= b), which the builder's between() compiles to",
        )


@rule(
    "negative-index",
    "error",
    "engine-rejects",
    "Negative index: fails, does not count from the end",
)
def negative_index(ctx: Context) -> Iterator[Hit]:
    for group in _subscripts(ctx):
        for dim in split(group.items, ","):
            for part in split(dim, ":"):
                if part and is_op(part[0], "-"):
                    yield Hit(
                        pos(part[0]),
                        "negative index: the engine does not count from the end; x[-1] fails "
                        "('Indexes should be 1D array', only when rows are read) and x[-2:] is "
                        "a syntax error; use a non-negative literal index (e.g. from SHAPE(x))",
                    )
                    break


@rule("open-slice", "error", "silent-wrong", "`x[1:]` returns the single element x[1]")
def open_slice(ctx: Context) -> Iterator[Hit]:
    for group in _subscripts(ctx):
        for dim in split(group.items, ","):
            parts = split(dim, ":")
            if len(parts) == 2 and parts[0] and not parts[1]:
                colon = next(it for it in dim if is_op(it, ":"))
                yield Hit(
                    pos(colon),
                    "a slice with a start but no end: the engine returns the single element at "
                    "the start instead of the rest (x[1:] gives x[1]); write the end: x[1:n]",
                )


def _contains_text(group: Group) -> Token | None:
    """The string CONTAINS searches for, looking through parentheses."""
    args = split(group.items, ",")
    return constant_string(args[1]) if len(args) == 2 else None


@rule("contains-without-token", "error", "crash", "Dies (SIGSEGV) on an indexed column")
def contains_without_token(ctx: Context) -> Iterator[Hit]:
    for _, _, group in _calls(ctx, "CONTAINS"):
        arg = _contains_text(group)
        value = arg.value if arg is not None else None
        problem = contains_problem(value) if isinstance(value, str) else None
        if arg is not None and problem is not None:
            yield Hit(
                arg.start,
                f"CONTAINS with {arg.text}: {problem} (an inverted or BM25 index), also inside "
                "parentheses; drop the condition or search for a real word",
            )


@rule(
    "contains-wildcard",
    "warning",
    "silent-wrong",
    "`*` in CONTAINS is literal in v4 (v3: wildcard)",
)
def contains_wildcard(ctx: Context) -> Iterator[Hit]:
    for _, _, group in _calls(ctx, "CONTAINS"):
        arg = _contains_text(group)
        value = arg.value if arg is not None else None
        if arg is not None and isinstance(value, str) and "*" in value:
            yield Hit(
                arg.start,
                f"CONTAINS with {arg.text}: Deep Lake v3 read '*' as a wildcard, v4 does "
                "not (on a plain text column it matches a literal '*'; on an indexed one "
                "it searches the words without the stars); for a substring match write "
                "col LIKE '%text%'",
            )


@rule(
    "absent-function",
    "error",
    "engine-rejects",
    "A function the engine does not have: COUNT, MIN, MAX",
)
def absent_function(ctx: Context) -> Iterator[Hit]:
    for name, instead in ABSENT_FUNCTIONS.items():
        for _, tok, _ in _calls(ctx, name):
            yield Hit(
                tok.start,
                f"the engine has no {name} function ('Function '{name}' is not found in "
                f"external function sources'): {instead}",
            )


def _bm25_items(level: Level) -> Iterator[tuple[list[Item], Token | None, Token]]:
    for expr, alias in level.select_items:
        for tok in walk_tokens(expr):
            if tok.kind is _K.IDENTIFIER and str(tok.value).upper() == "BM25_SIMILARITY":
                yield expr, alias, tok
                break


def _texts(items: Sequence[Item]) -> list[str]:
    return [tok.text for tok in walk_tokens(items)]


def _order_call(level: Level) -> tuple[list[str], str] | None:
    """Token texts of the first ORDER BY key's BM25 call and its direction, if it is one."""
    order = level.by_name.get("ORDER BY")
    if order is None or not level.limited:
        return None
    key = split(order.items, ",")[0]
    direction = "ASC"
    if key and is_kw(key[-1], "ASC", "DESC"):
        direction = str(key[-1].value) if isinstance(key[-1], Token) else "ASC"
        key = key[:-1]
    found = call(key)
    if found is None or found[0] != "BM25_SIMILARITY":
        return None
    return _texts([found[1]]), direction


@rule(
    "bm25-score-selected",
    "error",
    "engine-rejects",
    "Rejects a BM25 score in a SELECT list except `... AS score` beside its ORDER BY",
)
def bm25_score_selected(ctx: Context) -> Iterator[Hit]:
    for level in ctx.levels if "BM25_SIMILARITY" in ctx.calls else ():
        for expr, alias, tok in _bm25_items(level):
            order = _order_call(level)
            found = call(expr)
            if alias is not None and alias.value == "score" and order and found is not None:
                continue  # runs (its value: see bm25-score-mismatch)
            yield Hit(
                tok.start,
                "the engine refuses BM25_SIMILARITY in a SELECT list ('Incorrect BM25 or MMR "
                "similarity query', or 'Tensor \"score\" does not exist') unless it is written "
                "BM25_SIMILARITY(col, 'text') AS score beside ORDER BY BM25_SIMILARITY(col, "
                "'text') DESC LIMIT k in the same SELECT (alias score in lower case)",
            )


@rule(
    "bm25-score-mismatch",
    "error",
    "silent-wrong",
    "A selected BM25 score is the ORDER BY's score, whatever its arguments",
)
def bm25_score_mismatch(ctx: Context) -> Iterator[Hit]:
    for level in ctx.levels if "BM25_SIMILARITY" in ctx.calls else ():
        for expr, alias, tok in _bm25_items(level):
            order = _order_call(level)
            found = call(expr)
            if alias is None or alias.value != "score" or not order or found is None:
                continue
            if _texts([found[1]]) != order[0]:
                yield Hit(
                    tok.start,
                    "the selected BM25 score differs from the ORDER BY's BM25_SIMILARITY: the "
                    "engine fills the score column with the ORDER BY's scores, not these; "
                    "select the same call you sort by",
                )


def _columns_read(expr: Sequence[Item]) -> int | None:
    """How many distinct columns a select expression reads, or None for ``*`` / ``t.*``."""
    tokens = walk_tokens(expr)
    if tokens and is_op(tokens[-1], "*") and (len(tokens) == 1 or is_op(tokens[-2], ".")):
        return None
    names: set[str] = set()
    for i, tok in enumerate(tokens):
        if tok.kind not in (_K.IDENTIFIER, _K.QUOTED_IDENTIFIER):
            continue
        nxt = tokens[i + 1] if i + 1 < len(tokens) else None
        if is_op(nxt, "("):
            continue  # a function name
        if i and is_op(tokens[i - 1], "."):
            continue  # t.col: counted once, as t
        names.add(str(tok.value))
    return len(names)


@rule(
    "unaliased-expression",
    "error",
    "engine-rejects",
    "An unaliased select expression reading no column or several (ROW_NUMBER(), a * b)",
)
def unaliased_expression(ctx: Context) -> Iterator[Hit]:
    for level in ctx.levels:
        for expr, alias in level.select_items:
            if alias is not None or not expr:
                continue
            count = _columns_read(expr)
            problem = unaliased_item_problem(count) if count is not None else None
            if problem is not None:
                yield Hit(
                    pos(expr[0]),
                    f"{problem} ('SELECT tensor expression containing more than one tensor "
                    "should be aliased'); name it: ... AS name",
                )


RULES = rules_in(globals())
