"""Figure 9: the embedded-engine executor's overhead over calling the engine directly.

A dataset of ``local_rows`` rows (``id``, ``text``, a ``local_dim``-d float32 ``embedding``) is
written to a temporary directory; the query is a top-10 cosine search built with tqlbuilder:
``select("id", "text").from_(path).similar_to(vector).limit(10)``.

* baseline: ``deeplake.query(q.to_tql())`` and reading every column of the view (``view[c][:]``)
  - what a user who only wants the engine does to get the rows;
* candidate: ``LocalExecutor().execute(q)``, which also turns the columns into a ``Result`` of
  Python values. A compiled query carries its text and provenance, so the executor does not
  lex and check builder output again (``tqlbuilder.run.executor.compiled_text``);
* info rows: the same query passed as a *string* (checked with ``tqlbuilder.check`` first, as
  every hand-written text is), and ``deeplake.query`` alone without reading the columns.

When ``tqlbuilder.run.dataset.DatasetExecutor`` exists (a later branch), its overhead over
``ds.query(text)`` on an open dataset is measured too, for a 10-row result.

Both sides are checked to return the same ids before anything is timed.
"""

from __future__ import annotations

import importlib.util
import tempfile
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks._harness import Row, Settings, attach_profile, compare, format_ns, status
from tqlbuilder import Query, select

__all__ = ["make_dataset", "run"]

TARGET_RATIO = 1.1  # LocalExecutor.execute(q) at most this many times deeplake.query + read
TOP_K = 10


def make_dataset(root: Path, rows: int, dim: int) -> str:
    """Write ``rows`` rows of id, text and a unit ``dim``-d embedding; return its file:// URL."""
    import deeplake
    from deeplake import types

    url = f"file://{root / 'bench'}"
    ds = deeplake.create(url)
    ds.add_column("id", types.Int64())
    ds.add_column("text", types.Text())
    ds.add_column("embedding", types.Embedding(dim))
    vectors = np.random.default_rng(7).standard_normal((rows, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ds.append(
        {
            "id": list(range(rows)),
            "text": [f"passage {i} about {'apples' if i % 2 else 'pears'}" for i in range(rows)],
            "embedding": vectors,
        }
    )
    ds.commit()
    return url


def _query(url: str, dim: int) -> Query:
    vector = np.random.default_rng(11).standard_normal(dim).astype(np.float32)
    vector /= np.linalg.norm(vector)
    return select("id", "text").from_(url).similar_to(vector).limit(TOP_K)


def _direct(deeplake: Any, text: str) -> list[Any]:
    view = deeplake.query(text)
    return [view[column.name][:] for column in view.schema.columns]


def _ratio_row(case: str, baseline: str, candidate: str, ratio: float, judged: bool) -> Row:
    return Row(
        figure="9",
        case=case,
        baseline=baseline,
        candidate=candidate,
        result=f"{ratio:.2f}x the time",
        target=f"<= {TARGET_RATIO}x" if judged else "-",
        status=status(ratio <= TARGET_RATIO if judged else None),
        value=ratio,
    )


def run(settings: Settings) -> list[Row]:
    """LocalExecutor (query object, string) vs deeplake.query; DatasetExecutor when present."""
    import deeplake

    from tqlbuilder import LocalExecutor

    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="tqlbuilder-bench-") as tmp:
        url = make_dataset(Path(tmp), settings.local_rows, settings.local_dim)
        query = _query(url, settings.local_dim)
        text = query.to_tql()
        executor = LocalExecutor()
        expected = [int(i) for i in _direct(deeplake, text)[0]]
        got = executor.execute(query)
        if [int(i) for i in got.columns["id"]] != expected or len(expected) != TOP_K:
            raise AssertionError("figure 9: LocalExecutor and deeplake.query return other rows")
        contenders = {
            "deeplake.query + read": partial(_direct, deeplake, text),
            "LocalExecutor.execute(q)": partial(executor.execute, query),
            "LocalExecutor.execute(text)": partial(executor.execute, text),
            "deeplake.query only": partial(deeplake.query, text),
        }
        # the engine runs its own threads, so this figure is noisier than the pure-Python ones:
        # twice the rounds of the others
        result = compare(contenders, rounds=2 * settings.rounds, batch_ns=settings.batch_ns)
        base = result.median("deeplake.query + read")
        where = f"{settings.local_dim}-d top-{TOP_K} over {settings.local_rows:,} rows"
        ratio = 1.0 / result.speedup("deeplake.query + read", "LocalExecutor.execute(q)")
        row = _ratio_row(
            f"LocalExecutor.execute(q), {where}",
            f"deeplake.query + read {format_ns(base)}",
            f"execute(q) {format_ns(result.median('LocalExecutor.execute(q)'))}",
            ratio,
            True,
        )
        attach_profile(row, partial(executor.execute, query), base * ratio, settings)
        rows.append(row)
        ratio_text = 1.0 / result.speedup("deeplake.query + read", "LocalExecutor.execute(text)")
        rows.append(
            _ratio_row(
                f"LocalExecutor.execute(text), same query as a string (checked), {where}",
                f"deeplake.query + read {format_ns(base)}",
                f"execute(text) {format_ns(result.median('LocalExecutor.execute(text)'))}",
                ratio_text,
                False,
            )
        )
        only = result.median("deeplake.query only")
        rows.append(
            Row(
                figure="9",
                case=f"deeplake.query alone (no column read), {where}",
                baseline=f"deeplake.query + read {format_ns(base)}",
                candidate=f"deeplake.query {format_ns(only)}",
                result=f"{only / base:.2f}x the time",
                target="-",
                status=status(None),
                value=only / base,
            )
        )
        rows.extend(_dataset_executor_rows(deeplake, url, text, settings))
    return rows


def _dataset_executor_rows(deeplake: Any, url: str, text: str, settings: Settings) -> list[Row]:
    """DatasetExecutor over ds.query(text) (10-row result): measured once it is on this branch."""
    if importlib.util.find_spec("tqlbuilder.run.dataset") is not None:
        from benchmarks.bench_dataset import dataset_executor_rows

        return dataset_executor_rows(deeplake, url, text, settings)
    return [
        Row(
            figure="9",
            case="DatasetExecutor overhead over ds.query(text), 10-row result",
            baseline="-",
            candidate="-",
            result="not measured: tqlbuilder.run.dataset is not on this branch yet",
            target="<= 1.1x",
            status=status(None),
            value=0.0,
        )
    ]
