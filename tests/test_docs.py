"""Run every ```python block of README.md and docs/*.md, so no example in the docs can rot.

Each page's blocks run in order in one namespace (a later block sees what an earlier one
defined), in a temporary working directory that links ``examples/`` (so a page can
``sys.path.insert(0, "examples")`` as a reader in the repository root would). Every page starts
with these names already defined, backed by a real local dataset built from ``examples/data``:

- ``DATASET``: the ``file://`` URL of the example passages dataset;
- ``ROOT``: a folder laid out as ``ROOT/org/passages``, so that ``hub://org/passages`` resolves
  with ``LocalExecutor(root=ROOT)`` and ``python -m tqlbuilder.server --root ROOT``;
- ``EMBEDDING``: the real 384-d embedding of the question "When did humans first land on the
  Moon?" (the answer is passage 42).

A ```text block titled "Output" right after a Python block shows what that block prints: the
test compares the two (trailing spaces ignored), so a printed result on a page cannot go stale.

A Markdown table whose header starts with ``| Python | TQL |`` is checked too: each row's Python
cell (code in backticks, where ``|`` needs no escape) is evaluated and its ``to_tql()`` must be
the TQL cell, so the tables on the building page are as binding as asserts.

A block whose fence carries a title starting with "not run" (```` ```python title="not run:
needs an Activeloop token" ````) is skipped. That marker is only for calls to the real cloud
endpoint, which CI cannot reach; the test enforces that such blocks talk to the cloud and that
there are only a few of them.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import itertools
import os
import pathlib
import re
import sys
import time
import traceback
from types import ModuleType
from typing import Any

import pytest

REPO = pathlib.Path(__file__).resolve().parent.parent
DOCS = REPO / "docs"
PAGES = sorted([REPO / "README.md", *DOCS.rglob("*.md")])

# ```python  or  ```python title="..."  (mkdocs-material / pymdownx.superfences syntax)
_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>[^\n`]*)$")
_TITLE = re.compile(r'title="(?P<title>[^"]*)"')
SKIP_PREFIX = "not run"
OUTPUT_TITLE = "Output"
MAX_SKIPPED = 6


class Block:
    """One fenced code block: its language, title, first line number (1-based) and source."""

    def __init__(self, page: pathlib.Path, language: str, title: str, line: int, code: str):
        self.page = page
        self.language = language
        self.title = title
        self.line = line
        self.code = code
        self.output: str | None = None  # the "Output" block that follows, if any

    @property
    def skipped(self) -> bool:
        return self.title.lower().startswith(SKIP_PREFIX)

    def where(self) -> str:
        return f"{self.page.relative_to(REPO)}:{self.line}"


def extract_blocks(page: pathlib.Path) -> list[Block]:
    """Every fenced block of a Markdown page (fences may be indented, e.g. inside admonitions)."""
    lines = page.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    index = 0
    while index < len(lines):
        match = _FENCE.match(lines[index])
        if match is None:
            index += 1
            continue
        indent, fence, info = match["indent"], match["fence"], match["info"].strip()
        language = info.split(maxsplit=1)[0].lower() if info else ""
        title_match = _TITLE.search(info)
        body: list[str] = []
        start = index + 1
        index += 1
        while index < len(lines):
            line = lines[index]
            if line.strip() == fence and line.startswith(indent):
                break
            body.append(line[len(indent) :] if line.startswith(indent) else line.lstrip())
            index += 1
        else:
            raise AssertionError(f"{page.relative_to(REPO)}:{start}: unclosed code fence")
        index += 1
        code = "\n".join(body) + "\n"
        blocks.append(
            Block(page, language, title_match["title"] if title_match else "", start, code)
        )
    return blocks


def python_blocks(page: pathlib.Path) -> list[Block]:
    """The page's Python blocks, each with the text of the "Output" block right after it."""
    blocks = extract_blocks(page)
    for block, following in itertools.pairwise(blocks):
        if following.language == "text" and following.title == OUTPUT_TITLE:
            block.output = following.code
    return [block for block in blocks if block.language == "python"]


def _load_example_data() -> ModuleType:
    spec = importlib.util.spec_from_file_location("_tqlb_example_data", REPO / "examples/_data.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def docs_data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The names every docs page can use, backed by a real dataset built once per session."""
    pytest.importorskip("deeplake")
    data = _load_example_data()
    root = tmp_path_factory.mktemp("docs-root")
    url = data.build_dataset(root / "org" / "passages")
    questions = data.load_questions()
    assert questions[0]["answer_id"] == 42
    return {
        "DATASET": url,
        "ROOT": str(root),
        "EMBEDDING": data.question_embeddings()[0],
    }


RUNNABLE = [page for page in PAGES if any(not b.skipped for b in python_blocks(page))]


@pytest.mark.engine
@pytest.mark.parametrize("page", RUNNABLE, ids=[str(p.relative_to(REPO)) for p in RUNNABLE])
def test_page_examples_run(
    page: pathlib.Path,
    docs_data: dict[str, Any],
    tmp_path: pathlib.Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    blocks = [block for block in python_blocks(page) if not block.skipped]
    # run in an empty folder, with examples/ visible as from the repository root
    (tmp_path / "examples").symlink_to(REPO / "examples", target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    saved_modules = set(sys.modules)
    saved_path = list(sys.path)
    saved_environment = dict(os.environ)  # pages may set ACTIVELOOP_TOKEN, as users would
    os.environ.pop("ACTIVELOOP_TOKEN", None)
    try:
        _run_blocks(blocks, {"__name__": f"docs_{page.stem}", **docs_data})
    finally:
        os.environ.clear()
        os.environ.update(saved_environment)
        sys.path[:] = saved_path
        for name in ("_data", "quickstart"):  # example modules a page may import
            if name not in saved_modules:
                sys.modules.pop(name, None)


def _run_blocks(blocks: list[Block], namespace: dict[str, Any]) -> None:
    for block in blocks:
        filename = f"<{block.where()}>"
        # pad with newlines so tracebacks show the line number within the Markdown page
        source = "\n" * (block.line) + block.code
        started = time.perf_counter()
        printed = io.StringIO()
        try:
            with contextlib.redirect_stdout(printed):
                exec(compile(source, filename, "exec"), namespace)
        except Exception:
            pytest.fail(
                f"the Python block at {block.where()} failed:\n{block.code}\n"
                f"{traceback.format_exc()}",
                pytrace=False,
            )
        finally:
            sys.stdout.write(printed.getvalue())
        elapsed = time.perf_counter() - started
        assert elapsed < 60, f"the block at {block.where()} took {elapsed:.1f}s"
        if block.output is not None:
            assert _lines(printed.getvalue()) == _lines(block.output), (
                f"the Python block at {block.where()} printed\n{printed.getvalue()}\n"
                f"but the page shows as its output\n{block.output}"
            )


def _lines(text: str) -> list[str]:
    return [line.rstrip() for line in text.strip("\n").splitlines()]


def test_there_are_pages_and_python_blocks() -> None:
    assert (DOCS / "index.md").exists()
    counts = {page.name: len(python_blocks(page)) for page in PAGES}
    assert sum(counts.values()) >= 50, counts


_TABLE_HEADER = re.compile(r"^\|\s*Python\s*\|\s*TQL\b")
_CELL = re.compile(r"^`(?P<code>.+)`$")


def python_tql_rows(page: pathlib.Path) -> list[tuple[int, str, str]]:
    """(line, Python, TQL) for every row of the page's ``| Python | TQL |`` tables."""
    rows: list[tuple[int, str, str]] = []
    in_table = False
    for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), start=1):
        if _TABLE_HEADER.match(line):
            in_table = True
            continue
        if not in_table:
            continue
        if not line.startswith("|"):
            in_table = False
            continue
        if re.fullmatch(r"[|\s:-]+", line):  # the separator row
            continue
        cells = _cells(line)
        python, tql = (_CELL.match(cell) for cell in cells[:2])
        assert python and tql, f"{page.relative_to(REPO)}:{number}: cells must be `code`"
        rows.append((number, python["code"], tql["code"]))
    return rows


def _cells(line: str) -> list[str]:
    """The cells of a table row; a | inside `code` does not split (as in Python-Markdown)."""
    cells, current, in_code = [], "", False
    for char in line.strip().strip("|"):
        if char == "`":
            in_code = not in_code
        if char == "|" and not in_code:
            cells.append(current.strip())
            current = ""
        else:
            current += char
    return [*cells, current.strip()]


TABLE_PAGES = [page for page in PAGES if python_tql_rows(page)]


@pytest.mark.parametrize("page", TABLE_PAGES, ids=[str(p.relative_to(REPO)) for p in TABLE_PAGES])
def test_python_tql_tables_are_true(page: pathlib.Path) -> None:
    import numpy as np

    import tqlbuilder

    namespace: dict[str, Any] = {"np": np, "DOCS": "hub://org/passages"}
    namespace.update({name: getattr(tqlbuilder, name) for name in tqlbuilder.__all__})
    wrong = []
    for line, python, tql in python_tql_rows(page):
        value = eval(python, dict(namespace))
        if value.to_tql() != tql:
            wrong.append(f"{page.relative_to(REPO)}:{line}: {python}\n  -> {value.to_tql()}")
    assert not wrong, "\n".join(wrong)


def test_building_page_has_python_tql_tables() -> None:
    assert len(python_tql_rows(DOCS / "building-queries.md")) >= 40


def test_output_blocks_follow_a_python_block() -> None:
    # an "Output" block must sit right after the block whose printout it shows
    for page in PAGES:
        blocks = extract_blocks(page)
        for before, block in zip([None, *blocks], blocks, strict=False):
            if block.title == OUTPUT_TITLE:
                assert before is not None and before.language == "python", (
                    f"{block.where()}: an Output block must follow a ```python block"
                )
                assert not before.skipped, f"{block.where()}: the block before it is not run"


def test_skipped_blocks_are_only_cloud_calls() -> None:
    skipped = [block for page in PAGES for block in python_blocks(page) if block.skipped]
    assert len(skipped) <= MAX_SKIPPED, [block.where() for block in skipped]
    for block in skipped:
        assert "RestExecutor" in block.code or "ACTIVELOOP_TOKEN" in block.code, (
            f"{block.where()} is marked '{SKIP_PREFIX}' but does not call the cloud endpoint; "
            "only real REST calls may be skipped"
        )


def test_no_python_hidden_under_another_language_tag() -> None:
    for page in PAGES:
        for block in extract_blocks(page):
            assert block.language not in {"py", "python3", "pycon", "ipython"}, (
                f"{block.where()} uses ```{block.language}; use ```python so the block is run"
            )


def test_every_docs_page_is_in_the_nav() -> None:
    config = (REPO / "mkdocs.yml").read_text(encoding="utf-8")
    for page in DOCS.rglob("*.md"):
        relative = page.relative_to(DOCS).as_posix()
        assert relative in config, f"docs/{relative} is not in mkdocs.yml's nav"


def test_readme_links_into_docs_exist() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    links = re.findall(r"\]\((docs/[^)#\s]+)", readme)
    assert links, "README.md should link into docs/"
    for link in links:
        assert (REPO / link).exists(), f"README.md links to missing {link}"


def test_examples_dir_is_importable_for_docs() -> None:
    # the docs fixture loads examples/_data.py by path; make sure it has what the fixture needs
    data = _load_example_data()
    for name in ("build_dataset", "load_questions", "question_embeddings"):
        assert hasattr(data, name)
