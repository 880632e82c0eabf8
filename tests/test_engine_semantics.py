"""Engine semantics the builder must compile around (issue 10 items 5, 6, 6b and "Loudly wrong").

Each class has three parts:

* the verified engine facts (``tests/probes/json_missing_keys.md``,
  ``tests/probes/paging_ties.md``);
* a *form* test that passes today: hand-built TQL in the form the compiler should emit, run on the
  engine, gives exactly the rows of a Python reference model (generated with hypothesis);
* a builder test marked ``xfail(strict=True)`` that runs today's compiled text and asserts the same
  rows; it flips to a pass when the compiler emits the form (then remove the marker).

Engine: deeplake 4.7.4, embedded, ``deeplake.query`` on ``mem://`` datasets.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tqlbuilder import F, col, lit, select
from tqlbuilder.tree.expr import Expr

deeplake = pytest.importorskip("deeplake")
types = deeplake.types

pytestmark = pytest.mark.engine

_counter = itertools.count()

# ============================================================================ JSON keys (item 5)
#
# Semantics chosen (tests/probes/json_missing_keys.md): SQL null semantics typed by the literal. A
# key compared with a number (string) is UNKNOWN when the row lacks the key or holds a string
# (number); UNKNOWN satisfies nothing and NOT UNKNOWN is UNKNOWN (Kleene logic). Only is_null() sees
# missing keys.

MAX = "1.7976931348623157e308"  # -MAX is below every JSON number and above every JSON string
KEYS = ("a", "b")

Num = int | float
Scalar = int | float | str
Pred = tuple[Any, ...]


def is_num(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def same_type(value: object, literal: object) -> bool:
    return is_num(value) == is_num(literal) and (is_num(value) or isinstance(value, str))


def like_regex(pattern: str, *, ignore_case: bool) -> re.Pattern[str]:
    """The engine's LIKE: ``%`` becomes ``.*``, anchored (engine-probe §3.4).

    The patterns generated here use only ``a``, ``b``, ``A`` and ``%``.
    """
    return re.compile(pattern.replace("%", ".*"), re.IGNORECASE if ignore_case else 0)


_CMP: dict[str, Callable[[Any, Any], bool]] = {
    "=": lambda x, y: bool(x == y),
    "!=": lambda x, y: bool(x != y),
    "<": lambda x, y: bool(x < y),
    "<=": lambda x, y: bool(x <= y),
    ">": lambda x, y: bool(x > y),
    ">=": lambda x, y: bool(x >= y),
}
_NEGATED = {"=": "!=", "!=": "=", "<": ">=", "<=": ">", ">": "<=", ">=": "<"}
_MISSING = object()


def reference(pred: Pred, meta: dict[str, Any]) -> bool | None:
    """Three-valued truth of ``pred`` for one row's ``meta`` (None = unknown)."""
    kind = pred[0]
    if kind == "not":
        inner = reference(pred[1], meta)
        return None if inner is None else not inner
    if kind in ("and", "or"):
        left, right = reference(pred[1], meta), reference(pred[2], meta)
        if kind == "and":
            if left is False or right is False:
                return False
            return None if left is None or right is None else True
        if left is True or right is True:
            return True
        return None if left is None or right is None else False
    value = meta.get(pred[1], _MISSING)
    if kind == "null":
        return (value is _MISSING) == pred[2]
    if value is _MISSING:
        return None
    if kind == "cmp":
        _, _, op, literal = pred
        return _CMP[op](value, literal) if same_type(value, literal) else None
    if kind in ("in", "notin"):
        values = pred[2]
        if not same_type(value, values[0]):
            return None
        return (value in values) == (kind == "in")
    if kind == "between":
        _, _, low, high = pred
        return bool(low <= value <= high) if same_type(value, low) else None
    if kind == "contains":
        needle = pred[2]
        if not same_type(value, needle):
            return None
        return needle in value if isinstance(value, str) else value == needle
    if kind == "like":
        _, _, pattern, how = pred
        if not isinstance(value, str):
            return None
        matched = like_regex(pattern, ignore_case=how == "ilike").fullmatch(value) is not None
        return matched != (how == "not_like")
    raise AssertionError(pred)


def render(value: Scalar) -> str:
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return repr(value)


def key_text(key: str) -> str:
    return f"\"meta\"['{key}']"


def guard(key: str, literal: object) -> str:
    k = key_text(key)
    return f"{k} >= -{MAX}" if is_num(literal) else f"({k} < -{MAX} AND {k} >= '')"


def form(pred: Pred, truth: bool = True) -> str:
    """The TQL that selects the rows where ``pred`` is TRUE (``truth``) or FALSE (``not truth``).

    This is the compile-side form for issue 10 item 5 (table (b) in json_missing_keys.md).
    """
    kind = pred[0]
    if kind == "not":
        return form(pred[1], not truth)
    if kind in ("and", "or"):
        joiner = "AND" if (kind == "and") == truth else "OR"
        return f"({form(pred[1], truth)} {joiner} {form(pred[2], truth)})"
    k = key_text(pred[1])
    if kind == "null":
        return f"{k} IS NULL" if pred[2] == truth else f"{k} IS NOT NULL"
    if kind == "cmp":
        _, key, op, literal = pred
        op = op if truth else _NEGATED[op]
        if op == "=":  # equality is already typed and excludes missing keys
            return f"{k} = {render(literal)}"
        return f"({guard(key, literal)} AND {k} {op} {render(literal)})"
    if kind in ("in", "notin"):
        values = pred[2]
        member = (kind == "in") == truth
        if any(is_num(v) and v < 0 for v in values):  # IN (-x) on a JSON key is rejected
            if member:
                return "(" + " OR ".join(f"{k} = {render(v)}" for v in values) + ")"
            ne = " AND ".join(f"{k} != {render(v)}" for v in values)
            return f"({guard(pred[1], values[0])} AND {ne})"
        listed = ", ".join(render(v) for v in values)
        if member:
            return f"{k} IN ({listed})"
        return f"({guard(pred[1], values[0])} AND {k} NOT IN ({listed}))"
    if kind == "between":
        _, key, low, high = pred
        if truth:  # BETWEEN -x on a JSON key is rejected: spell it with >= and <=
            return f"({guard(key, low)} AND {k} >= {render(low)} AND {k} <= {render(high)})"
        return f"({guard(key, low)} AND ({k} < {render(low)} OR {k} > {render(high)}))"
    if kind == "contains":
        needle = pred[2]
        if is_num(needle):  # contains(json, -x) silently matches nothing: it is equality
            return form(("cmp", pred[1], "=", needle), truth)
        if truth:
            return f"({guard(pred[1], needle)} AND contains({k}, {render(needle)}))"
        return f"({guard(pred[1], needle)} AND NOT contains({k}, {render(needle)}))"
    if kind == "like":
        _, key, pattern, how = pred
        positive = (how != "not_like") == truth
        op = "ILIKE" if how == "ilike" else "LIKE"
        if positive:
            return f"{k} {op} {render(pattern)}"
        if op == "LIKE":
            return f"{k} NOT LIKE {render(pattern)}"
        return f"({guard(key, pattern)} AND NOT ({k} ILIKE {render(pattern)}))"
    raise AssertionError(pred)


def like_keys(pred: Pred) -> set[str]:
    if pred[0] == "like":
        return {pred[1]}
    if pred[0] in ("not", "and", "or"):
        return set().union(*(like_keys(p) for p in pred[1:]))
    return set()


def form_query(path: str, pred: Pred) -> str:
    """A whole query; LIKE on a key some rows lack needs the subquery guard (no same-level form)."""
    source = f'"{path}"'
    keys = sorted(like_keys(pred))
    if keys:
        present = " AND ".join(f"{key_text(k)} IS NOT NULL" for k in keys)
        source = f"(SELECT * FROM {source} WHERE {present})"
    return f"SELECT id FROM {source} WHERE {form(pred)}"


def builder(pred: Pred) -> Expr:
    """The same predicate written with the builder."""
    kind = pred[0]
    if kind == "not":
        return ~builder(pred[1])
    if kind == "and":
        return builder(pred[1]) & builder(pred[2])
    if kind == "or":
        return builder(pred[1]) | builder(pred[2])
    k = col("meta")[pred[1]]
    if kind == "null":
        return k.is_null() if pred[2] else k.is_not_null()
    if kind == "cmp":
        op, literal = pred[2], pred[3]
        methods = {
            "=": k.__eq__,
            "!=": k.__ne__,
            "<": k.__lt__,
            "<=": k.__le__,
            ">": k.__gt__,
            ">=": k.__ge__,
        }
        return methods[op](literal)
    if kind == "in":
        return k.isin(pred[2])
    if kind == "notin":
        return k.not_in(pred[2])
    if kind == "between":
        return k.between(pred[2], pred[3])
    if kind == "contains":
        return k.contains(pred[2])
    if kind == "like":
        return {"like": k.like, "ilike": k.ilike, "not_like": k.not_like}[pred[3]](pred[2])
    raise AssertionError(pred)


# ---------------------------------------------------------------- strategies

numbers = st.one_of(st.integers(-3, 3), st.integers(-6, 6).map(lambda n: n / 2))
texts = st.text(alphabet="abAB.", max_size=3)
scalars = st.one_of(numbers, texts)
keys = st.sampled_from(KEYS)
metas = st.dictionaries(keys, scalars, max_size=2).map(lambda d: {**d, "z": 0})


@st.composite
def atoms(draw: st.DrawFn, *, with_like: bool = False) -> Pred:
    key = draw(keys)
    kinds = ["cmp", "in", "notin", "between", "contains", "null"] + (["like"] if with_like else [])
    kind = draw(st.sampled_from(kinds))
    values = draw(st.sampled_from([numbers, texts]))
    if kind == "cmp":
        return ("cmp", key, draw(st.sampled_from(sorted(_CMP))), draw(values))
    if kind in ("in", "notin"):
        return (kind, key, tuple(draw(st.lists(values, min_size=1, max_size=3))))
    if kind == "between":
        low, high = sorted(draw(st.lists(values, min_size=2, max_size=2)))
        return ("between", key, low, high)
    if kind == "contains":
        return ("contains", key, draw(st.one_of(numbers, st.text(alphabet="ab.", min_size=1))))
    if kind == "null":
        return ("null", key, draw(st.booleans()))
    pattern = draw(st.text(alphabet="abA%", min_size=1, max_size=3))
    return ("like", key, pattern, draw(st.sampled_from(["like", "ilike", "not_like"])))


predicates = st.recursive(
    atoms(),
    lambda inner: st.one_of(
        st.tuples(st.just("not"), inner),
        st.tuples(st.sampled_from(["and", "or"]), inner, inner),
    ),
    max_leaves=4,
)
# LIKE only where a missing key makes the whole WHERE not TRUE: a top conjunct (maybe negated)
like_conjuncts = st.one_of(
    atoms(with_like=True).filter(lambda p: p[0] == "like"),
    st.tuples(st.just("not"), atoms(with_like=True).filter(lambda p: p[0] == "like")),
)
where_clauses = st.one_of(
    predicates,
    st.tuples(st.just("and"), like_conjuncts, predicates),
)


def make_json_dataset(rows: list[dict[str, Any]]) -> str:
    path = f"mem://json-{next(_counter)}"
    ds = deeplake.create(path)
    ds.add_column("id", types.Int64())
    ds.add_column("meta", types.Dict())
    ds.append({"id": list(range(len(rows))), "meta": rows})
    ds.commit()
    return path


def engine_ids(text: str) -> list[int]:
    view = deeplake.query(text)  # bind the view before reading (a temporary expires)
    return sorted(int(i) for i in view["id"][:])


def expected_ids(rows: list[dict[str, Any]], pred: Pred) -> list[int]:
    return [i for i, meta in enumerate(rows) if reference(pred, meta) is True]


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(st.lists(metas, min_size=1, max_size=8), st.lists(where_clauses, min_size=1, max_size=6))
def test_json_forms_give_sql_null_semantics(rows: list[dict[str, Any]], preds: list[Pred]) -> None:
    """The forms of json_missing_keys.md (b) give Kleene semantics for every operator."""
    path = make_json_dataset(rows)
    for pred in preds:
        text = form_query(path, pred)
        assert engine_ids(text) == expected_ids(rows, pred), text


# ---------------------------------------------- the builder today (flip when the compiler lands)

SPARSE = [
    {"src": "a.txt", "n": 1},
    {"other": 1},
    {"src": "b.md", "n": -3.0},
    {"src": "a", "n": "x"},
    {"src": 5, "n": 0.5},
]
TODAY_WRONG = {
    "not_in_keeps_missing": ("notin", "src", ("a",)),
    "not_isin_keeps_missing": ("not", ("in", "src", ("a",))),
    "not_eq_keeps_missing": ("not", ("cmp", "src", "=", "a")),
    "ne_matches_other_type": ("cmp", "n", "!=", -3.0),
    "lt_matches_string": ("cmp", "n", "<", 1),
    "gt_string_matches_numbers": ("cmp", "src", ">", "a"),
    "like_missing_key_fails": ("like", "src", "%.txt", "like"),
    "ilike_missing_key_fails": ("like", "src", "A%", "ilike"),
    "not_like_missing_key_fails": ("like", "src", "%.txt", "not_like"),
    "isin_negative_rejected": ("in", "n", (-3.0, 0.5)),
    "not_in_negative_rejected": ("notin", "n", (-3.0, 1)),
    "between_negative_rejected": ("between", "n", -4, 0),
    "contains_negative_matches_nothing": ("contains", "n", -3.0),
    "not_contains_keeps_missing": ("not", ("contains", "src", "a")),
}


@pytest.fixture(scope="module")
def sparse_path() -> str:
    return make_json_dataset(SPARSE)


@pytest.mark.parametrize("name", sorted(TODAY_WRONG))
def test_json_forms_on_the_issue_rows(sparse_path: str, name: str) -> None:
    pred = TODAY_WRONG[name]
    assert engine_ids(form_query(sparse_path, pred)) == expected_ids(SPARSE, pred)


@pytest.mark.parametrize("name", sorted(TODAY_WRONG))
def test_builder_json_semantics(sparse_path: str, name: str) -> None:
    pred = TODAY_WRONG[name]
    query = select("id").from_(sparse_path).where(builder(pred))
    assert engine_ids(query.to_tql()) == expected_ids(SPARSE, pred)


def test_like_under_or_needs_a_refusal(sparse_path: str) -> None:
    """No form found: under OR the engine still evaluates LIKE on rows that lack the key."""
    with pytest.raises(RuntimeError, match="Key not found"):
        engine_ids(
            f'SELECT id FROM "{sparse_path}" WHERE {key_text("src")} IS NOT NULL '
            f"AND ({key_text('src')} LIKE '%.txt' OR id = 1)"
        )


def test_builder_refuses_like_under_or(sparse_path: str) -> None:
    from tqlbuilder.errors import BuildError

    query = (
        select("id").from_(sparse_path).where(col("meta")["src"].like("%.txt") | (col("id") == 1))
    )
    with pytest.raises(BuildError, match=r"(?i)like"):
        query.to_tql()


# ================================================= "Loudly wrong": operator x target x value sign

LOUD_ROWS = [-3.0, -2.5, 0.0, 0.5, 2.0, 2.5]  # exact in float32; every row has the key
LOUD_VALUES: tuple[Num, ...] = (-3, -2.5, 0, 0.5, 2, 2.5)
LOUD_OPS: dict[str, Callable[[Expr, Num], Expr]] = {
    "==": lambda e, v: e == v,
    "!=": lambda e, v: e != v,
    "<": lambda e, v: e < v,
    "<=": lambda e, v: e <= v,
    ">": lambda e, v: e > v,
    ">=": lambda e, v: e >= v,
    "isin": lambda e, v: e.isin([v, 0.5]),
    "not_in": lambda e, v: e.not_in([v, 0.5]),
    "between_low": lambda e, v: e.between(v, 2.5),
    "between_high": lambda e, v: e.between(-3, v),
    "contains": lambda e, v: e.contains(v),
}
LOUD_REF: dict[str, Callable[[float, Num], bool]] = {
    "==": lambda x, v: x == v,
    "!=": lambda x, v: x != v,
    "<": lambda x, v: x < v,
    "<=": lambda x, v: x <= v,
    ">": lambda x, v: x > v,
    ">=": lambda x, v: x >= v,
    "isin": lambda x, v: x in (v, 0.5),
    "not_in": lambda x, v: x not in (v, 0.5),
    "between_low": lambda x, v: v <= x <= 2.5,
    "between_high": lambda x, v: -3 <= x <= v,
    "contains": lambda x, v: x == v,
}
LOUD_TARGETS: dict[str, Callable[[], Expr]] = {
    "json": lambda: col("meta")["n"],
    "nested_json": lambda: col("meta")["o"]["n"],
    "float_column": lambda: col("f"),
}


@pytest.fixture(scope="module")
def loud_path() -> str:
    path = f"mem://loud-{next(_counter)}"
    ds = deeplake.create(path)
    ds.add_column("id", types.Int64())
    ds.add_column("f", types.Float32())
    ds.add_column("meta", types.Dict())
    ds.append(
        {
            "id": list(range(len(LOUD_ROWS))),
            "f": LOUD_ROWS,
            "meta": [{"n": x, "o": {"n": x}} for x in LOUD_ROWS],
        }
    )
    ds.commit()
    return path


def _loud_cases() -> list[Any]:
    cases = []
    for target, op, value in itertools.product(LOUD_TARGETS, LOUD_OPS, LOUD_VALUES):
        if target == "float_column" and op == "contains":
            continue  # contains() on a scalar column is not a membership test
        cases.append(pytest.param(target, op, value, id=f"{target}-{op}-{value}"))
    return cases


@pytest.mark.parametrize(("target", "op", "value"), _loud_cases())
def test_builder_numbers_on_json_keys_and_columns(
    loud_path: str, target: str, op: str, value: Num
) -> None:
    query = select("id").from_(loud_path).where(LOUD_OPS[op](LOUD_TARGETS[target](), value))
    expected = [i for i, x in enumerate(LOUD_ROWS) if LOUD_REF[op](x, value)]
    assert engine_ids(query.to_tql()) == expected


# ============================================ 6b: every builder step keeps the meaning or refuses
#
# A query is modelled as one SELECT over a source: rows(source) -> WHERE (all conditions) ->
# ORDER BY -> OFFSET -> LIMIT -> select list. rows(source) comes from the engine itself: the inner
# query's own text, or ``ds.query(text)`` on the open dataset for parsed text without FROM (the
# form Deep Lake's docs use). A step changes one clause of the model; the builder's compiled query
# must return exactly the model's rows, or the step must raise a BuildError.

STEP_ROWS = 12


def _step_dataset(name: str, offset: int) -> tuple[str, Any]:
    path = f"mem://{name}-{next(_counter)}"
    ds = deeplake.create(path)
    ds.add_column("id", types.Int64())
    ds.add_column("labels", types.Int64())
    ds.add_column("x", types.Float64())
    ds.append(
        {
            "id": [offset + i for i in range(STEP_ROWS)],
            "labels": [i % 3 for i in range(STEP_ROWS)],
            "x": [float((i * 7) % STEP_ROWS) for i in range(STEP_ROWS)],  # distinct: no ties
        }
    )
    ds.commit()
    return path, ds


@pytest.fixture(scope="module")
def step_datasets() -> tuple[str, Any, str]:
    path, ds = _step_dataset("steps", 0)
    other, _ = _step_dataset("steps-other", 100)
    return path, ds, other


def _rows(view: Any) -> list[tuple[int, float]]:
    return [(int(i), float(x)) for i, x in zip(view["id"][:], view["x"][:], strict=True)]


CONDITIONS: dict[str, tuple[Expr, Callable[[dict[str, Any]], bool]]] = {
    "labels=1": (col("labels") == 1, lambda r: r["labels"] == 1),
    "x>3": (col("x") > 3, lambda r: r["x"] > 3),
    "id%2": (col("id") % 2 == 0, lambda r: r["id"] % 2 == 0),
}
SHAPES = {
    "parsed_union_no_from": (
        "(SELECT * WHERE labels = 1 LIMIT 3) UNION (SELECT * WHERE labels = 2 LIMIT 2)"
    ),
    "parsed_select_no_from": "SELECT * WHERE x > 2 LIMIT 5",
    "parsed_subquery_no_from": "SELECT * FROM (SELECT * WHERE labels != 0) WHERE x < 9",
    "built_union": None,
    "built_subquery": None,
    "built_plain": None,
}
steps = st.lists(
    st.one_of(
        st.tuples(st.just("where"), st.sampled_from(sorted(CONDITIONS))),
        st.tuples(st.just("limit"), st.integers(0, 6)),
        st.tuples(st.just("offset"), st.integers(0, 4)),
        st.tuples(st.just("order_by"), st.booleans()),
        st.tuples(st.just("from_other"), st.just(None)),
    ),
    max_size=4,
)


class Model:
    """The SQL meaning of one SELECT whose source rows are known."""

    def __init__(self, source: list[dict[str, Any]]) -> None:
        self.source = source
        self.conditions: list[Callable[[dict[str, Any]], bool]] = []
        self.descending: bool | None = None
        self.offset = 0
        self.limit: int | None = None

    def rows(self) -> list[tuple[int, float]]:
        rows = [r for r in self.source if all(c(r) for c in self.conditions)]
        if self.descending is not None:
            rows.sort(key=lambda r: r["x"], reverse=self.descending)
        rows = rows[self.offset :]
        if self.limit is not None:
            rows = rows[: self.limit]
        return [(r["id"], r["x"]) for r in rows]


def _as_dicts(view: Any) -> list[dict[str, Any]]:
    return [
        {"id": int(i), "labels": int(lab), "x": float(x)}
        for i, lab, x in zip(view["id"][:], view["labels"][:], view["x"][:], strict=True)
    ]


def _shape(name: str, path: str, ds: Any) -> tuple[Any, list[dict[str, Any]], bool]:
    """(query, rows of its source, whether the query's own clauses are empty)."""
    from tqlbuilder import parse

    if SHAPES[name] is not None:
        text = SHAPES[name]
        view = ds.query(text)  # the meaning Deep Lake's docs give this text
        query = parse(text).from_(path)
        return query, _as_dicts(view), False
    inner = select().from_(path).where(col("labels") != 1)
    if name == "built_union":
        # SELECT * UNION on one dataset is a set union in dataset order (setop_union.md): take
        # the engine's rows of the union as the source meaning
        query = inner.union(select().from_(path).where(col("x") < 4))
        return query, _as_dicts(deeplake.query(query.to_tql())), True
    if name == "built_subquery":
        return select().from_(inner), _as_dicts(deeplake.query(inner.to_tql())), True
    return select().from_(path), _as_dicts(deeplake.query(select().from_(path).to_tql())), True


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(SHAPES)), steps)
def test_builder_steps_keep_meaning_or_refuse(
    step_datasets: tuple[str, Any, str], shape: str, plan: list[tuple[str, Any]]
) -> None:
    from tqlbuilder.errors import BuildError

    path, ds, other = step_datasets
    query, source_rows, plain = _shape(shape, path, ds)
    # the parsed shapes: from_(path) already applied; check it kept ds.query's meaning
    assert _rows(deeplake.query(query.to_tql())) == [(r["id"], r["x"]) for r in source_rows]
    if not plain:
        query = select().from_(query)  # model further steps on top of the parsed text's rows
    model = Model(source_rows)
    for step, arg in plan:
        if step == "where":
            expr, predicate = CONDITIONS[arg]
            query = query.where(expr)
            model.conditions.append(predicate)
        elif step == "limit":
            query, model.limit = query.limit(arg), arg
        elif step == "offset":
            query, model.offset = query.offset(arg), arg
        elif step == "order_by":
            query = query.order_by(col("x").desc() if arg else col("x").asc())
            model.descending = arg
        else:
            try:
                query = query.from_(other)
            except BuildError:
                continue  # refused: fine
            if shape != "built_plain":
                pytest.fail(f"from_() on {shape} replaced its source: {query.to_tql()}")
            model.source = _as_dicts(deeplake.query(select().from_(other).to_tql()))
    assert _rows(deeplake.query(query.to_tql())) == model.rows(), query.to_tql()


# ======================================================== 6: paging with tied scores is consistent

PAGE_ROWS = 600
PAGE_TEXTS = ("apple", "apple apple", "apple pie", "banana", "cherry apple tart")
BM25_FULL_LIMIT = 2147483647  # the engine reads a BM25 LIMIT as int32 (paging_ties.md)


@pytest.fixture(scope="module")
def paging_path() -> str:
    import numpy as np

    path = f"mem://paging-{next(_counter)}"
    ds = deeplake.create(path)
    ds.add_column("id", types.Int64())
    ds.add_column("text", types.Text(index_type=types.BM25))
    ds.add_column("embedding", types.Embedding(4))
    ds.add_column("g", types.Int64())
    vectors = np.array([[1, 0, 0, 0], [0, 1, 0, 0], [1, 1, 0, 0]], dtype=np.float32)
    ds.append(
        {
            "id": list(range(PAGE_ROWS)),
            "text": [PAGE_TEXTS[i % 5] for i in range(PAGE_ROWS)],
            "embedding": vectors[[i % 3 for i in range(PAGE_ROWS)]],
            "g": [i % 7 for i in range(PAGE_ROWS)],
        }
    )
    ds.commit()
    return path


def _paged(make_page: Callable[[int, int], str], k: int, pages: int) -> list[int]:
    return [i for o in range(0, k * pages, k) for i in engine_ids_in_order(make_page(o, k))]


def engine_ids_in_order(text: str) -> list[int]:
    view = deeplake.query(text)
    return [int(i) for i in view["id"][:]]


def _bm25_ranking(path: str) -> list[int]:
    return engine_ids_in_order(
        f"SELECT id FROM \"{path}\" ORDER BY BM25_SIMILARITY(text, 'apple') DESC "
        f"LIMIT {BM25_FULL_LIMIT}"
    )


def test_bm25_direct_paging_repeats_rows(paging_path: str) -> None:
    """Engine fact: ``LIMIT o+k OFFSET o`` pages of a BM25 top-k overlap on ties."""
    got = _paged(
        lambda o, k: (
            f"SELECT id FROM \"{paging_path}\" ORDER BY BM25_SIMILARITY(text, 'apple') "
            f"DESC LIMIT {o + k} OFFSET {o}"
        ),
        k=20,
        pages=10,
    )
    assert len(set(got)) < len(got)


@pytest.mark.parametrize("k", [1, 7, 20])
def test_bm25_nested_form_pages_are_one_order(paging_path: str, k: int) -> None:
    """The form of paging_ties.md (b): pages are disjoint and concatenate to one ranking."""
    inner = (
        f"SELECT * FROM \"{paging_path}\" ORDER BY BM25_SIMILARITY(text, 'apple') DESC "
        f"LIMIT {BM25_FULL_LIMIT}"
    )
    pages = 200 // k
    got = _paged(lambda o, k: f"SELECT id FROM ({inner}) LIMIT {k} OFFSET {o}", k, pages)
    assert got == _bm25_ranking(paging_path)[: k * pages]
    assert [PAGE_TEXTS[i % 5] for i in got[:5]] == ["apple apple"] * 5  # best score level first


@pytest.mark.parametrize("k", [5, 20])
def test_builder_text_search_pages_are_one_order(paging_path: str, k: int) -> None:
    base = select("id").from_(paging_path).text_search("apple", column="text")
    pages = 100 // k
    got = [
        i
        for page in range(pages)
        for i in engine_ids_in_order(base.limit(k).offset(page * k).to_tql())
    ]
    assert got == _bm25_ranking(paging_path)[: k * pages]


def test_builder_text_search_huge_limit(paging_path: str) -> None:
    query = select("id").from_(paging_path).text_search("apple", column="text").limit(4294967298)
    assert len(engine_ids_in_order(query.to_tql())) == PAGE_ROWS * 4 // 5


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda q: q.order_by("g"), id="order_by_asc"),
        pytest.param(lambda q: q.order_by(col("g").desc()), id="order_by_desc"),
        pytest.param(lambda q: q.where(col("id") % 2 == 0).order_by(col("g").desc()), id="where"),
        pytest.param(lambda q: q.similar_to([1, 0, 0, 0]), id="cosine"),
        pytest.param(lambda q: q.similar_to([1, 0, 0, 0], metric="l2"), id="l2"),
    ],
)
def test_builder_pages_with_ties_are_one_order(paging_path: str, make: Any) -> None:
    """Vector search and order_by: pages with ties are already prefixes of one order."""
    base = make(select("id").from_(paging_path))
    k, pages = 25, 12
    full = engine_ids_in_order(base.limit(k * pages).to_tql())
    got = [
        i
        for page in range(pages)
        for i in engine_ids_in_order(base.limit(k).offset(page * k).to_tql())
    ]
    assert got == full
    assert len(set(got)) == k * pages


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(st.lists(metas, min_size=1, max_size=8), st.lists(where_clauses, min_size=1, max_size=6))
def test_builder_gives_sql_null_semantics(rows: list[dict[str, Any]], preds: list[Pred]) -> None:
    """The builder's own operators, compiled, give the reference model's rows for every tree."""
    from tqlbuilder import InvalidValueError, parse

    path = make_json_dataset(rows)
    for pred in preds:
        try:
            condition = builder(pred)
        except InvalidValueError as error:  # contains() text with no word: the crash rule
            assert "word character" in str(error)
            continue
        text = select("id").from_(path).where(condition).to_tql()
        assert engine_ids(text) == expected_ids(rows, pred), text
        assert parse(text).to_tql() == text  # the rewrite is a fixed point


def test_builder_set_operations_on_one_dataset() -> None:
    """INTERSECT/EXCEPT work within one dataset; SELECT * UNION on one dataset is a set union."""
    path = f"mem://setops-{next(_counter)}"
    ds = deeplake.create(path)
    ds.add_column("id", types.Int64())
    ds.append({"id": list(range(12))})
    ds.commit()
    low, high = select().from_(path).where(col("id") < 5), select().from_(path).where(col("id") > 2)
    assert engine_ids(low.intersect(high).to_tql()) == [3, 4]
    assert engine_ids(low.except_(high).to_tql()) == [0, 1, 2]
    assert engine_ids(low.union(high).to_tql()) == list(range(12))  # not 5 + 9 rows
    columns = select("id").from_(path)
    both = columns.where(col("id") < 2).union(columns.where(col("id") < 3))
    assert engine_ids(both.to_tql()) == [0, 1, 2]  # wrapped, a column list is a set union too
    other = f"mem://setops-{next(_counter)}"
    ds2 = deeplake.create(other)
    ds2.add_column("id", types.Int64())
    ds2.append({"id": [0, 1, 100]})
    ds2.commit()
    across = low.union(select().from_(other))
    assert engine_ids(across.to_tql()) == [0, 0, 1, 1, 2, 3, 4, 100]  # two datasets: concatenated


# ============================================== set operations on one dataset (setop_union.md)


def test_select_star_union_on_one_dataset_is_a_set_union(
    step_datasets: tuple[str, Any, str],
) -> None:
    """Engine fact: with SELECT * on one dataset UNION is a set union in dataset order."""
    path = step_datasets[0]
    text = f'SELECT * FROM "{path}" WHERE id > 8 UNION SELECT * FROM "{path}" WHERE id < 2'
    assert engine_ids_in_order(text) == [0, 1, 9, 10, 11]
    listed = f'SELECT id FROM "{path}" WHERE id < 2 UNION SELECT id FROM "{path}" WHERE id < 3'
    assert engine_ids_in_order(listed) == [0, 1, 0, 1, 2]  # a column list: concatenation
    for op, expected in (("INTERSECT", [3, 4]), ("EXCEPT", [0, 1, 2])):
        both = f'SELECT * FROM "{path}" WHERE id < 5 {op} SELECT * FROM "{path}" WHERE id > 2'
        assert engine_ids_in_order(both) == expected


@pytest.mark.parametrize(("op", "expected"), [("INTERSECT", [3, 4]), ("EXCEPT", [0, 1, 2])])
def test_parse_intersect_except_on_one_dataset(
    step_datasets: tuple[str, Any, str], op: str, expected: list[int]
) -> None:
    from tqlbuilder import parse

    path = step_datasets[0]
    text = f'SELECT * FROM "{path}" WHERE id < 5 {op} SELECT * FROM "{path}" WHERE id > 2'
    assert engine_ids_in_order(parse(text).to_tql()) == expected


# ============================ arithmetic on a JSON key that some rows lack (json_missing_keys.md)


def test_json_arithmetic_in_order_by_fails_when_keys_are_missing() -> None:
    """Engine fact: WHERE accepts it, ORDER BY does not; the bare key sorts missing rows lowest."""
    path = make_json_dataset([{"n": 1}, {}, {"n": 0.5}, {"n": 2}])
    k = key_text("n")
    assert engine_ids(f'SELECT id FROM "{path}" WHERE {k} * -1 > -1') == [2]
    assert engine_ids_in_order(f'SELECT id FROM "{path}" ORDER BY {k}') == [1, 2, 0, 3]
    assert engine_ids_in_order(f'SELECT id FROM "{path}" ORDER BY {k} DESC') == [3, 0, 2, 1]
    with pytest.raises((deeplake.InvalidType, RuntimeError), match="Dtype"):
        engine_ids_in_order(f'SELECT id FROM "{path}" ORDER BY {k} * -1')
    guarded = f'SELECT id FROM "{path}" WHERE {k} IS NOT NULL ORDER BY {k} * -1'
    assert engine_ids_in_order(guarded) == [3, 0, 2]


def test_builder_refuses_json_arithmetic_in_order_by(sparse_path: str) -> None:
    from tqlbuilder.errors import BuildError

    n = col("meta")["n"]
    query = select("id").from_(sparse_path).order_by(n * -1)
    with pytest.raises(BuildError, match="is_not_null"):
        query.to_tql()
    numbers = make_json_dataset([{"n": 1}, {}, {"n": 0.5}, {"n": 2}])
    guarded = select("id").from_(numbers).where(n.is_not_null()).order_by(n * -1)
    assert engine_ids_in_order(guarded.to_tql()) == [3, 0, 2]


@pytest.mark.parametrize("op", ["INTERSECT", "EXCEPT"])
def test_union_never_flattens_another_set_operation(
    step_datasets: tuple[str, Any, str], op: str
) -> None:
    """6b: ``(a EXCEPT b).union(c)`` keeps the EXCEPT (it used to become ``a UNION b UNION c``)."""
    from tqlbuilder.build.query import Query
    from tqlbuilder.tree.sources import SetOperation

    path = step_datasets[0]
    a = select().from_(path).where(col("id") < 5)
    b = select().from_(path).where(col("id") > 2)
    c = select().from_(path).where(col("id") == 9)
    inner = Query(source=SetOperation(op, (a, b)))
    combined = inner.union(c)
    inner_ids = engine_ids_in_order(inner.to_tql())
    assert inner_ids == ([3, 4] if op == "INTERSECT" else [0, 1, 2])
    assert engine_ids(combined.to_tql()) == sorted([*inner_ids, 9])


ARITH_ROWS = [{"k": 1}, {}, {"k": "x"}, {"k": -2}, {"k": 0.5}, {"k": "0"}, {"k": 3}]


@pytest.mark.parametrize(
    ("name", "make", "model"),
    [
        ("not_sum", lambda m: ~(m + 1 > 1), lambda v: not v + 1 > 1),
        ("neg", lambda m: -m < 0, lambda v: -v < 0),
        ("not_abs", lambda m: ~(F.abs(m) > 0.75), lambda v: not abs(v) > 0.75),
        ("reflected", lambda m: lit(1) < m * 2, lambda v: v * 2 > 1),
        ("or", lambda m: (m * 2 > 1) | (col("id") == 1), None),
    ],
)
def test_computed_json_values_give_sql_null_semantics(name: str, make: Any, model: Any) -> None:
    """A missing key or a string makes f(k) unknown: neither f(k) > v nor its negation holds."""
    path = make_json_dataset(ARITH_ROWS)
    query = select("id").from_(path).where(make(col("meta")["k"]))
    numbers = [i for i, row in enumerate(ARITH_ROWS) if is_num(row.get("k"))]
    if model is None:  # (k * 2 > 1) OR id = 1: row 1 lacks k, but id = 1 holds
        expected = sorted({i for i in numbers if ARITH_ROWS[i]["k"] * 2 > 1} | {1})
    else:
        expected = [i for i in numbers if model(ARITH_ROWS[i]["k"])]
    assert engine_ids(query.to_tql()) == expected, query.to_tql()


def test_like_patterns_the_engine_cannot_compile_match_nothing() -> None:
    """Engine fact behind engine.rules.like_pattern_problem: RE2 fails, no row, no error."""
    path = f"mem://like-{next(_counter)}"
    ds = deeplake.create(path)
    ds.add_column("id", types.Int64())
    ds.add_column("t", types.Text())
    ds.append({"id": [0, 1], "t": ["x[", "abc"]})
    ds.commit()
    source = f'"{path}"'
    assert engine_ids(f"SELECT id FROM {source} WHERE t LIKE 'x['") == []
    assert engine_ids(f"SELECT id FROM {source} WHERE t LIKE 'x\\['") == [0]
    assert engine_ids(f"SELECT id FROM {source} WHERE id > ARRAY[0, 5]") == [1]  # id > 0
