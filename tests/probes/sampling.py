"""Probe which ``SAMPLE BY`` forms hang the engine (issue 10, item 2).

``SAMPLE BY <weights>`` where every row's weight is zero makes the engine allocate memory
without bound (2.4 GB in 6 s). Every form below runs in a child process capped at 2 GB of
address space (``RLIMIT_AS``) and killed after 20 s without an answer, on a 10-row dataset
(``id`` 0..9, ``f`` = id / 10). The answer per form is the row count and ids, the engine's
error, or ``{"fatal": ...}`` (the child died: ``MemoryError`` surfaces as an ``error`` when the
allocation fails cleanly, ``-9`` / ``-6`` / ``"timeout"`` when it did not).

Results go to ``tests/probes/data/sampling.json``; ``tests/test_engine_fatal.py`` reads them
and checks ``tqlbuilder/engine/sampling.py`` against every form.

Usage::

    PYTHONPATH=$PWD python tests/probes/sampling.py
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
RESULT_FILE = DATA / "sampling.json"
N_ROWS = 10

WEIGHTS = [
    # every row weighs zero
    "0",
    "0.0",
    "id < 0",
    "id * 0",
    "f > 5",
    "MAX_WEIGHT(id < 0: 1)",
    "SUM_WEIGHT(id < 0: 1, id > 100: 2)",
    "MAX_WEIGHT(FALSE: 1)",
    # every row weighs less than zero
    "-1",
    "id - 100",
    # some rows weigh more than zero
    "1",
    "id",
    "id = 3",
    "id < 2",
    "id - 5",
    "MAX_WEIGHT(id = 3: 1)",
    # zero for some rows and negative for the rest; tiny positive weights
    "0 - (id < 5)",
    "-0.0",
    "1e-30",
    "1e-300",
    "MAX_WEIGHT(id < 0: 1, TRUE: 0)",
    "MAX_WEIGHT(id < 0: 1, TRUE: 1)",
]
# weights that are positive somewhere in the dataset but zero on every row the WHERE keeps
FILTERED = [
    ("WHERE id = 3 ", "id < 3"),
    ("WHERE id < 3 ", "id > 5"),
    ("WHERE id > 100 ", "1"),
    ("WHERE id = 3 ", "id = 3"),
]
TAILS = [
    "",
    " LIMIT 2",
    " LIMIT 5",
    " REPLACE TRUE",
    " REPLACE TRUE LIMIT 2",
    " REPLACE FALSE",
    " REPLACE FALSE LIMIT 2",
    " REPLACE FALSE LIMIT 5",
]


def make_dataset(path: str) -> None:
    import deeplake
    from deeplake import types

    ds = deeplake.create(path)
    ds.add_column("id", types.Int64())
    ds.add_column("f", types.Float64())
    ds.append({"id": list(range(N_ROWS)), "f": [i / 10 for i in range(N_ROWS)]})
    ds.commit()


def child(path: str) -> None:
    import deeplake

    def handle(job: dict[str, Any]) -> Any:
        view = deeplake.query(f'SELECT id FROM "{path}" {job["where"]}SAMPLE BY {job["tail"]}')
        return sorted(int(i) for i in view["id"][:])

    serve(handle, memory_mb=2048)


def main() -> None:
    if sys.argv[1:2] == ["child"]:
        child(sys.argv[2])
        return
    started = time.time()
    jobs = [
        {"where": where, "tail": weight + tail}
        for where in ("",)
        for weight in WEIGHTS
        for tail in TAILS
    ] + [{"where": where, "tail": weight + tail} for where, weight in FILTERED for tail in TAILS]
    jobs += [{"where": "", "tail": f"{w} REPLACE FALSE LIMIT 20"} for w in ("0", "1", "id = 3")]
    with tempfile.TemporaryDirectory(prefix="sampling_") as tmp:
        path = f"file://{tmp}/ds"
        make_dataset(path)
        answers = run_jobs(
            child_command(__file__, "child", path),
            jobs,
            timeout=20,
            on_answer=lambda i, a: print(i, jobs[i], str(a)[:100], flush=True),
        )
    import deeplake

    DATA.mkdir(exist_ok=True)
    RESULT_FILE.write_text(
        json.dumps(
            {
                "engine": f"deeplake {deeplake.__version__}",
                "date": time.strftime("%Y-%m-%d"),
                "rows": N_ROWS,
                "limits": "RLIMIT_AS 2 GB, 20 s per query",
                "seconds": round(time.time() - started),
                "results": [
                    {"query": f"SELECT id FROM ds {j['where']}SAMPLE BY {j['tail']}", "answer": a}
                    for j, a in zip(jobs, answers, strict=True)
                ],
            },
            indent=1,
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
