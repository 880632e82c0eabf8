"""Conformance against the real engine: builder queries select exactly the expected rows.

Values are stored in real Deep Lake datasets, queried through the builder's TQL with
``deeplake.query`` (which needs FROM, like the REST API), and compared with a Python model of
the data. Hundreds of hypothesis examples per property.
"""

from __future__ import annotations

import functools
import itertools
import math
import operator
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tqlbuilder import F, col, lit, select
from tqlbuilder import strategies as S
from tqlbuilder.tree.expr import Expr

deeplake = pytest.importorskip("deeplake")
types = deeplake.types

pytestmark = pytest.mark.engine

ENGINE = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
#: batched properties: each example is a batch of cases stored together and checked with three
#: queries, so ~25 examples check several hundred cases (more than one case per example did)
BATCHED = settings(ENGINE, max_examples=25)
_counter = itertools.count()


def batches(case: st.SearchStrategy[Any]) -> st.SearchStrategy[list[Any]]:
    """Lists of 12 to 32 generated cases, checked together by one set of engine queries."""
    return st.lists(case, min_size=12, max_size=32)


def run(query: Any) -> dict[str, list[Any]]:
    """Run a builder query on the engine and return its columns as Python lists."""
    view = deeplake.query(str(query))  # bind the view before reading (a temporary expires)
    out: dict[str, list[Any]] = {}
    for column in view.schema.columns:
        values = view[column.name][:]
        out[column.name] = values.tolist() if isinstance(values, np.ndarray) else list(values)
    return out


def ids(query: Any) -> list[int]:
    return [int(i) for i in run(query)["id"]]


class Store:
    """A dataset that grows by a batch of rows per example, with a Python model of its contents."""

    def __init__(self, path: str, columns: dict[str, Any]) -> None:
        self.path = path
        self.ds = deeplake.create(path)
        self.ds.add_column("id", types.Int64())
        for name, dtype in columns.items():
            self.ds.add_column(name, dtype)
        self.columns = list(columns)
        self.rows: list[dict[str, Any]] = []

    def add(self, rows: list[dict[str, Any]]) -> list[int]:
        """Append ``rows`` (one dict per row, every column given) and commit; return their ids.

        Rows go in as few commits as the engine allows: deeplake 4.7.4 fails a commit with
        ``RuntimeError: Failed to parse JSON`` when a Float64 column's running sum over the rows
        of that commit overflows (``[1e308, 1e308]`` fails, ``[1e308, -1e308, 1e308]`` and two
        commits of ``[1e308]`` work; probed for this test), so a row that would overflow a sum
        starts a new commit.
        """
        first = len(self.rows)
        pending: list[dict[str, Any]] = []
        sums: dict[str, float] = {}
        for row in rows:
            floats = {c: float(v) for c, v in row.items() if isinstance(v, float | np.floating)}
            if any(not math.isfinite(sums.get(c, 0.0) + v) for c, v in floats.items()):
                self._commit(pending)
                pending, sums = [], {}
            pending.append(row)
            for c, v in floats.items():
                sums[c] = sums.get(c, 0.0) + v
        self._commit(pending)
        return list(range(first, len(self.rows)))

    def _commit(self, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        first = len(self.rows)
        new_ids = list(range(first, first + len(rows)))
        self.ds.append({"id": new_ids, **{c: [r[c] for r in rows] for c in self.columns}})
        self.ds.commit()
        self.rows.extend(rows)

    def select(self, *items: Any) -> Any:
        return select(*items).from_(self.path)

    def selected(self, conditions: list[Expr]) -> list[list[int]]:
        """The ids of the rows each condition selects, over every row stored so far.

        One query evaluates all conditions on all rows (``SELECT id, (cond_0) AS c0, ...``). Two
        more check that the engine filters as it projects: ``WHERE cond_0 OR cond_1 ...`` selects
        exactly the union, and ``WHERE cond_last`` alone selects exactly its rows, in row order.
        """
        result = run(self.select("id", *(c.alias(f"c{i}") for i, c in enumerate(conditions))))
        row_ids = [int(i) for i in result["id"]]
        assert row_ids == list(range(len(self.rows)))
        chosen: list[list[int]] = []
        for i in range(len(conditions)):
            hits = result[f"c{i}"]
            assert all(isinstance(hit, bool) for hit in hits), (conditions[i], hits)
            chosen.append([row for row, hit in zip(row_ids, hits, strict=True) if hit])
        either = ids(self.select("id").where(functools.reduce(operator.or_, conditions)))
        assert either == sorted(set().union(*chosen))
        assert ids(self.select("id").where(conditions[-1])) == chosen[-1]
        return chosen


@pytest.fixture(scope="module")
def strings_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    path = str(tmp_path_factory.mktemp("strings") / "ds")
    yield Store(path, {"s": types.Text(), "meta": types.Dict()})


@BATCHED
@given(batches(S.strings))
def test_strings_are_stored_and_matched_exactly(strings_store: Store, values: list[str]) -> None:
    rows = strings_store.add([{"s": value, "meta": {"k": value}} for value in values])
    chosen = strings_store.selected(
        [col("s") == value for value in values] + [col("meta")["k"] == value for value in values]
    )
    for row, value, got, got_json in zip(
        rows, values, chosen[: len(values)], chosen[len(values) :], strict=True
    ):
        # the engine stores "" as null, and = '' matches null rows
        expected = [
            i
            for i, r in enumerate(strings_store.rows)
            if r["s"] == value or (value == "" and r["s"] == "")
        ]
        assert got == expected
        assert row in got
        assert row in got_json


@BATCHED
@given(batches(st.lists(S.strings, min_size=1, max_size=6)))
def test_in_lists_match_exactly(strings_store: Store, lists: list[list[str]]) -> None:
    strings_store.add([{"s": v, "meta": {"k": v}} for values in lists for v in values])
    chosen = strings_store.selected(
        [col("s").isin(values) for values in lists] + [col("s").not_in(values) for values in lists]
    )
    for values, got, negated in zip(lists, chosen[: len(lists)], chosen[len(lists) :], strict=True):
        wanted = set(values)
        expected = [i for i, r in enumerate(strings_store.rows) if r["s"] in wanted]
        if "" in wanted:
            assert set(expected) <= set(got)
        else:
            assert got == expected
        assert set(negated).isdisjoint(expected)


@pytest.fixture(scope="module")
def json_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    # its own dataset: every condition reads JSON on every row, and the strings tests add thousands
    path = str(tmp_path_factory.mktemp("json") / "ds")
    yield Store(path, {"s": types.Text(), "meta": types.Dict()})


@BATCHED
@given(batches(st.tuples(S.strings, S.strings)))
def test_json_keys_and_values(json_store: Store, pairs: list[tuple[str, str]]) -> None:
    rows = json_store.add([{"s": "json", "meta": {"other": 1, k: v}} for k, v in pairs])
    chosen = json_store.selected([col("meta")[key] == value for key, value in pairs])
    for row, (key, value), got in zip(rows, pairs, chosen, strict=True):
        assert row in got
        for i in got:
            stored = json_store.rows[i]["meta"]
            assert stored.get(key) == value or (value == "" and stored.get(key) in ("", None))


@ENGINE
@given(S.names)
def test_column_names(name: str) -> None:
    path = f"mem://names-{next(_counter)}"
    ds = deeplake.create(path)
    ds.add_column(name, types.Int64())  # the storage layer takes every generated name (probed)
    rows = {name: [5, -3, 7]}
    if name != "id":
        ds.add_column("id", types.Int64())
        rows["id"] = [0, 1, 2]
    ds.append(rows)
    ds.commit()
    query = select(col(name)).from_(path).where(col(name) > 0).order_by(col(name).desc())
    assert run(query)[name] == [7, 5]


@pytest.fixture(scope="module")
def numbers_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    path = str(tmp_path_factory.mktemp("numbers") / "ds")
    yield Store(path, {"n": types.Int64(), "f": types.Float32(), "d": types.Float64()})


@BATCHED
@given(
    batches(
        st.tuples(
            st.one_of(st.sampled_from([2**63 - 1, -(2**63), 0, -1, 8, 10]), S.INT64),
            st.sampled_from(["==", "<", ">="]),
        )
    )
)
def test_int64_values(numbers_store: Store, cases: list[tuple[int, str]]) -> None:
    numbers_store.add([{"n": value, "f": 0.0, "d": 0.0} for value, _ in cases])
    conditions = {"==": operator.eq, "<": operator.lt, ">=": operator.ge}
    chosen = numbers_store.selected([conditions[op](col("n"), value) for value, op in cases])
    for (value, op), got in zip(cases, chosen, strict=True):
        compare = conditions[op]
        assert got == [i for i, r in enumerate(numbers_store.rows) if compare(r["n"], value)]


@BATCHED
@given(batches(S.floats32))
def test_float32_equality_with_float32_literals(numbers_store: Store, values: list[float]) -> None:
    stored = [np.float32(value) for value in values]
    rows = numbers_store.add(
        [{"n": 0, "f": f, "d": float(value)} for f, value in zip(stored, values, strict=True)]
    )
    chosen = numbers_store.selected(
        [col("f") == f for f in stored]
        + [col("f") == lit(float(value), dtype="float32") for value in values]
    )
    for row, f, got, same in zip(
        rows, stored, chosen[: len(values)], chosen[len(values) :], strict=True
    ):
        assert row in got
        expected = [i for i, r in enumerate(numbers_store.rows) if np.float32(r["f"]) == f]
        assert got == expected
        assert same == got


@BATCHED
@given(batches(S.floats64))
def test_float64_equality(numbers_store: Store, values: list[float]) -> None:
    rows = numbers_store.add([{"n": 0, "f": 0.0, "d": value} for value in values])
    chosen = numbers_store.selected([col("d") == value for value in values])
    for row, value, got in zip(rows, values, chosen, strict=True):
        assert row in got
        assert got == [i for i, r in enumerate(numbers_store.rows) if r["d"] == value]


# ------------------------------------------------------------------------------ vector search

DIM = 16
N = 120


@pytest.fixture(scope="module")
def vectors(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    emb = rng.normal(size=(N, DIM)).astype(np.float32)
    mv = rng.normal(size=(N, 3, 8)).astype(np.float32)
    path = str(tmp_path_factory.mktemp("vectors") / "ds")
    ds = deeplake.create(path)
    ds.add_column("id", types.Int64())
    ds.add_column("year", types.Int64())
    ds.add_column("embedding", types.Embedding(DIM))
    ds.add_column("mv", types.Array(types.Float32(), dimensions=2))
    ds.append(
        {
            "id": list(range(N)),
            "year": [1990 + i % 30 for i in range(N)],
            "embedding": emb,
            "mv": mv,
        }
    )
    ds.commit()
    return path, emb, mv


def _numpy_scores(metric: str, emb: np.ndarray, q: np.ndarray) -> np.ndarray:
    e, v = emb.astype(np.float64), q.astype(np.float64)
    if metric == "cosine":
        return (e @ v) / (np.linalg.norm(e, axis=1) * np.linalg.norm(v))
    if metric == "dot":
        return e @ v
    if metric == "l2":
        return np.linalg.norm(e - v, axis=1)
    if metric == "l1":
        return np.abs(e - v).sum(axis=1)
    return np.abs(e - v).max(axis=1)


@ENGINE
@given(
    st.sampled_from(["cosine", "dot", "l2", "l1", "linf"]),
    st.lists(st.floats(-3, 3, width=32), min_size=DIM, max_size=DIM).filter(
        lambda v: any(abs(x) > 1e-3 for x in v)
    ),
    st.integers(1, 10),
    st.booleans(),
)
def test_top_k_matches_numpy(
    vectors: tuple[str, np.ndarray, np.ndarray],
    metric: str,
    raw: list[float],
    k: int,
    filtered: bool,
) -> None:
    path, emb, _ = vectors
    q = np.array(raw, dtype=np.float32)
    query = select("id").from_(path).similar_to(q, metric=metric).limit(k)
    mask = np.ones(N, dtype=bool)
    if filtered:
        query = query.where(col("year") >= 2005)
        mask = np.array([1990 + i % 30 >= 2005 for i in range(N)])
    result = run(query)
    scores = _numpy_scores(metric, emb, q)
    descending = metric in ("cosine", "dot")
    candidates = np.flatnonzero(mask)
    order = candidates[
        np.argsort(-scores[candidates] if descending else scores[candidates], kind="stable")
    ]
    expected = order[:k]
    got_scores = np.array(result["score"], dtype=np.float64)
    np.testing.assert_allclose(got_scores, scores[expected], rtol=1e-4, atol=1e-4)
    tolerance = 1e-4 * max(1.0, float(np.abs(scores).max()))
    for got_id, want_id in zip(result["id"], expected, strict=True):
        assert got_id == want_id or abs(scores[got_id] - scores[want_id]) <= tolerance


def test_maxsim_matches_numpy(vectors: tuple[str, np.ndarray, np.ndarray]) -> None:
    path, _, mv = vectors
    rng = np.random.default_rng(1)
    for _ in range(5):
        query_vectors = rng.normal(size=(2, 8)).astype(np.float32)
        result = run(
            select("id")
            .from_(path)
            .similar_to(query_vectors, column="mv", metric="maxsim")
            .limit(5)
        )
        docs = mv / np.linalg.norm(mv, axis=2, keepdims=True)
        qs = query_vectors / np.linalg.norm(query_vectors, axis=1, keepdims=True)
        scores = np.einsum("nte,qe->nqt", docs, qs).max(axis=2).sum(axis=1)
        expected = np.argsort(-scores, kind="stable")[:5]
        assert result["id"] == expected.tolist()
        np.testing.assert_allclose(result["score"], scores[expected], rtol=1e-4)


# ------------------------------------------------------------------------------ clause semantics


@pytest.fixture(scope="module")
def table(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = str(tmp_path_factory.mktemp("table") / "ds")
    ds = deeplake.create(path)
    ds.add_column("id", types.Int64())
    ds.add_column("label", types.Text())
    ds.add_column("n", types.Int32())
    ds.add_column("flag", types.Bool())
    ds.add_column("text", types.Text(index_type=types.BM25))
    docs = [
        "the quick brown fox",
        "machine learning with deep lake",
        "deep learning for vector search",
        "brown bears eat fish",
        "Lorem ipsum it's fine",
        "vector databases and bm25 search",
        "deep deep learning learning",
        "a fox and a bear",
    ]
    ds.append(
        {
            "id": list(range(21)),
            "label": [["cat", "dog", "bird"][i % 3] for i in range(21)],
            "n": [10 * i - 50 for i in range(21)],
            "flag": [i % 2 == 1 for i in range(21)],
            "text": [docs[i % len(docs)] + " filler" * i for i in range(21)],
        }
    )
    ds.commit()
    return path


ROWS = [
    {"id": i, "label": ["cat", "dog", "bird"][i % 3], "n": 10 * i - 50, "flag": i % 2 == 1}
    for i in range(21)
]


@pytest.mark.parametrize(
    "keys",
    [
        [("label", False), ("n", True)],
        [("label", True), ("n", False)],
        [("flag", True), ("id", True)],
        [("flag", False), ("label", True), ("n", False)],
        [("flag", True), ("label", True), ("n", True)],
    ],
)
def test_multi_key_order_by_means_what_it_says(table: str, keys: list[tuple[str, bool]]) -> None:
    query = (
        select("id").from_(table).order_by(*[col(k).desc() if d else col(k).asc() for k, d in keys])
    )
    expected = list(ROWS)
    for key, descending in reversed(keys):
        expected.sort(key=lambda r, key=key: r[key], reverse=descending)
    assert ids(query) == [r["id"] for r in expected]
    assert ids(query.limit(5)) == [r["id"] for r in expected[:5]]


def test_filters_and_operators(table: str) -> None:
    base = select("id").from_(table)
    assert ids(base.where(col("n").between(-10, 20))) == [4, 5, 6, 7]
    assert ids(base.where(~col("n").between(-40, 140))) == [0, 20]
    assert ids(base.where((col("label") == "bird") & col("flag"))) == [5, 11, 17]
    assert ids(base.where((col("id") < 2) | (col("id") > 19))) == [0, 1, 20]
    assert ids(base.where(col("n") - -50 == 20)) == [2]
    assert ids(base.where(-col("n") == 50)) == [0]
    assert ids(base.where(col("id") % 10 == 0)) == [0, 10, 20]
    assert ids(base.where(col("label").isin(["dog"]), col("id") < 8)) == [1, 4, 7]
    assert ids(base.where(col("label").isin([]))) == []
    assert len(ids(base.where(col("label").not_in([])))) == 21
    assert ids(base.where(col("text").contains("bears"))) == [3, 11, 19]
    assert ids(base.where(col("label").like("b%"), col("id") < 6)) == [2, 5]
    assert ids(base.where(col("label").ilike("B%"), col("id") < 6)) == [2, 5]
    assert ids(base.where(~col("label").ilike("%a%"), col("id") < 6)) == [1, 2, 4, 5]
    assert ids(base.where(col("label").not_like("%a%"), col("id") < 6)) == [1, 2, 4, 5]
    assert ids(base.where(col("label").is_null())) == []
    got = run(select("id", F.sqrt(col("n") + 50).alias("r")).from_(table).where(col("id") == 4))
    assert got["r"] == [pytest.approx(math.sqrt(40))]


def test_group_by_with_limit_limits_groups(table: str) -> None:
    grouped = select("label", F.count("id").alias("c"), F.sum("n").alias("s")).from_(table)
    grouped = grouped.group_by("label")
    result = run(grouped.limit(2))
    assert result["c"] == [7, 7]
    assert len(result["label"]) == 2
    ordered = run(grouped.order_by(col("s").desc()).limit(1))
    assert ordered["s"] == [420]


def test_ungroup_by(table: str) -> None:
    result = run(select().from_(table).group_by("label").ungroup_by(2))
    assert len(result["id"]) == 6


def test_union_keeps_duplicates_and_can_be_limited(table: str) -> None:
    left = select("id").from_(table).where(col("id") < 2)
    right = select("id").from_(table).where(col("id") < 3)
    assert sorted(ids(left.union(right))) == [0, 0, 1, 1, 2]
    assert ids(left.union(right).order_by(col("id").desc()).limit(2)) == [2, 1]


def test_text_search_pages_correctly(table: str) -> None:
    base = select("id").from_(table).text_search("deep learning")
    full = ids(base.limit(6))
    assert len(full) == 6
    assert ids(base.limit(3)) == full[:3]
    assert ids(base.limit(3).offset(3)) == full[3:6]
    filtered = ids(base.where(col("id") > 5).limit(3))
    assert all(i > 5 for i in filtered)


def test_sample_without_replacement_never_repeats(table: str) -> None:
    weights = F.max_weight((col("flag"), 10), (True, 1))
    drawn = ids(select("id").from_(table).sample_by(weights, limit=30))
    assert len(drawn) == 21
    assert len(set(drawn)) == 21
    with_replacement = ids(select("id").from_(table).sample_by(1, replace=True, limit=30))
    assert len(with_replacement) == 30


def test_vector_search_with_score_filter_and_secondary_key(
    vectors: tuple[str, np.ndarray, np.ndarray],
) -> None:
    path, emb, _ = vectors
    q = emb[3]
    query = (
        select("id", "year")
        .from_(path)
        .where(col("score") > 0.2)
        .similar_to(q)
        .order_by("score", col("year").desc())
        .limit(5)
    )
    result = run(query)
    assert result["id"][0] == 3
    assert all(s > 0.2 for s in result["score"])
    assert result["score"] == sorted(result["score"], reverse=True)
