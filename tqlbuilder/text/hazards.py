"""Find the hazards in hand-written TQL: text the engine truncates, misreads, ignores or dies on.

``check(text)`` works on the lexer's tokens with a light, bracket-aware scanner of statement
levels (no full parse), so it also reports on queries that would not parse. Every message says
what the Deep Lake 4.7.4 engine does with the construct and how to write it instead.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Literal, TypeAlias

import attrs

from tqlbuilder.text.lexer import Token, TokenKind, lex

__all__ = ["CRASH_CODES", "TRUNCATION_CODES", "Finding", "check"]

Severity = Literal["error", "warning"]

#: Codes whose query kills or hangs the embedded engine process.
CRASH_CODES: frozenset[str] = frozenset(
    {"contains-without-token", "sample-zero-weights", "update-statement"}
)

#: Codes whose presence means the engine would run a different (truncated) query than the text.
TRUNCATION_CODES: frozenset[str] = frozenset(
    {
        "unknown-character",
        "nul-byte",
        "carriage-return",
        "non-ascii-outside-quotes",
        "comment-swallows-rest",
        "double-dash",
        "unterminated-string",
        "unterminated-identifier",
    }
)


@attrs.frozen
class Finding:
    """One hazard: a stable ``code``, the 0-based character ``position`` it points at, a message."""

    code: str
    position: int
    message: str
    severity: Severity


_K = TokenKind
_SIMILARITY_FUNCS = frozenset({"COSINE_SIMILARITY", "DOT", "MAXSIM", "BM25_SIMILARITY"})
_DISTANCE_FUNCS = frozenset({"L1_NORM", "L2_NORM", "LINF_NORM", "HAMMING_DISTANCE"})
# Functions whose first argument is a column: a name there is read as a column, by design.
_COLUMN_FIRST_FUNCS = _SIMILARITY_FUNCS | frozenset({"HAMMING_DISTANCE", "CONTAINS"})
_COMPARISONS = frozenset({"=", "==", "!=", "<>", "<", ">", "<=", ">="})
_ORDERINGS = frozenset({"<", ">", "<=", ">="})
_SET_OPS = frozenset({"UNION", "INTERSECT", "EXCEPT"})
_OPENERS = frozenset({"(", "[", "{"})
_CLOSERS = frozenset({")", "]", "}"})
_FLAT_OPERATORS = frozenset({"(", "[", "{", ")", "]", "}", ";", "<", ">", "<=", ">="})
_INFINITIES = (float("inf"), float("-inf"))
_STOP_STATEMENT = "the engine stops reading here and silently runs only the text before it"

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


class _Group:
    """A bracketed run of items: ``(...)``, ``[...]`` or ``{...}`` (``close`` None if unclosed)."""

    __slots__ = ("close", "items", "open")

    def __init__(self, open_: Token) -> None:
        self.open = open_
        self.close: Token | None = None
        self.items: list[_Item] = []


_Item: TypeAlias = "Token | _Group"


class _Clause:
    """One clause of a SELECT level: ``name`` (e.g. ``ORDER BY``), its keyword and its items."""

    __slots__ = ("items", "keyword", "name")

    def __init__(self, name: str, keyword: Token | None) -> None:
        self.name = name
        self.keyword = keyword
        self.items: list[_Item] = []


# --------------------------------------------------------------------------- small helpers


def _pos(item: _Item) -> int:
    return item.open.start if isinstance(item, _Group) else item.start


def _is_kw(item: _Item | None, *words: str) -> bool:
    return isinstance(item, Token) and item.kind is _K.KEYWORD and item.value in words


def _is_op(item: _Item | None, *ops: str) -> bool:
    return isinstance(item, Token) and item.kind is _K.OPERATOR and item.text in ops


def _is_name(item: _Item | None) -> bool:
    return isinstance(item, Token) and item.kind in (_K.IDENTIFIER, _K.QUOTED_IDENTIFIER)


def _is_paren(item: _Item | None) -> bool:
    return isinstance(item, _Group) and item.open.text == "("


def _is_query_group(item: _Item | None) -> bool:
    """A parenthesised sub-select: ``(SELECT ...)`` or ``((SELECT ...) UNION ...)``."""
    if not _is_paren(item):
        return False
    assert isinstance(item, _Group)
    first = item.items[0] if item.items else None
    return _is_kw(first, "SELECT", "WITH") or _is_query_group(first)


def _ends_operand(item: _Item | None) -> bool:
    """True if ``item`` can end an operand, so a following ``[`` is a subscript."""
    if isinstance(item, _Group):
        return item.open.text in "(["
    if item is None:
        return False
    return item.kind in (_K.IDENTIFIER, _K.QUOTED_IDENTIFIER, _K.STRING)


def _split(items: Sequence[_Item], *ops: str) -> list[list[_Item]]:
    """Split ``items`` at depth-0 operators ``ops`` (the separators are dropped)."""
    parts: list[list[_Item]] = [[]]
    for item in items:
        if _is_op(item, *ops):
            parts.append([])
        else:
            parts[-1].append(item)
    return parts


def _unwrap(items: Sequence[_Item]) -> Sequence[_Item]:
    """Strip redundant expression parentheses: ``((f(x)))`` -> ``f(x)``."""
    while len(items) == 1 and _is_paren(items[0]) and not _is_query_group(items[0]):
        group = items[0]
        assert isinstance(group, _Group)
        items = group.items
    return items


def _call(items: Sequence[_Item]) -> tuple[str, _Group] | None:
    """``(NAME, args group)`` if ``items`` is exactly one function call."""
    items = _unwrap(items)
    if len(items) == 2 and isinstance(items[0], Token) and _is_paren(items[1]):
        head = items[0]
        if head.kind is _K.IDENTIFIER or _is_kw(head, "ALL"):
            group = items[1]
            assert isinstance(group, _Group)
            return str(head.value).upper(), group
    return None


def _constant(items: Sequence[_Item]) -> float | None:
    """The value of a constant weight: a number, ``-number``, TRUE or FALSE (in parentheses too)."""
    items = _unwrap(items)
    sign = 1.0
    if len(items) == 2 and _is_op(items[0], "-"):
        sign, items = -1.0, _unwrap(items[1:])
    if len(items) != 1 or not isinstance(items[0], Token):
        return None
    tok = items[0]
    if tok.kind in (_K.INTEGER, _K.FLOAT) and isinstance(tok.value, (int, float)):
        return sign * float(tok.value)
    if _is_kw(tok, "TRUE", "FALSE") and sign > 0:
        return 1.0 if tok.value == "TRUE" else 0.0
    return None


def _walk_tokens(items: Sequence[_Item]) -> Iterator[Token]:
    """Every token in ``items``, descending into brackets but not into sub-selects."""
    for item in items:
        if isinstance(item, _Group):
            if not _is_query_group(item):
                yield item.open
                yield from _walk_tokens(item.items)
        else:
            yield item


def _build_tree(tokens: Sequence[Token]) -> list[_Item]:
    """Nest tokens into bracket groups; a stray closer stays a plain token."""
    root: list[_Item] = []
    stack: list[_Group] = []
    target = root
    for tok in tokens:
        if tok.kind is _K.OPERATOR:
            text = tok.text
            if text in _OPENERS:
                group = _Group(tok)
                target.append(group)
                stack.append(group)
                target = group.items
                continue
            if text in _CLOSERS and stack:
                stack.pop().close = tok
                target = stack[-1].items if stack else root
                continue
        target.append(tok)
    return root


def _clauses(items: Sequence[_Item]) -> list[_Clause]:
    """Cut one SELECT level into its clauses (a LIMIT after SAMPLE BY is ``SAMPLE LIMIT``)."""
    clauses = [_Clause("", None)]
    sampled = False
    i = 0
    while i < len(items):
        item = items[i]
        name = ""
        width = 1
        if isinstance(item, Token) and item.kind is _K.KEYWORD:
            word = str(item.value)
            if word in ("SELECT", "FROM", "WHERE", "HAVING", "OFFSET"):
                name = word
            elif word == "LIMIT":
                name = "SAMPLE LIMIT" if sampled else "LIMIT"
            elif word in ("GROUP", "UNGROUP", "ORDER", "SAMPLE", "EXPAND") and _is_kw(
                items[i + 1] if i + 1 < len(items) else None, "BY"
            ):
                name, width = word + " BY", 2
                sampled = sampled or word == "SAMPLE"
        if name:
            assert isinstance(item, Token)
            clauses.append(_Clause(name, item))
        else:
            clauses[-1].items.append(item)
        i += width
    return clauses


def _select_list(clause: _Clause) -> list[tuple[list[_Item], Token | None]]:
    """The SELECT items as ``(expression, alias token or None)``, after TOP / DISTINCT [ON]."""
    items = list(clause.items)
    if _is_kw(items[0] if items else None, "TOP"):
        items = items[2:]
    if _is_kw(items[0] if items else None, "DISTINCT"):
        items = items[1:]
        if _is_kw(items[0] if items else None, "ON"):
            items = items[2:]
    result: list[tuple[list[_Item], Token | None]] = []
    for part in _split(items, ","):
        last = part[-1] if len(part) >= 2 else None
        if isinstance(last, Token) and _is_name(last):
            before = part[-2]
            if _is_kw(before, "AS"):
                result.append((part[:-2], last))
                continue
            if _ends_operand(before) or (
                isinstance(before, Token) and before.kind in (_K.INTEGER, _K.FLOAT)
            ):
                result.append((part[:-1], last))  # a bare alias: SELECT id ident
                continue
        result.append((part, None))
    return result


def _line_of(text: str, position: int) -> int:
    return text.count("\n", 0, position) + 1


# --------------------------------------------------------------------------- the checker


class _Checker:
    """Collects findings over one text; a fresh instance per call (no shared state)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.findings: list[Finding] = []

    def add(self, code: str, position: int, severity: Severity, message: str) -> None:
        self.findings.append(Finding(code, position, message, severity))

    # ----------------------------------------------------------------- lexical level

    def lexical(self, tokens: Sequence[Token]) -> None:
        first_unknown: dict[str, Token] = {}
        unknown_count: dict[str, int] = {}
        for i, tok in enumerate(tokens):
            kind = tok.kind
            if kind is _K.FLOAT:
                if tok.value == 0.0 or tok.value in _INFINITIES:
                    self._number(tok)
                continue
            if kind is _K.OPERATOR or kind is _K.IDENTIFIER or kind is _K.KEYWORD:
                continue
            if kind is _K.INTEGER:
                if tok.octal or tok.out_of_range:
                    self._number(tok)
                continue
            if kind is _K.UNKNOWN:
                code = self._unknown_code(tok.text)
                unknown_count[code] = unknown_count.get(code, 0) + 1
                first_unknown.setdefault(code, tok)
            elif kind is _K.COMMENT and tok.text.startswith("--"):
                self._comment(tokens, i)
            elif kind is _K.UNTERMINATED_STRING:
                self.add(
                    "unterminated-string",
                    tok.start,
                    "error",
                    "this string literal is never closed: the engine reads to the end, reports "
                    "'Unterminated string' on stderr and runs only the text before the quote; "
                    "close it with ' (write a quote inside as '')",
                )
            elif kind is _K.UNTERMINATED_IDENTIFIER:
                self.add(
                    "unterminated-identifier",
                    tok.start,
                    "error",
                    'this quoted name has no closing " on its line: the engine sees an unknown '
                    f'character at the quote and {_STOP_STATEMENT}; close it with " (a name '
                    'cannot contain " or a newline)',
                )
        for tok in tokens if "\0" in self.text else ():
            if tok.kind is not _K.UNKNOWN and "\0" in tok.text:
                at = tok.start + tok.text.index("\0")
                self.add(
                    "nul-byte",
                    at,
                    "error",
                    "NUL character: the query is passed to the engine as a C string, which ends "
                    "here (inside a literal this gives 'syntax error, unexpected end of file'); "
                    "remove it, a NUL cannot be written in TQL",
                )
        for code, tok in first_unknown.items():
            more = unknown_count[code] - 1
            suffix = f" ({more} more later in the text)" if more else ""
            self.add(code, tok.start, "error", self._unknown_message(code, tok.text) + suffix)

    @staticmethod
    def _unknown_code(char: str) -> str:
        if char == "\0":
            return "nul-byte"
        if char == "\r":
            return "carriage-return"
        if ord(char[0]) > 127:
            return "non-ascii-outside-quotes"
        return "unknown-character"

    @staticmethod
    def _unknown_message(code: str, char: str) -> str:
        if code == "nul-byte":
            return (
                "NUL character: the query is passed to the engine as a C string, which ends "
                "here; everything after it is silently dropped; remove it"
            )
        if code == "carriage-return":
            return (
                f"carriage return (CR, as in CRLF line ends): {_STOP_STATEMENT}; "
                "use LF line ends or spaces"
            )
        if code == "non-ascii-outside-quotes":
            return (
                f"non-ASCII character {char!a} (U+{ord(char[0]):04X}) outside quotes: "
                f"{_STOP_STATEMENT}; only space, tab and LF separate tokens, quote names "
                'that need it ("my col") and put text in single-quoted strings'
            )
        if char == '""':
            return (
                f'empty quoted name "": the engine sees an unknown character and '
                f"{_STOP_STATEMENT}; a quoted name needs at least one character"
            )
        hint = _UNKNOWN_HINTS.get(char, "remove it or put it inside quotes")
        return f"unknown character {char!a}: {_STOP_STATEMENT}; {hint}"

    def _comment(self, tokens: Sequence[Token], index: int) -> None:
        tok = tokens[index]
        end = tok.end
        for nxt in tokens[index + 1 :]:  # a CHARACTER VARYING split can continue the comment
            if nxt.start != end or nxt.kind not in (_K.COMMENT, _K.KEYWORD):
                break
            if nxt.kind is _K.KEYWORD and "\n" not in nxt.text:
                break
            end = nxt.end
        body = self.text[tok.start : end]
        after = self.text[tok.start + 2 : tok.start + 3]
        before = self.text[tok.start - 1] if tok.start else ""
        glued = bool(before) and before not in " \t\n"
        arithmetic = glued or after.isdigit() or after == "."
        if arithmetic:
            self.add(
                "double-dash",
                tok.start,
                "error",
                "'--' starts a comment, also inside an expression: the engine drops everything "
                "to the end of the line (a--1 runs as a); write a minus before a negative "
                "number with spaces or parentheses: a - -1 or a - (-1)",
            )
        if "\n" in body:
            resumes = end < len(self.text) and self.text[end:].strip(" \t\n") != ""
            until = (
                f"through line {_line_of(self.text, end)}" if resumes else "to the end of the query"
            )
            self.add(
                "comment-swallows-rest",
                tok.start,
                "error",
                "this comment does not end at its line: in the engine's lexer a newline followed "
                "by a space, a tab or a blank line (or a comment that is only blanks) keeps the "
                f"comment going, so the engine silently skips the text {until}; remove the "
                "comment (TQL needs none) or start the next line in column 1",
            )
        elif not arithmetic:
            self.add(
                "comment",
                tok.start,
                "warning",
                "comment: the engine skips it to the end of the line, but as soon as the next "
                "line is indented or blank the comment runs on and swallows it; generated or "
                "shared queries should carry no comments",
            )

    def _number(self, tok: Token) -> None:
        if tok.kind is _K.INTEGER:
            if tok.out_of_range:
                self.add(
                    "integer-out-of-range",
                    tok.start,
                    "error",
                    f"{tok.text[:30]} does not fit in a signed 64-bit integer: the engine's lexer "
                    "fails ('Integer cannot be parsed', then 'syntax error, unexpected invalid "
                    "token'); use a value between -9223372036854775808 and 9223372036854775807",
                )
            elif tok.octal:
                written = tok.text.lstrip("0")
                if len(written) > 30:
                    written = written[:27] + "..."
                self.add(
                    "octal-integer",
                    tok.start,
                    "error",
                    f"{tok.text[:30]} has a leading zero, so the engine reads it as octal: "
                    f"{tok.value}, not {written}; write the number without leading zeros",
                )
        elif isinstance(tok.value, float):
            digits = tok.text.split("e")[0].split("E")[0]
            if tok.value in _INFINITIES:
                self.add(
                    "float-out-of-range",
                    tok.start,
                    "warning",
                    f"{tok.text} is beyond the double range: the engine silently reads infinity",
                )
            elif tok.value == 0.0 and any(c in "123456789" for c in digits):
                self.add(
                    "float-out-of-range",
                    tok.start,
                    "warning",
                    f"{tok.text} is below the double range: the engine silently reads 0",
                )

    # ----------------------------------------------------------------- flat token level

    def flat(self, code: Sequence[Token]) -> None:
        depth = 0
        statement_start = True
        last = len(code) - 1
        for i, tok in enumerate(code):
            kind = tok.kind
            if kind is _K.OPERATOR:
                if tok.text not in _FLAT_OPERATORS:
                    statement_start = False
                    continue
            elif kind is not _K.KEYWORD:
                statement_start = False
                continue
            prev = code[i - 1] if i else None
            nxt = code[i + 1] if i < last else None
            if statement_start and tok.value == "UPDATE":
                self.add(
                    "update-statement",
                    tok.start,
                    "error",
                    "UPDATE kills the embedded engine process (SIGSEGV) instead of failing; TQL "
                    "only reads: change data with the deeplake Python API",
                )
            statement_start = False
            if kind is _K.OPERATOR:
                if tok.text in "([{":
                    depth += 1
                elif tok.text in ")]}":
                    depth = max(depth - 1, 0)
                elif tok.text == ";" and depth == 0:
                    statement_start = True
                    if nxt is not None and not _is_op(nxt, ";"):
                        self.add(
                            "multiple-statements",
                            nxt.start,
                            "error",
                            "a second statement after ';': the engine refuses it ('Multiple "
                            "query statements are not supported in TQL.'); send one query at "
                            "a time",
                        )
                elif tok.text in _ORDERINGS and (
                    (prev is not None and prev.kind is _K.STRING)
                    or (nxt is not None and nxt.kind is _K.STRING)
                ):
                    self.add(
                        "text-ordering-comparison",
                        tok.start,
                        "error",
                        f"'{tok.text}' against a string: the engine's text ordering comparisons "
                        "never match, so this silently selects no rows; use = / IN / LIKE, "
                        "or BETWEEN 'a' AND 'b' (which is lexicographic)",
                    )
                continue
            word = tok.value
            if word == "DISTINCT":
                self.add(
                    "distinct-ignored",
                    tok.start,
                    "error",
                    "the engine accepts DISTINCT (and DISTINCT ON) and ignores it: every row is "
                    "returned; de-duplicate on the client, or GROUP BY the column",
                )
            elif word == "HAVING":
                self.add(
                    "having-ignored",
                    tok.start,
                    "error",
                    "the engine parses HAVING and ignores it: every group is returned; filter "
                    "the groups in an outer query: SELECT * FROM (... GROUP BY ...) WHERE ...",
                )
            elif word in ("INTERSECT", "EXCEPT"):
                self.add(
                    "intersect-except",
                    tok.start,
                    "error",
                    f"{word} fails on the engine ('Can't compute "
                    f"{'intersection' if word == 'INTERSECT' else 'difference'} of two independent"
                    " datasets'); combine the conditions in one WHERE with AND / AND NOT",
                )
            elif word == "EXPAND" and _is_kw(nxt, "BY"):
                self.add(
                    "expand-by",
                    tok.start,
                    "error",
                    "EXPAND BY is deprecated and does nothing in the engine (no neighbouring rows"
                    " are added); select the neighbours' row ranges explicitly",
                )
            elif word == "NULL" and not (
                _is_kw(prev, "IS") or (_is_kw(prev, "NOT") and i >= 2 and _is_kw(code[i - 2], "IS"))
            ):
                self.add(
                    "null-literal",
                    tok.start,
                    "error",
                    "the engine has no NULL literal ('NULL is not supported.'); test for missing "
                    "values with IS NULL / IS NOT NULL",
                )

    # ----------------------------------------------------------------- statement levels

    def statements(self, tree: Sequence[_Item]) -> None:
        for statement in _split(tree, ";"):
            if statement:
                self.level(statement)

    def level(self, items: Sequence[_Item], limited_outside: bool = False) -> None:
        """Check one SELECT level (possibly a set operation of several operands).

        ``limited_outside``: the level is the FROM source of a level that only limits it
        (``SELECT * FROM (... ORDER BY f(...)) LIMIT k``), so its ORDER BY is limited too.
        """
        first = items[0] if items else None
        if not (_is_kw(first, "SELECT", "WITH") or _is_query_group(first)):
            self.expressions(items, "")
            return
        operands: list[list[_Item]] = [[]]
        for item in items:
            if _is_kw(item, *_SET_OPS):
                operands.append([])
            elif not (_is_kw(item, "ALL") and len(operands) > 1 and not operands[-1]):
                operands[-1].append(item)
        for index, operand in enumerate(operands):
            clauses = _clauses(operand)
            if len(operands) > 1 and index == len(operands) - 1:
                for clause in clauses:
                    if clause.keyword is not None:
                        self._after_set_operation(clause)
            self.select_level(clauses, limited_outside and len(operands) == 1)

    def _after_set_operation(self, clause: _Clause) -> None:
        assert clause.keyword is not None
        wrap = f"wrap the union: SELECT * FROM (... UNION ...) {clause.name} ..."
        if clause.name == "ORDER BY":
            self.add(
                "order-after-union",
                clause.keyword.start,
                "warning",
                "ORDER BY after a set operation: the engine sorts the union but adds a stray "
                f"_order_score_ column (its values do not follow the sorted rows); {wrap}",
            )
        elif clause.name in ("LIMIT", "OFFSET"):
            self.add(
                "order-after-union",
                clause.keyword.start,
                "error",
                f"{clause.name} after a set operation: the engine silently ignores it and returns "
                f"the whole union; {wrap}",
            )

    def select_level(self, clauses: Sequence[_Clause], limited_outside: bool = False) -> None:
        by_name: dict[str, _Clause] = {}
        for clause in clauses:
            by_name.setdefault(clause.name, clause)
        select = by_name.get("SELECT")
        aliases: dict[str, list[_Item]] = {}
        has_top = False
        if select is not None:
            has_top = _is_kw(select.items[0] if select.items else None, "TOP")
            for expr, alias in _select_list(select):
                if alias is not None and isinstance(alias.value, str):
                    same = len(expr) == 1 and _is_name(expr[0])
                    if not (same and isinstance(expr[0], Token) and expr[0].value == alias.value):
                        aliases[alias.value] = expr
        limit = by_name.get("LIMIT")
        order = by_name.get("ORDER BY")
        wraps = (limit is not None or has_top) and order is None
        for clause in clauses:
            self.expressions(clause.items, clause.name, wraps and clause.name == "FROM")
            if clause.name in ("WHERE", "ORDER BY") and aliases:
                self._alias_uses(clause, aliases)
        from_clause = by_name.get("FROM")
        if from_clause is not None:
            for item in from_clause.items:
                if _is_op(item, ","):
                    self.add(
                        "comma-join",
                        _pos(item),
                        "error",
                        "FROM a, b is not a cross product in the engine: it zips the sources row "
                        "by row (missing rows become None); use JOIN ... ON a.k = b.k",
                    )
        offset = by_name.get("OFFSET")
        if (
            limit is not None
            and offset is not None
            and limit.keyword
            and offset.keyword
            and offset.keyword.start < limit.keyword.start
        ):
            self.add(
                "offset-before-limit",
                offset.keyword.start,
                "error",
                "OFFSET before LIMIT is a syntax error in the engine; write LIMIT n OFFSET m",
            )
        group = by_name.get("GROUP BY")
        if group is not None and group.keyword and (limit is not None or has_top):
            where = limit.keyword if limit is not None and limit.keyword else group.keyword
            self.add(
                "limit-before-group",
                where.start,
                "error",
                "with GROUP BY the engine applies LIMIT to the source rows before grouping (GROUP"
                " BY x LIMIT 2 gives groups built from 2 rows); limit the groups in an outer "
                "query: SELECT * FROM (... GROUP BY ...) LIMIT n",
            )
        if order is not None and order.keyword is not None:
            limited = limit is not None or has_top or limited_outside
            self._order_by(order, limited, aliases, from_clause)
        sample = by_name.get("SAMPLE BY")
        if sample is not None and sample.keyword is not None:
            self._sample(sample)

    def _alias_uses(self, clause: _Clause, aliases: dict[str, list[_Item]]) -> None:
        items = list(_walk_tokens(clause.items))
        for i, tok in enumerate(items):
            if not _is_name(tok) or tok.value not in aliases:
                continue
            prev = items[i - 1] if i else None
            nxt = items[i + 1] if i + 1 < len(items) else None
            if _is_op(prev, ".") or _is_op(nxt, ".", "("):
                continue
            head = items[i - 2] if i >= 2 else None
            if (
                _is_op(prev, "(")
                and isinstance(head, Token)
                and str(head.value).upper() in _COLUMN_FIRST_FUNCS
            ):
                continue  # SIM(name, ...): a column argument, which the engine reads as one
            self.add(
                "alias-in-same-level",
                tok.start,
                "error",
                f"{tok.text} is an alias from this SELECT list, but the engine does not see "
                f"aliases in the same level's {clause.name} (it fails with 'Tensor "
                f'"{tok.value}" does not exist\', or reads a column of that name); repeat the '
                "expression, or wrap the query: SELECT * FROM (SELECT ... AS "
                f"{tok.text} ...) {clause.name} {tok.text}",
            )

    def _order_by(
        self,
        clause: _Clause,
        limited: bool,
        aliases: dict[str, list[_Item]],
        from_clause: _Clause | None,
    ) -> None:
        assert clause.keyword is not None
        keys = _split(clause.items, ",")
        for extra in keys[1:]:
            if extra:
                self.add(
                    "ignored-order-key",
                    _pos(extra[0]),
                    "error",
                    "the engine sorts by the first ORDER BY key only and silently ignores the "
                    "others; build one numeric key (e.g. a * 1000 - b), or nest the sorts: "
                    "SELECT * FROM (... ORDER BY second) ORDER BY first",
                )
                break
        for key in keys:
            call = _call(key[:-1] if _is_kw(key[-1] if key else None, "ASC", "DESC") else key)
            if call is not None and call[0] == "RANDOM":
                self.add(
                    "order-by-random",
                    _pos(key[0]),
                    "warning",
                    "ORDER BY RANDOM() gives a different order on every run (and RANDOM() "
                    "selected as a column gives no usable numbers); for a random sample use "
                    "SAMPLE BY ... LIMIT n, for a reproducible one shuffle on the client",
                )
        first = keys[0]
        if not first:
            return
        direction = "ASC"
        expr: Sequence[_Item] = first
        if _is_kw(first[-1], "ASC", "DESC"):
            last = first[-1]
            assert isinstance(last, Token)
            direction, expr = str(last.value), first[:-1]
        func = self._ranking_function(expr, aliases, from_clause)
        if func is None:
            return
        name, where = func
        if name in _SIMILARITY_FUNCS and direction != "DESC":
            self.add(
                "wrong-sort-direction",
                where,
                "error",
                f"{name} is a similarity (higher = closer) but is sorted ascending here, so the "
                "least similar rows come first"
                + (" (and the engine rejects BM25 sorted ASC)" if name == "BM25_SIMILARITY" else "")
                + "; write ORDER BY ... DESC",
            )
        elif name in _DISTANCE_FUNCS and direction == "DESC":
            self.add(
                "wrong-sort-direction",
                where,
                "error",
                f"{name} is a distance (lower = closer) but is sorted DESC here, so the farthest "
                "rows come first; write ORDER BY ... ASC",
            )
        if not limited:
            bm25 = name == "BM25_SIMILARITY"
            self.add(
                "vector-ranking-without-limit",
                clause.keyword.start,
                "error" if bm25 else "warning",
                f"ORDER BY {name}(...) without LIMIT: "
                + (
                    "the engine rejects BM25 ranking without LIMIT ('cannot be used without index')"
                    if bm25
                    else "the engine fully sorts every row and cannot use the top-k search path"
                )
                + "; add LIMIT k",
            )

    def _ranking_function(
        self,
        expr: Sequence[_Item],
        aliases: dict[str, list[_Item]],
        from_clause: _Clause | None,
    ) -> tuple[str, int] | None:
        """The similarity/distance function a sort key ranks by, followed through aliases."""
        call = _call(expr)
        if call is not None:
            return call[0], _pos(_unwrap(expr)[0])
        expr = _unwrap(expr)
        if len(expr) != 1 or not _is_name(expr[0]):
            return None
        name_tok = expr[0]
        assert isinstance(name_tok, Token)
        target = aliases.get(str(name_tok.value))
        if target is None and from_clause is not None and from_clause.items:
            source = from_clause.items[0]
            if _is_query_group(source):
                assert isinstance(source, _Group)
                inner = _clauses(_first_operand(source.items))
                for clause in inner:
                    if clause.name == "SELECT":
                        for inner_expr, alias in _select_list(clause):
                            if alias is not None and alias.value == name_tok.value:
                                target = inner_expr
        if target is None:
            return None
        call = _call(target)
        return (call[0], name_tok.start) if call is not None else None

    def _sample(self, clause: _Clause) -> None:
        assert clause.keyword is not None
        expr: list[_Item] = []
        for item in clause.items:
            if _is_kw(item, "REPLACE"):
                break
            expr.append(item)
        call = _call(expr)
        zero = False
        if call is not None and call[0] in ("MAX_WEIGHT", "SUM_WEIGHT"):
            bound = 0.0 if call[0] == "SUM_WEIGHT" else float("-inf")
            known = True
            for pair in _split(call[1].items, ","):
                parts = _split(pair, ":")
                if len(parts) != 2:
                    known = False
                    break
                cond, weight = _constant(parts[0]), _constant(parts[1])
                if weight is None:
                    known = False
                    break
                if cond == 0.0:
                    continue  # a FALSE condition never contributes
                top = weight if cond is not None else max(weight, 0.0)
                bound = bound + top if call[0] == "SUM_WEIGHT" else max(bound, top)
            zero = known and bound <= 0.0
        else:
            zero = _constant(expr) == 0.0
        if zero:
            self.add(
                "sample-zero-weights",
                clause.keyword.start,
                "error",
                "every sampling weight here is zero (or below): the engine then allocates memory "
                "without bound until the process is killed; give at least one positive weight, "
                "e.g. MAX_WEIGHT(cond: 10, TRUE: 1)",
            )

    # ----------------------------------------------------------------- expressions

    def expressions(
        self, items: Sequence[_Item], clause: str, limited_outside: bool = False
    ) -> None:
        """Checks inside one clause's expressions, descending into brackets and sub-selects.

        ``limited_outside`` is passed on to a sub-select that is the whole FROM source.
        """
        for i, item in enumerate(items):
            if isinstance(item, Token):
                kind = item.kind
                if kind is _K.OPERATOR:
                    compares = item.text in _COMPARISONS
                elif kind is _K.KEYWORD:
                    compares = item.value in ("LIKE", "ILIKE")
                else:
                    compares = False
                    if kind is _K.IDENTIFIER and clause == "SELECT":
                        self._bm25_selected(item)
                if compares and clause != "FROM" and self._lone_quoted(items, i + 1):
                    nxt = items[i + 1]
                    assert isinstance(nxt, Token)
                    self._double_quoted(nxt)
                continue
            prev = items[i - 1] if i else None
            if _is_query_group(item):
                if _is_kw(prev, "IN"):
                    self.add(
                        "in-subquery",
                        item.open.start,
                        "error",
                        "x IN (SELECT ...) silently returns no rows in the engine; run the inner "
                        "query first and inline its values: x IN (1, 2, 3), or use a JOIN",
                    )
                self.level(item.items, limited_outside and i == 0)
                continue
            if item.open.text == "[" and _ends_operand(prev) and not _is_kw(prev, "ARRAY"):
                self._subscript(item)
            elif item.open.text == "(" and isinstance(prev, Token):
                if prev.kind is _K.IDENTIFIER and str(prev.value).upper() == "CONTAINS":
                    self._contains(item)
                elif _is_kw(prev, "IN"):
                    for element in _split(item.items, ","):
                        if len(element) == 1 and _is_name(element[0]):
                            tok = element[0]
                            assert isinstance(tok, Token)
                            if tok.kind is _K.QUOTED_IDENTIFIER:
                                self._double_quoted(tok)
            self.expressions(item.items, clause)

    def _bm25_selected(self, tok: Token) -> None:
        if str(tok.value).upper() == "BM25_SIMILARITY":
            self.add(
                "bm25-score-selected",
                tok.start,
                "error",
                "the engine refuses BM25_SIMILARITY outside ORDER BY ('Incorrect BM25 or MMR "
                "similarity query'): BM25 scores cannot be selected; use it only as "
                "ORDER BY BM25_SIMILARITY(col, 'text') DESC LIMIT k",
            )

    @staticmethod
    def _lone_quoted(items: Sequence[_Item], index: int) -> bool:
        """True if ``items[index]`` is a quoted name standing alone as an operand."""
        if index >= len(items):
            return False
        tok = items[index]
        if not (isinstance(tok, Token) and tok.kind is _K.QUOTED_IDENTIFIER):
            return False
        after = items[index + 1] if index + 1 < len(items) else None
        return not (_is_op(after, ".", "+", "-", "*", "/", "%") or isinstance(after, _Group))

    def _double_quoted(self, tok: Token) -> None:
        self.add(
            "double-quoted-string",
            tok.start,
            "warning",
            f"{tok.text} is a column name, not a string: double quotes quote names in TQL, so "
            f"the engine compares with column {tok.text} (or fails: 'Tensor does not exist'); "
            f"if you meant the text, write '{str(tok.value).replace(chr(39), chr(39) * 2)}'",
        )

    def _subscript(self, group: _Group) -> None:
        for dim in _split(group.items, ","):
            parts = _split(dim, ":")
            for part in parts:
                if part and _is_op(part[0], "-"):
                    self.add(
                        "negative-index",
                        _pos(part[0]),
                        "error",
                        "negative index: the engine does not count from the end; x[-1] fails "
                        "('Indexes should be 1D array', only when rows are read) and x[-2:] is "
                        "a syntax error; use a non-negative literal index (e.g. from SHAPE(x))",
                    )
                    break
            if len(parts) == 2 and parts[0] and not parts[1]:
                colon = next(it for it in dim if _is_op(it, ":"))
                self.add(
                    "open-slice",
                    _pos(colon),
                    "error",
                    "a slice with a start but no end: the engine returns the single element at "
                    "the start instead of the rest (x[1:] gives x[1]); write the end: x[1:n]",
                )
            key = dim[0] if len(dim) == 1 else None
            if isinstance(key, Token) and key.kind is _K.QUOTED_IDENTIFIER:
                self._double_quoted(key)

    def _contains(self, group: _Group) -> None:
        args = _split(group.items, ",")
        if len(args) != 2 or len(args[1]) != 1:
            return
        arg = args[1][0]
        if isinstance(arg, Token) and arg.kind is _K.QUOTED_IDENTIFIER:
            self._double_quoted(arg)
        if (
            isinstance(arg, Token)
            and arg.kind is _K.STRING
            and isinstance(arg.value, str)
            and not any(ch.isalnum() for ch in arg.value)
        ):
            self.add(
                "contains-without-token",
                arg.start,
                "error",
                f"CONTAINS with {arg.text}, which has no word characters: on a column with "
                "an inverted or BM25 index the engine process dies (SIGSEGV); drop the "
                "condition or search for a real word",
            )


def _first_operand(items: Sequence[_Item]) -> list[_Item]:
    """The first operand of a (possibly set-operation) SELECT level, unwrapping ``(...)``."""
    operand: list[_Item] = []
    for item in items:
        if _is_kw(item, *_SET_OPS):
            break
        operand.append(item)
    if len(operand) == 1 and _is_query_group(operand[0]):
        group = operand[0]
        assert isinstance(group, _Group)
        return _first_operand(group.items)
    return operand


def check(text: str) -> list[Finding]:
    """Report every hazard in ``text``, sorted by position (then code). Never raises."""
    tokens = lex(text)
    checker = _Checker(text)
    checker.lexical(tokens)
    code = [
        t
        for t in tokens
        if t.kind is not _K.COMMENT
        and t.kind is not _K.UNKNOWN
        and t.kind is not _K.UNTERMINATED_STRING
        and t.kind is not _K.UNTERMINATED_IDENTIFIER
    ]
    checker.flat(code)
    checker.statements(_build_tree(code))
    unique = {(f.code, f.position): f for f in checker.findings}
    return sorted(unique.values(), key=lambda f: (f.position, f.code))
