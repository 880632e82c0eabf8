"""Names the package's module doctests can use (they run with ``--doctest-modules``).

``pyproject.toml`` collects ``tqlbuilder/`` as well as ``tests/``, so every ``>>>`` example in the
package runs in the README's test command. Examples that need data or a server use these names,
which exist only in doctests and are built on first use (a doctest that does not mention one
costs nothing):

- ``DATASET_ROOT``: a folder holding ``org/docs`` (12 rows: id, text, year, embedding(4), meta)
  and ``org/tags`` (3 rows), made by ``tests/_datasets.py``; ``LocalExecutor(DATASET_ROOT)``
  resolves ``hub://org/docs`` there.
- ``DOCS_PATH``: ``"hub://org/docs"``.
- ``SERVER_URL``: the query URL of ``python -m tqlbuilder.server`` serving ``DATASET_ROOT`` with
  token ``"doctest-token"`` (``SERVER_TOKEN``), started as a child process on 127.0.0.1 and
  stopped at the end of the session.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from _pytest.doctest import DoctestItem

SERVER_TOKEN = "doctest-token"


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
    if not isinstance(request.node, DoctestItem) or request.node.dtest is None:
        return
    source = "".join(example.source for example in request.node.dtest.examples)
    names: dict[str, object] = {}
    if "DATASET_ROOT" in source or "DOCS_PATH" in source:
        from tests._datasets import DOCS_PATH

        names["DATASET_ROOT"] = str(request.getfixturevalue("_doctest_dataset_root"))
        names["DOCS_PATH"] = DOCS_PATH
    if "SERVER_URL" in source or "SERVER_TOKEN" in source:
        names["SERVER_URL"] = request.getfixturevalue("_doctest_server_url")
        names["SERVER_TOKEN"] = SERVER_TOKEN
    request.node.dtest.globs.update(names)
