"""The checker's view of a text: tokens, bracket groups, SELECT levels and clauses.

Everything is built once per ``check()`` call, without recursion (explicit stacks and
work lists), so any nesting depth costs time linear in the text. Rules read the
`Context`; none of them walks the text again on its own.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Iterator, Sequence
from typing import TypeAlias

from tqlbuilder.engine.lexicon import BP_EQUALITY, BP_ORDERING, OPERATORS, SET_OPERATIONS
from tqlbuilder.text.lexer import (
    NUMERIC_LIST,
    R_COMMENT_TEXT,
    R_FLOAT,
    R_INT,
    R_OTHER,
    R_QEMPTY,
    R_QOPEN,
    R_WORD,
    Scan,
    Token,
    TokenKind,
    scan,
    token_at,
    tokens_of,
)

_K = TokenKind
SET_OPS = SET_OPERATIONS
COMPARISONS = frozenset(
    symbol for symbol, op in OPERATORS.items() if op.binding_power in (BP_EQUALITY, BP_ORDERING)
)
_OPENERS = frozenset({"(", "[", "{"})
_CLOSERS = frozenset({")", "]", "}"})
_NOT_CODE = frozenset({R_COMMENT_TEXT, R_OTHER, R_QEMPTY, R_QOPEN})

# A long ARRAY[...] of plain numbers needs no structural check: its tokens are left out of the
# tree (the lexical rules still see every number). ``--`` is excluded (it starts a comment).
# ``ARRAY[``: searched in the lower-cased text when it is ASCII (lower() keeps the offsets and
# a literal prefix is searched fast), else with character classes.
_ARRAY_OPEN = re.compile(r"array[ \t\n]*\[")
_ARRAY_OPEN_ANY_CASE = re.compile(r"[Aa][Rr][Rr][Aa][Yy][ \t\n]*\[")
_ELIDE_FROM = 64  # only lists longer than this many characters are left out


class Group:
    """A bracketed run of items: ``(...)``, ``[...]`` or ``{...}`` (``close`` None if unclosed)."""

    __slots__ = ("_query", "close", "items", "open")

    def __init__(self, open_: Token) -> None:
        self.open = open_
        self.close: Token | None = None
        self.items: list[Item] = []
        self._query: bool | None = None


Item: TypeAlias = "Token | Group"


class Clause:
    """One clause of a SELECT level: ``name`` (e.g. ``ORDER BY``), its keyword and its items."""

    __slots__ = ("items", "keyword", "name")

    def __init__(self, name: str, keyword: Token | None) -> None:
        self.name = name
        self.keyword = keyword
        self.items: list[Item] = []


class Level:
    """One operand of a SELECT level (a SELECT ... with its clauses).

    ``limited_outside``: the level is the FROM source of a level that only limits it
    (``SELECT * FROM (... ORDER BY f(...)) LIMIT k``), so its ORDER BY is limited too.
    ``after_set_op``: the last operand of a set operation (its clauses apply to the whole).
    """

    __slots__ = (
        "after_set_op",
        "aliases",
        "by_name",
        "clauses",
        "has_top",
        "limited_outside",
        "select_items",
    )

    def __init__(self, clauses: list[Clause], limited_outside: bool, after_set_op: bool) -> None:
        self.clauses = clauses
        self.limited_outside = limited_outside
        self.after_set_op = after_set_op
        self.by_name: dict[str, Clause] = {}
        for clause in clauses:
            self.by_name.setdefault(clause.name, clause)
        select = self.by_name.get("SELECT")
        self.has_top = select is not None and is_kw(first(select.items), "TOP")
        self.aliases: dict[str, list[Item]] = {}
        #: The SELECT list as ``(expression, alias or None)`` (empty without SELECT).
        self.select_items = select_list(select) if select is not None else []
        if select is not None:
            for expr, alias in self.select_items:
                if alias is not None and isinstance(alias.value, str):
                    same = len(expr) == 1 and is_name(expr[0])
                    if not (same and isinstance(expr[0], Token) and expr[0].value == alias.value):
                        self.aliases[alias.value] = expr

    @property
    def limited(self) -> bool:
        """LIMIT or TOP here, or limited by the level that wraps it."""
        return "LIMIT" in self.by_name or self.has_top or self.limited_outside


class Sequence_:
    """A run of items to scan: a clause's items or a bracket group's, with where it is."""

    __slots__ = ("clause", "items", "level")

    def __init__(self, items: list[Item], clause: str, level: Level | None) -> None:
        self.items = items
        self.clause = clause
        self.level = level


# --------------------------------------------------------------------------- small helpers


def first(items: Sequence[Item]) -> Item | None:
    return items[0] if items else None


def pos(item: Item) -> int:
    return item.open.start if isinstance(item, Group) else item.start


def is_kw(item: Item | None, *words: str) -> bool:
    return isinstance(item, Token) and item.kind is _K.KEYWORD and item.value in words


def is_op(item: Item | None, *ops: str) -> bool:
    return isinstance(item, Token) and item.kind is _K.OPERATOR and item.text in ops


def is_name(item: Item | None) -> bool:
    return isinstance(item, Token) and item.kind in (_K.IDENTIFIER, _K.QUOTED_IDENTIFIER)


def is_paren(item: Item | None) -> bool:
    return isinstance(item, Group) and item.open.text == "("


def is_query_group(item: Item | None) -> bool:
    """A parenthesised sub-select: ``(SELECT ...)`` or ``((SELECT ...) UNION ...)``.

    Decided without recursion and cached on the groups, so a chain of 100,000 parentheses
    costs linear time in total.
    """
    if not isinstance(item, Group) or item.open.text != "(":
        return False
    chain: list[Group] = []
    node: Item | None = item
    answer = False
    while True:
        if not isinstance(node, Group) or node.open.text != "(":
            answer = False
            break
        if node._query is not None:
            answer = node._query
            break
        chain.append(node)
        head = first(node.items)
        if is_kw(head, "SELECT", "WITH"):
            answer = True
            break
        node = head
    for group in chain:
        group._query = answer
    return answer


def ends_operand(item: Item | None) -> bool:
    """True if ``item`` can end an operand, so a following ``[`` is a subscript."""
    if isinstance(item, Group):
        return item.open.text in "(["
    if item is None:
        return False
    return item.kind in (_K.IDENTIFIER, _K.QUOTED_IDENTIFIER, _K.STRING)


def split(items: Sequence[Item], *ops: str) -> list[list[Item]]:
    """Split ``items`` at depth-0 operators ``ops`` (the separators are dropped)."""
    parts: list[list[Item]] = [[]]
    for item in items:
        if is_op(item, *ops):
            parts.append([])
        else:
            parts[-1].append(item)
    return parts


def unwrap(items: Sequence[Item]) -> Sequence[Item]:
    """Strip redundant expression parentheses: ``((f(x)))`` -> ``f(x)``."""
    while len(items) == 1 and is_paren(items[0]) and not is_query_group(items[0]):
        group = items[0]
        assert isinstance(group, Group)
        items = group.items
    return items


def call(items: Sequence[Item]) -> tuple[str, Group] | None:
    """``(NAME, args group)`` if ``items`` is exactly one function call."""
    items = unwrap(items)
    if len(items) == 2 and isinstance(items[0], Token) and is_paren(items[1]):
        head = items[0]
        if head.kind is _K.IDENTIFIER or is_kw(head, "ALL"):
            group = items[1]
            assert isinstance(group, Group)
            return str(head.value).upper(), group
    return None


def constant(items: Sequence[Item]) -> float | None:
    """The value of a constant number: ``n``, ``-n``, TRUE or FALSE (in parentheses too)."""
    items = unwrap(items)
    sign = 1.0
    while len(items) == 2 and is_op(items[0], "-"):
        sign, items = -sign, unwrap(items[1:])
    if len(items) != 1 or not isinstance(items[0], Token):
        return None
    tok = items[0]
    if tok.kind in (_K.INTEGER, _K.FLOAT) and isinstance(tok.value, (int, float)):
        return sign * float(tok.value)
    if is_kw(tok, "TRUE", "FALSE") and sign > 0:
        return 1.0 if tok.value == "TRUE" else 0.0
    return None


def constant_string(items: Sequence[Item]) -> Token | None:
    """The string literal ``items`` is, looking through parentheses: ``(('x'))`` -> ``'x'``."""
    items = unwrap(items)
    if len(items) == 1 and isinstance(items[0], Token) and items[0].kind is _K.STRING:
        return items[0]
    return None


def walk_tokens(items: Sequence[Item]) -> list[Token]:
    """Every token in ``items`` in order, descending into brackets but not into sub-selects."""
    out: list[Token] = []
    stack: list[Iterator[Item]] = [iter(items)]
    while stack:
        for item in stack[-1]:
            if isinstance(item, Group):
                if not is_query_group(item):
                    out.append(item.open)
                    stack.append(iter(item.items))
                    break
            else:
                out.append(item)
        else:
            stack.pop()
    return out


def build_tree(tokens: Sequence[Token]) -> list[Item]:
    """Nest tokens into bracket groups; a stray closer stays a plain token."""
    root: list[Item] = []
    stack: list[Group] = []
    target = root
    for tok in tokens:
        if tok.kind is _K.OPERATOR:
            text = tok.text
            if text in _OPENERS:
                group = Group(tok)
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


_PLAIN_CLAUSES = frozenset({"SELECT", "FROM", "WHERE", "HAVING", "OFFSET", "LIMIT"})
_BY_CLAUSES = frozenset({"GROUP", "UNGROUP", "ORDER", "SAMPLE", "EXPAND"})


def clauses_of(items: Sequence[Item]) -> list[Clause]:
    """Cut one SELECT level into its clauses (a LIMIT after SAMPLE BY is ``SAMPLE LIMIT``)."""
    current = Clause("", None)
    clauses = [current]
    sampled = False
    keyword = _K.KEYWORD
    token = Token
    n = len(items)
    i = 0
    while i < n:
        item = items[i]
        i += 1
        if type(item) is token and item.kind is keyword:
            word = item.value
            name = ""
            if word in _PLAIN_CLAUSES:
                name = "SAMPLE LIMIT" if word == "LIMIT" and sampled else str(word)
            elif word in _BY_CLAUSES and i < n and is_kw(items[i], "BY"):
                name = f"{word} BY"
                sampled = sampled or word == "SAMPLE"
                i += 1
            if name:
                current = Clause(name, item)
                clauses.append(current)
                continue
        current.items.append(item)
    return clauses


def select_list(clause: Clause) -> list[tuple[list[Item], Token | None]]:
    """The SELECT items as ``(expression, alias token or None)``, after TOP / DISTINCT [ON]."""
    items = clause.items
    if len(items) == 1:  # SELECT * / SELECT col: the common case, no alias possible
        return [(list(items), None)]
    if is_kw(first(items), "TOP"):
        items = items[2:]
    if is_kw(first(items), "DISTINCT"):
        items = items[1:]
        if is_kw(first(items), "ON"):
            items = items[2:]
    result: list[tuple[list[Item], Token | None]] = []
    for part in split(items, ","):
        last = part[-1] if len(part) >= 2 else None
        if isinstance(last, Token) and is_name(last):
            before = part[-2]
            if is_kw(before, "AS"):
                result.append((part[:-2], last))
                continue
            if ends_operand(before) or (
                isinstance(before, Token) and before.kind in (_K.INTEGER, _K.FLOAT)
            ):
                result.append((part[:-1], last))  # a bare alias: SELECT id ident
                continue
        result.append((part, None))
    return result


def first_operand(items: Sequence[Item]) -> list[Item]:
    """The first operand of a (possibly set-operation) SELECT level, unwrapping ``(...)``."""
    while True:
        operand: list[Item] = []
        for item in items:
            if is_kw(item, *SET_OPS):
                break
            operand.append(item)
        if len(operand) == 1 and is_query_group(operand[0]):
            group = operand[0]
            assert isinstance(group, Group)
            items = group.items
            continue
        return operand


def is_select(items: Sequence[Item]) -> bool:
    if not items:
        return False
    head = items[0]
    if isinstance(head, Group):
        return is_query_group(head)
    return head.kind is _K.KEYWORD and head.value in ("SELECT", "WITH")


# --------------------------------------------------------------------------- the context


class Context:
    """Everything the rules read about one text, built once, linear in its length.

    Attributes:
        text: the checked text.
        raw: the lexer's scan (rule numbers, starts, ends) of every token.
        code: the code tokens (no comments, unknown characters, unterminated literals), with
            the numbers inside long ``ARRAY[...]`` literals left out.
        statements: the bracket trees of the statements (split at depth-0 ``;``).
        levels: every SELECT level operand, in the text and in every sub-select.
        sequences: every run of items (clause items, bracket contents) with its clause name.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        #: Results shared between rules (e.g. the suspect numbers), by name.
        self.memo: dict[str, list[Token]] = {}
        self.raw: Scan = scan(text)
        self.rules_seen = frozenset(self.raw.kinds)
        self.code = self._code_tokens()
        #: Indices into `code` of each keyword (upper case) present.
        self.keywords: dict[str, list[int]] = {}
        keyword = _K.KEYWORD
        for i, tok in enumerate(self.code):
            if tok.kind is keyword:
                self.keywords.setdefault(str(tok.value), []).append(i)
        self._set_ops = bool(SET_OPS.intersection(self.keywords))
        self.statements = split(build_tree(self.code), ";")
        self.levels: list[Level] = []
        self.sequences: list[Sequence_] = []
        #: Every bracket group as ``(clause, level, item before it, group)``.
        self.groups: list[tuple[str, Level | None, Item | None, Group]] = []
        #: Every call ``NAME(...)`` by upper-case name: ``(clause, name token, args group)``.
        self.calls: dict[str, list[tuple[str, Token, Group]]] = {}
        #: Every set operation: its keywords (UNION, ...) and its operands' items.
        self.set_operations: list[tuple[list[Token], list[list[Item]]]] = []
        #: Every clause by name: ``(level, clause, keyword)``.
        self.clauses: dict[str, list[tuple[Level, Clause, Token]]] = {}
        self._index()
        self._tokens: list[Token] | None = None

    @property
    def tokens(self) -> list[Token]:
        """Every token (comments and unknown characters included), built on first use."""
        if self._tokens is None:
            text, raw = self.text, self.raw
            self._tokens = [token_at(text, raw, i) for i in range(len(raw.kinds))]
        return self._tokens

    def mentions(self, word: str) -> bool:
        """True if ``word`` occurs in the text in any case (a quick filter for rare rules)."""
        return word.lower() in self.text.lower()  # a word of the lexer is ASCII

    def indices(self, *rules: int) -> list[int]:
        """Indices into `raw` of the tokens of the given lexer rules."""
        if not self.rules_seen.intersection(rules):
            return []
        wanted = frozenset(rules)
        return [i for i, k in enumerate(self.raw.kinds) if k in wanted]

    def _elided(self) -> list[tuple[int, int]]:
        """Index ranges ``[lo, hi)`` of the raw tokens inside long numeric ARRAY literals."""
        text, starts, ends = self.text, self.raw.starts, self.raw.ends
        ranges: list[tuple[int, int]] = []
        if text.isascii():
            openings = _ARRAY_OPEN.finditer(text.lower())
        else:
            openings = _ARRAY_OPEN_ANY_CASE.finditer(text)
        for opening in openings:
            bracket = opening.end() - 1
            lo = bisect_left(starts, bracket)
            if (
                not 1 <= lo < len(starts)
                or starts[lo] != bracket
                or self.raw.kinds[lo - 1] != R_WORD
            ):
                continue
            if starts[lo - 1] != opening.start():
                continue
            numbers = NUMERIC_LIST.match(text, bracket)
            if numbers is None or numbers.end() - bracket < _ELIDE_FROM:
                continue
            hi = bisect_left(starts, numbers.end() - 1)
            if hi < len(starts) and starts[hi] == numbers.end() - 1 and ends[hi] == numbers.end():
                ranges.append((lo + 1, hi))
        return ranges

    def _code_tokens(self) -> list[Token]:
        text, raw = self.text, self.raw
        kinds = raw.kinds
        keep: list[int] = []
        at = 0
        for lo, hi in self._elided() if "[" in text else ():
            keep.extend(range(at, lo))
            at = hi
        keep.extend(range(at, len(kinds)))
        if self.rules_seen & _NOT_CODE:
            keep = [i for i in keep if kinds[i] not in _NOT_CODE]
        out = tokens_of(text, raw, keep)
        if out and out[-1].kind is _K.UNTERMINATED_STRING:  # it runs to the end of the text
            out.pop()
        return out

    def _index(self) -> None:
        """Find every SELECT level and every item run, with an explicit work list."""
        work: list[tuple[list[Item], bool]] = []
        work.extend((statement, False) for statement in self.statements if statement)
        while work:
            items, limited_outside = work.pop()
            while len(items) == 1 and is_query_group(items[0]):  # ((SELECT ...)): one level
                wrapper = items[0]
                assert isinstance(wrapper, Group)
                items = wrapper.items
            if not is_select(items):
                self._scan_items(items, "", None, False, work)
                continue
            operands: list[list[Item]] = [[]] if self._set_ops else [items]
            for item in items if self._set_ops else ():
                if is_kw(item, *SET_OPS):
                    operands.append([])
                elif not (is_kw(item, "ALL") and len(operands) > 1 and not operands[-1]):
                    operands[-1].append(item)
            if len(operands) > 1:
                keywords = [t for t in items if isinstance(t, Token) and is_kw(t, *SET_OPS)]
                self.set_operations.append((keywords, operands))
            for index, operand in enumerate(operands):
                level = Level(
                    clauses_of(operand),
                    limited_outside and len(operands) == 1,
                    len(operands) > 1 and index == len(operands) - 1,
                )
                self.levels.append(level)
                for clause in level.clauses:
                    if clause.keyword is not None and level.by_name[clause.name] is clause:
                        entry = (level, clause, clause.keyword)
                        self.clauses.setdefault(clause.name, []).append(entry)
                wraps = (
                    "LIMIT" in level.by_name or level.has_top
                ) and "ORDER BY" not in level.by_name
                for clause in level.clauses:
                    if clause.items:
                        self._scan_items(
                            clause.items, clause.name, level, wraps and clause.name == "FROM", work
                        )

    def _scan_items(
        self,
        items: list[Item],
        clause: str,
        level: Level | None,
        limited_source: bool,
        work: list[tuple[list[Item], bool]],
    ) -> None:
        """Record ``items`` and every bracket run inside; queue sub-selects as levels."""
        stack = [items]
        top = True
        groups, calls = self.groups, self.calls
        identifier = _K.IDENTIFIER
        while stack:
            current = stack.pop()
            self.sequences.append(Sequence_(current, clause, level))
            prev: Item | None = None
            for i, item in enumerate(current):
                if type(item) is Group:
                    groups.append((clause, level, prev, item))
                    query = item._query
                    if query is None:
                        query = is_query_group(item)
                    if query:
                        work.append((item.items, limited_source and top and i == 0))
                    else:
                        stack.append(item.items)
                        if (
                            isinstance(prev, Token)
                            and prev.kind is identifier
                            and item.open.text == "("
                        ):
                            name = str(prev.value).upper()
                            calls.setdefault(name, []).append((clause, prev, item))
                prev = item
            top = False


def sites(ctx: Context) -> Iterator[tuple[Sequence_, int, Item]]:
    """Every item of every sequence, with its sequence and index."""
    for seq in ctx.sequences:
        for i, item in enumerate(seq.items):
            yield seq, i, item


__all__ = [
    "COMPARISONS",
    "R_FLOAT",
    "R_INT",
    "SET_OPS",
    "Clause",
    "Context",
    "Group",
    "Item",
    "Level",
    "Sequence_",
    "build_tree",
    "call",
    "clauses_of",
    "constant",
    "constant_string",
    "ends_operand",
    "first",
    "first_operand",
    "is_kw",
    "is_name",
    "is_op",
    "is_paren",
    "is_query_group",
    "pos",
    "select_list",
    "sites",
    "split",
    "unwrap",
    "walk_tokens",
]
