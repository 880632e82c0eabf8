"""Figure 10: how cost grows - every figure over a range of sizes, with log-log plots.

Five sweeps, each timing a baseline and tqlbuilder at every size (interleaved rounds, as every
figure; the same inputs on both sides, checked equivalent at the smallest size):

* vector dimension (128 ... 8192): the API docs' ``",".join(str(x) ...)`` f-string vs build +
  compile of a cosine top-5 query (figure 1);
* IN list length (10 ... 100,000 strings): an f-string with ``'`` -> ``''`` escaping vs
  ``select(...).where(col("lang").isin(values)).to_tql()``;
* AND tree width (1 ... 1,000 comparisons): ``" AND ".join(f"(c{i} > {v})")`` vs
  ``.where(*(col(f"c{i}") > v ...))``;
* TQL text size (1 KB ... 1 MB, a builder-written filter query with mixed tokens): a 10-line
  ``re.findall`` tokenizer vs ``lex``, ``check`` and ``parse``;
* response rows (10 ... 100,000, text + score, rows shape): ``requests``' ``.json()`` vs
  ``Result.from_response_body`` (figure 4).

Every contender here is single-threaded Python (numpy and orjson calls included), so each
batch is timed in the thread's CPU time (``time.thread_time_ns``): on a shared machine the wall
time of a 100 µs call swings with the neighbours' load, which would bend the curves.

Each sweep gives one table row per contender: the slope of log(time) against log(size) from a
least-squares fit over the larger half of the sizes (1.0 is linear; fixed costs flatten the
small sizes), judged linear when it is at most 1.2, and the ratio to the baseline at the
smallest and largest size. With ``--plots DIR`` every sweep writes ``DIR/scaling-<name>.png``:
time against size and ratio to the baseline against size, both log-log (matplotlib, from the
``bench`` extra).
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np

from benchmarks import bench_decode, bench_vector
from benchmarks._harness import Row, Settings, Thunk, compare, format_ns, status
from tqlbuilder import Result, check, col, lex, parse, select

__all__ = ["SWEEPS", "Sweep", "fit_slope", "plot", "run", "sweep_sizes"]

LINEAR_SLOPE = 1.2
DATASET = "hub://org/ds"

# A regex tokenizer a careful author might write for TQL-like text: strings with doubled
# quotes, quoted names, numbers, words, two-character and single-character operators.
_TOKEN = re.compile(
    r"""'(?:[^']|'')*'|"[^"\n]*"|[0-9]+(?:\.[0-9]*)?(?:[eE][-+]?[0-9]+)?|\.[0-9]+"""
    r"""|[A-Za-z_][A-Za-z0-9_]*|<=|>=|!=|<>|==|\|\||--|[-+*/%=<>(),.\[\]:;]|\S"""
)


def regex_tokens(text: str) -> list[str]:
    """The baseline tokenizer: one ``re.findall`` over the whole text."""
    return _TOKEN.findall(text)


# =========================================================================== inputs


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def in_list_fstring(values: Sequence[str]) -> str:
    """The hand-written IN query, escaping every value."""
    in_list = ", ".join(_quote(v) for v in values)
    return f'SELECT id FROM "{DATASET}" WHERE lang IN ({in_list})'


def in_list_builder(values: Sequence[str]) -> str:
    """The same query with tqlbuilder, built and compiled."""
    return select("id").from_(DATASET).where(col("lang").isin(values)).to_tql()


def and_fstring(pairs: Sequence[tuple[str, int]]) -> str:
    """The hand-written AND of ``name > value`` comparisons."""
    if len(pairs) == 1:
        name, value = pairs[0]
        return f'SELECT id FROM "{DATASET}" WHERE {name} > {value}'
    where = " AND ".join(f"({name} > {value})" for name, value in pairs)
    return f'SELECT id FROM "{DATASET}" WHERE {where}'


def and_builder(pairs: Sequence[tuple[str, int]]) -> str:
    """The same query with tqlbuilder: one comparison per pair, all given to ``where``."""
    return select("id").from_(DATASET).where(*(col(n) > v for n, v in pairs)).to_tql()


def tql_text(size: int) -> str:
    """A builder-written filter query of about ``size`` characters with varied tokens."""
    conditions = []
    length = 0
    i = 0
    while length < size:
        kind = i % 4
        if kind == 0:
            condition = col(f"year_{i}") > 2000 + i
        elif kind == 1:
            condition = col("author") == f"O'Brien {i}"
        elif kind == 2:
            condition = col("score").between(i / 7, i / 3)
        else:
            condition = col("lang").isin([f"l{i}", f"m{i}"])
        conditions.append(condition)
        length += 36  # about the text one condition adds
        i += 1
    text = select("id", "text").from_(DATASET).where(*conditions).limit(10).to_tql()
    return text


# =========================================================================== sweeps


@dataclass
class Sweep:
    """One sweep: sizes, a builder of contenders per size, and what was measured."""

    name: str
    title: str
    unit: str
    baseline: str
    make: Callable[[int], dict[str, Thunk]]
    check: Callable[[int], None]
    sizes: list[int] = field(default_factory=list)
    times: dict[str, list[float]] = field(default_factory=dict)


def _vector(size: int) -> dict[str, Thunk]:
    emb = bench_vector.embedding(size)
    return {
        "f-string": partial(bench_vector.baseline, emb),
        "tqlbuilder": partial(bench_vector.candidate, emb),
    }


def _vector_check(size: int) -> None:
    bench_vector.check_equivalent(bench_vector.embedding(size))


def _in_values(size: int) -> list[str]:
    return [f"lang-{i}" if i % 10 else f"O'Brien {i}" for i in range(size)]


def _in(size: int) -> dict[str, Thunk]:
    values = _in_values(size)
    return {
        "f-string": partial(in_list_fstring, values),
        "tqlbuilder": partial(in_list_builder, values),
    }


def _in_check(size: int) -> None:
    values = _in_values(size)
    if in_list_fstring(values) != in_list_builder(values):
        raise AssertionError(
            f"figure 10: IN-list f-string and builder differ:\n{in_list_fstring(values)[:200]}\n"
            f"{in_list_builder(values)[:200]}"
        )


def _and_pairs(size: int) -> list[tuple[str, int]]:
    return [(f"c{i}", i) for i in range(size)]


def _and(size: int) -> dict[str, Thunk]:
    pairs = _and_pairs(size)
    return {"f-string": partial(and_fstring, pairs), "tqlbuilder": partial(and_builder, pairs)}


def _and_check(size: int) -> None:
    pairs = _and_pairs(size)
    if and_fstring(pairs) != and_builder(pairs):
        raise AssertionError(
            f"figure 10: AND f-string and builder differ:\n{and_fstring(pairs)[:200]}\n"
            f"{and_builder(pairs)[:200]}"
        )


def _text(size: int) -> dict[str, Thunk]:
    text = tql_text(size)
    return {
        "re.findall": partial(regex_tokens, text),
        "lex": partial(lex, text),
        "check": partial(check, text),
        "parse": partial(parse, text),
    }


def _text_check(size: int) -> None:
    text = tql_text(size)
    if [t.text for t in lex(text)] != regex_tokens(text):
        raise AssertionError("figure 10: lex and the regex tokenizer split the text differently")
    if check(text) or parse(text).to_tql() != text:
        raise AssertionError("figure 10: builder text must check clean and parse back")


def _decode(size: int) -> dict[str, Thunk]:
    content = bench_decode.body(size, as_list=True)
    response = bench_decode.make_response(content)
    return {
        "requests .json()": response.json,
        "Result": partial(Result.from_response_body, content, as_list=True, status=200, query=""),
    }


def _decode_check(size: int) -> None:
    bench_decode.check_equivalent(bench_decode.body(size, as_list=True), True)


SWEEPS: dict[str, tuple[str, str, str, Callable[[int], dict[str, Thunk]], Callable[[int], None]]]
SWEEPS = {
    "vector": ("vector query build + compile", "dimension", "f-string", _vector, _vector_check),
    "in-list": ("IN list build + compile", "values", "f-string", _in, _in_check),
    "and-tree": ("AND of comparisons build + compile", "conditions", "f-string", _and, _and_check),
    "text": ("lex / check / parse of TQL text", "characters", "re.findall", _text, _text_check),
    "decode": ("decode a rows-shaped response", "rows", "requests .json()", _decode, _decode_check),
}


def sweep_sizes(settings: Settings) -> dict[str, list[int]]:
    """The sizes of each sweep: the full ranges, or shorter ones for --quick and the tests."""
    full = {
        "vector": [128, 256, 512, 1024, 2048, 4096, 8192],
        "in-list": [10, 100, 1_000, 10_000, 100_000],
        "and-tree": [1, 3, 10, 30, 100, 300, 1_000],
        "text": [1_000, 4_000, 16_000, 64_000, 256_000, 1_000_000],
        "decode": [10, 100, 1_000, 10_000, 100_000],
    }
    limit = {"full": None, "quick": 3, "tiny": 2}.get(settings.name, 2)
    if limit is None:
        return full
    return {name: sizes[:limit] for name, sizes in full.items()}


# =========================================================================== analysis


def fit_slope(sizes: Sequence[int], times: Sequence[float]) -> float:
    """Least-squares slope of log(time) on log(size) over the larger half of the sizes."""
    half = max(2, (len(sizes) + 1) // 2)
    xs = np.log(np.asarray(sizes[-half:], dtype=float))
    ys = np.log(np.asarray(times[-half:], dtype=float))
    if len(xs) < 2 or float(np.ptp(xs)) == 0.0:
        return math.nan
    slope, _ = np.polyfit(xs, ys, 1)
    return float(slope)


def plot(sweep: Sweep, path: Path) -> None:
    """Write the sweep's log-log plots (time; ratio to the baseline) as a PNG at ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
    for index, (name, times) in enumerate(sweep.times.items()):
        seconds = [t / 1e9 for t in times]
        color = f"C{index}"  # the same colour for a contender in both panels
        left.loglog(sweep.sizes, seconds, marker="o", color=color, label=name)
        if name != sweep.baseline:
            ratios = [t / b for t, b in zip(times, sweep.times[sweep.baseline], strict=True)]
            right.loglog(
                sweep.sizes, ratios, marker="o", color=color, label=f"{name} / {sweep.baseline}"
            )
    lo, hi = sweep.sizes[0], sweep.sizes[-1]
    reference = sweep.times[sweep.baseline][-1] / 1e9
    left.loglog(
        [lo, hi], [reference * lo / hi, reference], ls=":", color="grey", label="linear (slope 1)"
    )
    right.axhline(1.0, ls=":", color="grey")
    left.set(xlabel=sweep.unit, ylabel="seconds per call", title=f"{sweep.title}: time")
    right.set(xlabel=sweep.unit, ylabel="time / baseline", title="ratio to the baseline")
    for axis in (left, right):
        axis.grid(True, which="both", alpha=0.3)
        axis.legend(fontsize="small")
    fig.savefig(path, dpi=90)
    plt.close(fig)


# =========================================================================== run


def run(settings: Settings, plots: Path | None = None) -> list[Row]:
    """Run every sweep; one row per contender (growth slope, ratios); plots if asked."""
    rows: list[Row] = []
    sizes = sweep_sizes(settings)
    for name, (title, unit, baseline, make, check_fn) in SWEEPS.items():
        sweep = Sweep(name, title, unit, baseline, make, check_fn, sizes=sizes[name])
        check_fn(sweep.sizes[0])
        for size in sweep.sizes:
            contenders = make(size)
            result = compare(
                contenders,
                rounds=max(1, settings.slow_rounds),
                batch_ns=max(1, settings.batch_ns // 4),
                clock=time.thread_time_ns,  # CPU time: growth, not the neighbours' load
            )
            for contender in contenders:
                sweep.times.setdefault(contender, []).append(result.median(contender))
        rows.extend(_rows(sweep))
        if plots is not None:
            plots.mkdir(parents=True, exist_ok=True)
            plot(sweep, plots / f"scaling-{name}.png")
    return rows


def _rows(sweep: Sweep) -> list[Row]:
    rows = []
    base = sweep.times[sweep.baseline]
    lo, hi = sweep.sizes[0], sweep.sizes[-1]
    for name, times in sweep.times.items():
        slope = fit_slope(sweep.sizes, times)
        judged = name != sweep.baseline and len(sweep.sizes) >= 4
        first, last = times[0] / base[0], times[-1] / base[-1]
        ratio_text = "" if name == sweep.baseline else f"; time/baseline {first:.2g} .. {last:.2g}"
        rows.append(
            Row(
                figure="10",
                case=f"{sweep.title}, {lo:,} to {hi:,} {sweep.unit}: {name}",
                baseline=f"{sweep.baseline} {format_ns(base[0])} .. {format_ns(base[-1])}",
                candidate=f"{name} {format_ns(times[0])} .. {format_ns(times[-1])}",
                result=f"slope {slope:.2f}" + ratio_text,
                target=f"slope <= {LINEAR_SLOPE}" if judged else "-",
                status=status(slope <= LINEAR_SLOPE if judged else None),
                value=slope if math.isfinite(slope) else 0.0,
            )
        )
    return rows
