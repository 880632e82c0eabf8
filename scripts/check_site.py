"""Check the built documentation site (`mkdocs build` output) for what trips a reader up.

Usage::

    mkdocs build --strict --site-dir site
    python scripts/check_site.py site [--width 88]

It reads every HTML page of the site and fails (exit status 1, one line per problem) when:

- **Sphinx markup shows as text.** mkdocstrings does not speak Sphinx roles, so ``:class:`X```
  in a docstring reaches the page as the literal text ``:class:`` followed by code. Any of
  ``:class: :meth: :func: :mod: :data: :attr: :exc: :obj: :const: :ref:`` before a backtick or
  a ``<code>`` element counts.
- **A doctest renders as a quotation.** A ``>>>`` line outside a code block becomes three nested
  ``<blockquote>`` elements (Markdown's quote marker); any ``>>>`` in text outside ``<pre>``
  and ``<code>`` is flagged too.
- **An internal link does not resolve.** Every ``href`` and ``src`` that is not an external
  address must name a file of the site (a folder means its ``index.html``), and a ``#fragment``
  must be the ``id`` of an element of that page.
- **A code line is wider than the column.** Every line of every ``<pre>`` block (code, Output
  blocks, API signatures; not Mermaid diagram sources) must fit ``--width`` characters, so no
  block scrolls sideways at 1280 px (docs/stylesheets/extra.css sizes the column for 88).

Only the standard library is used, so the check runs wherever the site was built.
"""

from __future__ import annotations

import argparse
import html
import pathlib
import posixpath
import re
import sys
from collections.abc import Iterable
from html.parser import HTMLParser
from urllib.parse import unquote, urlsplit

DEFAULT_WIDTH = 88
SPHINX_ROLES = ("class", "meth", "func", "mod", "data", "attr", "exc", "obj", "const", "ref")
_ROLE = re.compile(r":(?:py:)?(?:" + "|".join(SPHINX_ROLES) + r"):(?:`|<code)")
_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
         "track", "wbr"}  # fmt: skip


class Page(HTMLParser):
    """One HTML page: the ids it defines, the links it makes, its code blocks and stray text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.links: list[str] = []
        self.blocks: list[str] = []  # the text of each <pre>, tags removed, entities decoded
        self.quote_depth = 0
        self.deep_quotes = 0  # how often three <blockquote> elements nest
        self.loose_prompts = 0  # ">>>" in text outside <pre> and <code>
        self._pre: list[str] | None = None
        self._pre_depth = 0
        self._mermaid = False
        self._code_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if attributes.get("id"):
            self.ids.add(str(attributes["id"]))
        if tag == "a" and attributes.get("name"):
            self.ids.add(str(attributes["name"]))
        for name in ("href", "src"):
            value = attributes.get(name)
            if value is not None and tag in {"a", "img", "script", "link", "iframe", "source"}:
                self.links.append(value)
        if tag == "pre":
            self._pre_depth += 1
            if self._pre_depth == 1:
                self._pre = []
                self._mermaid = "mermaid" in (attributes.get("class") or "").split()
        elif tag == "code":
            self._code_depth += 1
        elif tag == "blockquote":
            self.quote_depth += 1
            if self.quote_depth == 3:
                self.deep_quotes += 1
        if self._pre is not None and tag == "br":
            self._pre.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "pre" and self._pre_depth:
            self._pre_depth -= 1
            if self._pre_depth == 0 and self._pre is not None:
                if not self._mermaid:
                    self.blocks.append("".join(self._pre))
                self._pre = None
        elif tag == "code" and self._code_depth:
            self._code_depth -= 1
        elif tag == "blockquote" and self.quote_depth:
            self.quote_depth -= 1

    def handle_data(self, data: str) -> None:
        if self._pre is not None:
            self._pre.append(data)
        elif not self._code_depth and ">>>" in data:
            self.loose_prompts += 1


def _target(site: pathlib.Path, page: pathlib.Path, link: str) -> tuple[pathlib.Path, str] | None:
    """The file and fragment an internal link points at; None for an external link."""
    parts = urlsplit(link)
    if parts.scheme or parts.netloc or link.startswith(("mailto:", "data:", "javascript:")):
        return None
    path = unquote(parts.path)
    if not path:
        return page, parts.fragment
    if path.startswith("/"):
        return None  # absolute to the host: mkdocs never writes these for internal pages
    base = page.parent.relative_to(site).as_posix()
    resolved = posixpath.normpath(posixpath.join(base, path))
    target = site / resolved
    if path.endswith("/") or target.is_dir():
        target = target / "index.html"
    return target, parts.fragment


def check_site(site: pathlib.Path, width: int = DEFAULT_WIDTH) -> list[str]:
    """Every problem found in the built site at ``site``, one message each (empty when clean)."""
    pages = sorted(site.rglob("*.html"))
    if not pages:
        return [f"{site}: no HTML pages (build the site first: mkdocs build --site-dir {site})"]
    parsed: dict[pathlib.Path, Page] = {}
    texts: dict[pathlib.Path, str] = {}
    for page in pages:
        text = page.read_text(encoding="utf-8")
        parser = Page()
        parser.feed(text)
        parser.close()
        parsed[page] = parser
        texts[page] = text
    problems: list[str] = []
    for page, parser in parsed.items():
        where = page.relative_to(site).as_posix()
        problems.extend(_roles(where, texts[page]))
        if parser.deep_quotes:
            problems.append(
                f"{where}: {parser.deep_quotes} '>>>' line(s) rendered as nested block quotes "
                "(put doctests under an Examples: section or in a fenced block)"
            )
        if parser.loose_prompts:
            problems.append(f"{where}: {parser.loose_prompts} '>>>' prompt(s) outside code")
        problems.extend(_wide_lines(where, parser.blocks, width))
        problems.extend(_broken_links(site, page, parser, parsed))
    return problems


def _roles(where: str, text: str) -> Iterable[str]:
    for match in _ROLE.finditer(text):
        start = max(match.start() - 40, 0)
        context = re.sub(r"<[^>]+>", "", text[start : match.end() + 60]).replace("\n", " ")
        yield f"{where}: Sphinx role shown as text: ...{html.unescape(context)}..."


def _wide_lines(where: str, blocks: list[str], width: int) -> Iterable[str]:
    for block in blocks:
        for line in block.splitlines():
            if len(line) > width:
                yield f"{where}: code line of {len(line)} > {width} columns: {line[:60]}..."


def _broken_links(
    site: pathlib.Path, page: pathlib.Path, parser: Page, parsed: dict[pathlib.Path, Page]
) -> Iterable[str]:
    where = page.relative_to(site).as_posix()
    for link in parser.links:
        target = _target(site, page, link)
        if target is None:
            continue
        path, fragment = target
        if not path.exists():
            yield f"{where}: broken link {link!r} (no {path.relative_to(site).as_posix()})"
        elif fragment and path.suffix == ".html":
            ids = parsed[path].ids if path in parsed else set()
            if unquote(fragment) not in ids:
                yield f"{where}: broken link {link!r} (no id {fragment!r} on that page)"


def main(argv: list[str] | None = None) -> int:
    """Check the site folder named on the command line; print the problems; 1 if any."""
    arguments = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    arguments.add_argument("site", type=pathlib.Path, help="the folder mkdocs built")
    arguments.add_argument("--width", type=int, default=DEFAULT_WIDTH, help="widest code line")
    options = arguments.parse_args(argv)
    problems = check_site(options.site, options.width)
    for problem in problems:
        print(problem)
    pages = len(list(options.site.rglob("*.html")))
    if problems:
        print(f"{len(problems)} problem(s) in {pages} pages")
        return 1
    print(f"site ok: {pages} pages, no Sphinx roles, no '>>>' quotes, links resolve, "
          f"code fits {options.width} columns")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
