"""Figure 5: import time, as the wall time of a fresh ``python -c "..."`` subprocess.

The targets compare with ``import numpy`` (tqlbuilder's heaviest dependency):
``import tqlbuilder`` at most 30 ms more, and the import a user really runs before building a
query, ``from tqlbuilder import select, col, F`` (numpy, attrs and the builder; orjson is
loaded with the first vector), at most 25 ms more. ``python -c pass`` gives the interpreter's
own start-up for reference.

Every child writes and reads its bytecode under one temporary ``PYTHONPYCACHEPREFIX`` (and
``PYTHONDONTWRITEBYTECODE`` is dropped), so both sides import compiled ``.pyc`` files as an
installed package does, even from a checkout where ``PYTHONDONTWRITEBYTECODE=1`` is set
(compiling tqlbuilder's sources on every start cost about 15 ms of the figure).

Runs are interleaved (one of each per round, order alternating); a delta is the median over
rounds of the per-round difference (paired, so a busy moment hits both). Where a delta is over
the target, ``python -X importtime`` names the top offenders.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from benchmarks._harness import Row, Settings, status

__all__ = ["STATEMENTS", "import_offenders", "run", "time_statement"]

TARGET_MS = 30.0  # import tqlbuilder
TARGET_BUILDER_MS = 25.0  # from tqlbuilder import select, col, F
STATEMENTS = {
    "python -c pass": "pass",
    "import numpy": "import numpy",
    "import tqlbuilder": "import tqlbuilder",
    "from tqlbuilder import select, col, F": "from tqlbuilder import select, col, F",
}


def time_statement(statement: str, pycache: str | None = None) -> float:
    """Wall milliseconds of one ``python -c statement`` subprocess."""
    start = time.perf_counter_ns()
    subprocess.run([sys.executable, "-c", statement], check=True, env=_env(pycache))
    return (time.perf_counter_ns() - start) / 1e6


def _env(pycache: str | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONPROFILEIMPORTTIME", None)
    if pycache is not None:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = pycache
    return env


def import_offenders(
    statement: str, top: int = 8, exclude: str = "numpy", pycache: str | None = None
) -> list[str]:
    """The modules with the largest cumulative import time under ``-X importtime``.

    Modules of the ``exclude`` package (the baseline's own import) are left out: the question
    is what costs time beyond it.
    """
    completed = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", statement],
        check=True,
        capture_output=True,
        text=True,
        env=_env(pycache),
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
    """Two rows: ``import tqlbuilder`` and ``from tqlbuilder import select, col, F``."""
    pycache = tempfile.mkdtemp(prefix="tqlbuilder-pycache-")
    try:
        return _run(settings, pycache)
    finally:
        shutil.rmtree(pycache, ignore_errors=True)


def _run(settings: Settings, pycache: str) -> list[Row]:
    samples: dict[str, list[float]] = {name: [] for name in STATEMENTS}
    names = list(STATEMENTS)
    for name in names:  # warm the disk cache and write the .pyc files
        time_statement(STATEMENTS[name], pycache)
    for round_index in range(settings.import_runs):
        for name in names if round_index % 2 == 0 else names[::-1]:
            samples[name].append(time_statement(STATEMENTS[name], pycache))
    median = {name: statistics.median(values) for name, values in samples.items()}
    numpy_ms = median["import numpy"]
    rows = []
    cases = (
        ("import tqlbuilder", TARGET_MS),
        ("from tqlbuilder import select, col, F", TARGET_BUILDER_MS),
    )
    for name, target in cases:
        pairs = zip(samples[name], samples["import numpy"], strict=True)
        delta = statistics.median(mine - numpy for mine, numpy in pairs)
        floor = min(samples[name]) - min(samples["import numpy"])
        row = Row(
            figure="5",
            case=f'python -c "{STATEMENTS[name]}" vs "import numpy" ({settings.import_runs} runs)',
            baseline=f"import numpy {numpy_ms:.1f} ms",
            candidate=f"{median[name]:.1f} ms",
            result=f"{delta:+.1f} ms",
            target=f"<= +{target:.0f} ms",
            status=status(delta <= target),
            value=delta,
            notes=[
                f"interpreter start-up (python -c pass): {median['python -c pass']:.1f} ms; "
                f"fastest run of each: {floor:+.1f} ms"
            ],
        )
        if delta > target:
            offenders = "; ".join(import_offenders(STATEMENTS[name], pycache=pycache))
            row.notes.append(f"-X importtime, top offenders beyond numpy: {offenders}")
        rows.append(row)
    rows.append(_self_time_row(settings, pycache))
    return rows


def min_self_times(statement: str, runs: int, pycache: str | None = None) -> dict[str, int]:
    """Per module, the smallest ``-X importtime`` self time (µs) over ``runs`` fresh imports."""
    fastest: dict[str, int] = {}
    for _ in range(runs):
        completed = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", statement],
            check=True,
            capture_output=True,
            text=True,
            env=_env(pycache),
        )
        for line in completed.stderr.splitlines():
            if not line.startswith("import time:") or "self [us]" in line:
                continue
            self_us, _, name = line.removeprefix("import time:").split("|")
            name = name.strip()
            fastest[name] = min(fastest.get(name, int(self_us)), int(self_us))
    return fastest


def _self_time_row(settings: Settings, pycache: str) -> Row:
    """Load-robust view: summed fastest self times of the modules ``import numpy`` does not load.

    On a busy machine wall times of whole interpreters swing by 2-5x; the fastest self time of
    each module over several runs is close to what an idle machine shows, and the modules
    both sides load (numpy, typing, re...) cancel exactly.
    """
    statement = STATEMENTS["from tqlbuilder import select, col, F"]
    runs = max(3, settings.import_runs // 2)
    numpy_modules = min_self_times("import numpy", runs, pycache)
    mine = min_self_times(statement, runs, pycache)
    extra = {name: us for name, us in mine.items() if name not in numpy_modules}
    total_ms = sum(extra.values()) / 1000
    top = sorted(extra.items(), key=lambda item: -item[1])[:6]
    return Row(
        figure="5",
        case=f'"{statement}": modules beyond numpy, summed fastest -X importtime self times',
        baseline="import numpy (its modules excluded)",
        candidate=f"{len(extra)} more modules",
        result=f"+{total_ms:.1f} ms",
        target=f"(load-robust view of <= +{TARGET_BUILDER_MS:.0f} ms)",
        status=status(None),
        value=total_ms,
        notes=["largest: " + ", ".join(f"{name} {us / 1000:.1f} ms" for name, us in top)],
    )
