"""scripts/check_site.py, the CI check over the built docs site, on small hand-made sites.

CI runs the script on the real site right after ``mkdocs build`` (.ci/run); these tests show
that each rule finds what it is meant to find and lets clean pages through.
"""

from __future__ import annotations

import importlib.util
import pathlib
from types import ModuleType

import pytest

REPO = pathlib.Path(__file__).resolve().parent.parent


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("check_site", REPO / "scripts/check_site.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


check_site = _load()


def _site(tmp_path: pathlib.Path, pages: dict[str, str]) -> pathlib.Path:
    for name, body in pages.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"<html><body>{body}</body></html>", encoding="utf-8")
    return tmp_path


CLEAN = {
    "index.html": (
        '<h1 id="top">Home</h1><a href="guide/">guide</a> <a href="guide/#part">part</a>'
        '<a href="#top">top</a> <a href="https://example.org/x">out</a>'
        "<pre><code>print(1)  # &gt;&gt;&gt; inside code is fine</code></pre>"
        '<pre class="mermaid"><code>' + "x" * 200 + "</code></pre>"
    ),
    "guide/index.html": '<h2 id="part">Part</h2><a href="../index.html">home</a>',
}


def test_a_clean_site_passes(tmp_path: pathlib.Path) -> None:
    assert check_site.check_site(_site(tmp_path, CLEAN)) == []
    assert check_site.main([str(tmp_path)]) == 0


@pytest.mark.parametrize(
    "body",
    [
        "A <code>Query</code> built by :func:<code>select</code>.",
        "See :class:`Result` and :meth:`where`.",
        "Also :py:data:<code>RESERVED_WORDS</code>.",
    ],
)
def test_sphinx_roles_are_found(tmp_path: pathlib.Path, body: str) -> None:
    problems = check_site.check_site(_site(tmp_path, {"index.html": body}))
    assert problems and all("Sphinx role" in problem for problem in problems), problems


def test_doctests_rendered_as_quotes_are_found(tmp_path: pathlib.Path) -> None:
    nested = "<blockquote><blockquote><blockquote><p>col('a')</p></blockquote></blockquote>"
    nested += "</blockquote>"
    problems = check_site.check_site(_site(tmp_path, {"index.html": nested}))
    assert len(problems) == 1 and "nested block quotes" in problems[0]
    problems = check_site.check_site(_site(tmp_path, {"index.html": "<p>&gt;&gt;&gt; x</p>"}))
    assert len(problems) == 1 and "outside code" in problems[0]


def test_broken_links_and_fragments_are_found(tmp_path: pathlib.Path) -> None:
    pages = dict(CLEAN)
    pages["index.html"] += '<a href="missing/">m</a><a href="guide/#nowhere">n</a>'
    pages["index.html"] += '<img src="assets/nope.png">'
    problems = check_site.check_site(_site(tmp_path, pages))
    assert len(problems) == 3, problems
    assert any("no missing/index.html" in problem for problem in problems)
    assert any("no id 'nowhere'" in problem for problem in problems)
    assert any("assets/nope.png" in problem for problem in problems)


def test_wide_code_lines_are_found(tmp_path: pathlib.Path) -> None:
    line = "x = '" + "a" * 90 + "'"
    body = f"<pre><span></span><code><span>{line}</span>\nshort</code></pre>"
    problems = check_site.check_site(_site(tmp_path, {"index.html": body}), width=88)
    assert len(problems) == 1 and "code line of 96 > 88 columns" in problems[0]
    assert check_site.check_site(tmp_path, width=96) == []


def test_an_empty_folder_is_an_error(tmp_path: pathlib.Path) -> None:
    problems = check_site.check_site(tmp_path)
    assert len(problems) == 1 and "no HTML pages" in problems[0]
    assert check_site.main([str(tmp_path)]) == 1
