"""Probe reading a subscripted array in a select list (found while probing issue 10, item 2b).

``SELECT id, e[1] AS x FROM ds`` (no WHERE) on an ``Embedding(3)`` column: reading the whole
column at once (``view["x"][:]``, what an executor does) gives the *tail* ``e[1:]`` of every
row, while reading one row (``view["x"][0]``) gives the element, and the same query with any
WHERE clause gives the elements in both reads. Each query runs in a child process; results go
to ``tests/probes/data/select_subscripts.json``.

Usage::

    PYTHONPATH=$PWD python tests/probes/select_subscripts.py
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
RESULT_FILE = DATA / "select_subscripts.json"
ROWS = [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]
QUERIES = [
    "SELECT id, e[0] AS x FROM ds",
    "SELECT id, e[1] AS x FROM ds",
    "SELECT id, e[2] AS x FROM ds",
    "SELECT id, e[1] + 0 AS x FROM ds",
    "SELECT id, e[1] AS x FROM ds WHERE id >= 0",
    "SELECT id, e[1] AS x FROM ds ORDER BY id ASC",
    "SELECT id, e[1] AS x FROM ds LIMIT 2",
    "SELECT id, e[0:2] AS x FROM ds",
]


def make_dataset(path: str) -> None:
    import deeplake
    import numpy as np
    from deeplake import types

    ds = deeplake.create(path)
    ds.add_column("id", types.Int64())
    ds.add_column("e", types.Embedding(3))
    ds.append({"id": [0, 1], "e": np.array(ROWS, dtype=np.float32)})
    ds.commit()


def child(path: str) -> None:
    import deeplake

    def handle(job: dict[str, Any]) -> Any:
        view = deeplake.query(job["query"].replace("FROM ds", f'FROM "{path}"'))
        column = view["x"]
        return {
            "batch": column[:].tolist(),
            "rows": [column[i].tolist() for i in range(len(view))],
        }

    serve(handle, memory_mb=2048)


def main() -> None:
    if sys.argv[1:2] == ["child"]:
        child(sys.argv[2])
        return
    jobs = [{"query": q} for q in QUERIES]
    with tempfile.TemporaryDirectory(prefix="select_subscripts_") as tmp:
        path = f"file://{tmp}/ds"
        make_dataset(path)
        answers = run_jobs(child_command(__file__, "child", path), jobs, timeout=60)
    import deeplake

    for job, answer in zip(jobs, answers, strict=True):
        print(job["query"], answer, flush=True)
    DATA.mkdir(exist_ok=True)
    RESULT_FILE.write_text(
        json.dumps(
            {
                "engine": f"deeplake {deeplake.__version__}",
                "date": time.strftime("%Y-%m-%d"),
                "rows": ROWS,
                "results": [{**j, "answer": a} for j, a in zip(jobs, answers, strict=True)],
            },
            indent=1,
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
