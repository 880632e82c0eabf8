"""examples/langchain_store.py held to LangChain's standard vector-store tests, sync and async.

``langchain_tests.integration_tests.VectorStoreIntegrationTests`` is the suite every LangChain
vector store integration runs; each test gets a new empty in-memory dataset. The extra tests
below cover what the standard suite does not: filter dicts, MMR, delete by filter, scores,
uncommitted writes seen by searches.
"""

from __future__ import annotations

import asyncio
import importlib.util
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("deeplake")
pytest.importorskip("langchain_tests")

from langchain_core.embeddings import Embeddings
from langchain_core.vectorstores import VectorStore
from langchain_tests.integration_tests import VectorStoreIntegrationTests

import tqlbuilder
from tqlbuilder import QueryError

_SPEC = importlib.util.spec_from_file_location(
    "_tqlb_langchain_store", Path(__file__).resolve().parent.parent / "examples/langchain_store.py"
)
assert _SPEC is not None and _SPEC.loader is not None
langchain_store = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(langchain_store)
TQLVectorStore = langchain_store.TQLVectorStore

pytestmark = pytest.mark.engine


def _new_store(embedding: Any, metric: str = "cosine") -> TQLVectorStore:
    import deeplake

    return TQLVectorStore(deeplake.create(f"mem://lc-{uuid.uuid4().hex}"), embedding, metric=metric)


# The standard suite's async tests carry no asyncio mark; marking the class marks its sync tests
# too, which pytest-asyncio warns about (harmlessly: they run as plain functions).
@pytest.mark.asyncio
@pytest.mark.filterwarnings(
    "ignore:The test <Function test_.* is marked with '@pytest.mark.asyncio'"
)
class TestStandard(VectorStoreIntegrationTests):
    """The whole standard suite (sync and async) on a new empty dataset per test."""

    @pytest.fixture
    def vectorstore(self) -> Iterator[VectorStore]:  # type: ignore[override]
        yield _new_store(self.get_embeddings())


# ---------------------------------------------------------------------- beyond the standard suite


class TableEmbeddings(Embeddings):
    """Fixed vectors per text, so expected rankings can be worked out by hand."""

    def __init__(self, table: dict[str, list[float]]) -> None:
        self.table = table

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self.table[text] for text in texts]

    def embed_query(self, text: str) -> list[float]:
        return self.table[text]


TABLE = {
    "apollo": [1.0, 0.3, 0.0],
    "apollo again": [1.0, 0.0, 0.1],
    "pears": [0.0, 0.5, 1.0],
    "apples": [0.2, 0.9, 0.0],
    "query": [1.0, 0.5, 0.0],
}
METADATA = {
    "apollo": {"topic": "space", "year": 1969, "tags": [1, 2], "note": None},
    "apollo again": {"topic": "space", "year": 1972},
    "pears": {"topic": "food", "year": 2001},
    "apples": {"topic": "food", "year": 1990},
}


def _filled(metric: str = "cosine") -> Any:
    store = _new_store(TableEmbeddings(TABLE), metric)
    texts = list(METADATA)
    store.add_texts(texts, [METADATA[t] for t in texts], ids=texts)
    return store


def _cosine(a: list[float], b: list[float]) -> float:
    x, y = np.asarray(a, dtype=np.float32), np.asarray(b, dtype=np.float32)
    return float(x @ y / (np.linalg.norm(x) * np.linalg.norm(y)))


def test_filter_dicts_select_on_metadata() -> None:
    store = _filled()
    space = store.similarity_search("query", k=4, filter={"topic": "space"})
    assert [d.id for d in space] == ["apollo", "apollo again"]
    recent = store.similarity_search("query", k=4, filter={"year": {"$gte": 1990}})
    assert [d.id for d in recent] == ["apples", "pears"]
    assert asyncio.run(store.asimilarity_search("query", k=4, filter={"topic": "food"})) == (
        store.similarity_search("query", k=4, filter={"topic": "food"})
    )


@pytest.mark.parametrize("metric", ["cosine", "l2", "dot"])
def test_scores_are_the_metrics_values_best_first(metric: str) -> None:
    store = _filled(metric)
    scored = store.similarity_search_with_score("query", k=4)
    q = np.asarray(TABLE["query"], dtype=np.float32)
    expected = {
        text: {
            "cosine": _cosine(TABLE["query"], TABLE[text]),
            "l2": float(np.linalg.norm(np.asarray(TABLE[text], dtype=np.float32) - q)),
            "dot": float(np.asarray(TABLE[text], dtype=np.float32) @ q),
        }[metric]
        for text in METADATA
    }
    assert sorted(d.id or "" for d, _ in scored) == sorted(METADATA)
    for doc, score in scored:
        assert score == pytest.approx(expected[doc.id or ""], rel=1e-5, abs=1e-6)
    scores = [score for _, score in scored]
    assert scores == sorted(scores, reverse=metric != "l2")
    relevance = store.similarity_search_with_relevance_scores("query", k=4)
    assert all(0.0 <= r <= 1.0 for _, r in relevance)
    assert asyncio.run(store.asimilarity_search_with_score("query", k=4)) == scored


def test_mmr_prefers_diverse_documents() -> None:
    store = _filled()
    nearest = store.similarity_search("query", k=2)
    assert [d.id for d in nearest] == ["apollo", "apollo again"]
    diverse = store.max_marginal_relevance_search("query", k=2, fetch_k=4, lambda_mult=0.5)
    assert [d.id for d in diverse] == ["apollo", "apples"]
    assert [
        d.id for d in asyncio.run(store.amax_marginal_relevance_search("query", k=2, fetch_k=4))
    ] == [
        "apollo",
        "apples",
    ]
    only_space = store.max_marginal_relevance_search(
        "query", k=2, fetch_k=4, filter={"topic": "space"}
    )
    assert [d.id for d in only_space] == ["apollo", "apollo again"]


def test_delete_by_filter_and_by_ids() -> None:
    store = _filled()
    assert store.delete(filter={"topic": "food"}) is True
    assert [d.id for d in store.get_by_ids(list(METADATA))] == ["apollo", "apollo again"]
    asyncio.run(store.adelete(["apollo"]))
    assert [d.id for d in store.get_by_ids(list(METADATA))] == ["apollo again"]
    with pytest.raises(ValueError, match="pass ids or filter="):
        store.delete()
    with pytest.raises(tqlbuilder.InvalidValueError, match="gte "):
        store.delete(filter={"year": {"$gte ": 1}})
    with pytest.raises(ValueError, match="pass ids or filter="):
        store.delete(["x"], filter={"topic": "space"})


def test_metadata_comes_back_exactly() -> None:
    store = _filled()
    (apollo,) = store.get_by_ids(["apollo"])
    assert apollo.metadata == {"topic": "space", "year": 1969, "tags": [1, 2], "note": None}
    assert type(apollo.metadata["tags"][0]) is int


def test_writes_are_seen_before_commit_and_persist_after(tmp_path: Path) -> None:
    import deeplake

    url = f"file://{tmp_path / 'store'}"
    store = TQLVectorStore(deeplake.create(url), TableEmbeddings(TABLE))
    store.add_texts(["apollo", "pears"], ids=["a", "p"])
    assert [d.id for d in store.similarity_search("query", k=1)] == ["a"]
    store.delete(["a"])
    assert [d.id for d in store.similarity_search("query", k=2)] == ["p"]
    store._ds.commit()
    reopened = TQLVectorStore(deeplake.open_read_only(url), TableEmbeddings(TABLE))
    assert [d.id for d in reopened.get_by_ids(["a", "p"])] == ["p"]


def test_a_query_vector_of_the_wrong_size_is_refused_with_both_sizes() -> None:
    store = _filled()
    with pytest.raises(
        QueryError, match="column embedding has 3 dimensions, the query vector has 2"
    ):
        store.similarity_search_by_vector([1.0, 0.0], k=1)


def test_filters_follow_mongodb_semantics_on_missing_keys() -> None:
    """``$ne`` matches documents that lack the key; ``$eq`` and ``$exists`` do as MongoDB does."""
    store = _filled()
    store.add_texts(["query"], [{"year": 2020}], ids=["no-topic"])  # has no "topic" key
    ids = {d.id for d in store.similarity_search("query", k=10, filter={"topic": {"$ne": "food"}})}
    assert ids == {"apollo", "apollo again", "no-topic"}
    missing = store.similarity_search("query", k=10, filter={"topic": {"$exists": False}})
    assert [d.id for d in missing] == ["no-topic"]
    store.delete(filter={"topic": {"$ne": "space"}})
    assert sorted(d.id or "" for d in store.similarity_search("query", k=10)) == [
        "apollo",
        "apollo again",
    ]


def test_the_same_searches_over_rest_against_the_local_server(tmp_path: Path) -> None:
    """Reads by path through RestExecutor (and AsyncRestExecutor) equal reads on the handle."""
    import deeplake

    from tests._servers import ServerProcess
    from tqlbuilder import RestExecutor

    (tmp_path / "org").mkdir()
    ds = deeplake.create(f"file://{tmp_path / 'org' / 'store'}")
    on_handle = TQLVectorStore(ds, TableEmbeddings(TABLE))
    texts = list(METADATA)
    on_handle.add_texts(texts, [METADATA[t] for t in texts], ids=texts)
    ds.commit()  # readers by path see committed data only

    def searches(store: Any) -> list[Any]:
        return [
            store.similarity_search_with_score("query", k=3),
            store.similarity_search("query", k=4, filter={"topic": "food"}),
            store.max_marginal_relevance_search("query", k=2, fetch_k=4),
            store.get_by_ids(["pears", "missing", "apollo"]),
        ]

    server = ServerProcess(tmp_path, token="t0ken")
    try:
        with RestExecutor("t0ken", url=server.url) as rest:
            over_rest = TQLVectorStore(
                ds, TableEmbeddings(TABLE), search_executor=rest, source="hub://org/store"
            )
            assert searches(over_rest) == searches(on_handle)
            assert searches(on_handle)[3][0].id == "pears"
        try:
            import httpx  # noqa: F401
        except ImportError:
            return
        from tqlbuilder import AsyncRestExecutor

        async def async_searches() -> list[Any]:
            async with AsyncRestExecutor("t0ken", url=server.url) as arest:
                store = TQLVectorStore(
                    ds, TableEmbeddings(TABLE), search_executor=arest, source="hub://org/store"
                )
                with pytest.raises(TypeError, match="async"):
                    store.similarity_search("query", k=1)
                return [
                    await store.asimilarity_search_with_score("query", k=3),
                    await store.asimilarity_search("query", k=4, filter={"topic": "food"}),
                    await store.amax_marginal_relevance_search("query", k=2, fetch_k=4),
                    await store.aget_by_ids(["pears", "missing", "apollo"]),
                ]

        assert asyncio.run(async_searches()) == searches(on_handle)
    finally:
        server.stop()
