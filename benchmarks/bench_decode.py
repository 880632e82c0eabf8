"""Figure 4: decode a large query response into a ``Result``, against ``requests``' ``.json()``.

The bodies are what the query API sends for 10,000 rows of ``text`` + ``score`` (and, in the
second pair of cases, a 384-d ``embedding``), in both of its shapes: ``as_list`` true (a list
of row objects) and false (an object of column arrays). Float32 values are written the way a
float32 serialiser writes them (shortest round-trip text). The text and embeddings are the
repository's example passages (``examples/data``: 300 passages of real prose, 176 characters on
average, 6% with a non-ASCII character, and their all-MiniLM-L6-v2 embeddings), cycled.

The baseline is ``response.json()`` on a ``requests.Response`` built by hand around the same
bytes (``_content``; status 200; no declared encoding, as the API sends ``application/json``),
i.e. what the API docs' pattern does after the transfer. The candidate is
``Result.from_response_body``, which parses *and* validates the shape and converts it to
columns; the baseline only parses. Both results are checked to hold the same values.
"""

from __future__ import annotations

import json
from functools import partial
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson
import requests

from benchmarks._harness import (
    REPO_ROOT,
    Row,
    Settings,
    attach_profile,
    compare,
    format_ns,
    status,
)
from tqlbuilder import Result

__all__ = ["body", "check_equivalent", "make_response", "run"]

TARGET_SPEEDUP = 2.0
TARGET_ROWS_SPEEDUP = 2.5  # the rows shape without embeddings (issue 13)
QUERY = 'SELECT "text", "score" FROM "hub://org/ds" LIMIT 10000'
EXAMPLE_DATA = REPO_ROOT / "examples" / "data"


def _passages() -> tuple[list[str], npt.NDArray[np.float32]]:
    """The repository's example passages (real prose) and their MiniLM embeddings."""
    with (EXAMPLE_DATA / "passages.jsonl").open(encoding="utf-8") as fh:
        texts = [json.loads(line)["text"] for line in fh if line.strip()]
    embeddings = np.load(EXAMPLE_DATA / "passage_embeddings.npy", allow_pickle=False)
    return texts, embeddings.astype(np.float32)


def body(rows: int, *, as_list: bool, embedding_dim: int = 0, seed: int = 0) -> bytes:
    """A successful API response body with ``rows`` rows, in the requested shape.

    Texts and embeddings are the example passages and their 384-d embeddings, cycled to
    ``rows`` rows (an embedding wider than 384 is tiled). Scores are random float32.
    """
    texts, embeddings = _passages()
    order = np.arange(rows) % len(texts)
    columns: dict[str, Any] = {
        "text": [texts[i] for i in order],
        "score": np.random.default_rng(seed).random(rows, dtype=np.float32),
    }
    if embedding_dim:
        reps = -(-embedding_dim // embeddings.shape[1])
        columns["embedding"] = np.tile(embeddings, (1, reps))[order, :embedding_dim]
    tensors = list(columns)
    data: Any
    if as_list:
        data = [
            {name: columns[name][i] for name in tensors}  # numpy scalars/rows: float32 text
            for i in range(rows)
        ]
    else:
        data = columns
    document = {"message": "Query successful.", "tensors": tensors, "data": data}
    return orjson.dumps(document, option=orjson.OPT_SERIALIZE_NUMPY)


def make_response(content: bytes) -> requests.Response:
    """A ``requests.Response`` around ``content``, as the transport would leave it."""
    response = requests.Response()
    response._content = content
    response.status_code = 200
    response.headers["Content-Type"] = "application/json"
    return response


def decode(content: bytes, as_list: bool) -> Result:
    """Candidate: tqlbuilder's decoding of a success body."""
    return Result.from_response_body(content, as_list=as_list, status=200, query=QUERY)


def check_equivalent(content: bytes, as_list: bool) -> None:
    """Raise AssertionError unless both decoders yield the same columns and values."""
    document = make_response(content).json()
    result = decode(content, as_list)
    data = document["data"]
    expected = (
        {name: [row[name] for row in data] for name in document["tensors"]} if as_list else data
    )
    if result.tensors != tuple(document["tensors"]) or result.columns != expected:
        raise AssertionError("figure 4: Result and requests' .json() disagree")


def run(settings: Settings) -> list[Row]:
    """One row per (columns, shape): 2 x text+score, 2 x text+score+embedding."""
    cases = [
        (settings.decode_rows, 0, True),
        (settings.decode_rows, 0, False),
        (settings.embedding_rows, settings.embedding_dim, True),
        (settings.embedding_rows, settings.embedding_dim, False),
    ]
    rows: list[Row] = []
    for n_rows, dim, as_list in cases:
        content = body(n_rows, as_list=as_list, embedding_dim=dim)
        check_equivalent(content, as_list)
        response = make_response(content)
        slow = dim > 0
        result = compare(
            {
                "requests .json()": response.json,
                "Result": partial(decode, content, as_list),
            },
            rounds=settings.slow_rounds if slow else settings.rounds,
            batch_ns=settings.batch_ns,
            reps={"requests .json()": 1, "Result": 1} if slow else None,
        )
        speedup = result.speedup("requests .json()", "Result")
        target = TARGET_ROWS_SPEEDUP if as_list and not dim else TARGET_SPEEDUP
        columns = f"text + score + {dim}-d embedding" if dim else "text + score"
        shape = "rows (as_list=true)" if as_list else "columns (as_list=false)"
        row = Row(
            figure="4",
            case=f"decode {n_rows:,} rows, {columns}, {shape}, {len(content) / 1e6:.1f} MB",
            baseline=f"requests .json() {format_ns(result.median('requests .json()'))}",
            candidate=f"Result {format_ns(result.median('Result'))}",
            result=f"{speedup:.1f}x faster",
            target=f">= {target}x",
            status=status(speedup >= target),
            value=speedup,
        )
        attach_profile(row, partial(decode, content, as_list), result.median("Result"), settings)
        rows.append(row)
    return rows
