"""EnginePool and LocalExecutor(isolate=...): a crash, hang or runaway query costs one query.

Everything here runs the real engine in spawned worker processes. The crash and hang inputs
(tests/_servers.py) were verified on deeplake 4.7.4: the BETWEEN-on-an-array-element query
ends its process with SIGSEGV, the SAMPLE BY query never returns and grows memory. The
hazard checker is switched off with monkeypatch where a test needs such text to reach a worker.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests._datasets import DOCS_PATH, TAGS_PATH, make_datasets
from tests._servers import CRASH_QUERY, CRASH_QUERY_CONTAINS, HANG_QUERY, make_hazard_dataset
from tqlbuilder import LocalExecutor, QueryError
from tqlbuilder.errors import InvalidValueError, ServerError, UnsupportedTypeError
from tqlbuilder.run import local as local_module
from tqlbuilder.run.isolation import (
    EngineCrashedError,
    EngineMemoryError,
    EnginePool,
    EngineTimeoutError,
)
from tqlbuilder.run.local import map_dataset_paths

pytest.importorskip("deeplake")
pytestmark = pytest.mark.engine

OK_QUERY = f'SELECT id FROM "{DOCS_PATH}" WHERE id < 3'


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_hazard_dataset(make_datasets(tmp_path_factory.mktemp("isolation") / "root"))


@pytest.fixture(scope="module")
def pool() -> Iterator[EnginePool]:
    with EnginePool(2, query_timeout=3.0, memory_limit=None) as engine_pool:
        engine_pool.start()
        yield engine_pool


@pytest.fixture(scope="module")
def isolated(root: Path, pool: EnginePool) -> LocalExecutor:
    return LocalExecutor(root, isolate=pool)


@pytest.fixture(scope="module")
def in_process(root: Path) -> LocalExecutor:
    return LocalExecutor(root)


@pytest.fixture
def unchecked(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let hazardous text reach the engine (the pool is what protects us here)."""
    monkeypatch.setattr(local_module.LocalExecutor, "_check_hazards", False)


# ---------------------------------------------------------------------- same results


QUERIES = [
    f'SELECT * FROM "{DOCS_PATH}"',
    f'SELECT id, text FROM "{DOCS_PATH}" WHERE year > 2020 ORDER BY id DESC',
    f"SELECT id, meta['nested'] AS nested, meta['arr'] AS arr FROM \"{DOCS_PATH}\" WHERE id < 4",
    f'SELECT a.id AS id, b.tag AS tag FROM "{DOCS_PATH}" AS a JOIN "{TAGS_PATH}" AS b '
    "ON a.id = b.id",
    f'SELECT id, year / 0 AS z FROM "{DOCS_PATH}" WHERE id = 1',
    f'SELECT id FROM "{DOCS_PATH}" WHERE id > 100',
]


@pytest.mark.parametrize("query", QUERIES)
def test_isolated_results_equal_in_process_results(
    isolated: LocalExecutor, in_process: LocalExecutor, query: str
) -> None:
    expected = in_process.execute(query)
    got = isolated.execute(query)
    assert got == expected
    assert got.rows == expected.rows and got.tensors == expected.tensors


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    columns=st.lists(
        st.sampled_from(["id", "text", "year", "embedding", "meta"]), min_size=1, unique=True
    ),
    low=st.integers(-2, 14),
    op=st.sampled_from(["<", "<=", ">", ">=", "=", "!="]),
    descending=st.booleans(),
    limit=st.integers(0, 13),
)
def test_isolated_equals_in_process_for_generated_queries(
    isolated: LocalExecutor,
    in_process: LocalExecutor,
    columns: list[str],
    low: int,
    op: str,
    descending: bool,
    limit: int,
) -> None:
    order = "DESC" if descending else "ASC"
    query = (
        f'SELECT {", ".join(columns)} FROM "{DOCS_PATH}" WHERE id {op} {low} '
        f"ORDER BY id {order} LIMIT {limit}"
    )
    assert isolated.execute(query) == in_process.execute(query)


def test_engine_errors_are_the_same_query_errors(
    isolated: LocalExecutor, in_process: LocalExecutor
) -> None:
    query = f'SELECT nope FROM "{DOCS_PATH}"'
    with pytest.raises(QueryError) as local_error:
        in_process.execute(query)
    with pytest.raises(QueryError) as isolated_error:
        isolated.execute(query)
    assert str(isolated_error.value) == str(local_error.value)
    assert isolated_error.value.server_message == local_error.value.server_message
    assert isolated_error.value.query == query


# ---------------------------------------------------------------------- crash, hang, memory


@pytest.mark.parametrize("crasher", [CRASH_QUERY, CRASH_QUERY_CONTAINS])
@pytest.mark.usefixtures("unchecked")
def test_a_crash_fails_its_query_and_the_worker_is_replaced(
    isolated: LocalExecutor, crasher: str
) -> None:
    with pytest.raises(EngineCrashedError) as info:
        isolated.execute(crasher)
    assert "crashed" in str(info.value) and "SIGSEGV" in str(info.value)
    assert isinstance(info.value, ServerError) and info.value.query == crasher
    # both workers keep answering (one of them is the replacement)
    for _ in range(4):
        assert isolated.execute(OK_QUERY).column("id") == [0, 1, 2]


@pytest.mark.usefixtures("unchecked")
def test_a_hang_times_out_while_the_other_worker_serves(isolated: LocalExecutor) -> None:
    outcome: list[BaseException] = []
    served_while_hanging: list[bool] = []

    def hang() -> None:
        try:
            isolated.execute(HANG_QUERY)
        except BaseException as error:
            outcome.append(error)

    hanging = threading.Thread(target=hang)
    hanging.start()
    for _ in range(10):
        assert isolated.execute(OK_QUERY).column("id") == [0, 1, 2]
        served_while_hanging.append(hanging.is_alive())
    hanging.join(30)
    assert not hanging.is_alive()
    assert any(served_while_hanging), "other queries were answered while the hang ran"
    (error,) = outcome
    assert isinstance(error, EngineTimeoutError)
    assert "time limit of 3 s" in str(error)
    assert isolated.execute(OK_QUERY).column("id") == [0, 1, 2]


def test_a_runaway_query_hits_the_memory_limit(root: Path) -> None:
    text = map_dataset_paths(HANG_QUERY, root)
    with EnginePool(1, query_timeout=120.0, memory_limit=300 * 2**20) as small:
        with pytest.raises(EngineMemoryError) as info:
            small.run(text)
        assert "memory limit of 300 MiB" in str(info.value)
        assert small.run(map_dataset_paths(OK_QUERY, root)) == (("id",), ((0, 1, 2),), 3)


def test_close_fails_queries_in_flight_and_later_ones(root: Path) -> None:
    doomed = EnginePool(1, query_timeout=None, memory_limit=None).start()
    running = doomed.submit(map_dataset_paths(HANG_QUERY, root))
    waiting = doomed.submit(map_dataset_paths(OK_QUERY, root))
    doomed.close()
    for future in (running, waiting):
        with pytest.raises(ServerError, match="closed"):
            future.result(timeout=10)
    with pytest.raises(ServerError, match="closed"):
        doomed.submit("SELECT 1")
    doomed.close()  # idempotent


def test_local_executor_isolate_true_owns_its_pool(root: Path) -> None:
    with LocalExecutor(root, isolate=True) as executor:
        assert "EnginePool(workers=" in repr(executor)
        assert executor.execute(OK_QUERY).column("id") == [0, 1, 2]
        pool = executor._pool
        assert pool is not None and not pool.closed
    assert pool.closed


def test_a_shared_pool_is_not_closed_by_the_executor(root: Path, pool: EnginePool) -> None:
    with LocalExecutor(root, isolate=pool) as executor:
        executor.execute(OK_QUERY)
    assert not pool.closed


# ---------------------------------------------------------------------- arguments


@pytest.mark.parametrize(
    "kwargs",
    [
        {"workers": 0},
        {"workers": True},
        {"workers": 1.5},
        {"query_timeout": 0},
        {"query_timeout": -1.0},
        {"query_timeout": float("nan")},
        {"query_timeout": float("inf")},
        {"memory_limit": 0},
        {"memory_limit": "1G"},
    ],
)
def test_bad_pool_arguments_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(InvalidValueError) as info:
        EnginePool(**kwargs)  # type: ignore[arg-type]
    assert next(iter(kwargs)) in str(info.value)


def test_isolate_must_be_a_bool_or_a_pool(root: Path) -> None:
    with pytest.raises(UnsupportedTypeError, match="isolate"):
        LocalExecutor(root, isolate="yes")  # type: ignore[arg-type]
