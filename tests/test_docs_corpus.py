"""The TQL of Deep Lake's own docs and tests, against ``parse()`` and the engine (issue 10 item 13).

``tests/data/deeplake_docs_corpus.jsonl`` holds each query with its source (repository, commit,
file and line), the columns it uses (inferred by :func:`infer_columns`; :func:`make_dataset`
builds a small dataset with them) and what the engine did when the corpus was built with
``tests/probes/corpus_run.py`` (deeplake 4.7.4). The property: every text either parses and its
compiled form returns the engine's rows for the original text, or ``parse()`` refuses it and the
engine rejects it too. Entries where today's parser disagrees carry an ``xfail`` reason (parser work
for the integrator). Texts that kill or hang the engine are never run in this process.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

CORPUS = Path(__file__).parent / "data" / "deeplake_docs_corpus.jsonl"
ROWS = 12  # the docs index up to data(embedding, 10)
TEXTS = [
    "apple pie",
    "deep learning tutorial",
    "cat",
    "person",
    "mountain lake",
    "training",
    "Doc 7 searched",
    "validation images",
    "the quick brown fox",
    "vector databases and bm25 search",
    "",
    "Lorem ipsum it's fine",
]
_VECTOR_FUNCS = {"COSINE_SIMILARITY", "DOT", "L1_NORM", "L2_NORM", "LINF_NORM", "HAMMING_DISTANCE"}
_TEXT_FUNCS = {"CONTAINS", "EQUALS", "LOWER", "UPPER"}
_ARRAY_FUNCS = {"ANY", "ALL", "ALL_STRICT", "SHAPE", "SUM", "AVG", "AMIN", "AMAX", "STD"}
_NOT_COLUMNS = {"dataset", "table1", "table2"}


def _dimension(text: str, after: int) -> int:
    """The number of elements of the first ARRAY[...] literal at or after ``after``."""
    match = re.compile(r"ARRAY\s*\[", re.IGNORECASE).search(text, after)
    if not match:
        return 4
    depth, i, count, nested = 1, match.end(), 1, False
    while i < len(text) and depth:
        ch = text[i]
        if ch == "[":
            depth += 1
            nested = True
        elif ch == "]":
            depth -= 1
        elif ch == "," and depth == 1:
            count += 1
        i += 1
    if nested:  # ARRAY[ARRAY[...], ...]: the inner length
        inner = re.compile(r"ARRAY\s*\[([^\[\]]*)\]", re.IGNORECASE).search(text, match.end())
        return inner.group(1).count(",") + 1 if inner else 4
    return count


def infer_columns(text: str) -> dict[str, str]:
    """Column name -> type spec (``int``, ``float``, ``bool``, ``text``, ``bm25``, ``dict``,
    ``vector:<dim>``, ``matrix:<dim>``, ``array``) for the identifiers a query uses.

    A heuristic: the role an identifier plays decides its type (a vector function's first
    argument is an embedding of the ARRAY literal's length, ``x['k']`` is a dict, ...).
    """
    from tqlbuilder.text.lexer import TokenKind, lex

    tokens = [t for t in lex(text) if t.kind is not TokenKind.COMMENT]
    columns: dict[str, str] = {}
    aliases: set[str] = set()
    for i, tok in enumerate(tokens):
        if tok.kind is TokenKind.KEYWORD and tok.value == "AS" and i + 1 < len(tokens):
            aliases.add(str(tokens[i + 1].value))
    for i, tok in enumerate(tokens):
        if tok.kind not in (TokenKind.IDENTIFIER, TokenKind.QUOTED_IDENTIFIER):
            continue
        name = str(tok.value)
        after = tokens[i + 1] if i + 1 < len(tokens) else None
        before = tokens[i - 1] if i else None
        if after is not None and after.text == "(":
            continue  # a function
        if after is not None and after.text == ".":
            continue  # a dataset alias
        if before is not None and before.kind is TokenKind.KEYWORD and before.value in ("AS",):
            continue
        if name in aliases or name.lower() in _NOT_COLUMNS or name.upper() == "ARRAY":
            continue
        if before is not None and before.kind is TokenKind.KEYWORD and before.value == "FROM":
            continue
        kind = "float"
        nxt = tokens[i + 2] if i + 2 < len(tokens) else None
        if after is not None and after.text == "[":
            if nxt is not None and nxt.kind is TokenKind.STRING:
                kind = "dict"
            else:
                commas = text[after.end : text.find("]", after.end)].count(",")
                kind = ("vector:4", "matrix:4", "cube:4")[min(commas, 2)]
        elif after is not None and after.text in ("=", "==", "!=", "<>") and nxt is not None:
            if nxt.kind is TokenKind.STRING:
                kind = "text"
            elif nxt.kind is TokenKind.KEYWORD and nxt.value in ("TRUE", "FALSE"):
                kind = "bool"
        elif (
            after is not None
            and after.kind is TokenKind.KEYWORD
            and after.value
            in (
                "LIKE",
                "ILIKE",
            )
        ):
            kind = "text"
        elif after is not None and after.kind is TokenKind.KEYWORD and after.value in ("IN", "NOT"):
            first = i + 3 if after.value == "IN" else i + 4  # x IN (v / x NOT IN (v
            if first < len(tokens) and tokens[first].kind is TokenKind.STRING:
                kind = "text"
        if after is not None and after.text == "-":
            kind = f"vector:{_dimension(text, tok.end)}"
        if name.lower() in ("id", "labels", "label_id", "year", "age"):
            kind = "int" if kind == "float" else kind
        columns[name] = _stronger(columns.get(name), kind)
    for i, tok in enumerate(tokens[2:], start=2):
        name = str(tok.value)
        if name not in columns or tokens[i - 1].text != "(":
            continue
        func = str(tokens[i - 2].value).upper()
        kind = columns[name]
        if func in _VECTOR_FUNCS:
            kind = f"vector:{_dimension(text, tok.end)}"
        elif func == "MAXSIM":
            kind = f"matrix:{_dimension(text, tok.end)}"
        elif func == "BM25_SIMILARITY":
            kind = "bm25"
        elif func == "KEYS":
            kind = "dict"
        elif func in _TEXT_FUNCS and kind in ("float", "int"):
            kind = "text"
        elif func in _ARRAY_FUNCS and kind in ("float", "int"):
            kind = "vector:4"
        columns[name] = kind
    return columns


_RANK = {"float": 0, "int": 1, "bool": 2, "text": 3, "array": 4, "dict": 5}


def _stronger(old: str | None, new: str) -> str:
    if old is None:
        return new
    return old if _RANK.get(old.split(":")[0], 6) >= _RANK.get(new.split(":")[0], 6) else new


def make_dataset(path: str, columns: dict[str, str]) -> Any:
    """Create ``path`` with ``ROWS`` deterministic rows of the given column types; return it."""
    import deeplake
    import numpy as np
    from deeplake import types

    ds = deeplake.create(path)
    data: dict[str, Any] = {}
    if not columns:  # a dataset needs a column; queries that name none get ``id``
        columns = {"id": "int"}
    for name, spec in columns.items():
        kind, _, size = spec.partition(":")
        dim = int(size or 4)
        if kind == "int":
            ds.add_column(name, types.Int64())
            data[name] = [i % 5 for i in range(ROWS)] if name != "id" else list(range(ROWS))
        elif kind == "float":
            ds.add_column(name, types.Float64())
            data[name] = [i * 0.25 for i in range(ROWS)]
        elif kind == "bool":
            ds.add_column(name, types.Bool())
            data[name] = [i % 2 == 0 for i in range(ROWS)]
        elif kind in ("text", "bm25"):
            index = types.BM25 if kind == "bm25" else None
            ds.add_column(name, types.Text(index_type=index) if index else types.Text())
            data[name] = list(TEXTS)
        elif kind == "dict":
            ds.add_column(name, types.Dict())
            data[name] = [
                {"k": f"v{i % 3}", "n": i, "score": i / 8, "verified": i % 2 == 0}
                for i in range(ROWS)
            ]
        elif kind == "vector":
            ds.add_column(name, types.Embedding(dim))
            rng = np.random.default_rng(dim)
            data[name] = rng.random((ROWS, dim), dtype=np.float32)
        elif kind == "cube":
            ds.add_column(name, types.Array(types.Float32(), dimensions=3))
            rng = np.random.default_rng(dim + 2)
            data[name] = [rng.random((3, 6, 6), dtype=np.float32) for _ in range(ROWS)]
        else:  # matrix
            ds.add_column(name, types.Array(types.Float32(), dimensions=2))
            rng = np.random.default_rng(dim + 1)
            data[name] = [rng.random((3, dim), dtype=np.float32) for _ in range(ROWS)]
    ds.append(data)
    ds.commit()
    return ds


_FROM_TARGET = re.compile(
    r"\b(FROM|JOIN)(\s+)(\"[^\"]*\"|'[^']*'|[A-Za-z_][\w./:-]*)(?=(\s|\)|$|;))", re.IGNORECASE
)


def with_source(text: str, path: str) -> tuple[str, bool]:
    """``text`` with every dataset named after FROM/JOIN replaced by ``path``; True if any was."""
    replaced = False

    def swap(match: re.Match[str]) -> str:
        nonlocal replaced
        target = match.group(3)
        if target.upper() == "SELECT":
            return match.group(0)
        replaced = True
        return f'{match.group(1)}{match.group(2)}"{path}"'

    return _FROM_TARGET.sub(swap, text), replaced


def fingerprint(view: Any, text: str = "") -> list[Any]:
    """Column names and values of a result as text (NaN equals NaN); for a random query
    (SAMPLE BY, RANDOM()) only the column names and the number of rows."""
    import numpy as np

    names = [column.name for column in view.schema.columns]
    if re.search(r"\bSAMPLE\s+BY\b|\bRANDOM\s*\(", text, re.IGNORECASE):
        return [names, len(view)]
    out: list[Any] = [names]
    for name in names:
        values = view[name][:]
        if isinstance(values, np.ndarray) and values.dtype.kind in "fiub":
            out.append(np.array2string(np.round(values.astype(float), 5), threshold=10**9))
        else:
            out.append([str(v) for v in values])
    return out


#: What the engine raises for a text it rejects (mostly RuntimeError; IndexError for data(x, i)).
ENGINE_ERRORS = (RuntimeError, IndexError, ValueError, TypeError)
_SECOND_KEY = re.compile(r"(ORDER\s+BY\s+[^,]+?)\s*,[^)]*?(?=\s+LIMIT\b|\s*$)", re.IGNORECASE)
_EXPAND = re.compile(r"\s*EXPAND\s+BY\b.*$", re.IGNORECASE | re.DOTALL)


def confirming_text(text: str, refusal: str) -> str | None:
    """For a refusal that says the engine ignores part of ``text``: the text without that part.

    The refusal is true when the engine returns the same for both (the part was a no-op):
    text the lexer stops reading (engine-probe §0.2), a second ORDER BY key (§3.7), EXPAND BY.
    """
    from tqlbuilder.text.lexer import engine_prefix_end, lex

    if "unknown character" in refusal or "stops" in refusal:
        end = engine_prefix_end(lex(text))
        return text[:end] if end is not None else None
    if "second ORDER BY key" in refusal:
        shorter = _SECOND_KEY.sub(r"\1", text, count=1)
        return shorter if shorter != text else None
    if "EXPAND BY" in refusal:
        shorter = _EXPAND.sub("", text)
        return shorter if shorter != text else None
    return None


# ------------------------------------------------------------------------------------- the test


def _entries() -> list[dict[str, Any]]:
    if not CORPUS.exists():
        return []
    return [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines() if line]


def _params() -> list[Any]:
    params = []
    for number, entry in enumerate(_entries()):
        marks: list[Any] = [pytest.mark.engine]
        reason = entry.get("xfail")
        if reason:
            marks.append(pytest.mark.xfail(strict=True, reason=reason))
        params.append(pytest.param(entry, marks=marks, id=f"{number:03d}"))
    return params


def test_corpus_is_large_and_attributed() -> None:
    entries = _entries()
    assert len(entries) >= 300
    for entry in entries:
        assert re.fullmatch(r"activeloopai/deeplake@[0-9a-f]{12}:[\w./-]+:\d+", entry["source"])
        assert entry["engine"]["status"] in ("ok", "error", "crash", "hang", "unstable")


_DATA_DEPENDENT = re.compile(
    r"different length arrays|cannot be used without index|Datasets can't be merged"
)
_REPAIRED = re.compile(r"requires 2 arguments")


@pytest.mark.parametrize("entry", _params())
def test_corpus_entry(entry: dict[str, Any], tmp_path: Path) -> None:
    from tqlbuilder import parse
    from tqlbuilder.errors import TQLError

    deeplake = pytest.importorskip("deeplake")
    engine = entry["engine"]
    path = f"mem://corpus-{tmp_path.name}"
    text, has_source = with_source(entry["query"], path)
    try:
        query = parse(text)
    except TQLError as error:
        refused: str | None = str(error)
    else:
        refused = None
    if "by_design" in entry:  # a construct the builder deliberately does not offer
        assert refused is not None and entry["by_design"] in refused, refused
        return
    if engine["status"] in ("crash", "hang"):
        if refused is None:  # accepted only as a rewrite that the checker finds safe
            from tqlbuilder import check

            compiled = (query if has_source else query.from_(path)).to_tql()
            assert compiled != text
            assert not [f for f in check(compiled) if f.kind in ("crash", "hang")], compiled
        return
    ds = make_dataset(path, entry["columns"])

    def run(tql: str) -> Any:
        return ds.query(tql) if not has_source else deeplake.query(tql)

    if refused is not None:
        confirm = confirming_text(text, refused)
        if engine["status"] == "ok" and confirm is not None:  # the refused part is a no-op
            assert fingerprint(run(text), text) == fingerprint(run(confirm), text)
            return
        assert engine["status"] == "error", f"parse() refuses a text the engine runs: {refused}"
        with pytest.raises(ENGINE_ERRORS):  # some errors come only when rows are read
            fingerprint(run(text), text)
        return
    if engine["status"] == "error" and _REPAIRED.search(engine.get("message", "")):
        # ORDER BY <L1/LINF score> LIMIT k fails on the engine; the builder sorts in a
        # subquery and limits outside it, so the compiled text runs
        compiled = (query if has_source else query.from_(path)).to_tql()
        assert compiled != text
        fingerprint(deeplake.query(compiled) if has_source else ds.query(query.to_tql()), text)
        return
    if engine["status"] == "error" and _DATA_DEPENDENT.search(engine.get("message", "")):
        # the error depends on the data the corpus guessed (vector lengths, a missing index),
        # not on the text: the compiled text must fail the same way
        compiled = (query if has_source else query.from_(path)).to_tql()
        with pytest.raises(ENGINE_ERRORS, match=_DATA_DEPENDENT):
            fingerprint(deeplake.query(compiled), compiled)
        return
    assert engine["status"] in ("ok", "unstable"), (
        f"parse() accepts a text the engine rejects: {engine}"
    )
    if engine["status"] == "unstable":  # the engine's own answer changes between runs
        deeplake.query((query if has_source else query.from_(path)).to_tql())
        return
    expected = fingerprint(run(text), text)
    compiled = (query if has_source else query.from_(path)).to_tql()
    assert fingerprint(deeplake.query(compiled), text) == expected, compiled
