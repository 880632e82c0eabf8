"""A LangChain vector store on an open Deep Lake dataset, with every query built by tqlbuilder.

Run it from the repository root after ``pip install -e ".[dev]"``::

    python examples/langchain_store.py

:class:`TQLVectorStore` is a ``langchain_core.vectorstores.VectorStore``: add texts and
documents (with or without ids; an existing id is replaced), similarity search with or without
scores and by vector, a Mongo-style ``filter`` dict on the metadata
(``tqlbuilder.filters.from_dict``), max-marginal-relevance search (``tqlbuilder.mmr``),
``get_by_ids``, delete by ids or by filter, and the async variants. It writes to and queries
one open dataset handle through :class:`tqlbuilder.DatasetExecutor`, so every search sees the
writes before any commit; with ``search_executor=`` (``RestExecutor``, ``AsyncRestExecutor``)
the same searches go by path to the Managed Tensor Database or ``python -m tqlbuilder.server``.
No TQL is written by hand and no value is ever pasted into text.
``tests/test_langchain_store.py`` holds it to LangChain's own standard suite
(``langchain_tests.integration_tests.VectorStoreIntegrationTests``, sync and async).

Dataset layout (created on the first write, when the embedding size is known):

- ``id`` (text), ``text`` (text), ``embedding`` (``Embedding(dim)``, float32);
- ``metadata`` (dict), which filters address; the engine's dict column stores lists of
  integers as floats and ``None`` as ``{}`` (deeplake 4.7.4), so
- ``metadata_json`` (text) keeps the exact metadata that documents come back with.
"""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import Any, cast

import numpy as np
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.vectorstores import VectorStore

import tqlbuilder
from tqlbuilder import DatasetExecutor, Expr, Query, Result, col, select

#: How each metric's score becomes LangChain's relevance in [0, 1] (higher is better).
RELEVANCE: dict[str, Callable[[float], float]] = {
    "cosine": lambda score: (1.0 + score) / 2.0,  # cosine similarity in [-1, 1]
    "l2": VectorStore._euclidean_relevance_score_fn,  # a distance (lower is better)
    # a dot product is a cosine for unit-length embeddings (what LangChain assumes for "dot")
    "dot": lambda score: min(1.0, max(0.0, (1.0 + score) / 2.0)),
}


class TQLVectorStore(VectorStore):
    """A LangChain vector store on one open deeplake dataset (``deeplake.open/create``).

    Args:
        dataset: an open, writable ``deeplake.Dataset``. Empty, or laid out as described in
            the module docstring.
        embedding: the LangChain ``Embeddings`` that turn texts and queries into vectors.
        metric: ``"cosine"`` (default), ``"l2"`` or ``"dot"``; scores returned by
            ``similarity_search_with_score`` are the metric's own values.

        search_executor: optional executor for searches and ``get_by_ids`` by path: a
            ``RestExecutor`` / ``AsyncRestExecutor`` (the Managed Tensor Database, or
            ``python -m tqlbuilder.server``) or a ``LocalExecutor``; queries then read
            ``FROM source``. Such readers see committed data only: commit after writing.
        source: the dataset path for ``search_executor`` (``"hub://org/dataset"``).

    Writes are serialised by a lock (an upsert is a delete then an append). Nothing is
    committed: call ``dataset.commit()`` when the data should persist.
    """

    def __init__(
        self,
        dataset: Any,
        embedding: Embeddings,
        *,
        metric: str = "cosine",
        search_executor: Any = None,
        source: str | None = None,
    ) -> None:
        if metric not in RELEVANCE:
            raise ValueError(f"metric must be one of {', '.join(RELEVANCE)}; got {metric!r}")
        if (search_executor is None) != (source is None):
            raise ValueError("pass search_executor and source together (or neither)")
        self._ds = dataset
        self._embedding = embedding
        self._metric = metric
        self._executor = DatasetExecutor(dataset)
        self._reader = search_executor
        self._source = source
        self._lock = threading.Lock()

    def _run(self, query: Query) -> Result:
        """Run a read on the handle, or by path on ``search_executor``."""
        if self._reader is None:
            return self._executor.execute(query)
        if not hasattr(self._reader, "execute_async"):  # AsyncRestExecutor: execute is async
            raise TypeError("this store's search_executor is async: use the a... methods")
        return cast(Result, self._reader.execute(query.from_(self._source)))

    async def _arun(self, query: Query) -> Result:
        if self._reader is None:
            return await self._executor.execute_async(query)
        sourced = query.from_(self._source)
        execute_async = getattr(self._reader, "execute_async", None)  # sync executors have it
        if execute_async is not None:
            return cast(Result, await execute_async(sourced))
        return cast(Result, await self._reader.execute(sourced))  # AsyncRestExecutor

    @property
    def embeddings(self) -> Embeddings:
        return self._embedding

    @classmethod
    def from_texts(
        cls,
        texts: list[str],
        embedding: Embeddings,
        metadatas: list[dict[str, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        **kwargs: Any,
    ) -> TQLVectorStore:
        """A store on ``kwargs["dataset"]`` (default: a new in-memory dataset) holding ``texts``."""
        import deeplake

        dataset = kwargs.pop("dataset", None)
        if dataset is None:
            dataset = deeplake.create(f"mem://tqlvectorstore-{uuid.uuid4().hex}")
        store = cls(dataset, embedding, **kwargs)
        store.add_texts(texts, metadatas, ids=ids)
        return store

    # ------------------------------------------------------------------ writes

    def add_texts(
        self,
        texts: Iterable[str],
        metadatas: list[dict[str, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        **kwargs: Any,
    ) -> list[str]:
        """Embed and store ``texts``; an id already in the store is replaced. Returns the ids."""
        texts = list(texts)
        vectors = self._embedding.embed_documents(texts) if texts else []
        return self._write(texts, vectors, metadatas, ids)

    async def aadd_texts(
        self,
        texts: Iterable[str],
        metadatas: list[dict[str, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        **kwargs: Any,
    ) -> list[str]:
        texts = list(texts)
        vectors = await self._embedding.aembed_documents(texts) if texts else []
        return await asyncio.to_thread(self._write, texts, vectors, metadatas, ids)

    def _write(
        self,
        texts: list[str],
        vectors: Sequence[Sequence[float]],
        metadatas: list[dict[str, Any]] | None,
        ids: Sequence[str | None] | None,
    ) -> list[str]:
        count = len(texts)
        metadatas = [dict(m) for m in metadatas] if metadatas is not None else [{}] * count
        given = list(ids) if ids is not None else [None] * count
        if len(metadatas) != count or len(given) != count:
            raise ValueError(
                f"got {count} texts, {len(metadatas)} metadatas and {len(given)} ids; "
                "pass one of each per text"
            )
        final = [str(i) if i is not None else uuid.uuid4().hex for i in given]
        if not final:
            return []
        # within one call the last occurrence of an id wins, as with repeated calls
        last = {row_id: position for position, row_id in enumerate(final)}
        keep = sorted(last.values())
        with self._lock:
            self._ensure_columns(len(vectors[0]))
            self._delete_where(col("id").isin(sorted(last)))
            self._ds.append(
                {
                    "id": [final[i] for i in keep],
                    "text": [texts[i] for i in keep],
                    "metadata": [metadatas[i] for i in keep],
                    "metadata_json": [json.dumps(metadatas[i]) for i in keep],
                    "embedding": np.asarray([vectors[i] for i in keep], dtype=np.float32),
                }
            )
        return final

    def delete(self, ids: list[str] | None = None, **kwargs: Any) -> bool | None:
        """Delete the rows with these ids, or those matching ``filter=`` (a filter dict).

        Missing ids are ignored. Returns True.
        """
        condition = self._delete_condition(ids, kwargs)
        with self._lock:
            if condition is not None and self._has_columns():
                self._delete_where(condition)
        return True

    async def adelete(self, ids: list[str] | None = None, **kwargs: Any) -> bool | None:
        return await asyncio.to_thread(self.delete, ids, **kwargs)

    def _delete_condition(self, ids: list[str] | None, kwargs: dict[str, Any]) -> Expr | None:
        spec = kwargs.pop("filter", None)
        if kwargs:
            raise TypeError(f"unexpected keyword arguments: {', '.join(sorted(kwargs))}")
        if (ids is None) == (spec is None):
            raise ValueError("pass ids or filter= (one of them) to delete")
        if ids is not None:
            return col("id").isin([str(i) for i in ids]) if ids else None
        return self._filter(spec)

    def _delete_where(self, condition: Expr) -> None:
        """Delete matching rows from the highest offset down (earlier offsets stay valid)."""
        for offset in reversed(self._executor.row_indices(condition)):
            self._ds.delete(offset)

    def _has_columns(self) -> bool:
        return "embedding" in {column.name for column in self._ds.schema.columns}

    def _ensure_columns(self, dim: int) -> None:
        if self._has_columns():
            return
        from deeplake import types

        self._ds.add_column("id", types.Text())
        self._ds.add_column("text", types.Text())
        self._ds.add_column("metadata", types.Dict())
        self._ds.add_column("metadata_json", types.Text())
        self._ds.add_column("embedding", types.Embedding(dim))

    # ------------------------------------------------------------------ reads

    def get_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        """The documents with these ids, in the order given; missing ids are skipped."""
        if not ids or not self._has_columns():
            return []
        query = select("id", "text", "metadata_json").where(col("id").isin([str(i) for i in ids]))
        found = {row["id"]: _document(row) for row in self._run(query)}
        return [found[str(i)] for i in ids if str(i) in found]

    async def aget_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        if not ids or not self._has_columns():
            return []
        query = select("id", "text", "metadata_json").where(col("id").isin([str(i) for i in ids]))
        found = {row["id"]: _document(row) for row in await self._arun(query)}
        return [found[str(i)] for i in ids if str(i) in found]

    def similarity_search(
        self, query: str, k: int = 4, *, filter: dict[str, Any] | None = None, **kwargs: Any
    ) -> list[Document]:
        vector = self._embedding.embed_query(query)
        return self.similarity_search_by_vector(vector, k, filter=filter)

    async def asimilarity_search(
        self, query: str, k: int = 4, *, filter: dict[str, Any] | None = None, **kwargs: Any
    ) -> list[Document]:
        vector = await self._embedding.aembed_query(query)
        return await self.asimilarity_search_by_vector(vector, k, filter=filter)

    def similarity_search_with_score(
        self, query: str, k: int = 4, *, filter: dict[str, Any] | None = None, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        """Documents with the metric's score (cosine similarity, L2 distance or dot product)."""
        vector = self._embedding.embed_query(query)
        return self.similarity_search_with_score_by_vector(vector, k, filter=filter)

    async def asimilarity_search_with_score(
        self, query: str, k: int = 4, *, filter: dict[str, Any] | None = None, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        vector = await self._embedding.aembed_query(query)
        query_obj = self._search(vector, k, filter)
        if query_obj is None:
            return []
        return _scored(await self._arun(query_obj))

    def similarity_search_with_score_by_vector(
        self, embedding: Sequence[float], k: int = 4, *, filter: dict[str, Any] | None = None
    ) -> list[tuple[Document, float]]:
        query = self._search(embedding, k, filter)
        return [] if query is None else _scored(self._run(query))

    def similarity_search_by_vector(
        self,
        embedding: list[float],
        k: int = 4,
        *,
        filter: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> list[Document]:
        return [
            doc
            for doc, _ in self.similarity_search_with_score_by_vector(embedding, k, filter=filter)
        ]

    async def asimilarity_search_by_vector(
        self,
        embedding: list[float],
        k: int = 4,
        *,
        filter: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> list[Document]:
        query = self._search(embedding, k, filter)
        if query is None:
            return []
        return [doc for doc, _ in _scored(await self._arun(query))]

    def max_marginal_relevance_search(
        self,
        query: str,
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        *,
        filter: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> list[Document]:
        vector = self._embedding.embed_query(query)
        return self.max_marginal_relevance_search_by_vector(
            vector, k, fetch_k, lambda_mult, filter=filter
        )

    async def amax_marginal_relevance_search(
        self,
        query: str,
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        *,
        filter: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> list[Document]:
        vector = await self._embedding.aembed_query(query)
        return await self.amax_marginal_relevance_search_by_vector(
            vector, k, fetch_k, lambda_mult, filter=filter
        )

    def max_marginal_relevance_search_by_vector(
        self,
        embedding: list[float],
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        *,
        filter: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> list[Document]:
        """Fetch ``fetch_k`` nearest (with their embeddings), re-rank with ``tqlbuilder.mmr``."""
        query = self._search(embedding, fetch_k, filter, with_embedding=True)
        if query is None:
            return []
        return _diverse(embedding, self._run(query).rows, k, lambda_mult)

    async def amax_marginal_relevance_search_by_vector(
        self,
        embedding: list[float],
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        *,
        filter: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> list[Document]:
        query = self._search(embedding, fetch_k, filter, with_embedding=True)
        if query is None:
            return []
        result = await self._arun(query)
        return _diverse(embedding, result.rows, k, lambda_mult)

    def _select_relevance_score_fn(self) -> Callable[[float], float]:
        return RELEVANCE[self._metric]

    def _search(
        self,
        vector: Sequence[float],
        k: int,
        spec: dict[str, Any] | None,
        *,
        with_embedding: bool = False,
    ) -> Query | None:
        """The k-nearest query (no FROM: it runs on the handle), or None for an empty store."""
        if not self._has_columns():
            return None
        columns = ["id", "text", "metadata_json"] + (["embedding"] if with_embedding else [])
        query = select(*columns).similar_to(list(vector), metric=self._metric).limit(k)
        if spec is not None:
            query = query.where(self._filter(spec))
        return query

    @staticmethod
    def _filter(spec: dict[str, Any]) -> Expr:
        """A Mongo-style filter dict on the metadata (``tqlbuilder.filters.from_dict``)."""
        from tqlbuilder import filters

        return filters.from_dict(spec, json_column="metadata")


def _document(row: dict[str, Any]) -> Document:
    return Document(
        id=row["id"], page_content=row["text"], metadata=json.loads(row["metadata_json"])
    )


def _scored(result: Iterable[dict[str, Any]]) -> list[tuple[Document, float]]:
    return [(_document(row), float(row["score"])) for row in result]


def _diverse(
    query_vector: Sequence[float], rows: list[dict[str, Any]], k: int, lambda_mult: float
) -> list[Document]:
    if not rows:
        return []
    candidates = np.asarray([row["embedding"] for row in rows], dtype=np.float32)
    positions = tqlbuilder.mmr(
        np.asarray(query_vector, dtype=np.float32),
        candidates,
        min(k, len(rows)),
        lambda_mult=lambda_mult,
    )
    return [_document(rows[int(i)]) for i in positions]


def main() -> None:
    import deeplake
    from langchain_core.embeddings import DeterministicFakeEmbedding

    ds = deeplake.create(f"mem://langchain-store-example-{uuid.uuid4().hex}")
    store = TQLVectorStore(ds, DeterministicFakeEmbedding(size=16))
    store.add_texts(
        [
            "The Moon landing was in 1969.",
            "Apollo 11 carried three astronauts.",
            "Pears grow on trees.",
        ],
        [{"topic": "space", "year": 1969}, {"topic": "space", "year": 1969}, {"topic": "food"}],
        ids=["moon", "apollo", "pears"],
    )
    hits = store.similarity_search("The Moon landing was in 1969.", k=2, filter={"topic": "space"})
    print("nearest space documents:", [doc.id for doc in hits])
    print(
        "diverse:", [doc.id for doc in store.max_marginal_relevance_search("Moon", k=2, fetch_k=3)]
    )
    store.delete(filter={"topic": {"$ne": "space"}})
    print(
        "after deleting non-space rows:",
        sorted(doc.id or "" for doc in store.get_by_ids(["moon", "apollo", "pears"])),
    )


if __name__ == "__main__":
    main()
