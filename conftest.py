"""Names the package's module doctests can use (they run with ``--doctest-modules``).

Doctests of optional extras (httpx, pandas, pyarrow, hypothesis) are skipped when the extra is
not installed; CI installs every extra and fails on any skip.

``pyproject.toml`` collects ``tqlbuilder/`` as well as ``tests/``, so every ``>>>`` example in the
package runs in the README's test command. Examples that need data or a server use these names,
which exist only in doctests and are built on first use (a doctest that does not mention one
costs nothing, and one that mentions one is marked ``engine``, so ``-m "not engine"`` skips it):

- ``DATASET_ROOT``: a folder holding ``org/docs`` (12 rows: id, text, year, embedding(4), meta)
  and ``org/tags`` (3 rows), made by ``tests/_datasets.py``; ``LocalExecutor(DATASET_ROOT)``
  resolves ``hub://org/docs`` there.
- ``DOCS_PATH``: ``"hub://org/docs"``.
- ``SERVER_URL``: the query URL of ``python -m tqlbuilder.server`` serving ``DATASET_ROOT`` with
  token ``"doctest-token"`` (``SERVER_TOKEN``), started as a child process on 127.0.0.1 and
  stopped at the end of the session.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path

import pytest
from _pytest.doctest import DoctestItem

SERVER_TOKEN = "doctest-token"
#: what a doctest uses -> the optional package (an extra) it needs; without the package the
#: doctest is skipped, so the package's doctests also run after a plain ``pip install -e .``
_NEEDS = {
    "AsyncRestExecutor(": "httpx",
    "to_pandas(": "pandas",
    "to_arrow(": "pyarrow",
}


def _missing(package: str) -> bool:
    return importlib.util.find_spec(package) is None


def pytest_ignore_collect(collection_path: Path) -> bool | None:
    """``tqlbuilder/strategies.py`` needs hypothesis (the ``strategies`` extra) to import."""
    if collection_path.name == "strategies.py" and collection_path.parent.name == "tqlbuilder":
        return True if _missing("hypothesis") else None
    return None


_DATA_NAMES = ("DATASET_ROOT", "DOCS_PATH")
_SERVER_NAMES = ("SERVER_URL", "SERVER_TOKEN")


def _doctest_source(item: pytest.Item) -> str | None:
    if not isinstance(item, DoctestItem) or item.dtest is None:
        return None
    return "".join(example.source for example in item.dtest.examples)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Doctests that use the dataset or the server run on the engine: mark them ``engine``."""
    for item in items:
        source = _doctest_source(item)
        if source is None:
            continue
        if any(name in source for name in _DATA_NAMES + _SERVER_NAMES):
            item.add_marker(pytest.mark.engine)
        for used, package in _NEEDS.items():
            if used in source and _missing(package):
                item.add_marker(pytest.mark.skip(reason=f"needs {package} (an optional extra)"))


@pytest.fixture(scope="session")
def _doctest_dataset_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests._datasets import make_datasets

    return make_datasets(tmp_path_factory.mktemp("doctest-root"))


@pytest.fixture(scope="session")
def _doctest_server_url(_doctest_dataset_root: Path) -> Iterator[str]:
    from tests._servers import ServerProcess

    server = ServerProcess(_doctest_dataset_root, token=SERVER_TOKEN)
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(autouse=True)
def _doctest_names(request: pytest.FixtureRequest) -> None:
    """Put the names a doctest mentions into its namespace; other tests are untouched."""
    source = _doctest_source(request.node)
    if source is None:
        return
    names: dict[str, object] = {}
    if any(name in source for name in _DATA_NAMES):
        from tests._datasets import DOCS_PATH

        names["DATASET_ROOT"] = str(request.getfixturevalue("_doctest_dataset_root"))
        names["DOCS_PATH"] = DOCS_PATH
    if any(name in source for name in _SERVER_NAMES):
        names["SERVER_URL"] = request.getfixturevalue("_doctest_server_url")
        names["SERVER_TOKEN"] = SERVER_TOKEN
    assert isinstance(request.node, DoctestItem) and request.node.dtest is not None
    request.node.dtest.globs.update(names)
