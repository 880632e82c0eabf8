"""DatasetExecutor on open handles; source-less refusals; execute_async; vector lengths; logging."""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests._datasets import DOCS, DOCS_PATH, EMBEDDING_DIM, N_DOCS, ORG, doc_rows, make_datasets
from tqlbuilder import DatasetExecutor, LocalExecutor, RestExecutor, col, select
from tqlbuilder.errors import QueryError, UnsupportedTypeError
from tqlbuilder.run.executor import is_source_less
from tqlbuilder.run.local import check_vector_lengths, fixed_dimensions

# ---------------------------------------------------------------------- no engine


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("SELECT * WHERE x > 1", True),
        ("SELECT *", True),
        ('SELECT * FROM "hub://o/d" WHERE x > 1', False),
        ("SELECT * FROM (SELECT id, 1 AS s WHERE x > 1) ORDER BY s LIMIT 2", True),
        ('SELECT * FROM (SELECT id, 1 AS s FROM "hub://o/d") ORDER BY s LIMIT 2', False),
        ('(SELECT * FROM "a" WHERE x) UNION (SELECT * WHERE y)', True),
        ('(SELECT * FROM "a" WHERE x) UNION (SELECT * FROM "b" WHERE y)', False),
        ('SELECT * FROM "a" UNION SELECT *', True),
        ('SELECT * FROM "a" WHERE b IN (1, 2) AND c[0] > 1 -- SELECT', False),
        ('SELECT * FROM "a" WHERE t = \'open', False),
        ("SELECT * WHERE t = 'open FROM", True),  # inside an (unterminated) string
    ],
)
def test_source_less_detection(text: str, expected: bool) -> None:
    assert is_source_less(text) is expected


def test_builder_leaves_the_source_out_without_from() -> None:
    assert select("id").where(col("x") > 1).to_tql() == "SELECT id WHERE x > 1"
    assert is_source_less(select("id").similar_to([1.0, 0.0]).limit(2).to_tql())


@pytest.mark.parametrize(
    "executor",
    [
        lambda root: LocalExecutor(root),
        # nothing listens on port 9: a refusal must come before any connection attempt
        lambda root: RestExecutor("secret-token", url="http://127.0.0.1:9/api/query/v1"),
    ],
    ids=["local", "rest"],
)
def test_path_executors_refuse_source_less_queries_before_sending(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, executor: Any
) -> None:
    monkeypatch.setitem(sys.modules, "deeplake", None)  # the engine must not even be loaded
    with executor(tmp_path) as ex:
        query = select("id").where(col("year") > 2020)
        with pytest.raises(QueryError, match=r"from_\(\).*DatasetExecutor") as info:
            ex.execute(query)
        assert info.value.query == "SELECT id WHERE year > 2020"
        assert type(ex).__name__ in str(info.value)
        outcomes = ex.execute_many([query, query], return_exceptions=True)
        assert all(isinstance(outcome, QueryError) for outcome in outcomes)
        with pytest.raises(QueryError, match="DatasetExecutor"):
            asyncio.run(ex.execute_async(query))


def test_async_rest_executor_refuses_source_less_queries_before_sending() -> None:
    pytest.importorskip("httpx")
    from tqlbuilder import AsyncRestExecutor

    async def scenario() -> list[Any]:
        # nothing listens on port 9: a refusal must come before any connection attempt
        async with AsyncRestExecutor("secret-token", url="http://127.0.0.1:9/api/query/v1") as ex:
            query = select("id").where(col("year") > 2020)
            with pytest.raises(QueryError, match=r"from_\(\).*AsyncRestExecutor.*DatasetExecutor"):
                await ex.execute(query)
            return await ex.execute_many([query, query.from_("hub://o/d")], return_exceptions=True)

    refused, sent = asyncio.run(scenario())
    assert isinstance(refused, QueryError) and "DatasetExecutor" in str(refused)
    assert not isinstance(sent, QueryError)  # it has a source: it was sent (and found no server)


def test_vector_length_check_without_engine() -> None:
    dims = {"embedding": 16, "multi": 8}
    good = select("id").similar_to([0.5] * 16).limit(3).to_tql()
    check_vector_lengths(good, dims)
    bad = select("id").similar_to([0.5] * 12, metric="l2").limit(3).to_tql()
    with pytest.raises(
        QueryError, match="column embedding has 16 dimensions, the query vector has 12"
    ):
        check_vector_lengths(bad, dims)
    multi = select("id").similar_to([[0.5] * 7] * 2, column="multi", metric="maxsim").limit(1)
    with pytest.raises(QueryError, match="column multi has 8 dimensions, the query vector has 7"):
        check_vector_lengths(multi.to_tql(), dims)
    # columns of unknown or dynamic shape, and calls on two columns, are left to the engine
    check_vector_lengths(select("id").similar_to([0.5] * 3, column="other").limit(1).to_tql(), dims)
    check_vector_lengths("SELECT COSINE_SIMILARITY(embedding, multi) AS s", dims)
    check_vector_lengths("SELECT id WHERE t = 'open", dims)


def test_dataset_executor_needs_a_handle(tmp_path: Path) -> None:
    pytest.importorskip("deeplake")
    for wrong in (str(tmp_path), None, object()):
        with pytest.raises(UnsupportedTypeError, match="open deeplake Dataset"):
            DatasetExecutor(wrong)


# ---------------------------------------------------------------------- on the engine

QUERIES = [
    select("id", "text", "year").where(col("year") > 2018),
    select("*").where(col("meta")["k"] == "v1").order_by(col("year").desc()),
    select("id").similar_to([1.0, 0.0, 0.0, 0.0], metric="cosine").limit(3),
    select("id").similar_to([0.5, 0.5, 0.0, 0.0], metric="dot").limit(4),
    select("id", "year")
    .similar_to([0.0, 1.0, 0.0, 0.1], metric="l2")
    .where(col("year") < 2024)
    .limit(3),
    select("id").similar_to([0.0, 1.0, 0.0, 0.0], metric="l1").limit(2),
    select("id").similar_to([0.0, 1.0, 0.0, 0.0], metric="linf").limit(2),
    select("id", "embedding", "meta").order_by("id").limit(5).offset(2),
    select("id").where(col("text") == ""),
]


@pytest.fixture(scope="module")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("deeplake")
    return make_datasets(tmp_path_factory.mktemp("dataset") / "root")


@pytest.fixture
def fresh(tmp_path: Path) -> tuple[Any, str]:
    """A writable copy of org/docs (committed), opened; and its URL."""
    import deeplake

    pytest.importorskip("deeplake")
    make_datasets(tmp_path / "root")
    url = f"file://{tmp_path / 'root' / ORG / DOCS}"
    return deeplake.open(url), url


@pytest.mark.engine
def test_results_equal_local_executor_on_committed_data(data_root: Path) -> None:
    import deeplake

    ds = deeplake.open_read_only(f"file://{data_root / ORG / DOCS}")
    on_handle = DatasetExecutor(ds)
    with LocalExecutor(data_root) as local:
        by_path = local.execute_many([q.from_(DOCS_PATH) for q in QUERIES])
    handle_results = on_handle.execute_many(QUERIES)
    assert handle_results == by_path
    assert [len(r) for r in handle_results] == [8, 4, 3, 4, 3, 2, 2, 5, 1]


@pytest.mark.engine
def test_async_results_equal_sync_results(data_root: Path) -> None:
    import deeplake

    ds = deeplake.open_read_only(f"file://{data_root / ORG / DOCS}")
    executor = DatasetExecutor(ds)
    local = LocalExecutor(data_root)

    async def run_all() -> tuple[list[Any], list[Any]]:
        on_handle = await asyncio.gather(*(executor.execute_async(q) for q in QUERIES))
        by_path = await asyncio.gather(*(local.execute_async(q.from_(DOCS_PATH)) for q in QUERIES))
        return list(on_handle), list(by_path)

    on_handle, by_path = asyncio.run(run_all())
    assert on_handle == executor.execute_many(QUERIES) == by_path


@pytest.mark.engine
def test_async_engine_errors_and_cancellation(data_root: Path) -> None:
    import deeplake

    ds = deeplake.open_read_only(f"file://{data_root / ORG / DOCS}")
    executor = DatasetExecutor(ds)

    async def scenario() -> list[int]:
        with pytest.raises(QueryError, match=r"engine error: .*nope"):
            await executor.execute_async("SELECT nope WHERE id > 1")
        task = asyncio.ensure_future(executor.execute_async(QUERIES[4]))
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # the executor and the handle stay usable after a cancelled call
        result = await executor.execute_async(select("id").where(col("id") < 3))
        return [int(v) for v in result.column("id")]

    assert asyncio.run(asyncio.wait_for(scenario(), timeout=60)) == [0, 1, 2]


@pytest.mark.engine
def test_uncommitted_appends_and_deletes_are_seen(fresh: tuple[Any, str]) -> None:
    ds, url = fresh
    executor = DatasetExecutor(ds)
    everything = select("id").order_by("id")
    ds.delete(3)
    ds.append(
        {
            "id": [100],
            "text": ["new"],
            "year": [1999],
            "embedding": np.ones((1, EMBEDDING_DIM), dtype=np.float32),
            "meta": [{"k": "new"}],
        }
    )
    expected = [i for i in range(N_DOCS) if i != 3] + [100]
    assert executor.execute(everything).column("id") == expected
    assert asyncio.run(executor.execute_async(everything)).column("id") == expected
    # the same query by path reads the committed data only (the reason DatasetExecutor exists)
    committed = LocalExecutor().execute(everything.from_(url))
    assert committed.column("id") == list(range(N_DOCS))
    ds.commit()
    assert LocalExecutor().execute(everything.from_(url)).column("id") == expected


@pytest.mark.engine
def test_named_sources_are_refused_the_engine_would_silently_read_storage(
    fresh: tuple[Any, str],
) -> None:
    ds, url = fresh
    executor = DatasetExecutor(ds)
    ds.append(
        {
            "id": [500],
            "text": ["x"],
            "year": [1],
            "embedding": np.zeros((1, EMBEDDING_DIM), dtype=np.float32),
            "meta": [{}],
        }
    )
    text = f'SELECT id FROM "{url}" WHERE id = 500'
    # engine fact (deeplake 4.7.4): ds.query with FROM reads storage and misses the new row
    assert len(ds.query(text)) == 0
    assert len(ds.query("SELECT id WHERE id = 500")) == 1
    with pytest.raises(QueryError, match=r'names the source "file://.*without from_\(\)'):
        executor.execute(text)
    with pytest.raises(QueryError, match="without from_"):
        executor.execute(select("id").from_("hub://org/docs"))


@pytest.mark.engine
def test_views_and_read_only_handles(data_root: Path) -> None:
    import deeplake

    ds = deeplake.open_read_only(f"file://{data_root / ORG / DOCS}")
    view = ds.query("SELECT * WHERE id < 6")
    assert DatasetExecutor(view).execute(select("id").where(col("id") > 2)).column("id") == [
        3,
        4,
        5,
    ]
    assert DatasetExecutor(view).row_indices(col("id") > 2) == [3, 4, 5]
    on_view = asyncio.run(DatasetExecutor(view).execute_async(select("id").where(col("id") > 3)))
    assert on_view.column("id") == [4, 5]
    assert DatasetExecutor(ds).execute(select("id").where(col("id") > 9)).column("id") == [10, 11]


@pytest.mark.engine
def test_hazards_are_refused_as_in_local_executor(data_root: Path) -> None:
    import deeplake

    ds = deeplake.open_read_only(f"file://{data_root / ORG / DOCS}")
    executor = DatasetExecutor(ds)
    for text in (
        "SELECT * WHERE CONTAINS(text, ' ')",
        "SELECT * SAMPLE BY MAX_WEIGHT(FALSE: 1) LIMIT 5",
        "SELECT * WHERE id = 1 -- c\n  AND year > 1",
    ):
        with pytest.raises(QueryError, match=r"^refused: "):
            executor.execute(text)


@pytest.mark.engine
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    length=st.integers(min_value=1, max_value=9),
    metric=st.sampled_from(["cosine", "dot", "l2", "l1", "linf"]),
)
def test_wrong_vector_lengths_are_refused_with_both_sizes(
    data_root: Path, length: int, metric: str
) -> None:
    import deeplake

    query = select("id").similar_to([0.25] * length, metric=metric).limit(3)
    ds = deeplake.open_read_only(f"file://{data_root / ORG / DOCS}")
    executors = [DatasetExecutor(ds), LocalExecutor(data_root)]
    texts = [query, query.from_(DOCS_PATH)]
    for executor, text in zip(executors, texts, strict=True):
        if length == EMBEDDING_DIM:
            assert len(executor.execute(text)) == 3
        else:
            message = (
                f"column embedding has {EMBEDDING_DIM} dimensions, the query vector has {length}"
            )
            with pytest.raises(QueryError, match=message):
                executor.execute(text)


@pytest.mark.engine
def test_vector_lengths_checked_for_plain_paths_too(data_root: Path) -> None:
    url = f"file://{data_root / ORG / DOCS}"
    with pytest.raises(
        QueryError, match="column embedding has 4 dimensions, the query vector has 2"
    ):
        LocalExecutor().execute(
            select("id").from_(url).similar_to([1.0, 0.0], metric="l2").limit(1)
        )
    assert len(LocalExecutor().execute(select("id").from_(url).similar_to([1.0] * 4).limit(2))) == 2


@pytest.mark.engine
def test_engine_gives_no_sizes_for_a_wrong_vector_length(data_root: Path) -> None:
    """Why the check exists (deeplake 4.7.4): no sizes, and a WHERE silently matches nothing."""
    import deeplake

    ds = deeplake.open_read_only(f"file://{data_root / ORG / DOCS}")
    ranking = (
        "SELECT * FROM (SELECT id, DOT(embedding, ARRAY[1.0,0.0]) AS s) ORDER BY s DESC LIMIT 2"
    )
    with pytest.raises(RuntimeError, match="different length arrays"):
        ds.query(ranking)
    assert (
        len(ds.query("SELECT id WHERE COSINE_SIMILARITY(embedding, ARRAY[1.0,0.0,0.0]) > -2")) == 0
    )
    assert (
        len(ds.query("SELECT id WHERE COSINE_SIMILARITY(embedding, ARRAY[1.0,0,0,0]) > -2"))
        == N_DOCS
    )


@pytest.mark.engine
def test_fixed_dimensions_from_a_schema() -> None:
    import deeplake
    from deeplake import types

    ds = deeplake.create("mem://tqlbuilder-fixed-dimensions")
    ds.add_column("e", types.Embedding(16))
    ds.add_column("fixed", types.Array(types.Float32(), shape=[2, 8]))
    ds.add_column("dynamic", types.Array(types.Float32(), 1))
    ds.add_column("n", types.Int64())
    ds.add_column("m", types.Dict())
    assert fixed_dimensions(ds.schema) == {"e": 16, "fixed": 8}


@pytest.mark.engine
def test_local_server_refuses_a_wrong_vector_length(data_root: Path) -> None:
    from tests._servers import ServerProcess

    server = ServerProcess(data_root, token="t0ken")
    try:
        with RestExecutor("t0ken", url=server.url) as rest:
            with pytest.raises(
                QueryError, match="column embedding has 4 dimensions, the query vector has 2"
            ):
                rest.execute(select("id").from_(DOCS_PATH).similar_to([1.0, 0.0]).limit(2))
            assert len(rest.execute(select("id").from_(DOCS_PATH).limit(2))) == 2
    finally:
        server.stop()


@pytest.mark.engine
@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    deletes=st.lists(st.integers(min_value=0, max_value=N_DOCS - 1), max_size=4),
    threshold=st.integers(min_value=2014, max_value=2028),
)
def test_row_indices_match_the_handle_and_drive_deletes(
    tmp_path_factory: pytest.TempPathFactory, deletes: list[int], threshold: int
) -> None:
    import deeplake

    root = make_datasets(tmp_path_factory.mktemp("rows") / "root")
    ds = deeplake.open(f"file://{root / ORG / DOCS}")
    rows = doc_rows()
    for offset in deletes:  # uncommitted deletes shift later positions
        if offset < len(rows):
            ds.delete(offset)
            del rows[offset]
    executor = DatasetExecutor(ds)
    condition = (col("year") >= threshold) & (col("meta")["n"] != 7)
    expected = [
        i for i, row in enumerate(rows) if row["year"] >= threshold and row["meta"]["n"] != 7
    ]
    indices = executor.row_indices(condition)
    assert indices == expected
    for offset in reversed(indices):
        ds.delete(offset)
    left = executor.execute(select("id", "year")).rows
    assert left == [
        {"id": r["id"], "year": r["year"]} for i, r in enumerate(rows) if i not in set(expected)
    ]


@pytest.mark.engine
def test_row_indices_alias_never_collides(tmp_path: Path) -> None:
    import deeplake
    from deeplake import types

    ds = deeplake.create(f"file://{tmp_path / 'collide'}")
    ds.add_column("_tqlbuilder_row", types.Int64())
    ds.append({"_tqlbuilder_row": [7, 8, 9]})
    assert DatasetExecutor(ds).row_indices(col("_tqlbuilder_row") >= 8) == [1, 2]


@pytest.mark.engine
def test_queries_are_logged_at_debug_with_vectors_abbreviated(
    data_root: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import deeplake

    ds = deeplake.open_read_only(f"file://{data_root / ORG / DOCS}")
    query = select("id").similar_to([0.125, 0.25, 0.5, 0.75]).limit(1)
    with caplog.at_level(logging.DEBUG, logger="tqlbuilder"):
        DatasetExecutor(ds).execute(query)
        LocalExecutor(data_root).execute(query.from_(DOCS_PATH))
        asyncio.run(DatasetExecutor(ds).execute_async(query))
    messages = [r.getMessage() for r in caplog.records if r.name.startswith("tqlbuilder")]
    assert len(messages) == 3, messages
    for message in messages:
        assert "ARRAY[0.125,0.25,…(4 values)]" in message
        assert "0.75" not in message
    assert messages[0].startswith("DatasetExecutor sends: SELECT")
    assert messages[1].startswith("LocalExecutor sends: SELECT")
