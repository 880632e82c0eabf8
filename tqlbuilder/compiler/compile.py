"""Compile the expression tree and query nodes into one line of TQL.

The compiler only assembles text that the leaves already rendered and validated (names,
strings, numbers, vectors), adding keywords, operators and parentheses. Every compound operand
is parenthesised and every operator is surrounded by spaces, so precedence never matters and
``a - -1`` can never become the comment ``a--1``. Query shapes follow the engine's real
behaviour (the TQL reference and engine probe): aliases are only used one level up, multiple
sort keys become nested stable sorts, grouping is wrapped before a LIMIT, BM25 keeps its one
accepted form.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from tqlbuilder.errors import BuildError, UnsupportedConstructError
from tqlbuilder.tree.expr import (
    Alias,
    Between,
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
    Raw,
    Star,
    Subscript,
    Vector,
    WeightPair,
)
from tqlbuilder.tree.sources import (
    DISTANCE_FUNCTIONS,
    RANKING_FUNCTIONS,
    SIMILARITY_FUNCTIONS,
    Dataset,
    SetOperation,
    Subquery,
    TextSearch,
    VectorSearch,
)

if TYPE_CHECKING:  # pragma: no cover
    from tqlbuilder.build.query import Query

__all__ = ["compile_expr", "compile_query", "output_names", "referenced_columns"]

#: functions whose ORDER BY ... LIMIT (top-k) form fails on Deep Lake 4.7 (see _finish)
TOP_K_UNSAFE_FUNCTIONS = frozenset({"L1_NORM", "LINF_NORM"})

_ATOMS = (Column, Literal, Vector, Func, Subscript, Raw, Star)


# =========================================================================== expressions


def compile_expr(expr: Expr) -> str:
    """TQL text of one expression."""
    return _VISIT[type(expr)](expr)


def _operand(expr: Expr) -> str:
    """An operand of an operator: atoms bare, everything else in parentheses."""
    text = compile_expr(expr)
    if isinstance(expr, _ATOMS):
        return text
    return f"({text})"


def _column(expr: Column) -> str:
    return expr.text


def _literal(expr: Literal) -> str:
    return expr.text


def _vector(expr: Vector) -> str:
    return expr.text


def _star(expr: Star) -> str:
    return "*"


def _raw(expr: Raw) -> str:
    return f"({expr.text})"


def _binary(expr: Binary) -> str:
    return f"{_operand(expr.left)} {expr.op} {_operand(expr.right)}"


def _bool_op(expr: BoolOp) -> str:
    return f" {expr.op} ".join(_operand(operand) for operand in expr.operands)


def _not(expr: Not) -> str:
    return f"NOT ({compile_expr(expr.operand)})"


def _neg(expr: Neg) -> str:
    text = _operand(expr.operand)
    if text.startswith("-"):
        text = f"({text})"
    return f"-{text}"


def _in_list(expr: InList) -> str:
    if not expr.values:
        return "TRUE" if expr.negated else "FALSE"
    keyword = "NOT IN" if expr.negated else "IN"
    return f"{_operand(expr.operand)} {keyword} ({expr.text})"


def _between(expr: Between) -> str:
    return f"{_operand(expr.operand)} BETWEEN {_operand(expr.low)} AND {_operand(expr.high)}"


def _like(expr: Like) -> str:
    keyword = "ILIKE" if expr.case_insensitive else "LIKE"
    text = f"{_operand(expr.operand)} {keyword} {expr.pattern.text}"
    if not expr.negated:
        return text
    if expr.case_insensitive:  # the engine has no NOT ILIKE
        return f"NOT ({text})"
    return f"{_operand(expr.operand)} NOT LIKE {expr.pattern.text}"


def _is_null(expr: IsNull) -> str:
    return f"{_operand(expr.operand)} IS {'NOT NULL' if expr.negated else 'NULL'}"


def _argument(arg: Expr | WeightPair) -> str:
    if isinstance(arg, WeightPair):
        return f"{_operand(arg.condition)}: {arg.weight.text}"
    return compile_expr(arg)


def _func(expr: Func) -> str:
    parts = [expr.name, "("]
    for index, arg in enumerate(expr.args):
        if index:
            parts.append(", ")
        parts.append(_argument(arg))
    parts.append(")")
    return "".join(parts)


def _index(item: Any) -> str:
    if isinstance(item, int):
        return str(item)
    start, stop, step = item
    text = f"{'' if start is None else start}:{'' if stop is None else stop}"
    return text if step is None else f"{text}:{step}"


def _subscript(expr: Subscript) -> str:
    inner = expr.items[0] if expr.json_key else ", ".join(_index(i) for i in expr.items)
    return f"{_operand(expr.operand)}[{inner}]"


def _alias(expr: Alias) -> str:
    return f"{_operand(expr.operand)} AS {expr.text}"


_VISIT: dict[type, Callable[[Any], str]] = {
    Column: _column,
    Literal: _literal,
    Vector: _vector,
    Star: _star,
    Raw: _raw,
    Binary: _binary,
    BoolOp: _bool_op,
    Not: _not,
    Neg: _neg,
    InList: _in_list,
    Between: _between,
    Like: _like,
    IsNull: _is_null,
    Func: _func,
    Subscript: _subscript,
    Alias: _alias,
}


def referenced_columns(expr: Expr | WeightPair) -> set[str]:
    """Names of every column an expression reads."""
    found: set[str] = set()
    stack: list[Any] = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, Column):
            found.add(node.name)
        elif isinstance(node, WeightPair):
            stack.append(node.condition)
        elif isinstance(node, Func):
            stack.extend(node.args)
        elif isinstance(node, BoolOp):
            stack.extend(node.operands)
        elif isinstance(node, Binary):
            stack.extend((node.left, node.right))
        elif isinstance(node, Between):
            stack.extend((node.operand, node.low, node.high))
        elif isinstance(node, (Not, Neg, InList, Like, IsNull, Subscript, Alias)):
            stack.append(node.operand)
    return found


def output_names(items: Iterable[Expr]) -> set[str] | None:
    """Names of the columns a select list produces, or None when it includes ``*``."""
    names: set[str] = set()
    for item in items:
        if isinstance(item, Star):
            return None
        if isinstance(item, (Alias, Column)):
            names.add(item.name)
        else:
            names.update(referenced_columns(item))
    return names


# =========================================================================== queries


def compile_query(query: Query) -> str:
    """TQL text of a whole query (one line)."""
    if isinstance(query.search, TextSearch):
        return _text_search_query(query)
    return _select_query(query)


def _source(query: Query) -> str:
    source = query.source
    if source is None:
        return ""
    if isinstance(source, Dataset):
        return f" FROM {source.text}"
    if isinstance(source, Subquery):
        return f" FROM ({compile_query(source.query)})"
    if isinstance(source, SetOperation):
        joined = f" {source.op} ".join(f"({compile_query(q)})" for q in source.operands)
        return f" FROM ({joined})"
    raise TypeError(f"unknown source {source!r}")  # pragma: no cover


def _items(items: tuple[Expr, ...]) -> list[str]:
    return [compile_expr(item) for item in items] or ["*"]


def _tail(query: Query) -> str:
    """LIMIT / OFFSET / SAMPLE BY, in the order the grammar demands."""
    parts = []
    if query.row_limit is not None:
        parts.append(f" LIMIT {query.row_limit}")
    if query.row_offset:
        parts.append(f" OFFSET {query.row_offset}")
    sampling = query.sampling
    if sampling is not None:
        parts.append(f" SAMPLE BY {compile_expr(sampling.weights)}")
        parts.append(f" REPLACE {'TRUE' if sampling.replace else 'FALSE'}")
        if sampling.limit is not None:
            parts.append(f" LIMIT {sampling.limit}")
    return "".join(parts)


def _natural_descending(expr: Expr, search: VectorSearch | None) -> bool:
    """Best-first direction of a sort key: DESC for similarities and the search score."""
    if search is not None and isinstance(expr, Column) and expr.name == search.alias:
        return search.metric.descending
    if isinstance(expr, Func):
        if expr.name in SIMILARITY_FUNCTIONS:
            return True
        if expr.name in DISTANCE_FUNCTIONS:
            return False
    return False


def _sort_levels(query: Query, search: VectorSearch | None) -> list[tuple[Expr, bool]]:
    """Sort keys outermost first, with the direction each nested stable sort must use.

    The engine sorts on the first ORDER BY key only, stably; DESC reverses the whole stable
    ascending order, so ties come out reversed. To honour ``order_by(a, b)`` the secondary key
    is sorted in an inner subquery and, under a DESC level, in the flipped direction.
    """
    keys: list[tuple[Expr, bool]] = []
    ordering = query.ordering
    if not ordering and search is not None:
        keys.append((Column(search.alias, search.alias_text), search.metric.descending))
    for key in ordering:
        descending = key.descending
        if descending is None:
            descending = _natural_descending(key.expr, search)
        keys.append((key.expr, descending))
    levels: list[tuple[Expr, bool]] = []
    flip = False
    for expr, descending in keys:
        effective = descending != flip
        levels.append((expr, effective))
        flip = flip != effective
    return levels


def _order_by(level: tuple[Expr, bool]) -> str:
    expr, descending = level
    return f" ORDER BY {compile_expr(expr)} {'DESC' if descending else 'ASC'}"


def _ranks_vectors(levels: list[tuple[Expr, bool]], search: VectorSearch | None) -> bool:
    if search is not None:
        return True
    return any(isinstance(expr, Func) and expr.name in RANKING_FUNCTIONS for expr, _ in levels)


def _select_query(query: Query) -> str:
    search = query.search if isinstance(query.search, VectorSearch) else None
    items = query.items
    aliases = {item.name for item in items if isinstance(item, Alias)}
    if search is not None:
        aliases.add(search.alias)
    levels = _sort_levels(query, search)
    if levels and query.row_limit is None and _ranks_vectors(levels, search):
        raise BuildError(
            "a vector ranking needs .limit(k): without it the engine sorts every row and skips "
            "its top-k path; use a large k if you really want them all"
        )
    inner_conditions: list[Expr] = []
    outer_conditions: list[Expr] = []  # filters on an alias run one level up, where it exists
    for condition in query.conditions:
        reads_alias = bool(aliases) and bool(referenced_columns(condition) & aliases)
        (outer_conditions if reads_alias else inner_conditions).append(condition)
    grouped = bool(query.groups) or query.ungroup_count is not None
    alias_keys = bool(aliases) and any(referenced_columns(e) & aliases for e, _ in levels)
    if len(levels) > 1 and not (search or grouped or alias_keys or outer_conditions):
        return _sorted_below_projection(query, levels)
    needs_wrap = (
        search is not None
        or bool(outer_conditions)
        or len(levels) > 1
        or alias_keys
        or (grouped and (bool(levels) or query.row_limit is not None or bool(query.row_offset)))
    )

    # Parts are joined once at the end: a 1536-d vector is ~16 KB of text, worth not copying.
    base = [f"SELECT {', '.join(_items(items))}"]
    if search is not None:
        base += [", ", compile_expr(search.score()), " AS ", search.alias_text]
    base.append(_source(query))
    if inner_conditions:
        base.append(f" WHERE {_conjunction(inner_conditions)}")
    if query.groups:
        base.append(f" GROUP BY {', '.join(compile_expr(g) for g in query.groups)}")
    if query.ungroup_count is not None:
        base.append(f" UNGROUP BY {query.ungroup_count}")

    if not needs_wrap:
        if levels:
            base.append(_order_by(levels[0]))
        return _finish(base, query, levels, search)

    remaining = list(levels)
    if remaining and not (aliases and referenced_columns(remaining[-1][0]) & aliases):
        base.append(_order_by(remaining.pop()))
    _check_visible(remaining, outer_conditions, items, search)
    pending_where = f" WHERE {_conjunction(outer_conditions)}" if outer_conditions else ""
    suffixes = []
    while len(remaining) > 1:
        suffixes.append(f"){pending_where}{_order_by(remaining.pop())}")
        pending_where = ""
    outer_order = _order_by(remaining[0]) if remaining else ""
    suffixes.append(f"){pending_where}{outer_order}")
    return _finish(["SELECT * FROM ("] * len(suffixes) + base + suffixes, query, levels, search)


def _finish(
    parts: list[str], query: Query, levels: list[tuple[Expr, bool]], search: VectorSearch | None
) -> str:
    """Join the parts and append LIMIT/OFFSET/SAMPLE BY, one level up when top-k would fail.

    Deep Lake 4.7 rejects ``ORDER BY <L1_NORM or LINF_NORM score> LIMIT k`` ("requires 2
    arguments") although the same sort without LIMIT works, so those rankings sort in a
    subquery and limit outside it.
    """
    tail = _tail(query)
    if query.row_limit is not None and levels and _breaks_top_k(levels[0][0], search):
        return "".join(["SELECT * FROM (", *parts, ")", tail])
    parts.append(tail)
    return "".join(parts)


def _breaks_top_k(expr: Expr, search: VectorSearch | None) -> bool:
    if isinstance(expr, Func):
        return expr.name in TOP_K_UNSAFE_FUNCTIONS
    return (
        search is not None
        and isinstance(expr, Column)
        and expr.name == search.alias
        and search.metric.function in TOP_K_UNSAFE_FUNCTIONS
    )


def _sorted_below_projection(query: Query, levels: list[tuple[Expr, bool]]) -> str:
    """Several sort keys on source columns: sort whole rows in nested levels, project last.

    ``SELECT items FROM (SELECT * FROM (SELECT * FROM src WHERE f ORDER BY k3) ORDER BY k2)
    ORDER BY k1 LIMIT n``: every level sees every column, so keys need not be selected.
    """
    remaining = list(levels)
    text = f"SELECT *{_source(query)}"
    if query.conditions:
        text += f" WHERE {_conjunction(list(query.conditions))}"
    text += _order_by(remaining.pop())
    while len(remaining) > 1:
        text = f"SELECT * FROM ({text}){_order_by(remaining.pop())}"
    items = ", ".join(_items(query.items))
    return _finish([f"SELECT {items} FROM ({text}){_order_by(remaining[0])}"], query, levels, None)


def _check_visible(
    levels: list[tuple[Expr, bool]],
    conditions: list[Expr],
    items: tuple[Expr, ...],
    search: VectorSearch | None,
) -> None:
    """Keys and filters applied one level up can only see the columns the base selects."""
    visible = output_names(items) if items else None
    if visible is None:
        return
    if search is not None:
        visible.add(search.alias)
    for what, expr in [("order_by key", e) for e, _ in levels] + [
        ("filter", c) for c in conditions
    ]:
        missing = referenced_columns(expr) - visible
        if missing:
            names = ", ".join(sorted(repr(m) for m in missing))
            raise BuildError(
                f"{what} {compile_expr(expr)} reads {names}, which the select list does not "
                "include; this query sorts or filters one level above the select list (to see "
                "the score or an alias), so add the column(s) to select()"
            )


def _conjunction(conditions: list[Expr]) -> str:
    if len(conditions) == 1:
        return compile_expr(conditions[0])
    return " AND ".join(_operand(c) for c in conditions)


def _text_search_query(query: Query) -> str:
    search = query.search
    assert isinstance(search, TextSearch)
    if query.row_limit is None:
        raise BuildError(
            "text_search() needs .limit(k): the engine only runs BM25 as "
            "ORDER BY BM25_SIMILARITY(...) DESC LIMIT k"
        )
    for what, present in (
        ("order_by()", bool(query.ordering)),
        ("group_by()", bool(query.groups)),
        ("ungroup_by()", query.ungroup_count is not None),
        ("sample_by()", query.sampling is not None),
    ):
        if present:
            raise UnsupportedConstructError(
                f"text_search() cannot be combined with {what}: the engine accepts BM25 only "
                "as the single ORDER BY key with LIMIT; wrap it: select().from_(bm25_query)..."
            )
    aliases = {item.name for item in query.items if isinstance(item, Alias)}
    if referenced_columns(search.column) & aliases:
        raise UnsupportedConstructError(
            "text_search() column is a select-list alias; BM25 needs an indexed source column"
        )
    for condition in query.conditions:
        if referenced_columns(condition) & aliases:
            raise UnsupportedConstructError(
                "a text_search() filter cannot use a select-list alias; filter on source columns"
            )
    parts = [f"SELECT {', '.join(_items(query.items))}", _source(query)]
    if query.conditions:
        parts.append(f" WHERE {_conjunction(list(query.conditions))}")
    score = f"BM25_SIMILARITY({compile_expr(search.column)}, {search.text.text})"
    offset = query.row_offset or 0
    parts.append(f" ORDER BY {score} DESC LIMIT {query.row_limit + offset}")
    if offset:
        parts.append(f" OFFSET {offset}")
    return "".join(parts)
