"""Run every example script as CI does (a fresh interpreter each) and check its key output.

Each script runs with ``subprocess.run([sys.executable, path])``: a new process started with
exec, never a fork of this one (which may have imported the engine already).
"""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys
import time

import pytest

REPO = pathlib.Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"
SCRIPTS = sorted(path for path in EXAMPLES.glob("*.py") if not path.name.startswith("_"))
QUESTIONS = json.loads((EXAMPLES / "data" / "questions.json").read_text(encoding="utf-8"))
TIME_LIMIT = 120


def run_example(name: str) -> str:
    """Run ``examples/<name>`` from the repository root; return its stdout (it must exit 0)."""
    pytest.importorskip("deeplake")
    started = time.perf_counter()
    completed = subprocess.run(
        [sys.executable, str(EXAMPLES / name)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=TIME_LIMIT,
        check=False,
    )
    elapsed = time.perf_counter() - started
    assert completed.returncode == 0, (
        f"{name} exited {completed.returncode}\n--- stdout\n{completed.stdout}\n"
        f"--- stderr\n{completed.stderr}"
    )
    assert elapsed < 60, f"{name} took {elapsed:.1f}s; examples must be quick"
    return completed.stdout


def test_every_example_is_covered() -> None:
    names = {path.name for path in SCRIPTS}
    assert names == {
        "quickstart.py",
        "rest_roundtrip.py",
        "retriever.py",
        "hybrid_search.py",
        "langchain_store.py",
    }


def test_helper_module_runs_harmlessly() -> None:
    # CI's loop runs examples/*.py, which includes the data helper: it must do nothing
    completed = subprocess.run(
        [sys.executable, str(EXAMPLES / "_data.py")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=TIME_LIMIT,
        check=True,
    )
    assert completed.stdout == ""


@pytest.mark.engine
def test_quickstart() -> None:
    out = run_example("quickstart.py")
    moon = QUESTIONS[0]
    assert "== Filter: space passages from 1960 on, oldest first" in out
    assert "WHERE (topic = 'space') AND (year >= 1960)" in out
    assert "COSINE_SIMILARITY(embedding, ARRAY[" in out
    assert "values]) AS score" in out  # the 384-d vector is abbreviated for the screen
    assert "BM25_SIMILARITY(text, 'first woman in space') DESC" in out
    assert f"Top hit for {moon['question']!r}: passage {moon['answer_id']}" in out
    # the table rows: the filter's oldest space passage after 1960, and the BM25 top hit
    lines = out.splitlines()
    assert any(line.startswith("226    | 1961") for line in lines)
    assert any(line.startswith("89     | space") for line in lines)


@pytest.mark.engine
def test_rest_roundtrip() -> None:
    out = run_example("rest_roundtrip.py")
    assert "Local REST server: http://127.0.0.1:" in out
    assert '"data": [{"id": 0, "year": 1796}, {"id": 1, "year": 1912}]' in out  # as_list=true
    assert '"data": {"id": [0, 1], "year": [1796, 1912]}' in out  # as_list=false
    assert out.count("same Result for as_list=true, as_list=false and the embedded engine") == 3
    assert "execute_many: [5, 3, 3] rows, in input order" in out
    assert "QueryError (HTTP 400)" in out
    assert "AuthenticationError (HTTP 401)" in out
    assert "Server stopped (exit status 0)" in out


@pytest.mark.engine
def test_retriever() -> None:
    out = run_example("retriever.py")
    moon = QUESTIONS[0]
    lines = out.splitlines()
    first_hit = lines[lines.index(f"Question: {moon['question']}") + 4]
    assert first_hit.split()[0] == str(moon["answer_id"])
    assert f"Answered {len(QUESTIONS)}/{len(QUESTIONS)} questions" in out
    assert "'O''Reilly Media'" in out  # the apostrophe is doubled inside one literal
    assert "safe  retriever: 3 hits" in out
    assert "naive f-string:  QueryError" in out
    assert "safe  retriever: 0 hits (no passage has that source)" in out
    assert "the filter was rewritten" in out  # the naive version was injected
    refused = [line for line in lines if line.startswith("Refused {'$or'")]
    assert len(refused) == 1 and "cannot filter on 'embedding'" in refused[0]
    assert "Refused {'embedding': {'$gt': 0}}: cannot filter on 'embedding'" in out
    assert "unknown operator '$regex'" in out


@pytest.mark.engine
def test_hybrid_search() -> None:
    out = run_example("hybrid_search.py")
    penicillin = QUESTIONS[1]
    lines = out.splitlines()
    fused_header = lines.index("  fused (reciprocal rank fusion, k=60):")
    top = lines[fused_header + 1].split()
    assert top[0] == str(penicillin["answer_id"])
    assert "(bm25 #1, vector #1)" in lines[fused_header + 1]
    for question in QUESTIONS:
        assert f"-> {question['answer_id']} (expected {question['answer_id']})" in out
    assert f"for {len(QUESTIONS)}/{len(QUESTIONS)} questions" in out
    assert "weights=[1.0, 0.0]: top 3 [250," in out


def test_langchain_store() -> None:
    pytest.importorskip("langchain_core")
    out = run_example("langchain_store.py")
    assert "nearest space documents: ['moon', 'apollo']" in out
    assert "after deleting non-space rows: ['apollo', 'moon']" in out
