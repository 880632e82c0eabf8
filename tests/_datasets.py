"""Small Deep Lake datasets on disk for the executor and server tests (a root of <org>/<ds>)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

ORG = "org"
DOCS = "docs"
TAGS = "tags"
DOCS_PATH = f"hub://{ORG}/{DOCS}"
TAGS_PATH = f"hub://{ORG}/{TAGS}"
N_DOCS = 12
EMBEDDING_DIM = 4


def doc_rows() -> list[dict[str, Any]]:
    """The rows of ``org/docs`` as the engine returns them (JSON-like values)."""
    rows = []
    for i in range(N_DOCS):
        angle = i * math.pi / N_DOCS
        rows.append(
            {
                "id": i,
                "text": "" if i == 5 else f"doc {i} about {'apples' if i % 2 else 'pears'}",
                "year": 2015 + i,
                "embedding": [math.cos(angle), math.sin(angle), 0.0, i / 100],
                "meta": {"k": f"v{i % 3}", "n": i, "nested": {"x": i % 2}, "arr": [i, i + 1]},
            }
        )
    return rows


def make_datasets(root: Path) -> Path:
    """Create ``root/org/docs`` (id, text, year, embedding(4), meta) and ``root/org/tags``."""
    import deeplake
    import numpy as np
    from deeplake import types

    (root / ORG).mkdir(parents=True, exist_ok=True)
    rows = doc_rows()
    docs = deeplake.create(f"file://{root / ORG / DOCS}")
    docs.add_column("id", types.Int64())
    docs.add_column("text", types.Text())
    docs.add_column("year", types.Int64())
    docs.add_column("embedding", types.Embedding(EMBEDDING_DIM))
    docs.add_column("meta", types.Dict())
    docs.append(
        {
            "id": [r["id"] for r in rows],
            "text": [r["text"] for r in rows],
            "year": [r["year"] for r in rows],
            "embedding": np.array([r["embedding"] for r in rows], dtype=np.float32),
            "meta": [r["meta"] for r in rows],
        }
    )
    docs.commit()

    tags = deeplake.create(f"file://{root / ORG / TAGS}")
    tags.add_column("id", types.Int64())
    tags.add_column("tag", types.Text())
    tags.append({"id": [1, 2, 3], "tag": ["one", "two", "three"]})
    tags.commit()
    return root
