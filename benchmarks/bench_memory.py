"""Figure 6: peak memory of building and compiling a query with a 3072-d float32 vector.

Measured with ``tracemalloc`` (which sees Python objects, orjson's output buffers and numpy's
array data): the peak of traced memory above what was live before the call, divided by the
size of the resulting query text (ASCII, one byte per character). The target keeps it below
10x. The f-string baseline of figure 1 is measured the same way for reference.
"""

from __future__ import annotations

import gc
import statistics
import tracemalloc
from collections.abc import Callable

from benchmarks._harness import Row, Settings, format_bytes, status
from benchmarks.bench_vector import baseline, candidate, embedding

__all__ = ["peak_bytes", "run"]

TARGET_RATIO = 10.0


def peak_bytes(fn: Callable[[], str]) -> tuple[int, int]:
    """(peak traced bytes above the starting level during ``fn()``, length of its text)."""
    fn()  # imports and caches happen outside the measurement
    gc.collect()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before, _ = tracemalloc.get_traced_memory()
        text = fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak - before, len(text)


def run(settings: Settings) -> list[Row]:
    """One row: tqlbuilder's peak / text size, with the f-string's for reference."""
    dim = settings.memory_dim
    emb = embedding(dim)
    cand = [peak_bytes(lambda: candidate(emb)) for _ in range(5)]
    base = [peak_bytes(lambda: baseline(emb)) for _ in range(5)]
    cand_peak = statistics.median(peak for peak, _ in cand)
    base_peak = statistics.median(peak for peak, _ in base)
    length = cand[0][1]
    ratio = cand_peak / length
    return [
        Row(
            figure="6",
            case=f"peak memory, build + compile, {dim}-d float32 vector ({length:,}-char query)",
            baseline=f"f-string {format_bytes(base_peak)} ({base_peak / base[0][1]:.1f}x text)",
            candidate=f"tqlbuilder {format_bytes(cand_peak)}",
            result=f"{ratio:.1f}x the query text",
            target=f"< {TARGET_RATIO:.0f}x",
            status=status(ratio < TARGET_RATIO),
            value=ratio,
        )
    ]
