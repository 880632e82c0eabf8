"""tqlbuilder.tree.json_guards: each guard selects exactly the rows its docstring says (engine).

Every kind of stored JSON value (numbers at the int64 and double extremes, booleans, strings,
null, lists, objects, ints that deeplake writes as null) and rows that lack the key, under a key
with an engine word (``v``) and one without (``%``). The engine forms are run as text by
``deeplake.query`` (deeplake 4.7.4, ``mem://`` datasets).
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tqlbuilder import col
from tqlbuilder.compiler.json_nulls import lower_conditions
from tqlbuilder.tree import json_guards as G
from tqlbuilder.tree.expr import Binary, Expr, Literal, Neg, Not

MAX = sys.float_info.max
_MISSING = object()
_counter = itertools.count()
KEYS = ("v", "%")  # "%" has no engine word: present() cannot use CONTAINS for it

# every kind of value, and what the engine reads back (see the json_guards docstring)
VALUES: list[Any] = [
    _MISSING,
    0,
    1,
    -1,
    -(2**63) + 1,
    2**63 - 1,
    2**53 + 1,
    -(2**63),  # written as null
    2**63,  # written as null
    2**64 - 1,  # written as null
    0.5,
    -0.0,
    1e-300,
    -MAX,
    MAX,
    -1e308,
    True,
    False,
    None,
    "",
    "a",
    "1",
    "-5",
    " ",
    "\x01",
    "\U0010ffff",
    "true",
    [1],
    [],
    {"a": 1},
    {},
]


def kind(value: Any) -> str:
    """The type the engine sees for a stored Python value: number/bool/string/other/missing."""
    if value is _MISSING:
        return "missing"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "number" if -(2**63) < value < 2**63 else "other"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "other"


GUARDS: dict[str, tuple[Callable[[Expr], Expr], Callable[[str], bool]]] = {
    "number_or_bool": (G.number_or_bool, lambda k: k in ("number", "bool")),
    "not_number": (G.not_number, lambda k: k in ("string", "other")),
    "orders_as_text": (G.orders_as_text, lambda k: k in ("number", "string")),
    "NOT number_or_bool": (
        lambda key: Not(G.number_or_bool(key)),
        lambda k: k in ("string", "other", "missing"),
    ),
    "number": (G.number, lambda k: k == "number"),
    "boolean": (G.boolean, lambda k: k == "bool"),
    "string": (G.string, lambda k: k == "string"),
    "guard_for 1": (lambda key: G.guard_for(key, 1), lambda k: k in ("number", "bool")),
    "guard_for True": (lambda key: G.guard_for(key, True), lambda k: k in ("number", "bool")),
    "guard_for 'a'": (lambda key: G.guard_for(key, "a"), lambda k: k == "string"),
}


def make_dataset(values: list[Any]) -> str:
    """One row per value, holding it under both keys (or neither, for _MISSING)."""
    deeplake = pytest.importorskip("deeplake")
    path = f"mem://json-guards-{next(_counter)}"
    ds = deeplake.create(path)
    ds.add_column("id", deeplake.types.Int64())
    ds.add_column("meta", deeplake.types.Dict())
    rows = [{} if v is _MISSING else dict.fromkeys(KEYS, v) for v in values]
    ds.append({"id": list(range(len(rows))), "meta": rows})
    ds.commit()
    return path


def engine_ids(path: str, condition: Expr) -> list[int]:
    deeplake = pytest.importorskip("deeplake")
    view = deeplake.query(f'SELECT id FROM "{path}" WHERE {condition.to_tql()}')
    return sorted(int(i) for i in view["id"][:])


def check_guards(path: str, values: list[Any]) -> None:
    kinds = [kind(v) for v in values]
    for name in KEYS:
        key = col("meta")[name]
        for label, (build, model) in GUARDS.items():
            want = [i for i, k in enumerate(kinds) if model(k)]
            got = engine_ids(path, build(key))
            assert got == want, (label, name, [values[i] for i in set(got) ^ set(want)])
        present = [i for i, k in enumerate(kinds) if k != "missing"]
        assert engine_ids(path, G.present(col("meta"), name)) == present, name
        absent = [i for i, k in enumerate(kinds) if k == "missing"]
        assert engine_ids(path, Not(G.present(col("meta"), name))) == absent, name


@pytest.mark.engine
def test_guards_on_every_kind_of_value() -> None:
    check_guards(make_dataset(VALUES), VALUES)


@pytest.mark.engine
def test_stored_values_read_back_as_the_model_says() -> None:
    """Ints outside int64, and -2**63, are written to a JSON column as null ({})."""
    deeplake = pytest.importorskip("deeplake")
    path = make_dataset([-(2**63), 2**63, -(2**63) + 1])
    ds = deeplake.open_read_only(path)
    read = [ds["meta"][i].to_dict()["v"] for i in range(3)]
    assert read[0] == {} and read[1] == {}
    assert int(read[2]) == -(2**63) + 1


_scalars = st.one_of(
    st.integers(-(2**63) + 1, 2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=6),
    st.none(),
    st.just(_MISSING),
    st.lists(st.integers(-5, 5), max_size=2),
)


@pytest.mark.engine
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values=st.lists(_scalars, min_size=1, max_size=40))
def test_guards_on_generated_values(values: list[Any]) -> None:
    check_guards(make_dataset(values), values)


@pytest.mark.engine
def test_abs_guard_fails_where_the_lowest_double_guard_works() -> None:
    """Why ``k >= -MAX`` won over ``ABS(k) >= 0`` (the form build/filters.py used before).

    A non-finite float makes the stored JSON unparsable; ABS then fails the whole query. On an
    Int64 column, ABS(-2**63) overflows and drops the row.
    """
    deeplake = pytest.importorskip("deeplake")
    path = make_dataset([1, float("inf"), True, "a"])
    key = col("meta")["v"]
    assert engine_ids(path, G.number_or_bool(key)) == [0, 2]
    assert engine_ids(path, G.string(key)) == [3]
    with pytest.raises(RuntimeError, match="orderable"):
        deeplake.query(f"SELECT id FROM \"{path}\" WHERE ABS(meta['v']) >= 0")["id"][:]

    column = f"mem://json-guards-{next(_counter)}"
    ds = deeplake.create(column)
    ds.add_column("n", deeplake.types.Int64())
    ds.append({"n": [-(2**63), -5]})
    ds.commit()
    lowest = Binary(">=", col("n"), G.LOWEST).to_tql()
    for where, want in ((lowest, [-(2**63), -5]), ("ABS(n) >= 0", [-5])):
        view = deeplake.query(f'SELECT n FROM "{column}" WHERE {where}')
        assert sorted(int(n) for n in view["n"][:]) == want, where


@pytest.mark.engine
def test_is_null_is_not_a_presence_test() -> None:
    """IS NULL also holds for a stored null or {}, and fails when a row holds a list."""
    deeplake = pytest.importorskip("deeplake")
    path = make_dataset([_MISSING, 1, None, {}, {"a": 1}, "a", True])
    key = col("meta")["v"]
    assert engine_ids(path, key.is_null()) == [0, 2, 3]
    assert engine_ids(path, key.is_not_null()) == [1, 4, 5, 6]
    assert engine_ids(path, G.present(col("meta"), "v")) == [1, 2, 3, 4, 5, 6]
    with_list = make_dataset([_MISSING, 1, [1, 2]])
    with pytest.raises(RuntimeError, match="dynamic shape"):
        deeplake.query(f"SELECT id FROM \"{with_list}\" WHERE meta['v'] IS NULL")["id"][:]
    assert engine_ids(with_list, G.present(col("meta"), "%")) == [1, 2]


# ----------------------------------------------------------------------------- recognition


def test_atom_recognises_each_guard_and_nothing_else() -> None:
    k = col("meta")["v"]
    assert G.atom(G.number_or_bool(k)) == ("number_or_bool", k.key())
    assert G.atom(G.not_number(k)) == ("not_number", k.key())
    assert G.atom(G.orders_as_text(k)) == ("text", k.key())
    negated = Neg(Literal(MAX, repr(MAX)))
    assert G.atom(Binary(">=", k, negated)) == ("number_or_bool", k.key())
    assert G.atom(Binary("<", k, negated)) == ("not_number", k.key())
    for other in (
        k >= -1.0,
        k > -MAX,
        k <= -MAX,
        k >= "a",
        k < "",
        col("n") >= -MAX,
        Binary(">=", col("s"), G.EMPTY),
        k == -MAX,
    ):
        assert G.atom(other) is None, other.to_tql()


@pytest.mark.parametrize(
    "condition",
    [
        col("meta")["v"] != 1,
        ~(col("meta")["v"] == "a"),
        col("meta")["v"].between(-2, 3),
        ~col("meta")["v"].isin([-1, 2]),
        ~col("meta")["v"].contains("x"),
        (col("meta")["v"] < 3) | ~(col("meta")["w"] > "b"),
        G.number_or_bool(col("meta")["v"]),
        G.string(col("meta")["v"]),
    ],
)
def test_lowering_is_idempotent_on_its_own_guards(condition: Expr) -> None:
    once, _ = lower_conditions([condition])
    twice, _ = lower_conditions(once)
    assert [c.to_tql() for c in twice] == [c.to_tql() for c in once]
