"""Hybrid search: BM25 and vector rankings fused on the client with reciprocal rank fusion.

Run it from the repository root after ``pip install -e ".[local]"``::

    python examples/hybrid_search.py

Keyword search (BM25) finds exact terms and names; vector search finds paraphrases. A hybrid
search combines both. The engine cannot do it in one query: ``BM25_SIMILARITY`` runs only as
the single ``ORDER BY ... DESC LIMIT k`` key and its score cannot be selected, so the two
scores can never be added in TQL. Instead, run the two rankings (concurrently, with
``execute_many``) and merge the two lists of ids with
:func:`tqlbuilder.reciprocal_rank_fusion`, which needs only positions, not comparable scores.
"""

from __future__ import annotations

import time
from collections.abc import Hashable, Sequence

import numpy as np
import numpy.typing as npt
from _data import load_passages, load_questions, question_embeddings
from quickstart import DATASET, ROOT, build_example_dataset

from tqlbuilder import LocalExecutor, Query, RestExecutor, reciprocal_rank_fusion, select

CANDIDATES = 20
"""How many hits each ranking contributes to the fusion."""


def ranking_queries(text: str, embedding: npt.ArrayLike, k: int = CANDIDATES) -> list[Query]:
    """The BM25 query and the vector query whose id lists get fused."""
    keyword = select("id").from_(DATASET).text_search(text).limit(k)
    vector = (
        select("id").from_(DATASET).similar_to(np.asarray(embedding, dtype=np.float32)).limit(k)
    )
    return [keyword, vector]


def hybrid_search(
    executor: LocalExecutor | RestExecutor,
    text: str,
    embedding: npt.ArrayLike,
    *,
    k: int = 3,
    weights: Sequence[float] | None = None,
) -> tuple[list[tuple[Hashable, float]], list[int], list[int]]:
    """Fused top-``k`` ``(id, score)`` pairs, plus the BM25 and vector id lists they came from."""
    keyword, vector = executor.execute_many(ranking_queries(text, embedding), max_workers=2)
    bm25_ids = keyword.column("id")
    vector_ids = vector.column("id")
    fused = reciprocal_rank_fusion(bm25_ids, vector_ids, weights=weights, limit=k)
    return fused, bm25_ids, vector_ids


def _rank(ids: Sequence[Hashable], item: Hashable) -> str:
    return str(ids.index(item) + 1) if item in ids else "-"


def main() -> None:
    started = time.perf_counter()
    build_example_dataset()
    passages: dict[Hashable, str] = {p["id"]: p["text"] for p in load_passages()}
    questions = load_questions()
    embeddings = question_embeddings()

    with LocalExecutor(root=ROOT) as executor:
        # 1. one question in detail
        question = questions[1]  # "Who discovered penicillin, the first widely used antibiotic?"
        fused, bm25_ids, vector_ids = hybrid_search(
            executor, question["question"], embeddings[question["id"]]
        )
        print(f"Question: {question['question']}")
        print(f"  BM25 ranking:   {bm25_ids[:8]}")
        print(f"  vector ranking: {vector_ids[:8]}")
        print("  fused (reciprocal rank fusion, k=60):")
        for item, score in fused:
            ranks = f"bm25 #{_rank(bm25_ids, item)}, vector #{_rank(vector_ids, item)}"
            text = passages[item][:60]
            print(f"    {item:>3}  {score:.5f}  ({ranks})  {text}...")
        print()

        # 2. every question: the fused top hit is the intended passage
        hits = 0
        for question in questions:
            fused, _, _ = hybrid_search(executor, question["question"], embeddings[question["id"]])
            top = fused[0][0]
            hits += top == question["answer_id"]
            print(f"  {question['question'][:60]:<60} -> {top} (expected {question['answer_id']})")
        print(f"Fused top hit is the intended passage for {hits}/{len(questions)} questions\n")

        # 3. weights shift the balance: keywords only, vectors only, both
        question = questions[11]  # "Who painted The Starry Night?"
        for weights in ([1.0, 0.0], [0.0, 1.0], [1.0, 1.0]):
            fused, _, _ = hybrid_search(
                executor, question["question"], embeddings[question["id"]], weights=weights
            )
            print(f"weights={weights}: top 3 {[item for item, _ in fused]}")
    print(f"Done in {time.perf_counter() - started:.2f} s")


if __name__ == "__main__":
    main()
