"""Probe which characters the engine's text index reads as words (issue 10, item 1).

``CONTAINS(col, '<text>')`` on an Inverted or BM25 text column kills the process (SIGSEGV)
when ``<text>`` has no word the index tokeniser recognises. This script derives the engine's
word-character rule for every code point, without crashing the engine on each non-word one:

* The index uses only the first word of the argument (engine-probe.md 4.3). A dataset holds one
  row whose text is ``zqx``. ``CONTAINS(inv, '<c> zqx')`` then matches that row exactly when
  ``<c>`` alone yields no word (the first word is ``zqx``), and matches nothing when ``<c>`` is
  a word (the first word is ``<c>``).
* A batch ``'<c1> <c2> ... <c64> zqx'`` matches exactly when none of the 64 characters is a
  word; batches that do not match are re-run one character at a time. Every code point from
  U+0001 to U+10FFFF is classified (surrogates cannot be encoded in UTF-8 and are skipped).
* ``verify`` then checks the trick against the real crash: for a sample of characters from
  every Unicode category, bare ``CONTAINS(inv, '<c>')`` and ``CONTAINS(bm, '<c>')`` each run in
  a child process; a character must crash exactly when the sweep called it a non-word.

Results go to ``tests/probes/data/contains_words.json`` (word ranges, inclusive) and
``tests/probes/data/contains_words_verify.json``; ``tests/test_engine_fatal.py`` reads both
and checks ``tqlbuilder/engine/words.py`` against them.

Usage (about 5 minutes of CPU for the sweep, 5 more for verify)::

    PYTHONPATH=$PWD python tests/probes/contains_words.py sweep
    PYTHONPATH=$PWD python tests/probes/contains_words.py verify
    PYTHONPATH=$PWD python tests/probes/contains_words.py literal   # print the ranges for words.py
"""

from __future__ import annotations

import json
import random
import sys
import tempfile
import time
import unicodedata
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import child_command, run_jobs, serve

DATA = Path(__file__).resolve().parent / "data"
SWEEP_FILE = DATA / "contains_words.json"
VERIFY_FILE = DATA / "contains_words_verify.json"
MARKER = "zqx"
BATCH = 64
LAST = 0x10FFFF


def candidates() -> list[int]:
    """Every code point that can be written in a query: not NUL, not a surrogate."""
    return [cp for cp in range(1, LAST + 1) if not 0xD800 <= cp <= 0xDFFF]


def quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


# child -----------------------------------------------------------------------------------------


def make_dataset(path: str) -> None:
    import deeplake
    from deeplake import types

    ds = deeplake.create(path)
    ds.add_column("id", types.Int64())
    ds.add_column("inv", types.Text(types.Inverted))
    ds.add_column("bm", types.Text(types.BM25))
    ds.append({"id": [0], "inv": [MARKER], "bm": [MARKER]})
    ds.commit()


def child(path: str) -> None:
    import deeplake

    def handle(job: dict[str, Any]) -> Any:
        if job["kind"] == "batches":  # many trick queries in one job: [[cp, ...], ...]
            out = []
            for group in job["groups"]:
                text = " ".join(chr(cp) for cp in group) + " " + MARKER
                view = deeplake.query(
                    f'SELECT id FROM "{path}" WHERE contains({job["column"]}, {quoted(text)})'
                )
                out.append(len(view) == 1)  # True: no character of the group is a word
            return out
        view = deeplake.query(  # "bare": may kill the process, which is the point
            f'SELECT id FROM "{path}" WHERE contains({job["column"]}, {quoted(job["text"])})'
        )
        return len(view)

    serve(handle)


# parent ----------------------------------------------------------------------------------------


def to_ranges(points: list[int]) -> list[list[int]]:
    ranges: list[list[int]] = []
    for cp in sorted(points):
        if ranges and ranges[-1][1] == cp - 1:
            ranges[-1][1] = cp
        else:
            ranges.append([cp, cp])
    return ranges


def sweep(path: str) -> None:
    import deeplake

    started = time.time()
    points = candidates()
    groups = [points[i : i + BATCH] for i in range(0, len(points), BATCH)]
    command = child_command(__file__, "child", path)
    chunk = 256  # groups per job: a job is a few seconds of engine time

    def run_groups(all_groups: list[list[int]]) -> list[bool]:
        jobs = [
            {"kind": "batches", "column": "inv", "groups": all_groups[i : i + chunk]}
            for i in range(0, len(all_groups), chunk)
        ]
        results: list[bool] = []
        for answer in run_jobs(command, jobs, timeout=600):
            if "ok" not in answer:
                raise RuntimeError(f"the non-crashing probe failed: {answer}")
            results.extend(answer["ok"])
        return results

    no_word = run_groups(groups)
    mixed = [cp for group, clean in zip(groups, no_word, strict=True) if not clean for cp in group]
    print(f"{len(groups)} batches, {len(mixed)} code points to classify one by one", flush=True)
    single = run_groups([[cp] for cp in mixed])
    words = [cp for cp, clean in zip(mixed, single, strict=True) if not clean]
    DATA.mkdir(exist_ok=True)
    SWEEP_FILE.write_text(
        json.dumps(
            {
                "engine": f"deeplake {deeplake.__version__}",
                "python_unicodedata": unicodedata.unidata_version,
                "date": time.strftime("%Y-%m-%d"),
                "method": "CONTAINS(inv, '<c> zqx') on a 1-row Inverted column, 64 per batch",
                "probed": "U+0001..U+10FFFF without surrogates",
                "seconds": round(time.time() - started),
                "word_ranges": to_ranges(words),
            },
            indent=None,
        )
        + "\n"
    )
    print(f"{len(words)} word code points in {len(to_ranges(words))} ranges", flush=True)


def verify(path: str, per_category: int = 6, seed: int = 10) -> None:
    """Bare CONTAINS on a sample of every category; crash must equal "not a word"."""
    sweep_data = json.loads(SWEEP_FILE.read_text())
    words = {cp for lo, hi in sweep_data["word_ranges"] for cp in range(lo, hi + 1)}
    by_category: dict[str, list[int]] = defaultdict(list)
    for cp in candidates():
        by_category[unicodedata.category(chr(cp))].append(cp)
    rng = random.Random(seed)
    sample: list[int] = []
    for category in sorted(by_category):
        cps = by_category[category]
        sample += rng.sample(cps, min(per_category, len(cps)))
    # the characters the issue names, and where Python and the engine disagree most
    sample += [0x00B2, 0x00B3, 0x00B9, 0x00BC, 0x2070, 0x2460, 0x2167, 0x0663, 0x00E9, 0x4E2D]
    sample += [ord(c) for c in " _'!-."]
    sample = sorted(set(sample))
    jobs = [
        {"kind": "bare", "column": col, "text": chr(cp)} for cp in sample for col in ("inv", "bm")
    ]
    answers = run_jobs(child_command(__file__, "child", path), jobs, timeout=60)
    rows = []
    mismatches = 0
    for job, answer in zip(jobs, answers, strict=True):
        cp = ord(job["text"])
        crashed = "fatal" in answer
        expected = cp not in words
        mismatches += crashed != expected
        rows.append(
            {
                "cp": cp,
                "category": unicodedata.category(chr(cp)),
                "column": job["column"],
                "answer": answer,
                "word_per_sweep": not expected,
            }
        )
    VERIFY_FILE.write_text(
        json.dumps({"engine": sweep_data["engine"], "mismatches": mismatches, "rows": rows}) + "\n"
    )
    print(f"{len(jobs)} bare queries, {mismatches} disagree with the sweep", flush=True)


def literal() -> None:
    """Print the body of ``_WORD_RANGES`` in tqlbuilder/engine/words.py (8 numbers a line)."""
    ranges = json.loads(SWEEP_FILE.read_text())["word_ranges"]
    flat = [f"0x{bound:X}" for pair in ranges for bound in pair]
    for start in range(0, len(flat), 8):
        print("    " + ", ".join(flat[start : start + 8]) + ",")


def main() -> None:
    mode = sys.argv[1]
    if mode == "child":
        child(sys.argv[2])
        return
    if mode == "literal":
        literal()
        return
    with tempfile.TemporaryDirectory(prefix="contains_words_") as tmp:
        path = f"file://{tmp}/ds"
        make_dataset(path)
        {"sweep": sweep, "verify": verify}[mode](path)


if __name__ == "__main__":
    main()
