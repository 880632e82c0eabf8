"""Example data shared by the scripts in ``examples/``.

The examples run as ``python examples/NAME.py``, so this module is imported as
``from _data import ...``. It reads the files in ``examples/data/`` (see the
README there): 300 short passages, 12 questions, and their all-MiniLM-L6-v2
embeddings. Importing it has no side effects; ``deeplake`` is imported only
inside :func:`build_dataset`.
"""

from __future__ import annotations

import json
import pathlib
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = [
    "DATA_DIR",
    "EMBEDDING_DIM",
    "build_dataset",
    "default_dataset_dir",
    "load_passages",
    "load_questions",
    "passage_embeddings",
    "question_embeddings",
]

DATA_DIR = pathlib.Path(__file__).resolve().parent / "data"
"""Folder holding ``passages.jsonl``, ``questions.json`` and the ``.npy`` embeddings."""

EMBEDDING_DIM = 384
"""Width of the shipped embeddings (sentence-transformers all-MiniLM-L6-v2)."""


def load_passages() -> list[dict[str, Any]]:
    """The 300 passages, in id order.

    Each is ``{"id": int, "text": str, "topic": str, "year": int, "source": str}``;
    ``id`` equals the row's position in the list and in :func:`passage_embeddings`.
    """
    path = DATA_DIR / "passages.jsonl"
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def load_questions() -> list[dict[str, Any]]:
    """The 12 example questions, in id order.

    Each is ``{"id": int, "question": str, "topic": str, "answer_id": int}``, where
    ``answer_id`` is the id of the passage that answers it.
    """
    path = DATA_DIR / "questions.json"
    questions: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))
    return questions


def _load_matrix(name: str) -> npt.NDArray[np.float32]:
    matrix = np.load(DATA_DIR / name, allow_pickle=False)
    return np.ascontiguousarray(matrix, dtype=np.float32)


def passage_embeddings() -> npt.NDArray[np.float32]:
    """L2-normalised float32 array of shape (300, 384); row ``i`` is passage ``i``."""
    return _load_matrix("passage_embeddings.npy")


def question_embeddings() -> npt.NDArray[np.float32]:
    """L2-normalised float32 array of shape (12, 384); row ``i`` is question ``i``."""
    return _load_matrix("question_embeddings.npy")


def default_dataset_dir() -> pathlib.Path:
    """``examples/.datasets/passages`` next to this file (the folder is git-ignored)."""
    return pathlib.Path(__file__).resolve().parent / ".datasets" / "passages"


def build_dataset(path: str | pathlib.Path, *, overwrite: bool = True) -> str:
    """Create a local Deep Lake dataset of the passages at ``path``; return its ``file://`` URL.

    Columns: ``id`` Int64, ``text`` Text with a BM25 index, ``topic`` Text, ``year`` Int64,
    ``source`` Text and ``embedding`` Embedding(384). All 300 rows are appended and committed.

    If ``path`` already holds a Deep Lake dataset it is deleted first when ``overwrite`` is
    true, otherwise :class:`FileExistsError` is raised. A non-empty folder that is not a
    dataset is never deleted (:class:`FileExistsError`).
    """
    import deeplake

    directory = pathlib.Path(path).expanduser().resolve()
    url = f"file://{directory}"
    if directory.exists():
        if deeplake.exists(url):
            if not overwrite:
                raise FileExistsError(f"a dataset already exists at {directory}")
            deeplake.delete(url)
        elif not directory.is_dir() or any(directory.iterdir()):
            raise FileExistsError(f"{directory} exists and is not a Deep Lake dataset")
    directory.parent.mkdir(parents=True, exist_ok=True)

    passages = load_passages()
    embeddings = passage_embeddings()
    if embeddings.shape != (len(passages), EMBEDDING_DIM):
        raise ValueError(f"embeddings shape {embeddings.shape} does not match the passages")

    types = deeplake.types
    ds = deeplake.create(
        url,
        schema={
            "id": types.Int64(),
            "text": types.Text(index_type=types.BM25),
            "topic": types.Text(),
            "year": types.Int64(),
            "source": types.Text(),
            "embedding": types.Embedding(EMBEDDING_DIM),
        },
    )
    ds.append(
        {
            "id": [p["id"] for p in passages],
            "text": [p["text"] for p in passages],
            "topic": [p["topic"] for p in passages],
            "year": [p["year"] for p in passages],
            "source": [p["source"] for p in passages],
            "embedding": embeddings,
        }
    )
    ds.commit("Add the tqlbuilder example passages")
    return url
