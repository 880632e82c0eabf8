"""``json_nulls``: the builder's operators mean SQL null semantics on JSON keys some rows lack.

A lowering step over WHERE conditions. A JSON key compared with a literal is *unknown* when the
row lacks the key or holds a value of another type (a string compared with a number, or the
reverse); unknown satisfies no comparison, ``IN``, ``NOT IN``, ``BETWEEN``, ``LIKE``, ``ILIKE``,
``NOT LIKE`` or ``contains``, and ``NOT unknown`` is unknown (Kleene logic). Only ``is_null()``
and ``is_not_null()`` see missing keys. Booleans are JSON numbers to the engine (``true = 1``).

The engine itself is two-valued and untyped here (``tests/probes/json_missing_keys.md``, deeplake
4.7.4): ``NOT``/``NOT IN`` keep rows that lack the key, ``!=`` and ``<`` match values of the other
type (strings order below every number), a negative number in ``IN``/``BETWEEN`` on a JSON key is
rejected ("Can't apply minus on string") and in ``contains`` matches nothing, and ``LIKE`` fails
with "Key not found" whenever any row of the view lacks the key. So conditions that read a JSON
key are rewritten (NOT pushed to the leaves, each leaf in its TRUE or FALSE form):

- type guards (built by `tqlbuilder.tree.json_guards`, where the engine facts behind them
  are written down): a number is ``k >= -1.7976931348623157e+308`` (below every JSON number,
  above every string); a string is ``k < -1.79...e+308 AND k >= ''``;
- ``k != v``, orderings, ``NOT IN``, ``BETWEEN`` and negated ``contains`` get the guard of the
  literal's type; ``BETWEEN`` is written with ``>=``/``<=``; an ``IN`` list with a negative number
  becomes ``k = v1 OR k = v2 ...``; ``contains`` with a number is equality;
- a ``LIKE``/``ILIKE``/``NOT LIKE`` on a JSON key reads the rows of a subquery that keeps only rows
  having the key (``SELECT * FROM src WHERE k IS NOT NULL``); under an ``OR`` no form exists, so
  it is refused.

Conditions that read no JSON key are left exactly as written. The rewrite is idempotent (guards
are recognised and not guarded again), so ``parse(q.to_tql()).to_tql() == q.to_tql()`` holds.
Pinned by ``tests/test_engine_semantics.py`` (generated rows against a reference model).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from tqlbuilder.errors import BuildError
from tqlbuilder.tree.expr import (
    Between,
    Binary,
    BoolOp,
    Expr,
    Func,
    InList,
    IsNull,
    Like,
    Literal,
    Neg,
    Not,
    Subscript,
    as_literal,
)
from tqlbuilder.tree.json_guards import atom, guard_for, number_or_bool
from tqlbuilder.tree.walk import reads_json

__all__ = ["check_order_keys", "like_keys", "lower_conditions"]

_ZERO = as_literal(0, argument="zero")
_NEGATE = {"=": "!=", "!=": "=", "<": ">=", "<=": ">", ">": "<=", ">=": "<"}
_MIRROR = {"=": "=", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}


def lower_conditions(conditions: Iterable[Expr]) -> tuple[tuple[Expr, ...], tuple[Expr, ...]]:
    """WHERE conditions in their null-semantics form, and the JSON keys a LIKE needs present.

    Raises:
        BuildError: a LIKE/ILIKE/NOT LIKE on a JSON key sits under an OR (no engine form exists).
    """
    out: list[Expr] = []
    lowered_at: list[int] = []
    seen: set[tuple[object, ...]] = set()
    for condition in conditions:
        if not reads_json(condition):
            out.append(condition)
            continue
        lowered = _form(condition, True)
        is_and = isinstance(lowered, BoolOp) and lowered.op == "AND"
        parts = lowered.operands if isinstance(lowered, BoolOp) and is_and else (lowered,)
        guards = _guards_among(parts)
        for part in parts:
            if part.key() in guards:
                if part.key() in seen:
                    continue
                seen.add(part.key())
            else:
                lowered_at.append(len(out))
            out.append(part)
    for index in lowered_at:  # a guard the WHERE asserts is TRUE inside every condition
        out[index] = _drop_covered(out[index], frozenset(seen))
    return tuple(out), like_keys(out)


def check_order_keys(keys: Iterable[Expr], conditions: Iterable[Expr]) -> None:
    """Refuse a sort key computed from a JSON key that rows may lack.

    ``ORDER BY meta['n'] * -1`` fails with "Dtype is unknown." when any row lacks the key,
    while a bare ``ORDER BY meta['n']`` sorts missing rows lowest
    (``tests/test_engine_semantics.py``). A ``key.is_not_null()`` filter makes it safe.

    Raises:
        BuildError: such a key without that filter.
    """
    present = {c.operand.key() for c in conditions if isinstance(c, IsNull) and c.negated}
    for key in keys:
        if not isinstance(key, (Binary, Neg, Func)):
            continue  # a bare key or an index into it sorts rows that lack it lowest
        for read in _json_reads(key):
            if read.key() not in present:
                raise BuildError(
                    f"order_by({key.to_tql()}) computes from the JSON key {read.to_tql()}, and "
                    "the engine fails ('Dtype is unknown.') when any row lacks it; add "
                    f".where({read.to_tql()} IS NOT NULL) - col(...)[...].is_not_null() - or "
                    "sort by the bare key"
                )


def _json_reads(expr: Expr) -> Iterator[Expr]:
    stack: list[object] = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, Subscript) and node.json_key:
            yield node
        elif isinstance(node, Subscript):
            stack.append(node.operand)
        elif isinstance(node, BoolOp):
            stack.extend(node.operands)
        elif isinstance(node, Binary):
            stack.extend((node.left, node.right))
        elif isinstance(node, Func):
            stack.extend(arg for arg in node.args if isinstance(arg, Expr))
        elif isinstance(node, (Not, Neg)):
            stack.append(node.operand)


def like_keys(conditions: Iterable[Expr]) -> tuple[Expr, ...]:
    """The JSON keys read by a LIKE reachable from the WHERE through AND/NOT only (deduplicated).

    Raises:
        BuildError: such a LIKE is under an OR.
    """
    keys: dict[tuple[object, ...], Expr] = {}
    stack: list[tuple[Expr, bool]] = [(c, False) for c in conditions]
    while stack:
        node, under_or = stack.pop()
        if isinstance(node, Like) and _is_json(node.operand):
            if under_or:
                raise BuildError(
                    "a LIKE/ILIKE/NOT LIKE on a JSON key under OR cannot be evaluated: the engine "
                    "fails with 'Key not found' on rows that lack the key, and no same-level "
                    "guard prevents it; filter key.is_not_null() in a subquery first "
                    "(select().from_(select().from_(src).where(key.is_not_null()))...) or run "
                    "the two alternatives as two queries"
                )
            keys.setdefault(node.operand.key(), node.operand)
        elif isinstance(node, BoolOp):
            stack.extend((child, under_or or node.op == "OR") for child in node.operands)
        elif isinstance(node, Not):
            stack.append((node.operand, under_or))
    return tuple(keys.values())


# ---------------------------------------------------------------------------- forms


def _is_json(expr: Expr) -> bool:
    return isinstance(expr, Subscript) and expr.json_key


def _and(parts: Iterable[Expr]) -> Expr:
    """AND of the parts, flattened, each guard kept once."""
    items: list[Expr] = []
    for part in parts:
        items.extend(part.operands if isinstance(part, BoolOp) and part.op == "AND" else (part,))
    guards = _guards_among(items)
    flat: list[Expr] = []
    seen: set[tuple[object, ...]] = set()
    for item in items:
        key = item.key()
        if key in guards:
            if key in seen:
                continue
            seen.add(key)
        flat.append(item)
    return flat[0] if len(flat) == 1 else BoolOp("AND", tuple(flat))


def _drop_covered(expr: Expr, covered: frozenset[tuple[object, ...]]) -> Expr:
    """``expr`` without the guard atoms an enclosing AND already asserts (they are TRUE here)."""
    if not isinstance(expr, BoolOp):
        return expr
    if expr.op == "OR":
        return BoolOp("OR", tuple(_drop_covered(child, covered) for child in expr.operands))
    mine = _guards_among(expr.operands)
    inner = covered | mine
    kept = [
        child if child.key() in mine else _drop_covered(child, inner)
        for child in expr.operands
        if not (child.key() in mine and child.key() in covered)
    ]
    if not kept:  # every operand was an asserted guard: TRUE here, keep one to say so
        return expr.operands[0]
    return kept[0] if len(kept) == 1 else BoolOp("AND", tuple(kept))


def _or(parts: Iterable[Expr]) -> Expr:
    either = BoolOp.of("OR", *parts)
    return either.operands[0] if len(either.operands) == 1 else either


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float))  # bool too: JSON booleans are numbers to the engine


def _guard(key: Expr, literal: object) -> Expr:
    """The rows where ``key`` holds a value of ``literal``'s type (number or string)."""
    return guard_for(key, literal)


def _is_guard(expr: Expr) -> bool:
    """A guard atom on its own: the number guard, or the first half of the string guard."""
    found = atom(expr)
    return found is not None and found[0] != "text"


def _guards_among(conjuncts: Iterable[Expr]) -> frozenset[tuple[object, ...]]:
    """Keys of the conjuncts that are guards: ``k >= ''`` counts only beside ``k < -MAX``."""
    atoms = [(c.key(), atom(c)) for c in conjuncts]
    below = {found[1] for _, found in atoms if found is not None and found[0] == "not_number"}
    return frozenset(
        key
        for key, found in atoms
        if found is not None and (found[0] != "text" or found[1] in below)
    )


def _value(expr: Expr) -> tuple[bool, object]:
    """(True, value) for a literal operand (a negated number literal too), else (False, None)."""
    if isinstance(expr, Literal) and not isinstance(expr.value, type(None)):
        return True, expr.value
    if isinstance(expr, Neg) and isinstance(expr.operand, Literal):
        inner = expr.operand.value
        if _is_number(inner) and not isinstance(inner, bool):
            return True, -inner
    return False, None


def _negative(value: object) -> bool:
    return _is_number(value) and not isinstance(value, bool) and value < 0  # type: ignore[operator]


def _form(expr: Expr, truth: bool) -> Expr:
    """The expression selecting the rows where ``expr`` is TRUE (``truth``) or FALSE."""
    if isinstance(expr, Not):
        return _form(expr.operand, not truth)
    if isinstance(expr, BoolOp):
        parts = [_form(operand, truth) for operand in expr.operands]
        return _and(parts) if (expr.op == "AND") == truth else _or(parts)
    if not reads_json(expr):
        return expr if truth else Not(expr)
    form = _leaf(expr, truth)
    if form is not None:
        return form
    return expr if truth else Not(expr)  # a JSON read we have no typed form for: as written


def _leaf(expr: Expr, truth: bool) -> Expr | None:
    if isinstance(expr, Binary) and expr.op in _NEGATE:
        return _comparison(expr, truth)
    if isinstance(expr, InList) and _is_json(expr.operand) and expr.values:
        return _membership(expr, truth)
    if isinstance(expr, Between) and _is_json(expr.operand):
        return _between(expr, truth)
    if isinstance(expr, IsNull) and _is_json(expr.operand):
        return IsNull(expr.operand, expr.negated == truth)
    if isinstance(expr, Like) and _is_json(expr.operand):
        return _like(expr, truth)
    if isinstance(expr, Func) and expr.name == "CONTAINS" and len(expr.args) == 2:
        key, needle = expr.args
        if isinstance(key, Expr) and isinstance(needle, Expr) and _is_json(key):
            return _contains(key, needle, truth)
    return None


def _comparison(expr: Binary, truth: bool) -> Expr | None:
    if _is_guard(expr):
        return expr if truth else None
    left, right, op = expr.left, expr.right, expr.op
    if not _is_json(left) and _is_json(right):
        left, right, op = right, left, _MIRROR[op]
    is_literal, value = _value(right)
    if not is_literal and _value(left)[0] and isinstance(right, (Binary, Neg, Func)):
        left, right, op = right, left, _MIRROR[op]
        is_literal, value = _value(right)
    if not is_literal:
        return None
    if not _is_json(left):
        return _computed(left, op, right, truth)
    op = op if truth else _NEGATE[op]
    compared = Binary(op, left, right)
    if op == "=":  # equality is typed on the engine and excludes missing keys
        return compared
    return _and([_guard(left, value), compared])


def _computed(left: Expr, op: str, right: Expr, truth: bool) -> Expr | None:
    """``f(k) op v`` where ``f`` is arithmetic or a function over JSON keys: numbers only.

    A row whose key is missing or not a number makes ``f(k)`` unknown, so both the TRUE and
    the FALSE form require every key read to hold a number (``tests/test_engine_semantics.py``).
    """
    if not isinstance(left, (Binary, Neg, Func)):
        return None
    keys = {read.key(): read for read in _json_reads(left)}
    if not keys:
        return None
    op = op if truth else _NEGATE[op]
    computed = Binary(op, _subtract_for_minus(left), right)
    return _and([*(number_or_bool(k) for k in keys.values()), computed])


def _subtract_for_minus(expr: Expr) -> Expr:
    """``-f(k)`` as ``0 - f(k)``: in WHERE the engine's unary minus on a JSON number drops its
    fraction (``-meta['k'] < 0`` misses 0.5; ``0 - meta['k'] < 0`` does not; deeplake 4.7.4,
    ``tests/test_engine_semantics.py``)."""
    if isinstance(expr, Neg):
        inner = _subtract_for_minus(expr.operand)
        if any(True for _ in _json_reads(inner)):
            return Binary("-", _ZERO, inner)
        return Neg(inner)
    if isinstance(expr, Binary):
        return Binary(expr.op, _subtract_for_minus(expr.left), _subtract_for_minus(expr.right))
    if isinstance(expr, Func):
        return Func(
            expr.name,
            tuple(_subtract_for_minus(a) if isinstance(a, Expr) else a for a in expr.args),
        )
    return expr


def _membership(expr: InList, truth: bool) -> Expr:
    key, values = expr.operand, expr.values
    member = (not expr.negated) == truth
    if any(_negative(v) for v in values):  # IN (-x) on a JSON key is rejected by the engine
        literals = [as_literal(v, argument="isin() value") for v in values]
        if member:
            return _or([Binary("=", key, v) for v in literals])
        return _and([_guard(key, values[0]), *(Binary("!=", key, v) for v in literals)])
    if member:
        return InList(key, values, expr.text, False)
    return _and([_guard(key, values[0]), InList(key, values, expr.text, True)])


def _between(expr: Between, truth: bool) -> Expr | None:
    low_ok, low = _value(expr.low)
    high_ok, _ = _value(expr.high)
    if not (low_ok and high_ok):
        return None
    key = expr.operand
    guard = _guard(key, low)
    if truth:  # BETWEEN with a negative bound on a JSON key is rejected: spell it out
        return _and([guard, Binary(">=", key, expr.low), Binary("<=", key, expr.high)])
    return _and([guard, _or([Binary("<", key, expr.low), Binary(">", key, expr.high)])])


def _contains(key: Expr, needle: Expr, truth: bool) -> Expr | None:
    ok, value = _value(needle)
    if not ok:
        return None
    if _is_number(value):  # contains(json, number) is equality (and matches nothing if < 0)
        return _comparison(Binary("=", key, needle), truth)
    found = Func("CONTAINS", (key, needle))
    return _and([_guard(key, value), found if truth else Not(found)])


def _like(expr: Like, truth: bool) -> Expr:
    positive = (not expr.negated) == truth
    key, pattern = expr.operand, expr.pattern
    if positive:
        return Like(key, pattern, expr.case_insensitive, False)
    if not expr.case_insensitive:  # NOT LIKE never matches a number or a missing key
        return Like(key, pattern, False, True)
    return _and([_guard(key, pattern.value), Not(Like(key, pattern, True, False))])
