"""Figure 7: the price of engine isolation in the local server (``python -m tqlbuilder.server``).

Two real server processes over the same small dataset on 127.0.0.1: one runs queries in its
own process (``--no-isolate``), the other in supervised engine worker processes (the default).
Both get ``--workers 2``. A ``RestExecutor`` sends the same batch of queries to each with
``execute_many`` (8 client threads), in interleaved rounds; the row reports the isolated
server's throughput as a fraction of the in-process one (1.0 = isolation is free). The extra
cost per query is a pickled copy of the result over a local socket and one more process hop.
Before timing, both servers' results are checked equal to ``LocalExecutor``'s.
"""

from __future__ import annotations

import os
import select
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from benchmarks._harness import (
    REPO_ROOT,
    Comparison,
    Row,
    Settings,
    compare,
    format_ns,
    status,
)
from tqlbuilder import LocalExecutor, RestExecutor

__all__ = ["LARGE_QUERY", "QUERIES", "make_dataset", "run", "running_query_server"]

TOKEN = "bench-token"
ROWS = 200
DIM = 16
QUERIES = [
    'SELECT id, text FROM "hub://org/docs" WHERE id < 10',
    'SELECT id FROM "hub://org/docs" WHERE year > 2000 ORDER BY id DESC LIMIT 20',
    'SELECT id, embedding FROM "hub://org/docs" WHERE id % 10 = 0',
    "SELECT * FROM (SELECT id, COSINE_SIMILARITY(embedding, ARRAY["
    + ", ".join(["0.25"] * DIM)
    + ']) AS score FROM "hub://org/docs") ORDER BY score DESC LIMIT 5',
]
LARGE_QUERY = 'SELECT * FROM "hub://org/docs"'
CLIENT_THREADS = 8
SERVER_WORKERS = 2


def make_dataset(root: Path) -> Path:
    """Create ``root/org/docs``: ``ROWS`` rows of id, text, year and a 16-d embedding."""
    import deeplake
    import numpy as np
    from deeplake import types

    (root / "org").mkdir(parents=True, exist_ok=True)
    ds = deeplake.create(f"file://{root / 'org' / 'docs'}")
    ds.add_column("id", types.Int64())
    ds.add_column("text", types.Text())
    ds.add_column("year", types.Int64())
    ds.add_column("embedding", types.Embedding(DIM))
    rng = np.random.default_rng(7)
    ds.append(
        {
            "id": list(range(ROWS)),
            "text": [f"passage {i} about topic {i % 7}" for i in range(ROWS)],
            "year": [1950 + i % 70 for i in range(ROWS)],
            "embedding": rng.random((ROWS, DIM), dtype=np.float32),
        }
    )
    ds.commit()
    return root


@contextmanager
def running_query_server(root: Path, *, isolate: bool) -> Iterator[str]:
    """Run ``python -m tqlbuilder.server`` as a child process; yield its URL; SIGTERM it after."""
    command = [
        sys.executable,
        "-m",
        "tqlbuilder.server",
        "--root",
        str(root),
        "--port",
        "0",
        "--token",
        TOKEN,
        "--workers",
        str(SERVER_WORKERS),
    ]
    if not isolate:
        command.append("--no-isolate")
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env
    )
    try:
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], 60)
        line = process.stdout.readline() if ready else ""
        if not line.startswith("Serving on "):
            raise RuntimeError(f"the server did not start: {line!r}")
        yield line[len("Serving on ") :].strip()
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


def check_equivalent(root: Path, urls: dict[str, str]) -> None:
    """Raise AssertionError unless every server returns LocalExecutor's results."""
    queries = [*QUERIES, LARGE_QUERY]
    expected = [LocalExecutor(root).execute(query) for query in queries]
    for name, url in urls.items():
        with RestExecutor(TOKEN, url=url) as rest:
            got = rest.execute_many(queries, max_workers=CLIENT_THREADS)
        if got != expected:
            raise AssertionError(f"figure 7: the {name} server's results differ from local ones")


def _row(result: Comparison, n: int, what: str) -> Row:
    ratio = result.speedup("in-process", "isolated")  # in-process time / isolated time
    per_second = {name: n / (result.median(name) / 1e9) for name in result.samples}
    return Row(
        figure="7",
        case=(
            f"local server throughput, isolated vs in-process: {what} ({n} queries, "
            f"{CLIENT_THREADS} client threads, {SERVER_WORKERS} workers)"
        ),
        baseline=f"in-process {per_second['in-process']:.0f} q/s",
        candidate=f"isolated {per_second['isolated']:.0f} q/s",
        result=f"{ratio:.2f}x the throughput",
        target="-",
        status=status(None),
        value=ratio,
        notes=[
            "per query, median round: "
            + ", ".join(f"{name} {format_ns(result.median(name) / n)}" for name in per_second),
        ],
    )


def run(settings: Settings) -> list[Row]:
    """Throughput of the isolated server relative to the in-process one: small, large results."""
    small = QUERIES * max(2, settings.concurrent_queries // len(QUERIES) * 2)
    large = [LARGE_QUERY] * max(2, settings.concurrent_queries // 2)
    rows = []
    with tempfile.TemporaryDirectory(prefix="tqlbuilder-bench-server-") as folder:
        root = make_dataset(Path(folder) / "root")
        with (
            running_query_server(root, isolate=False) as plain_url,
            running_query_server(root, isolate=True) as isolated_url,
            RestExecutor(TOKEN, url=plain_url) as plain,
            RestExecutor(TOKEN, url=isolated_url) as isolated,
        ):
            check_equivalent(root, {"in-process": plain_url, "isolated": isolated_url})
            for batch, what in ((small, "small results"), (large, f"all {ROWS} rows")):
                result = compare(
                    {
                        "in-process": lambda b=batch: plain.execute_many(
                            b, max_workers=CLIENT_THREADS
                        ),
                        "isolated": lambda b=batch: isolated.execute_many(
                            b, max_workers=CLIENT_THREADS
                        ),
                    },
                    rounds=settings.slow_rounds,
                    batch_ns=0,
                    reps={"in-process": 1, "isolated": 1},
                )
                rows.append(_row(result, len(batch), what))
    rows[0].notes.append(
        "isolation: each query runs in a supervised worker process (crash -> 500, timeout -> "
        "504, memory limit -> 500); in-process, an engine crash ends the server"
    )
    return rows
