"""Timing, reporting and profiling helpers shared by every figure.

The rules, from the issue that asked for these benchmarks: time with ``time.perf_counter_ns``;
repeat each call many times per timed batch; run several rounds and take the median; and
interleave baseline and candidate batches (alternating which goes first) so that a noisy
neighbour or a frequency change hits both sides alike. The reported figure is a ratio, never an
absolute time, because on a shared machine only the ratio is stable.
"""

from __future__ import annotations

import cProfile
import gc
import os
import platform
import pstats
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = [
    "REPO_ROOT",
    "Comparison",
    "Row",
    "Settings",
    "Thunk",
    "attach_breakdown",
    "attach_profile",
    "compare",
    "format_bytes",
    "format_ns",
    "machine_info",
    "profile_summary",
    "status",
    "time_batch",
]

REPO_ROOT = Path(__file__).resolve().parent.parent

Thunk = Callable[[], object]


@dataclass(frozen=True)
class Settings:
    """How hard to measure: the full run (for the docs) or a quick one (for CI).

    ``batch_ns`` is the target length of one timed batch; the repetition count of each
    contender is calibrated so that a batch lasts about that long. ``rounds`` batches of each
    contender are timed, interleaved, and their median is reported.
    """

    name: str
    rounds: int
    batch_ns: int
    dims: tuple[int, ...] = (384, 1536, 3072)
    rest_queries: int = 200
    concurrent_queries: int = 64
    concurrent_workers: int = 8
    async_queries: int = 50
    server_delay_s: float = 0.020
    decode_rows: int = 10_000
    embedding_rows: int = 10_000
    embedding_dim: int = 384
    slow_rounds: int = 5
    import_runs: int = 25
    memory_dim: int = 3072
    local_rows: int = 1000
    local_dim: int = 1536
    profile: bool = False
    profile_ns: int = 1_000_000_000

    @classmethod
    def full(cls) -> Settings:
        """The settings behind the table in docs/performance.md (about a minute on 2 cores)."""
        return cls(name="full", rounds=9, batch_ns=40_000_000)

    @classmethod
    def quick(cls) -> Settings:
        """A smoke run for CI (well under 60 s): fewer rounds, smaller slow cases."""
        return cls(
            name="quick",
            rounds=3,
            batch_ns=5_000_000,
            rest_queries=100,
            concurrent_queries=16,
            embedding_rows=1_000,
            slow_rounds=3,
            import_runs=5,
        )

    @classmethod
    def tiny(cls) -> Settings:
        """Just enough to prove that every figure runs (the unit tests use this)."""
        return cls(
            name="tiny",
            rounds=1,
            batch_ns=200_000,
            dims=(384,),
            rest_queries=4,
            concurrent_queries=4,
            concurrent_workers=2,
            async_queries=4,
            server_delay_s=0.005,
            decode_rows=50,
            embedding_rows=20,
            slow_rounds=1,
            import_runs=1,
            memory_dim=64,
            local_rows=50,
            local_dim=16,
        )


@dataclass
class Row:
    """One line of the results table.

    ``value`` is the number the target is judged on (a speed-up, a difference in ms, a ratio);
    ``status`` is ``met``, ``MISSED`` or ``info`` (no target). ``profile`` holds the cProfile
    summary of the candidate when the target is missed and ``--profile`` was given.
    """

    figure: str
    case: str
    baseline: str
    candidate: str
    result: str
    target: str
    status: str
    value: float
    notes: list[str] = field(default_factory=list)
    profile: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The row as plain data, for ``--json``."""
        return {
            "figure": self.figure,
            "case": self.case,
            "baseline": self.baseline,
            "candidate": self.candidate,
            "result": self.result,
            "target": self.target,
            "status": self.status,
            "value": self.value,
            "notes": self.notes,
            "profile": self.profile,
        }


def status(met: bool | None) -> str:
    """Table status for a target check (None: informative row without a target)."""
    if met is None:
        return "info"
    return "met" if met else "MISSED"


# =========================================================================== timing


Clock = Callable[[], int]


def time_batch(fn: Thunk, reps: int, clock: Clock = time.perf_counter_ns) -> float:
    """Nanoseconds per call of ``fn`` over one batch of ``reps`` calls.

    The cyclic garbage collector is off during the batch (as in ``timeit``), so a collection
    triggered by earlier garbage is not billed to whichever contender happens to run next.
    ``clock`` is wall time by default; ``time.thread_time_ns`` (the calling thread's CPU time)
    leaves out the time other processes hold the CPU, for single-threaded pure-Python work.
    """
    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        start = clock()
        for _ in range(reps):
            fn()
        elapsed = clock() - start
    finally:
        if was_enabled:
            gc.enable()
    return elapsed / reps


def calibrate(fn: Thunk, batch_ns: int, clock: Clock = time.perf_counter_ns) -> int:
    """Repetitions of ``fn`` that fill about ``batch_ns``; the calls also warm caches up."""
    reps = 1
    while True:
        per_call = time_batch(fn, reps, clock)
        spent = per_call * reps
        if spent >= batch_ns / 4 or per_call * 10 * reps >= batch_ns:
            return max(1, round(batch_ns / max(per_call, 1.0)))
        reps *= 10


@dataclass(frozen=True)
class Comparison:
    """Per-round nanoseconds per call of each contender, and the repetitions used."""

    samples: Mapping[str, list[float]]
    reps: Mapping[str, int]

    def median(self, name: str) -> float:
        """Median nanoseconds per call over the rounds."""
        return statistics.median(self.samples[name])

    def speedup(self, baseline: str, candidate: str) -> float:
        """Median over rounds of baseline / candidate time (paired rounds cancel drift)."""
        pairs = zip(self.samples[baseline], self.samples[candidate], strict=True)
        return statistics.median(b / c for b, c in pairs)

    def spread(self, name: str) -> float:
        """(max - min) / median over the rounds: how noisy this contender was."""
        values = self.samples[name]
        return (max(values) - min(values)) / self.median(name)


def compare(
    contenders: Mapping[str, Thunk],
    *,
    rounds: int,
    batch_ns: int,
    reps: Mapping[str, int] | None = None,
    clock: Clock = time.perf_counter_ns,
) -> Comparison:
    """Time every contender in ``rounds`` interleaved rounds.

    Each round times one batch of every contender; odd rounds run them in reverse order, so no
    contender always runs first (or right after a slow one). ``reps`` fixes the repetitions per
    batch (for calls that are batches already, like 200 HTTP queries); otherwise they are
    calibrated to ``batch_ns``.
    """
    names = list(contenders)
    if reps is None:
        reps = {name: calibrate(contenders[name], batch_ns, clock) for name in names}
    else:
        for name in names:  # warm-up: connections, caches, lazy imports
            contenders[name]()
    samples: dict[str, list[float]] = {name: [] for name in names}
    for round_index in range(rounds):
        order = names if round_index % 2 == 0 else names[::-1]
        for name in order:
            samples[name].append(time_batch(contenders[name], reps[name], clock))
    return Comparison(samples, dict(reps))


# =========================================================================== formatting


def format_ns(ns: float) -> str:
    """A duration with a unit that keeps three significant digits."""
    if ns < 1_000:
        return f"{ns:.0f} ns"
    if ns < 1_000_000:
        return f"{ns / 1_000:.3g} µs"
    if ns < 1_000_000_000:
        return f"{ns / 1_000_000:.3g} ms"
    return f"{ns / 1_000_000_000:.3g} s"


def format_bytes(size: float) -> str:
    """A size in B / KiB / MiB."""
    if size < 1024:
        return f"{size:.0f} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KiB"
    return f"{size / (1024 * 1024):.1f} MiB"


# =========================================================================== machine


def _lscpu() -> dict[str, str]:
    try:
        text = subprocess.run(
            ["lscpu"], capture_output=True, text=True, check=True, timeout=10
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        fields[key.strip()] = value.strip()
    return fields


def _version(module: str) -> str:
    try:
        from importlib.metadata import version

        return version(module)
    except Exception:
        return "not installed"


def _git_revision() -> str:
    try:
        head = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
        changed = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "status", "--porcelain", "--", "tqlbuilder"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{head} + uncommitted changes in tqlbuilder/" if changed else head


def machine_info() -> dict[str, str]:
    """What the numbers were measured on: CPU model and cores, versions, date."""
    cpu = _lscpu()
    model = cpu.get("Model name") or platform.processor() or "unknown"
    logical = os.cpu_count() or 0
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        usable = logical
    cores = f"{logical} logical CPUs ({usable} usable)"
    if cpu.get("Core(s) per socket") and cpu.get("Socket(s)"):
        cores += (
            f", {cpu['Socket(s)']} socket(s) x {cpu['Core(s) per socket']} core(s) x "
            f"{cpu.get('Thread(s) per core', '?')} thread(s)"
        )
    if cpu.get("Hypervisor vendor"):
        cores += f", virtualised ({cpu['Hypervisor vendor']})"
    import numpy

    info = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": model,
        "cores": cores,
        "os": f"{platform.system()} {platform.release()}",
        "python": f"{platform.python_implementation()} {sys.version.split()[0]}",
        "numpy": numpy.__version__,
        "tqlbuilder": _version("tqlbuilder"),
        "orjson": _version("orjson"),
        "requests": f"{_version('requests')} (urllib3 {_version('urllib3')})",
        "pypika": _version("pypika"),
        "sqlglot": _version("sqlglot"),
        "git": _git_revision(),
    }
    coretype = os.environ.get("OPENBLAS_CORETYPE")
    if coretype:
        info["OPENBLAS_CORETYPE"] = coretype
    return info


# =========================================================================== profiling

_SITE = re.compile(r".*/(site-packages|lib/python3\.\d+)/")


def _where(key: tuple[str, int, str]) -> str:
    filename, line, function = key
    if filename == "~":
        return function  # a builtin, e.g. {method 'join' of 'str' objects}
    path = Path(filename)
    try:
        shown = str(path.resolve().relative_to(REPO_ROOT))
    except ValueError:
        shown = _SITE.sub("", filename)
    return f"{shown}:{line}({function})"


def profile_summary(fn: Thunk, *, calls: int, top: int = 15) -> list[str]:
    """Run ``fn`` ``calls`` times under cProfile; the top functions by cumulative time.

    Times are per call of ``fn`` (µs), so they read directly against the benchmark's median.
    """
    fn()  # warm-up outside the profile
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(calls):
        fn()
    profiler.disable()
    stats = pstats.Stats(profiler)
    entries: list[tuple[float, float, int, str]] = []
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    for key, (_, ncalls, tottime, cumtime, _) in raw.items():
        entries.append((cumtime, tottime, ncalls, _where(key)))
    entries.sort(reverse=True)
    lines = [f"{'cum µs/call':>12} {'own µs/call':>12} {'calls/call':>10}  function"]
    for cumtime, tottime, ncalls, where in entries[:top]:
        if where.startswith(("<string>", "benchmarks/_harness.py")) or "Profiler" in where:
            continue
        lines.append(
            f"{cumtime / calls * 1e6:12.1f} {tottime / calls * 1e6:12.1f} "
            f"{ncalls / calls:10.1f}  {where}"
        )
    return lines


def attach_profile(row: Row, fn: Thunk, per_call_ns: float, settings: Settings) -> None:
    """Profile the candidate ``fn`` into ``row.profile`` if its target was missed.

    Only with ``--profile`` (``settings.profile``): the profile runs for about
    ``settings.profile_ns`` and is not part of any timing.
    """
    if not settings.profile or row.status != "MISSED":
        return
    calls = max(1, min(200_000, int(settings.profile_ns / max(per_call_ns, 1.0))))
    row.profile = profile_summary(fn, calls=calls)


def attach_breakdown(row: Row, parts: Mapping[str, Thunk], settings: Settings) -> None:
    """Time the candidate's steps separately into a note, if its target was missed.

    cProfile inflates call-heavy code, so with ``--profile`` a missed row also gets these
    unprofiled timings of its parts (each part alone, same method as the figures).
    """
    if not settings.profile or row.status != "MISSED":
        return
    result = compare(parts, rounds=settings.rounds, batch_ns=settings.batch_ns // 2)
    timed = "; ".join(f"{name} {format_ns(result.median(name))}" for name in parts)
    row.notes.append(f"unprofiled breakdown: {timed}")
