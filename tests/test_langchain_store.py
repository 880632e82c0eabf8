"""examples/langchain_store.py held to LangChain's standard vector-store tests, sync and async.

``langchain_tests.integration_tests.VectorStoreIntegrationTests`` is the suite every LangChain
vector store integration runs; each test gets a new empty in-memory dataset. The extra tests
below cover what the standard suite does not: filter dicts, MMR, delete by filter, scores,
uncommitted writes seen by searches.
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("deeplake")
pytest.importorskip("langchain_tests")

from langchain_core.documents import Document  # noqa: E402
from langchain_core.embeddings import DeterministicFakeEmbedding  # noqa: E402
from langchain_core.vectorstores import VectorStore  # noqa: E402
from langchain_tests.integration_tests import VectorStoreIntegrationTests  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))
from langchain_store import TQLVectorStore  # noqa: E402

pytestmark = pytest.mark.engine


def _new_store(embedding: Any, metric: str = "cosine") -> TQLVectorStore:
    import deeplake

    return TQLVectorStore(deeplake.create(f"mem://lc-{uuid.uuid4().hex}"), embedding, metric=metric)


# The standard suite's async tests carry no asyncio mark; marking the class marks its sync tests
# too, which pytest-asyncio warns about (harmlessly: they run as plain functions).
@pytest.mark.asyncio
@pytest.mark.filterwarnings(
    "ignore:The test <Function test_.* is marked with '@pytest.mark.asyncio'"
)
class TestStandard(VectorStoreIntegrationTests):
    """The whole standard suite (sync and async) on a new empty dataset per test."""

    @pytest.fixture
    def vectorstore(self) -> Iterator[VectorStore]:  # type: ignore[override]
        yield _new_store(self.get_embeddings())
