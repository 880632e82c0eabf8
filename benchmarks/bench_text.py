"""Figure 8: the text tools. ``lex`` / ``check`` against a plain ``re`` tokenizer, and depth.

* Speed: ``lex`` and ``check`` of a 30 KB vector query (1536 floats) against a 30-line
  tokenizer built on one ``re`` pattern that makes the same token split (checked equal). Target
  at most 2x the tokenizer's time (stretch 1.3x).
* Depth: ``lex``, ``check``, ``format`` and ``parse`` on 100,000 levels of parentheses,
  100,000 nested sub-selects and a 100,000-term flat sum. Each must return a result (or a clean
  ``TQLSyntaxError``) in under a second; the rows show the time of one call (median of a few)
  and, as the baseline, the ``re`` tokenizer on the same text: the floor any tool that reads
  every token pays on this machine at this moment (shared machines vary 2-5x with load).
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from functools import partial

from benchmarks._harness import Row, Settings, compare, format_ns, status, time_batch
from tqlbuilder import Query, check, lex, parse
from tqlbuilder import format as format_tql
from tqlbuilder.errors import TQLSyntaxError

__all__ = ["VECTOR_QUERY", "baseline_tokens", "check_equivalent", "deep_texts", "run"]

TARGET_RATIO = 2.0
STRETCH_RATIO = 1.3
TARGET_DEPTH = 100_000
TARGET_SECONDS = 1.0


def _vector_query() -> str:
    rng = random.Random(7)
    vector = ", ".join(repr(rng.uniform(-1, 1)) for _ in range(1536))
    return (
        'SELECT * FROM (SELECT "text", COSINE_SIMILARITY("embedding", ARRAY['
        + vector
        + ']) AS "score" FROM "hub://org/ds") ORDER BY "score" DESC LIMIT 5'
    )


VECTOR_QUERY = _vector_query()

# The baseline: what a careful user writes in 30 lines to split TQL into tokens.
_TOKEN = re.compile(
    r"""
    (?P<ws>[ \t\n]+)
  | (?P<comment>--[^\n]*)
  | (?P<number>[0-9]+\.[0-9]*(?:[eE][-+]?[0-9]+)?|\.[0-9]+(?:[eE][-+]?[0-9]+)?
              |[0-9]+(?:[eE][-+]?[0-9]+)?)
  | (?P<op>==|!=|<>|<=|>=|\|\||[-+*/(){},.;<>=^%:?\[\]|])
  | (?P<word>[A-Za-z][A-Za-z0-9_]*)
  | (?P<qident>"[^"\n]*"?)
  | (?P<string>'[^']*(?:''[^']*)*'?)
  | (?P<other>[\s\S])
    """,
    re.VERBOSE,
)


def baseline_tokens(text: str) -> list[tuple[str, str]]:
    """``(kind, text)`` of every token but whitespace: one regex, one loop."""
    out = []
    append = out.append
    for match in _TOKEN.finditer(text):
        kind = match.lastgroup
        if kind != "ws":
            append((str(kind), match.group()))
    return out


def check_equivalent(text: str = VECTOR_QUERY) -> None:
    """Raise AssertionError unless the baseline splits ``text`` exactly as ``lex`` does."""
    ours = [tok.text for tok in lex(text)]
    theirs = [tok for _, tok in baseline_tokens(text)]
    if ours != theirs:
        raise AssertionError("figure 8: the baseline tokenizer splits differently from lex")


def deep_texts(depth: int) -> dict[str, str]:
    """The depth cases: nested parentheses, nested sub-selects, a flat sum."""
    return {
        f"{depth:,} nested parentheses": "SELECT * FROM x WHERE "
        + "(" * depth
        + "a = 1"
        + ")" * depth,
        f"{depth:,} nested sub-selects": "SELECT * FROM "
        + "(SELECT * FROM " * depth
        + '"x"'
        + ")" * depth,
        f"{depth:,}-term flat sum": "SELECT * FROM x WHERE " + " + ".join(["a"] * depth) + " > 0",
    }


def _outcome(tool: Callable[[str], object], text: str) -> str:
    try:
        result = tool(text)
    except TQLSyntaxError as exc:
        return f"{type(exc).__name__} at {exc.position}"
    if isinstance(result, Query):
        return f"a Query ({len(result.to_tql()):,} chars of TQL)"
    return f"{len(result):,} {'chars' if isinstance(result, str) else 'items'}"  # type: ignore[arg-type]


def _speed_rows(settings: Settings) -> list[Row]:
    check_equivalent()
    result = compare(
        {
            "re tokenizer": partial(baseline_tokens, VECTOR_QUERY),
            "lex": partial(lex, VECTOR_QUERY),
            "check": partial(check, VECTOR_QUERY),
        },
        rounds=settings.rounds,
        batch_ns=settings.batch_ns,
    )
    rows = []
    for name in ("lex", "check"):
        ratio = 1 / result.speedup("re tokenizer", name)
        stretch = "met" if ratio <= STRETCH_RATIO else "missed"
        rows.append(
            Row(
                figure="8",
                case=f"{name} of a {len(VECTOR_QUERY) // 1000} KB vector query",
                baseline=f"re tokenizer {format_ns(result.median('re tokenizer'))}",
                candidate=f"{name} {format_ns(result.median(name))}",
                result=f"{ratio:.2f}x the tokenizer's time",
                target=f"<= {TARGET_RATIO:g}x (stretch {STRETCH_RATIO:g}x: {stretch})",
                status=status(ratio <= TARGET_RATIO),
                value=ratio,
            )
        )
    return rows


def _depth(settings: Settings) -> int:
    return {"full": TARGET_DEPTH, "quick": 10_000}.get(settings.name, 300)


def _depth_rows(settings: Settings) -> list[Row]:
    depth = _depth(settings)
    judged = depth == TARGET_DEPTH
    tools: dict[str, Callable[[str], object]] = {
        "lex": lex,
        "check": check,
        "format": format_tql,
        "parse": parse,
    }
    rows = []
    for case, text in deep_texts(depth).items():
        for name, tool in tools.items():
            outcome = _outcome(tool, text)
            call = partial(_outcome, tool, text)
            floor = partial(baseline_tokens, text)
            times, floors = [], []
            for _ in range(settings.slow_rounds):  # interleaved, like compare()
                times.append(time_batch(call, 1))
                floors.append(time_batch(floor, 1))
            seconds = sorted(times)[len(times) // 2] / 1e9
            floor_ns = sorted(floors)[len(floors) // 2]
            rows.append(
                Row(
                    figure="8",
                    case=f"{name}: {case}",
                    baseline=f"re tokenizer {format_ns(floor_ns)}",
                    candidate=f"{name} {format_ns(seconds * 1e9)}",
                    result=f"{outcome} ({seconds * 1e9 / floor_ns:.1f}x the tokenizer)",
                    target=f"< {TARGET_SECONDS:g} s" if judged else "(judged at 100,000)",
                    status=status(seconds < TARGET_SECONDS if judged else None),
                    value=seconds,
                )
            )
    return rows


def run(settings: Settings) -> list[Row]:
    """The speed rows, then the depth rows."""
    return _speed_rows(settings) + _depth_rows(settings)
