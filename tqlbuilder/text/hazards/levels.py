"""Rules on one SELECT level: its clauses, their order, sorting, sampling and aliases.

Engine facts: tests/test_hazards.py (Deep Lake 4.7.4; each rule has an engine test there).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from tqlbuilder.engine.catalog import FUNCTIONS, by_ranking
from tqlbuilder.text.hazards._model import Hit, rule, rules_in
from tqlbuilder.text.hazards._scan import (
    Clause,
    Context,
    Item,
    Level,
    call,
    clauses_of,
    constant,
    first_operand,
    is_kw,
    is_name,
    is_op,
    is_query_group,
    pos,
    select_list,
    split,
    unwrap,
    walk_tokens,
)
from tqlbuilder.text.lexer import Token

# Every function fact comes from the engine catalog (tqlbuilder/engine/catalog.py).
SIMILARITY_FUNCS = by_ranking("desc")  # higher = closer: sorted DESC
DISTANCE_FUNCS = by_ranking("asc")  # lower = closer: sorted ASC
#: Functions whose top-k form (ORDER BY f(...) LIMIT k) the engine rejects.
NO_TOP_K_FUNCS = frozenset(name for name, fn in FUNCTIONS.items() if not fn.top_k_safe)
# Functions whose first argument is a column: a name there is read as a column, by design.
COLUMN_FIRST_FUNCS = frozenset(name for name, fn in FUNCTIONS.items() if fn.column_first)


def _with(ctx: Context, name: str) -> Iterator[tuple[Level, Clause, Token]]:
    """Every level that has clause ``name``, with the clause and its keyword."""
    return iter(ctx.clauses.get(name, ()))


@rule("comma-join", "error", "silent-wrong", "`FROM a, b` zips the sources row by row")
def comma_join(ctx: Context) -> Iterator[Hit]:
    for _, clause, _ in _with(ctx, "FROM"):
        for item in clause.items:
            if is_op(item, ","):
                yield Hit(
                    pos(item),
                    "FROM a, b is not a cross product in the engine: it zips the sources row "
                    "by row (missing rows become None); use JOIN ... ON a.k = b.k",
                )


@rule("offset-before-limit", "error", "engine-rejects", "OFFSET before LIMIT: syntax error")
def offset_before_limit(ctx: Context) -> Iterator[Hit]:
    for level, _, keyword in _with(ctx, "OFFSET"):
        limit = level.by_name.get("LIMIT")
        if limit is not None and limit.keyword and keyword.start < limit.keyword.start:
            yield Hit(
                keyword.start,
                "OFFSET before LIMIT is a syntax error in the engine; write LIMIT n OFFSET m",
            )


@rule("limit-before-group", "error", "silent-wrong", "Applies LIMIT before GROUP BY")
def limit_before_group(ctx: Context) -> Iterator[Hit]:
    for level, _, keyword in _with(ctx, "GROUP BY"):
        limit = level.by_name.get("LIMIT")
        if limit is not None or level.has_top:
            where = limit.keyword if limit is not None and limit.keyword else keyword
            yield Hit(
                where.start,
                "with GROUP BY the engine applies LIMIT to the source rows before grouping (GROUP"
                " BY x LIMIT 2 gives groups built from 2 rows); limit the groups in an outer "
                "query: SELECT * FROM (... GROUP BY ...) LIMIT n",
            )


_WRAP = "wrap the union: SELECT * FROM (... UNION ...) {} ..."


@rule("order-after-union", "warning", "silent-wrong", "ORDER BY after UNION adds a stray column")
def order_after_union(ctx: Context) -> Iterator[Hit]:
    for level, _, keyword in _with(ctx, "ORDER BY"):
        if level.after_set_op:
            yield Hit(
                keyword.start,
                "ORDER BY after a set operation: the engine sorts the union but adds a stray "
                "_order_score_ column (its values do not follow the sorted rows); "
                + _WRAP.format("ORDER BY"),
            )


@rule("limit-after-union", "error", "silent-wrong", "Ignores LIMIT / OFFSET after a UNION")
def limit_after_union(ctx: Context) -> Iterator[Hit]:
    for level in ctx.levels:
        if not level.after_set_op:
            continue
        for clause in level.clauses:
            if clause.keyword is not None and clause.name in ("LIMIT", "OFFSET"):
                yield Hit(
                    clause.keyword.start,
                    f"{clause.name} after a set operation: the engine silently ignores it and "
                    "returns the whole union; " + _WRAP.format(clause.name),
                )


def _operand_shape(items: list[Item]) -> tuple[list[str], list[str]]:
    """The token texts of an operand's SELECT list and FROM source."""
    select: list[str] = []
    source: list[str] = []
    for clause in clauses_of(first_operand(items)):
        if clause.name == "SELECT":
            select = [tok.text for tok in walk_tokens(clause.items)]
        elif clause.name == "FROM":
            source = [tok.text for tok in walk_tokens(clause.items)]
    return select, source


@rule(
    "intersect-except",
    "error",
    "engine-rejects",
    "INTERSECT/EXCEPT of column lists or of two sources: 'Can't compute intersection'",
)
def intersect_except(ctx: Context) -> Iterator[Hit]:
    for keywords, operands in ctx.set_operations:
        hard = [tok for tok in keywords if tok.value in ("INTERSECT", "EXCEPT")]
        if not hard:
            continue
        shapes = [_operand_shape(operand) for operand in operands]
        whole_rows = all(select == ["*"] for select, _ in shapes)
        one_source = len({tuple(source) for _, source in shapes}) == 1
        if whole_rows and one_source:
            continue  # verified on 4.7.4: SELECT * ... INTERSECT SELECT * ... on one dataset runs
        for tok in hard:
            what = "intersection" if tok.value == "INTERSECT" else "difference"
            yield Hit(
                tok.start,
                f"{tok.value} fails on the engine ('Can't compute {what} of two independent "
                "datasets') unless both sides are SELECT * over the same dataset (a column "
                "list makes a new dataset); intersect whole rows and select the columns "
                "outside: SELECT id FROM ((SELECT * FROM d WHERE ...) "
                f"{tok.value} (SELECT * FROM d WHERE ...))",
            )


@rule("alias-in-same-level", "error", "engine-rejects", "Cannot see an alias in its own level")
def alias_in_same_level(ctx: Context) -> Iterator[Hit]:
    for level in ctx.levels:
        if not level.aliases:
            continue
        for clause in level.clauses:
            if clause.name in ("WHERE", "ORDER BY"):
                yield from _alias_uses(clause, level.aliases)


def _alias_uses(clause: Clause, aliases: dict[str, list[Item]]) -> Iterator[Hit]:
    items = walk_tokens(clause.items)
    for i, tok in enumerate(items):
        if not is_name(tok) or tok.value not in aliases:
            continue
        prev = items[i - 1] if i else None
        nxt = items[i + 1] if i + 1 < len(items) else None
        if is_op(prev, ".") or is_op(nxt, ".", "("):
            continue
        head = items[i - 2] if i >= 2 else None
        if (
            is_op(prev, "(")
            and isinstance(head, Token)
            and str(head.value).upper() in (COLUMN_FIRST_FUNCS)
        ):
            continue  # SIM(name, ...): a column argument, which the engine reads as one
        yield Hit(
            tok.start,
            f"{tok.text} is an alias from this SELECT list, but the engine does not see "
            f"aliases in the same level's {clause.name} (it fails with 'Tensor "
            f'"{tok.value}" does not exist\', or reads a column of that name); repeat the '
            "expression, or wrap the query: SELECT * FROM (SELECT ... AS "
            f"{tok.text} ...) {clause.name} {tok.text}",
        )


def _keys(clause: Clause) -> list[list[Item]]:
    return split(clause.items, ",")


def _direction(key: Sequence[Item]) -> tuple[str, Sequence[Item]]:
    if key and is_kw(key[-1], "ASC", "DESC"):
        last = key[-1]
        assert isinstance(last, Token)
        return str(last.value), key[:-1]
    return "ASC", key


@rule("ignored-order-key", "error", "silent-wrong", "Sorts by the first ORDER BY key only")
def ignored_order_key(ctx: Context) -> Iterator[Hit]:
    for _, clause, _ in _with(ctx, "ORDER BY"):
        for extra in _keys(clause)[1:]:
            if extra:
                yield Hit(
                    pos(extra[0]),
                    "the engine sorts by the first ORDER BY key only and silently ignores the "
                    "others; build one numeric key (e.g. a * 1000 - b), or nest the sorts: "
                    "SELECT * FROM (... ORDER BY second) ORDER BY first",
                )
                break


@rule("order-by-random", "warning", "fragile", "ORDER BY RANDOM() differs on every run")
def order_by_random(ctx: Context) -> Iterator[Hit]:
    for _, clause, _ in _with(ctx, "ORDER BY"):
        for key in _keys(clause):
            found = call(_direction(key)[1])
            if found is not None and found[0] == "RANDOM":
                yield Hit(
                    pos(key[0]),
                    "ORDER BY RANDOM() gives a different order on every run (and RANDOM() "
                    "selected as a column gives no usable numbers); for a random sample use "
                    "SAMPLE BY ... LIMIT n, for a reproducible one shuffle on the client",
                )


def _ranking(level: Level, clause: Clause) -> tuple[str, int, str] | None:
    """``(function, position, direction)`` of the first key, followed through aliases."""
    keys = _keys(clause)
    if not keys[0]:
        return None
    direction, expr = _direction(keys[0])
    found = call(expr)
    if found is not None:
        return found[0], pos(unwrap(expr)[0]), direction
    expr = unwrap(expr)
    if len(expr) != 1 or not is_name(expr[0]):
        return None
    name_tok = expr[0]
    assert isinstance(name_tok, Token)
    target = level.aliases.get(str(name_tok.value))
    from_clause = level.by_name.get("FROM")
    if target is None and from_clause is not None and from_clause.items:
        source = from_clause.items[0]
        if is_query_group(source):
            assert not isinstance(source, Token)
            for inner in clauses_of(first_operand(source.items)):
                if inner.name == "SELECT":
                    for inner_expr, alias in select_list(inner):
                        if alias is not None and alias.value == name_tok.value:
                            target = inner_expr
    if target is None:
        return None
    found = call(target)
    return (found[0], name_tok.start, direction) if found is not None else None


def _rankings(ctx: Context) -> Iterator[tuple[Level, Token, str, int, str]]:
    for level, clause, keyword in _with(ctx, "ORDER BY"):
        found = _ranking(level, clause)
        if found is not None:
            yield level, keyword, *found


@rule("wrong-sort-direction", "error", "silent-wrong", "Sorts a similarity ASC or a distance DESC")
def wrong_sort_direction(ctx: Context) -> Iterator[Hit]:
    for _, _, name, where, direction in _rankings(ctx):
        if name in SIMILARITY_FUNCS and direction != "DESC":
            yield Hit(
                where,
                f"{name} is a similarity (higher = closer) but is sorted ascending here, so the "
                "least similar rows come first"
                + (" (and the engine rejects BM25 sorted ASC)" if name == "BM25_SIMILARITY" else "")
                + "; write ORDER BY ... DESC",
            )
        elif name in DISTANCE_FUNCS and direction == "DESC":
            yield Hit(
                where,
                f"{name} is a distance (lower = closer) but is sorted DESC here, so the farthest "
                "rows come first; write ORDER BY ... ASC",
            )


@rule(
    "vector-ranking-without-limit",
    "warning",
    "fragile",
    "Ranks every row without LIMIT (no top-k search path)",
)
def vector_ranking_without_limit(ctx: Context) -> Iterator[Hit]:
    for level, keyword, name, _, _ in _rankings(ctx):
        if name != "BM25_SIMILARITY" and not level.limited:
            yield Hit(
                keyword.start,
                f"ORDER BY {name}(...) without LIMIT: the engine fully sorts every row and "
                "cannot use the top-k search path; add LIMIT k",
            )


@rule("bm25-without-limit", "error", "engine-rejects", "Rejects BM25 ranking without LIMIT")
def bm25_without_limit(ctx: Context) -> Iterator[Hit]:
    for level, keyword, name, _, _ in _rankings(ctx):
        if name == "BM25_SIMILARITY" and not level.limited:
            yield Hit(
                keyword.start,
                "ORDER BY BM25_SIMILARITY(...) without LIMIT: the engine rejects it "
                "('BM25_SIMILARITY cannot be used without index'); add LIMIT k",
            )


@rule(
    "l1-linf-top-k",
    "error",
    "engine-rejects",
    "Rejects ORDER BY L1_NORM/LINF_NORM(...) with LIMIT",
)
def l1_linf_top_k(ctx: Context) -> Iterator[Hit]:
    for level, _, name, where, _ in _rankings(ctx):
        if name in NO_TOP_K_FUNCS and ("LIMIT" in level.by_name or level.has_top):
            yield Hit(
                where,
                f"ORDER BY {name}(...) with LIMIT/TOP: the engine rejects the top-k form "
                f"('Function '{name}' requires 2 arguments, but 1 is provided'), also through an "
                "alias; sort in a level without LIMIT and limit one level up: SELECT * FROM "
                f"(SELECT * FROM (SELECT *, {name}(...) AS d FROM ...) ORDER BY d ASC) LIMIT k",
            )


def _sample_parts(clause: Clause, level: Level) -> tuple[list[Item], bool]:
    """The weight expression and whether ``REPLACE FALSE`` follows it."""
    expr: list[Item] = []
    guarded = False
    items = clause.items
    for i, item in enumerate(items):
        if is_kw(item, "REPLACE"):
            guarded = is_kw(items[i + 1] if i + 1 < len(items) else None, "FALSE")
            break
        expr.append(item)
    return expr, guarded


def _weight_bound(expr: Sequence[Item]) -> float | None:
    """An upper bound on every row's weight if it is known from constants alone, else None."""
    found = call(expr)
    if found is not None and found[0] in ("MAX_WEIGHT", "SUM_WEIGHT"):
        summed = found[0] == "SUM_WEIGHT"
        bound = 0.0 if summed else float("-inf")
        for pair in split(found[1].items, ","):
            parts = split(pair, ":")
            if len(parts) != 2:
                return None
            cond, weight = constant(parts[0]), constant(parts[1])
            if weight is None:
                return None
            if cond == 0.0:
                continue  # a FALSE condition never contributes
            top = weight if cond is not None else max(weight, 0.0)
            bound = bound + top if summed else max(bound, top)
        return bound
    return None


@rule(
    "sample-zero-weights",
    "error",
    "hang",
    "Every sampling weight is zero: allocates without bound (unless REPLACE FALSE)",
)
def sample_zero_weights(ctx: Context) -> Iterator[Hit]:
    for level, clause, keyword in _with(ctx, "SAMPLE BY"):
        expr, guarded = _sample_parts(clause, level)
        if guarded:
            continue  # verified: REPLACE FALSE returns at once even with all-zero weights
        bound = _weight_bound(expr)
        if constant(expr) == 0.0 or (bound is not None and bound <= 0.0):
            yield Hit(
                keyword.start,
                "every sampling weight here is zero (or below): with replacement (the default) "
                "the engine then allocates memory without bound until the process is killed; "
                "give at least one positive weight, e.g. MAX_WEIGHT(cond: 10, TRUE: 1), or "
                "write REPLACE FALSE",
            )


@rule(
    "sample-may-hang",
    "error",  # the executors refuse it (issue 10 item 2): the builder never writes this form
    "hang",
    "Row-dependent sampling weights without REPLACE FALSE: hangs if all are zero",
)
def sample_may_hang(ctx: Context) -> Iterator[Hit]:
    for level, clause, keyword in _with(ctx, "SAMPLE BY"):
        expr, guarded = _sample_parts(clause, level)
        if guarded or constant(expr) is not None:
            continue  # a constant weight is either always zero (the rule above) or never
        bound = _weight_bound(expr)
        if bound is not None and bound <= 0.0:
            continue  # reported by sample-zero-weights
        found = call(expr)
        if found is not None and found[0] in ("MAX_WEIGHT", "SUM_WEIGHT"):
            pairs = [split(pair, ":") for pair in split(found[1].items, ",")]
            if any(
                len(parts) == 2
                and constant(parts[0]) not in (None, 0.0)
                and (constant(parts[1]) or 0.0) > 0.0
                for parts in pairs
            ):
                continue  # a constant TRUE: w pair with w > 0 gives every row a weight
        yield Hit(
            keyword.start,
            "sampling weights that depend on the rows, with replacement (the default): if they "
            "are zero for every row (e.g. SAMPLE BY id < 0) the engine never returns and "
            "allocates without bound; add REPLACE FALSE, or a fallback weight: "
            "MAX_WEIGHT(cond: 10, TRUE: 1)",
        )


RULES = rules_in(globals())
