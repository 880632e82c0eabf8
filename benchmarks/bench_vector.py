"""Figure 1: build and compile a vector query, against the f-string from the API docs.

The baseline is the pattern users copy from the Deep Lake API docs: join ``str(x)`` of every
element of the embedding into an f-string. The candidate builds the same query with the fluent
builder and compiles it. Both start from the same float32 numpy vector (unit-normalised, as
sentence embeddings are) and end with the query text; the two texts are checked to mean the
same thing (same tokens, same float32 values) before anything is timed.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np
import numpy.typing as npt

from benchmarks._harness import (
    Row,
    Settings,
    Thunk,
    attach_breakdown,
    attach_profile,
    compare,
    format_ns,
    status,
)
from tqlbuilder import lex, select
from tqlbuilder.text.lexer import Token, TokenKind

__all__ = [
    "array_values",
    "baseline",
    "candidate",
    "check_equivalent",
    "embedding",
    "normalised_tokens",
    "run",
]

DATASET = "hub://org/ds"
TARGET_SPEEDUP = 15.0
LENGTH_SLACK = 0.01  # the text may be up to 1% longer than the baseline's (issue 13)
TARGET_DIM = 1536


def embedding(dim: int, seed: int = 0) -> npt.NDArray[np.float32]:
    """A unit-length float32 vector, like the output of a sentence-embedding model."""
    vector = np.random.default_rng(seed + dim).standard_normal(dim).astype(np.float32)
    normalised: npt.NDArray[np.float32] = (vector / np.linalg.norm(vector)).astype(np.float32)
    return normalised


def baseline(emb: npt.NDArray[np.float32]) -> str:
    """The API docs' hand-written query: ``str()`` of every element, joined, in an f-string."""
    s = ",".join(str(x) for x in emb)
    return (
        f"select * from (select text, cosine_similarity(embedding, ARRAY[{s}]) as score "
        f'from "{DATASET}") order by score desc limit 5'
    )


def candidate(emb: npt.NDArray[np.float32]) -> str:
    """The same query with tqlbuilder: build, then compile (``to_tql``)."""
    return select("text").from_(DATASET).similar_to(emb, metric="cosine").limit(5).to_tql()


def _token_key(token: Token, following: Token | None) -> tuple[Any, ...]:
    kind = token.kind
    if kind in (TokenKind.IDENTIFIER, TokenKind.QUOTED_IDENTIFIER):
        if following is not None and following.text == "(":
            return ("function", str(token.value).upper())
        return ("name", token.value)  # bare and quoted names are the same name
    if kind is TokenKind.FLOAT:
        return ("number", float(np.float32(token.value)))  # what a float32 column compares
    if kind is TokenKind.INTEGER:
        return ("number", token.value)
    return (kind.value, token.value)


def normalised_tokens(tql: str) -> list[tuple[Any, ...]]:
    """Tokens as the engine reads them, with spelling differences that mean nothing removed.

    Keywords and function names are case-insensitive; a bare name equals the same name in
    double quotes; floats are compared as the float32 they become. Two queries with equal
    normalised tokens are the same query.
    """
    tokens = lex(tql)
    keys = []
    for index, token in enumerate(tokens):
        following = tokens[index + 1] if index + 1 < len(tokens) else None
        keys.append(_token_key(token, following))
    return keys


def array_values(tql: str) -> npt.NDArray[np.float32]:
    """The elements of the first ``ARRAY[...]`` of ``tql``, read as the engine reads them."""
    tokens = lex(tql)
    start = next(
        i for i, t in enumerate(tokens) if t.kind is TokenKind.KEYWORD and t.value == "ARRAY"
    )
    values: list[float] = []
    sign = 1.0
    for token in tokens[start + 2 :]:
        if token.text == "]":
            break
        if token.text == "-":
            sign = -sign
        elif token.kind in (TokenKind.FLOAT, TokenKind.INTEGER):
            assert isinstance(token.value, (int, float))
            values.append(sign * float(token.value))
            sign = 1.0
        elif token.text != ",":
            raise AssertionError(f"unexpected token {token.text!r} in ARRAY[...]")
    return np.asarray(values, dtype=np.float32)


def check_equivalent(emb: npt.NDArray[np.float32]) -> None:
    """Raise AssertionError unless baseline and candidate are the same query for ``emb``."""
    base, cand = baseline(emb), candidate(emb)
    if normalised_tokens(base) != normalised_tokens(cand):
        raise AssertionError(f"figure 1 queries differ:\n{base[:200]}\n{cand[:200]}")
    for name, text in (("baseline", base), ("candidate", cand)):
        if not np.array_equal(array_values(text), emb):
            raise AssertionError(f"figure 1: the {name} vector does not read back exactly")


def breakdown(emb: npt.NDArray[np.float32]) -> dict[str, Thunk]:
    """The candidate's steps, each alone (``compile_query`` bypasses the ``to_tql`` cache)."""
    import orjson

    from tqlbuilder.compiler.lower import compile_query
    from tqlbuilder.tree.literals import render_vector

    base = select("text").from_(DATASET)
    built = base.similar_to(emb, metric="cosine").limit(5)
    return {
        "orjson.dumps(vector) (the floor)": partial(
            orjson.dumps, emb, option=orjson.OPT_SERIALIZE_NUMPY
        ),
        "render_vector": partial(render_vector, emb),
        'select("text").from_(ds)': lambda: select("text").from_(DATASET),
        ".similar_to(vector)": partial(base.similar_to, emb, metric="cosine"),
        ".limit(5)": partial(base.limit, 5),
        "compile_query": partial(compile_query, built),
    }


def run(settings: Settings) -> list[Row]:
    """Speed (per dimension) and text length (per dimension) rows."""
    rows: list[Row] = []
    for dim in settings.dims:
        emb = embedding(dim)
        check_equivalent(emb)
        result = compare(
            {
                "f-string": partial(baseline, emb),
                "tqlbuilder": partial(candidate, emb),
            },
            rounds=settings.rounds,
            batch_ns=settings.batch_ns,
        )
        speedup = result.speedup("f-string", "tqlbuilder")
        judged = dim == TARGET_DIM
        row = Row(
            figure="1",
            case=f"vector query {dim}-d float32: build + compile",
            baseline=f"f-string {format_ns(result.median('f-string'))}",
            candidate=f"tqlbuilder {format_ns(result.median('tqlbuilder'))}",
            result=f"{speedup:.1f}x faster",
            target=f">= {TARGET_SPEEDUP:.0f}x" if judged else "(judged at 1536-d)",
            status=status(speedup >= TARGET_SPEEDUP if judged else None),
            value=speedup,
        )
        attach_profile(row, partial(candidate, emb), result.median("tqlbuilder"), settings)
        attach_breakdown(row, breakdown(emb), settings)
        rows.append(row)
    for dim in settings.dims:
        emb = embedding(dim)
        base_len, cand_len = len(baseline(emb)), len(candidate(emb))
        rows.append(
            Row(
                figure="1",
                case=f"vector query {dim}-d: query text length",
                baseline=f"f-string {base_len:,} chars",
                candidate=f"tqlbuilder {cand_len:,} chars",
                result=f"{cand_len - base_len:+,} chars ({cand_len / base_len:.4f}x)",
                target=f"<= {1 + LENGTH_SLACK:.2f}x baseline",
                status=status(cand_len <= base_len * (1 + LENGTH_SLACK)),
                value=cand_len - base_len,
            )
        )
    return rows
