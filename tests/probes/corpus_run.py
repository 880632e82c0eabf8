"""Run the extracted corpus on the engine and write tests/data/deeplake_docs_corpus.jsonl.

    python tests/probes/corpus_extract.py --repo <mirror> > /tmp/candidates.jsonl
    python tests/probes/corpus_run.py /tmp/candidates.jsonl tests/data/deeplake_docs_corpus.jsonl

Each text runs in a worker child process (restarted when the engine kills it; killed after
``TIMEOUT`` seconds or when it passes its memory limit), on a fresh ``mem://`` dataset built by
``tests.test_docs_corpus.make_dataset`` from the inferred columns. ``parse()`` runs here.
"""

from __future__ import annotations

import json
import os
import resource
import select
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.test_docs_corpus import (  # noqa: E402
    confirming_text,
    fingerprint,
    infer_columns,
    make_dataset,
    with_source,
)

TIMEOUT = 30.0
RERUNS = 12
PLACEHOLDER = "mem://corpus-run-placeholder"
MEMORY = 3 * 2**30


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return (text[0] if text else type(error).__name__)[:300]


def work(job: dict[str, Any]) -> dict[str, Any]:
    """In the worker: build the dataset, run the text and (if given) the compiled text."""
    import deeplake

    ds = make_dataset(job["path"], job["columns"])
    out: dict[str, Any] = {}

    def run(text: str) -> Any:
        return deeplake.query(text) if job["has_source"] else ds.query(text)

    try:
        view = run(job["text"])
        out["engine"] = {"status": "ok", "rows": len(view)}
        expected = fingerprint(view, job["text"])
        again = {repr(fingerprint(run(job["text"]), job["text"])) for _ in range(RERUNS)}
        if again != {repr(expected)}:
            out["engine"] = {"status": "unstable", "message": "different results on re-runs"}
            return out
    except Exception as error:  # every engine error is a bare RuntimeError (engine-probe §0.17)
        out["engine"] = {"status": "error", "message": _first_line(error)}
        return out
    if job.get("confirm"):
        try:
            out["confirmed"] = fingerprint(run(job["confirm"]), job["text"]) == expected
        except Exception:
            out["confirmed"] = False
    if job.get("compiled"):
        try:
            got = fingerprint(deeplake.query(job["compiled"]), job["text"])
            out["compiled"] = {"status": "ok", "same": got == expected}
        except Exception as error:
            out["compiled"] = {"status": "error", "message": _first_line(error)}
    return out


def worker() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))
    for line in sys.stdin:
        result = work(json.loads(line))
        print(json.dumps(result), flush=True)


class Runner:
    def __init__(self) -> None:
        self.proc: subprocess.Popen[str] | None = None

    def start(self) -> subprocess.Popen[str]:
        if self.proc is None or self.proc.poll() is not None:
            self.proc = subprocess.Popen(
                [sys.executable, __file__, "--worker"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
                env={**os.environ, "PYTHONPATH": str(ROOT)},
            )
        return self.proc

    def run(self, job: dict[str, Any]) -> dict[str, Any]:
        proc = self.start()
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(json.dumps(job) + "\n")
        proc.stdin.flush()
        ready, _, _ = select.select([proc.stdout], [], [], TIMEOUT)
        if not ready:
            proc.kill()
            proc.wait()
            return {"engine": {"status": "hang", "message": f"no answer in {TIMEOUT:.0f} s"}}
        line = proc.stdout.readline()
        if not line:
            code = proc.wait()
            return {"engine": {"status": "crash", "message": f"worker exited with {code}"}}
        result: dict[str, Any] = json.loads(line)
        return result

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            self.proc.wait(timeout=30)


def verdict(entry: dict[str, Any], refused: str | None, result: dict[str, Any]) -> str | None:
    """None when parse() and the engine agree; else the xfail reason."""
    status = result["engine"]["status"]
    if status in ("crash", "hang"):
        return None if refused else f"parse() accepts a text that makes the engine {status}"
    if status == "unstable":
        if not refused:
            return None
        return "parse() refuses a text the engine runs: " + refused.splitlines()[0][:200]
    if status == "error":
        if refused:
            return None
        return "parse() accepts a text the engine rejects: " + result["engine"]["message"]
    if refused:
        if result.get("confirmed"):
            return None  # the refused part is a no-op on the engine: the refusal is true
        return "parse() refuses a text the engine runs: " + refused.splitlines()[0][:200]
    compiled = result.get("compiled", {})
    if compiled.get("status") == "error":
        return "the compiled text is rejected by the engine: " + compiled["message"]
    if not compiled.get("same"):
        return "the compiled text returns other rows or columns than the original"
    return None


def main(candidates: str, output: str) -> None:
    from tqlbuilder import parse
    from tqlbuilder.errors import TQLError

    runner = Runner()
    entries = []
    try:
        for line in Path(candidates).read_text(encoding="utf-8").splitlines():
            entry = json.loads(line)
            columns = infer_columns(entry["query"])
            text, has_source = with_source(entry["query"], PLACEHOLDER)
            refused: str | None = None
            compiled = None
            try:
                query = parse(entry["query"] if not has_source else text)
                compiled = (query if has_source else query.from_(PLACEHOLDER)).to_tql()
            except TQLError as error:
                refused = str(error)
            except Exception as error:  # a parser bug: record it, it is parser work too
                refused = f"{type(error).__name__}: {error}"
            number = len(entries)
            path = f"mem://corpus-run-{number}"
            job = {
                "path": path,
                "columns": columns,
                "text": text.replace(PLACEHOLDER, path) if has_source else entry["query"],
                "has_source": has_source,
                "compiled": compiled.replace(PLACEHOLDER, path) if compiled else None,
            }
            if refused is not None:
                job["confirm"] = confirming_text(job["text"], refused)
            result = runner.run(job)
            record = {
                "query": entry["query"],
                "source": entry["source"],
                "columns": columns,
                "engine": result["engine"],
                "parse": "ok" if refused is None else "refused: " + refused.splitlines()[0][:200],
            }
            reason = verdict(entry, refused, result)
            if reason:
                record["xfail"] = reason
            entries.append(record)
            print(
                number,
                record["engine"]["status"],
                record.get("xfail", "agree")[:100],
                file=sys.stderr,
            )
    finally:
        runner.close()
    Path(output).write_text(
        "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in entries), encoding="utf-8"
    )


if __name__ == "__main__":
    if sys.argv[1:] == ["--worker"]:
        worker()
    else:
        main(sys.argv[1], sys.argv[2])
