"""Smoke tests for ``benchmarks/``: every figure runs, and each baseline and candidate agree.

Timing is never asserted here (shared CI machines make any threshold flaky); the figures run
with tiny repetition counts only to prove they execute. What *is* asserted is that every
baseline and its candidate produce equivalent output, so the benchmarks compare like with like.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pypika")
pytest.importorskip("sqlglot")

# benchmarks/ is not an installed package: import it from this checkout
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import (
    bench_decode,
    bench_filter,
    bench_import,
    bench_local,
    bench_memory,
    bench_rest,
    bench_scaling,
    bench_server,
    bench_text,
    bench_vector,
)
from benchmarks._harness import Row, Settings, compare
from benchmarks.server import BODY, running_server

TINY = Settings.tiny()
REPO = Path(__file__).resolve().parent.parent


def _check_rows(rows: list[Row], figure: str) -> None:
    assert rows
    for row in rows:
        assert row.figure == figure
        assert row.status in {"met", "MISSED", "info"}
        assert np.isfinite(row.value)
        assert row.case and row.baseline and row.candidate and row.result


# --------------------------------------------------------------------------- harness


def test_compare_interleaves_rounds_and_pairs_ratios() -> None:
    calls: list[str] = []
    result = compare(
        {"a": lambda: calls.append("a"), "b": lambda: calls.append("b")},
        rounds=4,
        batch_ns=0,
        reps={"a": 1, "b": 1},
    )
    # one warm-up each, then rounds alternating the order: ab, ba, ab, ba
    assert calls == ["a", "b", "a", "b", "b", "a", "a", "b", "b", "a"]
    assert len(result.samples["a"]) == len(result.samples["b"]) == 4
    assert result.speedup("a", "b") > 0


# --------------------------------------------------------------------------- figure 1


@pytest.mark.parametrize("dim", [1, 3, 384, 1536, 3072])
def test_vector_fstring_and_builder_are_the_same_query(dim: int) -> None:
    emb = bench_vector.embedding(dim)
    bench_vector.check_equivalent(emb)
    assert np.array_equal(bench_vector.array_values(bench_vector.baseline(emb)), emb)
    assert np.array_equal(bench_vector.array_values(bench_vector.candidate(emb)), emb)


def test_vector_equivalence_check_notices_a_different_vector() -> None:
    emb = bench_vector.embedding(16)
    other = emb.copy()
    other[7] = np.nextafter(other[7], np.float32(1))  # one ulp
    base = bench_vector.normalised_tokens(bench_vector.baseline(emb))
    assert base != bench_vector.normalised_tokens(bench_vector.candidate(other))


def test_vector_figure_runs() -> None:
    rows = bench_vector.run(TINY)
    _check_rows(rows, "1")
    assert len(rows) == 2 * len(TINY.dims)  # speed and text length per dimension


# --------------------------------------------------------------------------- figure 2


def test_filter_fstring_is_exactly_the_builder_text() -> None:
    assert bench_filter.fstring() == bench_filter.tqlbuilder_tql()
    assert "'O''Brien'" in bench_filter.tqlbuilder_tql()


@pytest.mark.parametrize("render", [bench_filter.pypika_sql, bench_filter.sqlglot_sql])
def test_filter_other_builders_render_the_same_query(render: object) -> None:
    assert callable(render)
    sql = render()
    assert isinstance(sql, str) and sql.startswith("SELECT ")
    assert bench_filter.values_of(sql) == bench_filter.values_of(bench_filter.tqlbuilder_tql())
    bench_filter.check_equivalent()


def test_filter_figure_runs() -> None:
    rows = bench_filter.run(TINY)
    _check_rows(rows, "2")
    assert len(rows) == 4


# --------------------------------------------------------------------------- figure 3


def test_rest_docs_pattern_and_executor_agree_and_the_executor_pools() -> None:
    from tqlbuilder import RestExecutor

    with running_server() as server:
        bench_rest.check_equivalent(server.url)
        assert bench_rest.docs_pattern(server.url) == json.loads(BODY)
        with RestExecutor(token="t", url=server.url) as executor:
            executor.execute(bench_rest.TQL)
            before = server.stats()
            for _ in range(5):
                executor.execute(bench_rest.TQL)
            after = server.stats()
    assert after["requests"] - before["requests"] == 5
    assert after["connections"] - before["connections"] == 1  # only the stats call's own


def test_rest_figure_runs() -> None:
    rows = bench_rest.run(TINY)  # the async row also checks that both executors agree
    _check_rows(rows, "3")
    assert len(rows) == 3
    assert "AsyncRestExecutor" in rows[2].case


# --------------------------------------------------------------------------- figure 4


@pytest.mark.parametrize("as_list", [True, False])
@pytest.mark.parametrize("dim", [0, 384])
def test_decode_result_and_requests_json_agree(as_list: bool, dim: int) -> None:
    content = bench_decode.body(30, as_list=as_list, embedding_dim=dim)
    bench_decode.check_equivalent(content, as_list)
    result = bench_decode.decode(content, as_list)
    assert len(result) == 30
    if dim:
        assert bench_decode.make_response(content).json()["tensors"][-1] == "embedding"
        assert result.to_numpy("embedding").shape == (30, dim)


def test_decode_figure_runs() -> None:
    rows = bench_decode.run(TINY)
    _check_rows(rows, "4")
    assert len(rows) == 4


# --------------------------------------------------------------------------- figures 5, 6


def test_import_figure_runs() -> None:
    rows = bench_import.run(TINY)
    _check_rows(rows, "5")
    assert bench_import.import_offenders("import tqlbuilder")


def test_memory_figure_runs() -> None:
    rows = bench_memory.run(TINY)
    _check_rows(rows, "6")
    peak, length = bench_memory.peak_bytes(
        lambda: bench_vector.candidate(bench_vector.embedding(8))
    )
    assert peak > 0 and length > 0


# --------------------------------------------------------------------------- figure 7


@pytest.mark.engine
def test_server_figure_runs_and_both_servers_agree_with_local() -> None:
    pytest.importorskip("deeplake")
    rows = bench_server.run(TINY)  # check_equivalent runs first and raises on any difference
    _check_rows(rows, "7")
    assert len(rows) == 2 and all(row.value > 0 for row in rows)


# --------------------------------------------------------------------------- figures 9, 10


@pytest.mark.engine
def test_local_figure_runs() -> None:
    pytest.importorskip("deeplake")
    rows = bench_local.run(TINY)  # also checks that both sides return the same ids
    _check_rows(rows, "9")
    assert rows[0].target == "<= 1.1x"


@pytest.mark.parametrize("sweep", sorted(bench_scaling.SWEEPS))
def test_scaling_sweeps_compare_equal_work(sweep: str) -> None:
    check = bench_scaling.SWEEPS[sweep][4]
    for size in bench_scaling.sweep_sizes(Settings.full())[sweep][:2]:
        check(size)


def test_scaling_figure_runs_and_plots(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    rows = bench_scaling.run(TINY, plots=tmp_path)
    _check_rows(rows, "10")
    pngs = sorted(p.name for p in tmp_path.iterdir())
    assert pngs == sorted(f"scaling-{name}.png" for name in bench_scaling.SWEEPS)
    assert all((tmp_path / name).read_bytes().startswith(b"\x89PNG") for name in pngs)


def test_scaling_slope_fit_reads_growth() -> None:
    sizes = [10, 100, 1_000, 10_000]
    assert bench_scaling.fit_slope(sizes, [5.0 * s for s in sizes]) == pytest.approx(1.0)
    assert bench_scaling.fit_slope(sizes, [s * s for s in sizes]) == pytest.approx(2.0)
    assert bench_scaling.fit_slope(sizes, [7.0] * 4) == pytest.approx(0.0, abs=1e-9)


# --------------------------------------------------------------------------- the script


def test_run_script_as_documented(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    completed = subprocess.run(
        [
            sys.executable,
            str(REPO / "benchmarks" / "run.py"),
            "--quick",
            "--only",
            "6",
            "--markdown",
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert "| # | measurement |" in completed.stdout
    document = json.loads(out.read_text())
    assert document["machine"]["python"]
    assert [row["figure"] for row in document["rows"]] == ["6"]


# --------------------------------------------------------------------------- figure 8


def test_text_baseline_splits_like_lex() -> None:
    bench_text.check_equivalent()
    bench_text.check_equivalent("SELECT a FROM \"x\" WHERE t = 'it''s' AND n >= -1.5e3 -- c")
    with pytest.raises(AssertionError):
        bench_text.check_equivalent("CAST(x AS CHARACTER VARYING)")  # one keyword for lex


def test_text_figure_runs() -> None:
    rows = bench_text.run(TINY)
    _check_rows(rows, "8")
    assert len(rows) == 2 + 12  # lex and check speed; lex, check, format, parse x 3 deep texts
    assert all("x the tokenizer" in row.result for row in rows[2:])
