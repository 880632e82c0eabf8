"""Embedding tqlbuilder in another library: a retriever with vector-store style metadata filters.

Run it from the repository root after ``pip install -e ".[local]"``::

    python examples/retriever.py

Vector-store APIs (LangChain, LlamaIndex, ...) take a query embedding plus user-supplied
metadata filters as a dict, for example::

    {"topic": "space", "year": {"$gte": 1950}, "source": {"$in": ["a", "b"]}}

The integrations that ship today turn such dicts into TQL with f-strings, so a value with an
apostrophe breaks the query and a crafted value rewrites it. :class:`Retriever` below checks the
fields against an allow-list and hands the dict to ``tqlbuilder.filters.from_dict``: quoting is
never its job, so there is nothing to get wrong, and ``$ne``/``$nin`` keep MongoDB's meaning.
It works with any executor (``LocalExecutor`` here, ``RestExecutor`` in production).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt
from _data import load_questions, question_embeddings
from quickstart import DATASET, ROOT, build_example_dataset, shorten_tql

from tqlbuilder import Expr, LocalExecutor, Query, QueryError, RestExecutor, select
from tqlbuilder.filters import from_dict


def filter_condition(spec: Mapping[str, Any], allowed: Iterable[str]) -> Expr:
    """Turn a Mongo-style filter dict into one builder condition with ``filters.from_dict``.

    ``{"topic": "space", "year": {"$gte": 1950}, "$or": [...]}``: a bare value means ``$eq``;
    every operator of :func:`tqlbuilder.filters.from_dict` works, with MongoDB's meaning on
    missing values. Fields outside ``allowed`` (anywhere in the dict, also inside ``$or``)
    raise ValueError, so users can filter only on the metadata the application exposes;
    unknown operators raise ``InvalidValueError`` (a ValueError) naming the place in the dict.
    """
    permitted = set(allowed)
    for field in sorted(_fields(spec)):
        if field not in permitted:
            raise ValueError(f"cannot filter on {field!r}; filterable fields: {sorted(permitted)}")
    return from_dict(spec)


def _fields(spec: Any) -> set[str]:
    """The field names a filter dict mentions (keys not starting with ``$``), at any depth."""
    if isinstance(spec, Mapping):
        found = {key for key in spec if isinstance(key, str) and not key.startswith("$")}
        for key, value in spec.items():
            if isinstance(key, str) and key in ("$and", "$or", "$nor", "$not"):
                found |= _fields(value)
        return found
    if isinstance(spec, (list, tuple)):
        return set().union(*(_fields(item) for item in spec)) if spec else set()
    return set()


@attrs.frozen
class Document:
    """One search hit: the passage text, its metadata and its similarity score."""

    id: int
    text: str
    metadata: dict[str, Any]
    score: float


@attrs.frozen
class Retriever:
    """Top-k passages by cosine similarity to a question embedding, under metadata filters."""

    executor: LocalExecutor | RestExecutor
    dataset: str
    filterable: tuple[str, ...] = ("topic", "year", "source")
    metadata: tuple[str, ...] = ("topic", "year", "source")

    def build_query(
        self, embedding: npt.ArrayLike, *, k: int = 4, filters: Mapping[str, Any] | None = None
    ) -> Query:
        """The query :meth:`search` runs (useful for logging, tests and caching)."""
        query = select("id", "text", *self.metadata).from_(self.dataset)
        if filters:
            query = query.where(filter_condition(filters, self.filterable))
        return query.similar_to(np.asarray(embedding, dtype=np.float32)).limit(k)

    def search(
        self, embedding: npt.ArrayLike, *, k: int = 4, filters: Mapping[str, Any] | None = None
    ) -> list[Document]:
        """Run the search and return the hits, best first."""
        result = self.executor.execute(self.build_query(embedding, k=k, filters=filters))
        return [
            Document(
                id=row["id"],
                text=row["text"],
                metadata={name: row[name] for name in self.metadata},
                score=row["score"],
            )
            for row in result.rows
        ]


def naive_query(embedding: Sequence[float], filters: Mapping[str, str], k: int) -> str:
    """How such filters are typically turned into TQL today: f-strings, no escaping."""
    where = " AND ".join(f"{field} == '{value}'" for field, value in filters.items())
    vector = ", ".join(str(float(x)) for x in embedding)
    return (
        f"SELECT * FROM (SELECT id, text, topic, year, source, "
        f'COSINE_SIMILARITY(embedding, ARRAY[{vector}]) AS score FROM "{DATASET}" '
        f"WHERE {where}) ORDER BY score DESC LIMIT {k}"
    )


def _refusal(retriever: Retriever, embedding: npt.ArrayLike, filters: dict[str, Any]) -> str:
    try:
        retriever.build_query(embedding, filters=filters)
    except ValueError as error:
        return str(error)
    raise AssertionError(f"{filters} was accepted")


def main() -> None:
    started = time.perf_counter()
    build_example_dataset()
    questions = load_questions()
    embeddings = question_embeddings()
    retriever = Retriever(LocalExecutor(root=ROOT), DATASET)

    # 1. a vector-store style filter dict
    moon = questions[0]
    filters = {"topic": "space", "year": {"$gte": 1950}, "source": {"$in": ["tqlbuilder-examples"]}}
    query = retriever.build_query(embeddings[moon["id"]], k=3, filters=filters)
    print(f"Question: {moon['question']}")
    print(f"Filters:  {filters}")
    print(shorten_tql(query.to_tql()), "\n")
    for hit in retriever.search(embeddings[moon["id"]], k=3, filters=filters):
        print(f"  {hit.id:>3}  {hit.score:.4f}  {hit.metadata}  {hit.text[:50]}...")
    print()

    # 2. every question, filtered to its own topic: the intended passage comes first
    answered = 0
    for question in questions:
        hits = retriever.search(
            embeddings[question["id"]], k=1, filters={"topic": question["topic"]}
        )
        answered += bool(hits) and hits[0].id == question["answer_id"]
    print(f"Answered {answered}/{len(questions)} questions with their intended passage\n")

    # 3. a value with an apostrophe is just a value
    apostrophe = {"topic": {"$in": ["space", "science"]}, "source": {"$ne": "O'Reilly Media"}}
    print(f"Filters:  {apostrophe}")
    print(
        "  safe  TQL: ..." + retriever.build_query(embeddings[0], filters=apostrophe).to_tql()[-90:]
    )
    hits = retriever.search(embeddings[0], k=3, filters=apostrophe)
    print(
        f"  safe  retriever: {len(hits)} hits, topics {sorted({h.metadata['topic'] for h in hits})}"
    )
    try:
        retriever.executor.execute(naive_query(embeddings[0], {"source": "O'Reilly Media"}, 3))
    except QueryError as error:
        print(f"  naive f-string:  QueryError: {str(error)[:70]}...")
    print()

    # 4. a malicious value stays a literal. The application restricts every search to one
    #    topic (think of a tenant filter); the user-supplied value tries to escape it.
    attack = {"topic": "health", "source": "x' OR '1'='1"}
    print(f"Filters:  {attack}")
    safe_hits = retriever.search(embeddings[0], k=3, filters=attack)
    print(f"  safe  retriever: {len(safe_hits)} hits (no passage has that source)")
    injected = retriever.executor.execute(naive_query(embeddings[0], attack, 3))
    topics = sorted({row["topic"] for row in injected.rows})
    print(f"  naive f-string:  {len(injected)} hits from topics {topics}: the filter was rewritten")
    print()

    # 5. filters outside the allow-list, and unknown operators, are refused
    refused = (
        {"embedding": {"$gt": 0}},
        {"$or": [{"topic": "space"}, {"embedding": {"$gt": 0}}]},
        {"year": {"$regex": "19.."}},
    )
    for bad in refused:
        print(f"Refused {bad}: {_refusal(retriever, embeddings[0], bad)}")
    print(f"Done in {time.perf_counter() - started:.2f} s")


if __name__ == "__main__":
    main()
