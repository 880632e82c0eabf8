"""Re-probe ``ORDER BY RANDOM()`` and JSON list indexing (issue 10, items 8 and 9).

On a 12-row dataset (``id`` 0..11, ``meta`` Dict ``{"tags": ["t<id>", "x"], "n": id,
"arr": [id, 7]}``) this runs, each in a child process:

* ``ORDER BY RANDOM()`` several times, with and without ``LIMIT`` / ``WHERE`` / ``DESC``, and
  ``RANDOM()`` in a select list (to see whether it is one value per row or per query);
* every form of indexing a JSON list that a user might write, and the alternatives
  (``CONTAINS``, ``ANY``, subscripting after a subquery).

Results go to ``tests/probes/data/random_and_json.json``, read by ``tests/test_engine_fatal.py``.

Usage::

    PYTHONPATH=$PWD python tests/probes/random_and_json.py
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
RESULT_FILE = DATA / "random_and_json.json"
N_ROWS = 12
REPEATS = 4

RANDOM_QUERIES = [
    "SELECT id FROM ds ORDER BY RANDOM()",
    "SELECT id FROM ds ORDER BY RANDOM() LIMIT 4",
    "SELECT id FROM ds ORDER BY RANDOM() DESC LIMIT 4",
    "SELECT id FROM ds WHERE id >= 6 ORDER BY RANDOM() LIMIT 4",
    "SELECT id FROM ds ORDER BY RANDOM() LIMIT 4 OFFSET 2",
    "SELECT id, RANDOM() AS r FROM ds",
    "SELECT * FROM (SELECT id, RANDOM() AS r FROM ds) ORDER BY r LIMIT 4",
]
JSON_QUERIES = [
    "SELECT id, meta['tags'] AS x FROM ds WHERE id < 2",
    "SELECT id, meta['tags'][0] AS x FROM ds WHERE id < 2",
    "SELECT id FROM ds WHERE meta['tags'][0] = 't1'",
    "SELECT id FROM ds WHERE meta['tags'][1] = 'x'",
    "SELECT id FROM ds WHERE meta['arr'][0] = 1",
    "SELECT id FROM ds WHERE meta['arr'][0:1] = 1",
    "SELECT id FROM ds WHERE meta['tags']['0'] = 't1'",
    "SELECT id FROM ds WHERE meta['tags'][0, 0] = 't1'",
    "SELECT id FROM ds WHERE CONTAINS(meta['tags'], 't1')",
    "SELECT id FROM ds WHERE ANY(meta['tags'] = 't1')",
    "SELECT id FROM ds WHERE meta['tags'] = 't1'",
    "SELECT id FROM ds WHERE SHAPE(meta['tags'])[0] = 2",
    "SELECT id FROM (SELECT id, meta['tags'] AS tags FROM ds) WHERE tags[0] = 't1'",
    "SELECT id FROM (SELECT id, meta['arr'] AS arr FROM ds) WHERE arr[0] = 1",
    "SELECT id FROM ds WHERE meta['tags'][0] IN ('t1', 't2')",
    "SELECT id FROM ds WHERE meta['tags'][0] LIKE 't1%'",
    "SELECT id FROM ds WHERE meta['arr'][0] BETWEEN 1 AND 2",
    "SELECT id FROM ds WHERE meta['arr'][0] > 9",
    "SELECT id FROM ds WHERE NOT (meta['tags'][0] = 't1')",
    "SELECT id FROM ds WHERE meta['tags'][5] = 'x'",
    "SELECT id FROM ds WHERE meta['n'][0] = 1",
    "SELECT id FROM ds ORDER BY meta['arr'][0] DESC LIMIT 3",
    "SELECT id FROM ds WHERE id < 3 ORDER BY meta['tags'][0] DESC",
    "SELECT id FROM (SELECT * FROM ds ORDER BY id ASC) ORDER BY meta['arr'][0] DESC LIMIT 3",
    "SELECT id FROM (SELECT * FROM ds) WHERE meta['tags'][0] = 't1'",
    "SELECT id FROM (SELECT * FROM ds) WHERE meta['n'] = 1",
    "SELECT id FROM (SELECT id, meta FROM ds) WHERE meta['arr'][0] = 1",
    "SELECT id FROM (SELECT id, meta['tags'] AS tags FROM ds) WHERE CONTAINS(tags, 't1')",
    "SELECT id FROM (SELECT id, meta['n'] AS n FROM ds) WHERE n = 1",
    "SELECT id FROM (SELECT id, meta['n'] AS n FROM ds) ORDER BY n DESC LIMIT 2",
    "SELECT id, n FROM (SELECT id, meta['n'] AS n FROM ds) WHERE id = 1",
    "SELECT id FROM (SELECT id, meta['tags'] AS tags FROM ds) WHERE tags IS NOT NULL",
    "SELECT id FROM (SELECT id, meta['n'] + 0 AS n FROM ds) WHERE n = 1",
]


def make_dataset(path: str) -> None:
    import deeplake
    from deeplake import types

    ds = deeplake.create(path)
    ds.add_column("id", types.Int64())
    ds.add_column("meta", types.Dict())
    ids = list(range(N_ROWS))
    ds.append({"id": ids, "meta": [{"tags": [f"t{i}", "x"], "n": i, "arr": [i, 7]} for i in ids]})
    ds.commit()


def child(path: str) -> None:
    import deeplake

    def handle(job: dict[str, Any]) -> Any:
        view = deeplake.query(job["query"].replace("FROM ds", f'FROM "{path}"'))
        out = {}
        for column in view.schema.columns:
            values = view[column.name][:]
            listed = values.tolist() if hasattr(values, "tolist") else list(values)
            out[column.name] = json.loads(json.dumps(listed, default=str))
        return out

    serve(handle, memory_mb=2048)


def main() -> None:
    if sys.argv[1:2] == ["child"]:
        child(sys.argv[2])
        return
    jobs = [{"query": q} for q in RANDOM_QUERIES for _ in range(REPEATS)]
    jobs += [{"query": q} for q in JSON_QUERIES]
    if sys.argv[1:2] == ["json"]:  # re-run only the JSON forms
        jobs = [{"query": q} for q in JSON_QUERIES]
    with tempfile.TemporaryDirectory(prefix="random_json_") as tmp:
        path = f"file://{tmp}/ds"
        make_dataset(path)
        # one child per job: a fresh process each time shows whether RANDOM() is seeded
        answers = []
        for job in jobs:
            answer = run_jobs(child_command(__file__, "child", path), [job], timeout=30)[0]
            print(job["query"], str(answer)[:150], flush=True)
            answers.append(answer)
    import deeplake

    DATA.mkdir(exist_ok=True)
    RESULT_FILE.write_text(
        json.dumps(
            {
                "engine": f"deeplake {deeplake.__version__}",
                "date": time.strftime("%Y-%m-%d"),
                "rows": N_ROWS,
                "results": [{**j, "answer": a} for j, a in zip(jobs, answers, strict=True)],
            },
            indent=1,
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
