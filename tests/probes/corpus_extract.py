"""Extract the TQL in Deep Lake's public docs and tests into candidate corpus entries.

Reads a local mirror of github:activeloopai/deeplake (``--repo``, a bare git directory) and prints
JSON lines ``{"query", "source"}`` with ``source`` = ``activeloopai/deeplake@<ref>:<path>:<line>``.
Nothing of the mirror is stored except the query strings and their attribution. The next step,
``corpus_run.py``, runs them on the engine and writes ``tests/data/deeplake_docs_corpus.jsonl``.

    python tests/probes/corpus_extract.py --repo <mirror>/activeloopai+deeplake/repo > c.jsonl
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import subprocess
from collections.abc import Iterator

SOURCES: dict[str, list[str]] = {
    # v4 docs and stubs
    "main": [
        "docs/docs/advanced/tql.md",
        "docs/docs/advanced/best-practices.md",
        "docs/docs/api/dataset.md",
        "docs/docs/api/query.md",
        "docs/docs/api/types.md",
        "docs/docs/getting-started/quickstart.md",
        "docs/docs/guide/rag.md",
        "docs/docs/guide/v3-conversion.md",
        "docs/docs/index.md",
        "docs/docs/llms.txt",
        "python/deeplake/__init__.pyi",
        "python/deeplake/tql.pyi",
    ],
    "llms-docs-updates": [
        "docs/docs/llms/tql.txt",
        "docs/docs/llms/guides.txt",
        "docs/docs/llms/python.txt",
    ],
    # v3 tests (the TQL the engine's own test-suite ran)
    "release/3.9.52": [
        "deeplake/core/query/test/test_query.py",
        "deeplake/enterprise/test_query.py",
        "deeplake/core/tests/test_query.py",
        "deeplake/core/tests/test_indra_dataset.py",
        "deeplake/core/tests/test_inverted_indexes.py",
        "deeplake/core/tests/test_vdb_indexes.py",
        "deeplake/core/vectorstore/vector_search/indra/test_indra.py",
        "deeplake/core/vectorstore/test_deeplake_vectorstore.py",
        "deeplake/api/tests/test_api.py",
    ],
}
START = re.compile(r"^\s*\(*\s*select\b", re.IGNORECASE)
CONTINUES = re.compile(
    r"(union|intersect|except|from|join|\(|,|and|or|where|by)\s*$", re.IGNORECASE
)
LITERAL = re.compile(
    r'"""(?:.|\n)*?"""|\'\'\'(?:.|\n)*?\'\'\'|"(?:[^"\\\n]|\\.)*"|\'(?:[^\'\\\n]|\\.)*\''
)
FENCE = re.compile(r"^\s*```(\w*)")


def show(repo: str, ref: str, path: str) -> str:
    return subprocess.run(
        ["git", "--git-dir", repo, "show", f"{ref}:{path}"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def sql_statements(lines: list[str], first: int) -> Iterator[tuple[str, int]]:
    """Split an SQL code block into statements (blank lines and new top-level SELECTs)."""
    current: list[str] = []
    start = first
    depth = 0

    def flush() -> Iterator[tuple[str, int]]:
        text = "\n".join(current).strip()
        if START.match(text):
            yield text, start

    for offset, line in enumerate(lines):
        stripped = line.strip()
        code = stripped.split("--", 1)[0].strip() if not stripped.startswith("--") else ""
        if not stripped or (stripped.startswith("--") and not current):
            yield from flush()
            current, depth = [], 0
            continue
        previous = current[-1].split("--", 1)[0].strip() if current else ""
        if START.match(code) and current and depth == 0 and not CONTINUES.search(previous):
            yield from flush()
            current = []
        if not current:
            start = first + offset
        current.append(line.rstrip())
        depth += code.count("(") - code.count(")")
    yield from flush()


def literals(text: str, first: int) -> Iterator[tuple[str, int]]:
    """Python string literals in ``text`` that hold a SELECT."""
    for match in LITERAL.finditer(text):
        try:
            value = ast.literal_eval(match.group(0))
        except (ValueError, SyntaxError):
            continue
        if isinstance(value, str) and START.match(value):
            yield value.strip(), first + text.count("\n", 0, match.start())


def python_source(text: str) -> Iterator[tuple[str, int]]:
    try:
        tree = ast.parse(text)
    except SyntaxError:
        yield from literals(text, 1)
        return
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if START.match(node.value):
                yield node.value.strip(), node.lineno
            elif re.search(r"select\b", node.value, re.IGNORECASE):  # docstrings with examples
                yield from literals(node.value, node.lineno)
                yield from markdown(node.value, node.lineno)


def markdown(text: str, first: int = 1) -> Iterator[tuple[str, int]]:
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        fence = FENCE.match(lines[i])
        if fence:
            lang = fence.group(1).lower()
            j = i + 1
            while j < len(lines) and not FENCE.match(lines[j]):
                j += 1
            block = lines[i + 1 : j]
            if lang in ("sql", "tql", ""):
                yield from sql_statements(block, first + i + 1)
            yield from literals("\n".join(block), first + i + 1)
            i = j + 1
            continue
        for match in re.finditer(r"`([^`]+)`", lines[i]):
            if START.match(match.group(1)):
                yield match.group(1).strip(), first + i
        i += 1


def extract(repo: str) -> Iterator[dict[str, str]]:
    seen: set[str] = set()
    for ref, paths in SOURCES.items():
        commit = subprocess.run(
            ["git", "--git-dir", repo, "rev-parse", ref], check=True, capture_output=True, text=True
        ).stdout.strip()
        for path in paths:
            text = show(repo, ref, path)
            found = python_source(text) if path.endswith((".py", ".pyi")) else markdown(text)
            for query, line in found:
                key = " ".join(query.split())
                if key in seen or len(key) < 10:
                    continue
                seen.add(key)
                source = f"activeloopai/deeplake@{commit[:12]}:{path}:{line}"
                yield {"query": query, "source": source}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repo", required=True)
    args = parser.parse_args()
    for entry in extract(args.repo):
        print(json.dumps(entry, ensure_ascii=False))


if __name__ == "__main__":
    main()
