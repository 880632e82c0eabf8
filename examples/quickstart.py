"""Quickstart: build queries with tqlbuilder and run them on the embedded Deep Lake engine.

Run it from the repository root after ``pip install -e ".[local]"``::

    python examples/quickstart.py

It builds a small dataset from the shipped example data (300 short passages with real
all-MiniLM-L6-v2 embeddings and a BM25 index on ``text``) into ``examples/.datasets/``, then
runs three kinds of query through :class:`tqlbuilder.LocalExecutor`: a metadata filter, a vector
search and a BM25 text search. Each query is printed as TQL, followed by its rows.

The queries name the dataset ``hub://org/passages``, exactly as they would for the cloud REST
API; ``LocalExecutor(root=...)`` maps that path to ``examples/.datasets/org/passages``. The
other examples import :func:`build_example_dataset`, :func:`example_queries` and
:func:`print_result` from here.
"""

from __future__ import annotations

import pathlib
import re
import time
from collections.abc import Sequence
from typing import Any

from _data import build_dataset, load_questions, question_embeddings

from tqlbuilder import LocalExecutor, Query, Result, col, select

ROOT = pathlib.Path(__file__).resolve().parent / ".datasets"
"""Dataset root: ``hub://org/passages`` lives in ``ROOT/org/passages`` (git-ignored)."""

DATASET = "hub://org/passages"
"""The dataset path the queries use, as they would over REST."""

_ARRAY = re.compile(r"ARRAY\[([^\[\]]*)\]")


def build_example_dataset(root: pathlib.Path = ROOT) -> str:
    """(Re)build the passages dataset under ``root/org/passages``; return its ``file://`` URL."""
    return build_dataset(root / "org" / "passages", overwrite=True)


def example_queries() -> list[tuple[str, Query]]:
    """The three queries of the quickstart, with a one-line description each."""
    questions = load_questions()
    question = questions[0]  # "When did humans first land on the Moon?"
    embedding = question_embeddings()[question["id"]]
    return [
        (
            "Filter: space passages from 1960 on, oldest first",
            select("id", "year", "text")
            .from_(DATASET)
            .where(col("topic") == "space", col("year") >= 1960)
            .order_by("year")
            .limit(5),
        ),
        (
            f"Vector search: nearest passages to {question['question']!r}",
            select("id", "topic", "text").from_(DATASET).similar_to(embedding).limit(3),
        ),
        (
            "Text search (BM25): 'first woman in space'",
            select("id", "topic", "text")
            .from_(DATASET)
            .text_search("first woman in space")
            .limit(3),
        ),
    ]


def shorten_tql(text: str, keep: int = 3) -> str:
    """Abbreviate long ``ARRAY[...]`` literals so a 384-d query vector fits on the screen."""

    def abbreviate(match: re.Match[str]) -> str:
        values = [value.strip() for value in match.group(1).split(",")]
        if len(values) <= keep + 1:
            return match.group(0)
        head = ", ".join(values[:keep])
        return f"ARRAY[{head}, ... {len(values)} values]"

    return _ARRAY.sub(abbreviate, text)


def _cell(value: Any, width: int) -> str:
    text = f"{value:.4f}" if isinstance(value, float) else str(value)
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 3] + "..."


def format_table(result: Result, widths: Sequence[int] | None = None) -> str:
    """A small fixed-width text table of a result's rows (long text is cut to fit)."""
    names = result.tensors
    if widths is None:
        widths = [64 if name == "text" else max(len(name), 6) for name in names]
    header = " | ".join(name.ljust(width) for name, width in zip(names, widths, strict=True))
    header = header.rstrip()
    rule = "-+-".join("-" * width for width in widths)
    lines = [header, rule]
    for row in result.rows:
        cells = (_cell(row[name], width) for name, width in zip(names, widths, strict=True))
        line = " | ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True))
        lines.append(line.rstrip())
    if not result.rows:
        lines.append("(no rows)")
    return "\n".join(lines)


def print_result(title: str, query: Query, result: Result, seconds: float) -> None:
    """Print a query's description, its TQL (vectors abbreviated) and its rows as a table."""
    print(f"== {title}")
    print(shorten_tql(query.to_tql(pretty=True)))
    print()
    print(format_table(result))
    rows = "row" if len(result) == 1 else "rows"
    print(f"({len(result)} {rows} in {seconds * 1000:.1f} ms)")
    print()


def main() -> None:
    started = time.perf_counter()
    url = build_example_dataset()
    print(f"Built the example dataset at {url} in {time.perf_counter() - started:.2f} s")
    print(f"Queries name {DATASET!r}; LocalExecutor(root=...) reads it from {ROOT}\n")

    with LocalExecutor(root=ROOT) as executor:
        for title, query in example_queries():
            began = time.perf_counter()
            result = executor.execute(query)
            print_result(title, query, result, time.perf_counter() - began)

        # the vector search found the passage that answers the question
        question = load_questions()[0]
        top = executor.execute(example_queries()[1][1]).rows[0]
        print(f"Top hit for {question['question']!r}: passage {top['id']}")
        print(f"Expected answer: passage {question['answer_id']}")
    print(f"Done in {time.perf_counter() - started:.2f} s")


if __name__ == "__main__":
    main()
