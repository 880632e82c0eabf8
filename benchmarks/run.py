"""Run the tqlbuilder benchmarks and print a table of ratios.

    python benchmarks/run.py            # the full run behind docs/performance.md (~1-2 min)
    python benchmarks/run.py --quick    # a smoke run for CI (< 60 s)
    python benchmarks/run.py --plots docs   # also write figure 10's log-log plots into docs/

Each figure times a baseline (the code users would otherwise write) and tqlbuilder side by
side, in interleaved rounds, and reports the ratio with the target it is held to. Options:
``--only 1,2`` runs some figures, ``--profile`` adds a cProfile summary of every candidate that
misses its target, ``--markdown`` prints the table as Markdown (for the docs page), and
``--json PATH`` saves everything. The exit status is 0 even when a target is missed: these are
measurements, not tests.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a plain script

import argparse
import dataclasses
import json
import time
from collections.abc import Callable

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
from benchmarks._harness import Row, Settings, machine_info

FIGURES: dict[str, tuple[str, Callable[[Settings], list[Row]]]] = {
    "1": ("vector query build + compile", bench_vector.run),
    "2": ("filter query build + compile", bench_filter.run),
    "3": ("REST round trips", bench_rest.run),
    "4": ("response decoding", bench_decode.run),
    "5": ("import time", bench_import.run),
    "6": ("peak memory", bench_memory.run),
    "7": ("local server: isolation price", bench_server.run),
    "8": ("text tools: lex / check speed and depth", bench_text.run),
    "9": ("embedded-engine executors", bench_local.run),
    "10": ("how cost grows (sweeps over sizes)", bench_scaling.run),
}

COLUMNS = ("#", "measurement", "baseline", "candidate", "result", "target", "status")


def _cells(row: Row) -> tuple[str, ...]:
    return (
        row.figure,
        row.case,
        row.baseline,
        row.candidate,
        row.result,
        row.target,
        row.status,
    )


def text_table(rows: list[Row]) -> str:
    """A plain-text table with aligned columns."""
    cells = [COLUMNS, *(_cells(row) for row in rows)]
    widths = [max(len(line[i]) for line in cells) for i in range(len(COLUMNS))]
    lines = []
    for index, line in enumerate(cells):
        lines.append("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)))
        if index == 0:
            lines.append("  ".join("-" * width for width in widths))
    return "\n".join(line.rstrip() for line in lines)


def markdown_table(rows: list[Row]) -> str:
    """The same table in Markdown (``|`` in cells escaped), with a bold MISSED status."""

    def cell(text: str) -> str:
        text = text.replace("|", "\\|")
        return "**MISSED**" if text == "MISSED" else text

    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "|".join("---" for _ in COLUMNS) + "|"]
    lines.extend("| " + " | ".join(cell(c) for c in _cells(row)) + " |" for row in rows)
    return "\n".join(lines)


def _parse_only(value: str) -> list[str]:
    chosen = [part.strip() for part in value.split(",") if part.strip()]
    unknown = [part for part in chosen if part not in FIGURES]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown figure(s) {unknown}; pick from {', '.join(FIGURES)}"
        )
    return chosen


def main(argv: list[str] | None = None) -> int:
    """Parse options, run the figures in order, print machine info, the table and notes."""
    parser = argparse.ArgumentParser(
        description="tqlbuilder benchmarks: baseline vs tqlbuilder, as ratios."
    )
    parser.add_argument("--quick", action="store_true", help="short smoke run (< 60 s)")
    parser.add_argument("--only", type=_parse_only, help="comma-separated figures, e.g. 1,4")
    parser.add_argument(
        "--profile", action="store_true", help="cProfile every candidate that misses its target"
    )
    parser.add_argument("--markdown", action="store_true", help="also print a Markdown table")
    parser.add_argument("--json", type=Path, metavar="PATH", help="write results as JSON")
    parser.add_argument(
        "--plots",
        type=Path,
        metavar="DIR",
        help="figure 10 writes its log-log plots to DIR/scaling-<sweep>.png (e.g. docs)",
    )
    args = parser.parse_args(argv)

    settings = Settings.quick() if args.quick else Settings.full()
    if args.profile:
        settings = dataclasses.replace(settings, profile=True)
    info = machine_info()
    print(f"tqlbuilder benchmarks ({settings.name} run)")
    for key, value in info.items():
        print(f"  {key}: {value}")
    print(flush=True)

    rows: list[Row] = []
    timings: dict[str, float] = {}
    started = time.perf_counter()
    for figure in args.only or list(FIGURES):
        title, run = FIGURES[figure]
        print(f"figure {figure}: {title} ...", end=" ", flush=True)
        figure_start = time.perf_counter()
        if figure == "10":
            rows.extend(bench_scaling.run(settings, plots=args.plots))
        else:
            rows.extend(run(settings))
        timings[figure] = time.perf_counter() - figure_start
        print(f"{timings[figure]:.1f} s", flush=True)
    total = time.perf_counter() - started

    print()
    print(text_table(rows))
    noted = [row for row in rows if row.notes or row.profile]
    if noted:
        print("\nnotes:")
        for row in noted:
            for note in row.notes:
                print(f"  [{row.figure}] {row.case}: {note}")
            if row.profile:
                print(f"  [{row.figure}] {row.case}: cProfile of the candidate (per call):")
                for line in row.profile:
                    print(f"      {line}")
    missed = [row for row in rows if row.status == "MISSED"]
    print(
        f"\n{len(rows)} rows, {len(missed)} target(s) missed; total {total:.1f} s "
        f"({settings.name} run)"
    )
    if args.markdown:
        print()
        print(markdown_table(rows))
    if args.json:
        document = {
            "settings": dataclasses.asdict(settings),
            "machine": info,
            "seconds": {"total": total, **timings},
            "rows": [row.as_dict() for row in rows],
        }
        args.json.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
