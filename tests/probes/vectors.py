"""Probe query vectors at float32's edges and the zero vector (issue 10, items 3 and 4).

On an ``Embedding(4)`` (float32) column with rows ``[1,0,0,0]``, ``[0,1,0,0]``,
``[1,1,1,1]`` and ``[0.5,0.5,0,0]``, this computes ``COSINE_SIMILARITY``, ``DOT`` and
``L2_NORM(e - v)`` for query vectors whose first element is beyond float32's largest finite
value (overflow), between float32's smallest subnormal and zero (underflow), a float32
subnormal, and for the all-zero vector; then ranks with ``ORDER BY ... LIMIT 2`` to see which
rows a meaningless score returns. Each query runs in a child process. Results go to
``tests/probes/data/vectors.json``, read by ``tests/test_engine_fatal.py``.

Usage::

    PYTHONPATH=$PWD python tests/probes/vectors.py
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import child_command, run_jobs, serve

DATA = Path(__file__).resolve().parent / "data"
RESULT_FILE = DATA / "vectors.json"
ROWS = [[1, 0, 0, 0], [0, 1, 0, 0], [1, 1, 1, 1], [0.5, 0.5, 0, 0]]
FIRST = {
    "one": "1",
    "float32 max": "3.4028235e38",
    "rounds to float32 max": "3.4028235677973366e38",
    "overflow 3.5e38": "3.5e38",
    "overflow 1e39": "1e39",
    "negative overflow -1e39": "-1e39",
    "subnormal 1e-40": "1e-40",
    "smallest subnormal 1.4e-45": "1.4e-45",
    "underflow 1e-46": "1e-46",
    "underflow 1e-50": "1e-50",
    "norm squared subnormal 1e-19": "1e-19",
    "norm squared smallest normal 1.1e-19": "1.1e-19",
    "norm squared 1e-36": "1e-18",
    "norm squared below float32 max 1.8e19": "1.8e19",
    "norm squared overflow 1.9e19": "1.9e19",
    "zero": "0",
}


def jobs() -> list[dict[str, str]]:
    out = []
    for name, first in FIRST.items():
        vector = f"ARRAY[{first}, 0, 0, 0]" if name != "zero" else "ARRAY[0, 0, 0, 0]"
        out.append({"name": name, "kind": "scores", "vector": vector})
    for name in ("zero", "overflow 1e39"):
        vector = "ARRAY[0, 0, 0, 0]" if name == "zero" else "ARRAY[1e39, 1, 0, 0]"
        out.append({"name": name, "kind": "rank cosine", "vector": vector})
    return out


def text(job: dict[str, str], path: str) -> str:
    v = job["vector"]
    if job["kind"] == "scores":
        return (
            f"SELECT id, COSINE_SIMILARITY(e, {v}) AS c, DOT(e, {v}) AS d, "
            f'L2_NORM(e - {v}) AS l FROM "{path}"'
        )
    return (
        f'SELECT * FROM (SELECT id, COSINE_SIMILARITY(e, {v}) AS c FROM "{path}") '
        "ORDER BY c DESC LIMIT 2"
    )


def make_dataset(path: str) -> None:
    import deeplake
    import numpy as np
    from deeplake import types

    ds = deeplake.create(path)
    ds.add_column("id", types.Int64())
    ds.add_column("e", types.Embedding(4))
    ds.append({"id": list(range(len(ROWS))), "e": np.array(ROWS, dtype=np.float32)})
    ds.commit()


def child(path: str) -> None:
    import deeplake

    def handle(job: dict[str, Any]) -> Any:
        view = deeplake.query(text(job, path))
        out = {}
        for column in view.schema.columns:
            values = view[column.name][:]
            out[column.name] = [None if v is None else repr(float(v)) for v in (values.tolist())]
        return out

    serve(handle, memory_mb=2048)


def main() -> None:
    if sys.argv[1:2] == ["child"]:
        child(sys.argv[2])
        return
    all_jobs = jobs()
    with tempfile.TemporaryDirectory(prefix="vectors_") as tmp:
        path = f"file://{tmp}/ds"
        make_dataset(path)
        answers = run_jobs(
            child_command(__file__, "child", path),
            all_jobs,
            timeout=30,
            on_answer=lambda i, a: print(i, all_jobs[i]["name"], a, flush=True),
        )
    import deeplake

    DATA.mkdir(exist_ok=True)
    RESULT_FILE.write_text(
        json.dumps(
            {
                "engine": f"deeplake {deeplake.__version__}",
                "date": time.strftime("%Y-%m-%d"),
                "rows": ROWS,
                "results": [
                    {**j, "query": text(j, "ds"), "answer": a}
                    for j, a in zip(all_jobs, answers, strict=True)
                ],
            },
            indent=1,
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
