"""Figure 5: import time, as the wall time of a fresh ``python -c "..."`` subprocess.

The target compares ``import tqlbuilder`` with ``import numpy`` (tqlbuilder's heaviest
dependency): at most 30 ms more. Because the package loads its public names lazily, that
import alone is cheap; so an informative row also times the import a user really runs before
building a query, ``from tqlbuilder import select, col, F`` (which loads numpy, attrs and
orjson). ``python -c pass`` gives the interpreter's own start-up for reference.

Runs are interleaved (one of each per round, order alternating) and each median is over all
rounds. Where a delta is over the target, ``python -X importtime`` names the top offenders.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time

from benchmarks._harness import Row, Settings, status

__all__ = ["STATEMENTS", "import_offenders", "run", "time_statement"]

TARGET_MS = 30.0
STATEMENTS = {
    "python -c pass": "pass",
    "import numpy": "import numpy",
    "import tqlbuilder": "import tqlbuilder",
    "from tqlbuilder import select, col, F": "from tqlbuilder import select, col, F",
}


def time_statement(statement: str) -> float:
    """Wall milliseconds of one ``python -c statement`` subprocess."""
    start = time.perf_counter_ns()
    subprocess.run([sys.executable, "-c", statement], check=True, env=_env())
    return (time.perf_counter_ns() - start) / 1e6


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONPROFILEIMPORTTIME", None)
    return env


def import_offenders(statement: str, top: int = 8, exclude: str = "numpy") -> list[str]:
    """The modules with the largest cumulative import time under ``-X importtime``.

    Modules of the ``exclude`` package (the baseline's own import) are left out: the question
    is what costs time beyond it.
    """
    completed = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", statement],
        check=True,
        capture_output=True,
        text=True,
        env=_env(),
    )
    entries: list[tuple[int, int, str]] = []
    for line in completed.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, cumulative_us, name = line.removeprefix("import time:").split("|")
        name = name.strip()
        if name.split(".")[0] != exclude:
            entries.append((int(cumulative_us), int(self_us), name))
    entries.sort(reverse=True)
    return [
        f"{name}: {cumulative / 1000:.1f} ms cumulative, {own / 1000:.1f} ms self"
        for cumulative, own, name in entries[:top]
    ]


def run(settings: Settings) -> list[Row]:
    """Two rows: the target (``import tqlbuilder``) and the builder import (informative)."""
    samples: dict[str, list[float]] = {name: [] for name in STATEMENTS}
    names = list(STATEMENTS)
    for name in names:  # warm the disk cache and the .pyc files
        time_statement(STATEMENTS[name])
    for round_index in range(settings.import_runs):
        for name in names if round_index % 2 == 0 else names[::-1]:
            samples[name].append(time_statement(STATEMENTS[name]))
    median = {name: statistics.median(values) for name, values in samples.items()}
    numpy_ms = median["import numpy"]
    rows = []
    cases = (("import tqlbuilder", True), ("from tqlbuilder import select, col, F", False))
    for name, judged in cases:
        delta = median[name] - numpy_ms
        row = Row(
            figure="5",
            case=f'python -c "{STATEMENTS[name]}" vs "import numpy" ({settings.import_runs} runs)',
            baseline=f"import numpy {numpy_ms:.1f} ms",
            candidate=f"{median[name]:.1f} ms",
            result=f"{delta:+.1f} ms",
            target=f"<= +{TARGET_MS:.0f} ms" if judged else f"(info; +{TARGET_MS:.0f} ms)",
            status=status(delta <= TARGET_MS if judged else None),
            value=delta,
            notes=[f"interpreter start-up (python -c pass): {median['python -c pass']:.1f} ms"],
        )
        if delta > TARGET_MS:
            offenders = "; ".join(import_offenders(STATEMENTS[name]))
            row.notes.append(f"-X importtime, top offenders beyond numpy: {offenders}")
        rows.append(row)
    return rows
