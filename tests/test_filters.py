"""tqlbuilder.filters: Mongo-style filter dicts, checked on the real engine against a Python model.

One dataset of many rows with random JSON metadata (keys missing at random, mixed value types,
awkward keys) is made once; each generated filter tree is one query, and its row ids must equal
those of the plain-Python reference of MongoDB's semantics below.
"""

from __future__ import annotations

import random
import re
from types import SimpleNamespace as NS
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tqlbuilder import InvalidValueError, QueryError, and_, filters, or_, select
from tqlbuilder import strategies as S
from tqlbuilder.build.filters import like_pattern

# ----------------------------------------------------------------------------- data

SPARSE_KEYS = ["k", "kk", "a.b", "it's", "naïve 😀", 'say "hi"', " k", "K", "back\\slash", ""]
ALWAYS = "src"  # present in every row: the only key a regex LIKE can run on (see filters docs)
STRINGS: list[Any] = [
    "",
    "a",
    "A",
    "ab",
    "a.txt",
    "b.md",
    "it's",
    "1",
    "true",
    "naïve",
    "😀 x",
    "x\ny",
    "%",
    "_",
    "a_b",
    "a%b",
    "x*y",
    "q?",
    "[a]",
    "\\",
    " ",
    "txt.a",
]
INTS = [0, 1, -1, 2, 3, -3, 5, 1000, -(2**31), 2**40, 2**53 + 1]
FLOATS = [0.5, -2.5, 3.0, 0.1, -0.0, 1e-300, 1e300, 2.25]
BOOLS = [True, False]
SCALARS: list[Any] = STRINGS + INTS + FLOATS + BOOLS
N_ROWS = 240


def _metadata_rows(seed: int = 12) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    rows = []
    for _ in range(N_ROWS):
        row: dict[str, Any] = {ALWAYS: rng.choice(SCALARS)}
        for key in SPARSE_KEYS:
            if rng.random() < 0.45:
                row[key] = rng.choice(SCALARS)
        rows.append(row)
    return rows


ROWS = _metadata_rows()


@pytest.fixture(scope="module")
def meta_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    deeplake = pytest.importorskip("deeplake")
    from deeplake import types

    path = f"file://{tmp_path_factory.mktemp('filters') / 'meta'}"
    ds = deeplake.create(path)
    ds.add_column("id", types.Int64())
    ds.add_column("meta", types.Dict())
    ds.append({"id": list(range(N_ROWS)), "meta": ROWS})
    ds.commit()
    return path


def _engine_ids(path: str, condition: Any) -> list[int]:
    from tqlbuilder import LocalExecutor

    result = LocalExecutor().execute(select("id").from_(path).where(condition))
    return sorted(result.column("id"))


# ----------------------------------------------------------------------------- the model

matches = S.matches
values = S.metadata_values


def _kind(value: Any) -> str:
    return (
        "bool"
        if isinstance(value, bool)
        else "number"
        if isinstance(value, (int, float))
        else "str"
    )


def _same(stored: Any, value: Any) -> bool:
    return _kind(stored) == _kind(value) and stored == value


def test_model_examples() -> None:
    """The reference itself, on hand-checked cases (MongoDB's documented behaviour)."""
    row = {"a": 1, "s": "it's", "b": True, "f": 2.5}
    assert matches(row, {"a": 1.0}) and not matches(row, {"a": True})
    assert not matches(row, {"b": 1}) and matches(row, {"b": True})
    assert matches(row, {"missing": {"$ne": 1}}) and matches(row, {"missing": {"$nin": [1]}})
    assert not matches(row, {"missing": {"$lt": 1}}) and not matches(row, {"s": {"$lt": 1}})
    assert matches(row, {"s": {"$like": "it_s"}}) and not matches(row, {"s": {"$like": "it"}})
    assert matches(row, {"s": {"$like": "it\\_s"}}) is False
    assert matches(row, {"s": {"$contains": "t'"}}) and not matches(row, {"a": {"$contains": "1"}})
    assert matches(row, {"$nor": [{"a": 2}], "$not": {"f": {"$gt": 3}}})
    assert matches(row, {}) and not matches(row, {"$or": []}) and matches(row, {"$and": []})


# ----------------------------------------------------------------------------- engine tests


@pytest.mark.engine
@settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(spec=S.filter_dicts([*SPARSE_KEYS, ALWAYS], regex_like_keys=[ALWAYS]))
def test_from_dict_matches_mongo_semantics_on_the_engine(meta_path: str, spec: dict) -> None:
    expected = [i for i, row in enumerate(ROWS) if matches(row, spec)]
    event("no rows" if not expected else "all rows" if len(expected) == N_ROWS else "some rows")
    condition = filters.from_dict(spec, json_column="meta")
    assert _engine_ids(meta_path, condition) == expected, condition.to_tql()


@pytest.mark.engine
@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"k": {"$ne": "a"}}, lambda r: not ("k" in r and _same(r["k"], "a"))),
        (
            {"k": {"$nin": [1, "a"]}},
            lambda r: not ("k" in r and r["k"] in ("a", 1) and r["k"] is not True),
        ),
        ({"k": {"$exists": False}}, lambda r: "k" not in r),
        (
            {"k": {"$in": [-3, -2.5]}},
            lambda r: "k" in r and _kind(r["k"]) == "number" and r["k"] in (-3, -2.5),
        ),
        ({"k": 1}, lambda r: "k" in r and _kind(r["k"]) == "number" and r["k"] == 1),
        ({"k": True}, lambda r: r.get("k") is True),
        ({"k": {"$lt": 1}}, lambda r: "k" in r and _kind(r["k"]) == "number" and r["k"] < 1),
    ],
)
def test_engine_traps_are_avoided(meta_path: str, spec: dict, expected: Any) -> None:
    """The probed traps: != drops missing keys, = 1 matches true, < 1 matches strings, IN (-3)."""
    want = [i for i, row in enumerate(ROWS) if expected(row)]
    assert want == [i for i, row in enumerate(ROWS) if matches(row, spec)]
    assert _engine_ids(meta_path, filters.from_dict(spec, json_column="meta")) == want


@pytest.mark.engine
def test_regex_like_on_a_sparse_json_key_still_fails_on_the_engine(meta_path: str) -> None:
    """Documents the limit: if the engine starts accepting this, widen the safe LIKE shapes."""
    with pytest.raises(QueryError, match="Key not found"):
        _engine_ids(meta_path, filters.from_dict({"k": {"$like": "a%"}}, json_column="meta"))


@pytest.fixture(scope="module")
def columns_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    deeplake = pytest.importorskip("deeplake")
    from deeplake import types

    path = f"file://{tmp_path_factory.mktemp('filters') / 'cols'}"
    ds = deeplake.create(path)
    ds.add_column("id", types.Int64())
    ds.add_column("year", types.Int64())
    ds.add_column("lang", types.Text())
    ds.append(
        {
            "id": list(range(8)),
            "year": [2018, 2019, 2020, 2021, 2022, 2023, 2024, -5],
            "lang": ["en", "de", "en", "fr", "a_b.txt", "de", "x\ny", "axb"],
        }
    )
    ds.commit()
    return path


@pytest.mark.engine
@pytest.mark.parametrize(
    ("spec", "ids"),
    [
        ({"year": {"$gte": 2020}, "lang": "en"}, [2]),
        ({"$or": [{"lang": "fr"}, {"year": {"$lt": 2019}}]}, [0, 3, 7]),
        ({"lang": {"$nin": ["en", "de"]}}, [3, 4, 6, 7]),
        ({"year": {"$in": [-5, 2024]}}, [6, 7]),
        ({"lang": {"$ne": "en"}, "year": {"$not": {"$gt": 2020}}}, [1, 7]),
        ({"lang": {"$like": "a_b%"}}, [4, 7]),
        ({"lang": {"$like": "a\\_b%"}}, [4]),
        ({"lang": {"$like": "x%"}}, [6]),
        ({"lang": {"$contains": "b.t"}}, [4]),
        ({}, list(range(8))),
        ({"$or": []}, []),
        ({"$nor": [{"lang": "en"}, {"lang": "de"}]}, [3, 4, 6, 7]),
    ],
)
def test_columns(columns_path: str, spec: dict, ids: list[int]) -> None:
    assert _engine_ids(columns_path, filters.from_dict(spec)) == ids


@pytest.mark.engine
def test_like_pattern_on_awkward_text(columns_path: str) -> None:
    """Every non-alphanumeric character is a literal: . * ? [ ( are not regex operators."""
    from tqlbuilder import col

    assert _engine_ids(columns_path, col("lang").like(like_pattern("a_b.txt"))) == [4]
    assert _engine_ids(columns_path, col("lang").like(like_pattern("a_b_txt"))) == [4]
    assert _engine_ids(columns_path, col("lang").like(like_pattern("x_y"))) == [6]


# ----------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("spec", "where"),
    [
        ({"year": {"$gte ": 2020}}, 'filter["year"]["$gte "]'),
        ({"$or": [{"a": 1}, {"year": {"$gt": [1, 2]}}]}, 'filter["$or"][1]["year"]["$gt"]'),
        ({"a": {"$gt": float("nan")}}, 'filter["a"]["$gt"]'),
        ({"a": float("inf")}, 'filter["a"]'),
        ({"a": None}, 'filter["a"]'),
        ({"a": [1, 2]}, 'filter["a"]'),
        ({"a": {"b": 1}}, 'filter["a"]'),
        ({"a": {"$gt": "x"}}, 'filter["a"]["$gt"]'),
        ({"a": {"$gt": True}}, 'filter["a"]["$gt"]'),
        ({"a": {"$in": "abc"}}, 'filter["a"]["$in"]'),
        ({"a": {"$in": [1, None]}}, 'filter["a"]["$in"][1]'),
        ({"a": {"$exists": 1}}, 'filter["a"]["$exists"]'),
        ({"a": {"$like": 5}}, 'filter["a"]["$like"]'),
        ({"a": {"$like": "x\\"}}, 'filter["a"]["$like"]'),
        ({"a": {"$contains": "  "}}, 'filter["a"]["$contains"]'),
        ({"a": {"$regex": "x"}}, 'filter["a"]["$regex"]'),
        ({"$and": {"a": 1}}, 'filter["$and"]'),
        ({"$xor": []}, 'filter["$xor"]'),
        ({"a": 2**63}, 'filter["a"]'),
        ({"a": "x\x00"}, 'filter["a"]'),
        ({"$not": [1]}, 'filter["$not"]'),
    ],
)
def test_errors_name_the_place(spec: dict, where: str) -> None:
    with pytest.raises(InvalidValueError) as info:
        filters.from_dict(spec, json_column="meta")
    assert str(info.value).startswith(where + ":"), str(info.value)


def test_typo_suggests_the_operator() -> None:
    with pytest.raises(InvalidValueError, match="did you mean '\\$gte'"):
        filters.from_dict({"year": {"$gte ": 2020}})


def test_bad_json_column_and_not_a_dict() -> None:
    with pytest.raises(InvalidValueError, match="json_column"):
        filters.from_dict({"a": 1}, json_column='bad"name')
    with pytest.raises(InvalidValueError, match=r"^filter: a filter must be a dict"):
        filters.from_dict([("a", 1)])  # type: ignore[arg-type]


def test_numpy_values_are_plain_values() -> None:
    np = pytest.importorskip("numpy")
    assert filters.from_dict({"a": np.int64(3)}).equals(filters.from_dict({"a": 3}))
    assert filters.from_dict({"a": {"$in": np.array([1, 2])}}).equals(
        filters.from_dict({"a": {"$in": [1, 2]}})
    )


def test_empty_filter_adds_no_where() -> None:
    assert str(select("*").from_("ds").where(filters.from_dict({}))) == str(select("*").from_("ds"))


# ----------------------------------------------------------------------------- LlamaIndex


def _llama(filters_: list[Any], condition: Any = "and") -> NS:
    return NS(filters=filters_, condition=condition)


def _f(key: str, value: Any, operator: Any) -> NS:
    return NS(key=key, value=value, operator=operator)


class _Op:
    """A str enum member as LlamaIndex has (``FilterOperator.GT.value == '>'``)."""

    def __init__(self, value: str) -> None:
        self.value = value


@pytest.mark.parametrize(
    ("obj", "spec"),
    [
        (_llama([_f("year", 2020, ">=")]), {"$and": [{"year": {"$gte": 2020}}]}),
        (
            _llama([_f("a", 1, "=="), _f("b", "x", _Op("!="))], _Op("or")),
            {"$or": [{"a": {"$eq": 1}}, {"b": {"$ne": "x"}}]},
        ),
        (
            _llama([_llama([_f("a", [1, 2], "in")], "or"), _f("b", None, "is_empty")]),
            {"$and": [{"$or": [{"a": {"$in": [1, 2]}}]}, {"b": {"$exists": False}}]},
        ),
        (
            _llama([_f("t", "ab", "text_match")], "not"),
            {"$not": {"$and": [{"t": {"$contains": "ab"}}]}},
        ),
        (_llama([_f("a", [3], "nin"), _f("a", 1, "<")], None), {"a": {"$nin": [3], "$lt": 1}}),
        (_llama([]), {}),
    ],
)
def test_from_metadata_filters(obj: Any, spec: dict) -> None:
    for json_column in (None, "meta"):
        got = filters.from_metadata_filters(obj, json_column=json_column)
        assert got.equals(filters.from_dict(spec, json_column=json_column)) or (
            got.to_tql() == filters.from_dict(spec, json_column=json_column).to_tql()
        )


@pytest.mark.engine
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    items=st.lists(
        st.tuples(
            st.sampled_from(SPARSE_KEYS),
            st.sampled_from(["==", "!=", "in", "nin", ">", "<=", "is_empty", "contains"]),
            values,
        ),
        max_size=3,
    ),
    condition=st.sampled_from(["and", "or", "not"]),
)
def test_from_metadata_filters_on_the_engine(
    meta_path: str, items: list[tuple[str, str, Any]], condition: str
) -> None:
    built = []
    for key, op, value in items:
        if op in ("in", "nin"):
            value = [value]
        elif op in (">", "<="):
            value = value if _kind(value) == "number" else 1
        elif op == "contains":
            value = value if isinstance(value, str) and any(c.isalnum() for c in value) else "a"
        built.append(_f(key, value, op))
    obj = _llama(built, condition)
    ops = {"==": "$eq", "!=": "$ne", "in": "$in", "nin": "$nin", ">": "$gt", "<=": "$lte"}
    specs = [
        {f.key: {"$exists": False}}
        if f.operator == "is_empty"
        else {f.key: {ops.get(f.operator, "$contains"): f.value}}
        for f in built
    ]
    reference = {"and": {"$and": specs}, "or": {"$or": specs}, "not": {"$not": {"$and": specs}}}
    expected = [i for i, row in enumerate(ROWS) if matches(row, reference[condition])]
    assert (
        _engine_ids(meta_path, filters.from_metadata_filters(obj, json_column="meta")) == expected
    )


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        (NS(), "expected an object with .filters"),
        (_llama([_f("a", 1, "any")]), "unsupported operator 'any'"),
        (_llama([_f("a", "x", "text_match_insensitive")]), "unsupported operator"),
        (_llama([_f("a", 1, "==")], "xor"), "condition: must be 'and', 'or' or 'not'"),
        (_llama([NS(key="a", value=1)]), "needs .key, .value and .operator"),
        (_llama([_f(3, 1, "==")]), "key: must be a str"),  # type: ignore[arg-type]
    ],
)
def test_from_metadata_filters_errors(obj: Any, message: str) -> None:
    with pytest.raises(InvalidValueError, match=re.escape(message)):
        filters.from_metadata_filters(obj)


# ----------------------------------------------------------------------------- and_ / or_


def test_and_or_with_filters() -> None:
    a = filters.from_dict({"a": 1})
    assert and_(a, filters.from_dict({})).equals(a)
    assert or_(a, or_()).equals(a)


def test_like_pattern_model() -> None:
    assert like_pattern("") == ""
    assert like_pattern("%") == "[\\s\\S]{0,}"
    assert like_pattern("\\%") == "\\x{25}"
    assert like_pattern("é") == "\\x{e9}"
    with pytest.raises(InvalidValueError):
        like_pattern("a\\")
