"""Probe every operator and function on subscripted array elements and slices (issue 10, 2b).

``features[0] BETWEEN 0.5 AND 1.0`` on a 1-D float array column kills the engine (SIGSEGV)
while ``features[0] >= 0.5`` works. This script runs every predicate below on every subject
below, in WHERE, in a SELECT list and in ORDER BY, each in a child process (a crash loses only
that query), on a 6-row dataset:

* ``id`` Int64 0..5, ``f`` Float64 ``id / 5``;
* ``e`` Embedding(4) (float32), ``v`` Array(Float32, dimensions=1) of length 3,
  ``a`` Array(Int64, dimensions=1) of length 2, ``m`` Array(Float32, dimensions=2) 2 x 3;
* ``meta`` Dict ``{"n": id, "tags": ["x", "y"]}``.

The answer per query is the sorted ids (or the row count for SELECT), the engine's error, or
``{"fatal": <returncode>}``. Results go to ``tests/probes/data/array_elements.json``;
``tests/test_engine_fatal.py`` reads them and checks the builder and ``engine/`` rules.

Usage::

    PYTHONPATH=$PWD python tests/probes/array_elements.py
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
RESULT_FILE = DATA / "array_elements.json"
N_ROWS = 6

# scalar-valued subjects: an element of an array, and controls that are not subscripts
ELEMENTS = ["e[0]", "e[1]", "v[2]", "a[0]", "m[0, 1]", "meta['n']", "f", "id", "(f + 0)", "ABS(f)"]
# array-valued subjects: slices and whole columns
SLICES = ["e[0:2]", "e[1:3]", "v[0:2]", "a[0:1]", "m[0]", "m[:, 0]", "e"]

SCALAR_PREDICATES = [
    "{s} = 0.4",
    "{s} != 0.4",
    "{s} < 0.5",
    "{s} <= 0.5",
    "{s} > 0.5",
    "{s} >= 0.5",
    "{s} BETWEEN 0.2 AND 0.6",
    "{s} BETWEEN 0 AND 1",
    "NOT ({s} BETWEEN 0.2 AND 0.6)",
    "({s} BETWEEN 0.2 AND 0.6) AND id >= 0",
    "0.4 BETWEEN {s} AND 1.0",
    "id BETWEEN {s} AND 10",
    "{s} IN (0.4, 1.0)",
    "{s} NOT IN (0.4, 1.0)",
    "{s} IS NULL",
    "{s} IS NOT NULL",
    "{s} + 1 > 1.5",
    "{s} - 1 < 0",
    "{s} * 2 > 1",
    "{s} / 2 > 0.1",
    "{s} % 2 > 0.1",
    "-{s} < 0",
    "ABS({s}) > 0.3",
    "SQRT({s}) > 0.3",
    "{s} = {s}",
    "{s} >= 0.2 AND {s} <= 0.6",
    "ANY({s} > 0.5)",
    "CONTAINS({s}, 0.4)",
]
ARRAY_PREDICATES = [
    "ANY({s} > 0.5)",
    "ALL({s} > 0.1)",
    "ALL_STRICT({s} > 0.1)",
    "{s} > 0.5",
    "{s} = 0.4",
    "{s} BETWEEN 0.2 AND 0.6",
    "ANY({s} BETWEEN 0.2 AND 0.6)",
    "{s}[0] BETWEEN 0.2 AND 0.6",
    "{s}[0] >= 0.2",
    "AMAX({s}) > 0.5",
    "AMIN({s}) BETWEEN 0 AND 1",
    "SUM({s}) > 0.5",
    "AVG({s}) > 0.2",
    "L2_NORM({s}) > 0.5",
    "CONTAINS({s}, 1)",
    "SHAPE({s})[0] = 2",
    "SHAPE({s})[0] BETWEEN 1 AND 3",
    "{s} IN (0.4, 1.0)",
    "{s} IS NULL",
]
SELECTS = ["{s}", "{s} BETWEEN 0.2 AND 0.6", "{s} >= 0.2", "{s} + 1"]


def queries() -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    for subject in ELEMENTS:
        out += [{"kind": "where", "expr": p.format(s=subject)} for p in SCALAR_PREDICATES]
        out += [{"kind": "select", "expr": p.format(s=subject)} for p in SELECTS]
        out.append({"kind": "order", "expr": subject})
    for subject in SLICES:
        out += [{"kind": "where", "expr": p.format(s=subject)} for p in ARRAY_PREDICATES]
        out += [{"kind": "select", "expr": p.format(s=subject)} for p in SELECTS]
    return out


def text(job: dict[str, str], path: str) -> str:
    if job["kind"] == "where":
        return f'SELECT id FROM "{path}" WHERE {job["expr"]}'
    if job["kind"] == "select":
        return f'SELECT id, {job["expr"]} AS x FROM "{path}"'
    return f'SELECT id FROM "{path}" ORDER BY {job["expr"]} DESC'


def make_dataset(path: str) -> None:
    import deeplake
    import numpy as np
    from deeplake import types

    ds = deeplake.create(path)
    for name, dtype in {
        "id": types.Int64(),
        "f": types.Float64(),
        "e": types.Embedding(4),
        "v": types.Array(types.Float32(), dimensions=1),
        "a": types.Array(types.Int64(), dimensions=1),
        "m": types.Array(types.Float32(), dimensions=2),
        "meta": types.Dict(),
    }.items():
        ds.add_column(name, dtype)
    ids = list(range(N_ROWS))
    ds.append(
        {
            "id": ids,
            "f": [i / 5 for i in ids],
            "e": np.array([[i / 5, 1 - i / 5, 0.5, 0.25] for i in ids], dtype=np.float32),
            "v": [np.array([i / 5, 0.5, 1 - i / 5], dtype=np.float32) for i in ids],
            "a": [np.array([i, 10 - i], dtype=np.int64) for i in ids],
            "m": [np.arange(6, dtype=np.float32).reshape(2, 3) * i / 10 for i in ids],
            "meta": [{"n": i, "tags": ["x", "y"]} for i in ids],
        }
    )
    ds.commit()


def child(path: str) -> None:
    import deeplake

    def handle(job: dict[str, Any]) -> Any:
        view = deeplake.query(text(job, path))
        if job["kind"] == "select":
            return len(view)
        return [int(i) for i in view["id"][:]]

    serve(handle, memory_mb=2048)


def main() -> None:
    if sys.argv[1:2] == ["child"]:
        child(sys.argv[2])
        return
    started = time.time()
    jobs = queries()
    with tempfile.TemporaryDirectory(prefix="array_elements_") as tmp:
        path = f"file://{tmp}/ds"
        make_dataset(path)
        answers = run_jobs(
            child_command(__file__, "child", path),
            jobs,
            timeout=30,
            on_answer=lambda i, a: print(i, text(jobs[i], "ds"), str(a)[:90], flush=True),
        )
    import deeplake

    DATA.mkdir(exist_ok=True)
    RESULT_FILE.write_text(
        json.dumps(
            {
                "engine": f"deeplake {deeplake.__version__}",
                "date": time.strftime("%Y-%m-%d"),
                "seconds": round(time.time() - started),
                "results": [
                    {"query": text(j, "ds"), "kind": j["kind"], "expr": j["expr"], "answer": a}
                    for j, a in zip(jobs, answers, strict=True)
                ],
            },
            indent=1,
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
