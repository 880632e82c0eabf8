"""Re-run the paging probes of paging_ties.md: ``python tests/probes/paging_probe.py``."""

from __future__ import annotations

import time

import deeplake
import numpy as np
from deeplake import types

N = 3000
TEXTS = ["apple", "apple apple", "apple pie", "banana", "cherry apple tart"]
BM = "BM25_SIMILARITY(text, 'apple')"
COS = "COSINE_SIMILARITY(e, ARRAY[1,0,0,0])"
BIG = 2147483647


def make(path: str) -> None:
    ds = deeplake.create(path)
    ds.add_column("id", types.Int64())
    ds.add_column("text", types.Text(index_type=types.BM25))
    ds.add_column("e", types.Embedding(4))
    ds.add_column("g", types.Int64())
    vectors = np.array([[1, 0, 0, 0], [0, 1, 0, 0], [1, 1, 0, 0]], dtype=np.float32)
    ds.append(
        {
            "id": list(range(N)),
            "text": [TEXTS[i % 5] for i in range(N)],
            "e": vectors[[i % 3 for i in range(N)]],
            "g": [i % 7 for i in range(N)],
        }
    )
    ds.commit()


def ids(query: str) -> list[int]:
    view = deeplake.query(query)
    return [int(i) for i in view["id"][:]]


def check(name: str, full_query: str, page: str, k: int = 50, pages: int = 20) -> None:
    full = ids(full_query)[: k * pages]
    got = [i for o in range(0, k * pages, k) for i in ids(page.format(o=o, k=k, ok=o + k))]
    print(f"{name:24s} pages == prefix: {got == full}  distinct {len(set(got))}/{len(got)}")


def main() -> None:
    s = '"mem://paging"'
    make("mem://paging")
    check(
        "order_by g asc",
        f"SELECT id FROM {s} ORDER BY g",
        f"SELECT id FROM {s} ORDER BY g LIMIT {{k}} OFFSET {{o}}",
    )
    check(
        "order_by g desc",
        f"SELECT id FROM {s} ORDER BY g DESC",
        f"SELECT id FROM {s} ORDER BY g DESC LIMIT {{k}} OFFSET {{o}}",
    )
    check(
        "cosine",
        f"SELECT id FROM {s} ORDER BY {COS} DESC LIMIT {BIG}",
        f"SELECT id FROM {s} ORDER BY {COS} DESC LIMIT {{k}} OFFSET {{o}}",
    )
    check(
        "bm25 LIMIT o+k OFFSET o",
        f"SELECT id FROM {s} ORDER BY {BM} DESC LIMIT {BIG}",
        f"SELECT id FROM {s} ORDER BY {BM} DESC LIMIT {{ok}} OFFSET {{o}}",
    )
    nested = f"SELECT id FROM (SELECT * FROM {s} ORDER BY {BM} DESC LIMIT {BIG})"
    check("bm25 nested", nested, nested + " LIMIT {k} OFFSET {o}")
    for limit in (10, BIG, 2147483648, 4294967298):
        start = time.perf_counter()
        try:
            result = str(len(ids(f"SELECT id FROM {s} ORDER BY {BM} DESC LIMIT {limit}")))
        except RuntimeError as error:
            result = f"error: {error}"
        print(f"bm25 LIMIT {limit}: {result} rows, {time.perf_counter() - start:.3f} s")


if __name__ == "__main__":
    main()
