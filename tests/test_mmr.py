"""mmr(): against a plain-loop reference, on hand-checked cases, and as the documented recipe."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests._datasets import DOCS_PATH, make_datasets
from tqlbuilder import InvalidValueError, LocalExecutor, UnsupportedTypeError, mmr, select


def reference_mmr(
    query: list[float], candidates: list[list[float]], k: int, lam: float
) -> list[int]:
    """Textbook greedy MMR with Python loops (cosine; zero vectors have similarity 0)."""

    def cos(a: list[float], b: list[float]) -> float:
        na = sum(x * x for x in a) ** 0.5
        nb = sum(x * x for x in b) ** 0.5
        if na == 0 or nb == 0:
            return 0.0
        return sum(x * y for x, y in zip(a, b, strict=True)) / (na * nb)

    picked: list[int] = []
    left = list(range(len(candidates)))
    while left and len(picked) < k:

        def score(i: int) -> float:
            relevance = cos(query, candidates[i])
            if not picked:
                return relevance
            return lam * relevance - (1 - lam) * max(
                cos(candidates[i], candidates[j]) for j in picked
            )

        best = max(left, key=lambda i: (score(i), -i))
        picked.append(best)
        left.remove(best)
    return picked


small = st.integers(-4, 4).map(float)


@settings(max_examples=300, deadline=None)
@given(
    dim=st.integers(1, 4),
    n=st.integers(0, 8),
    k=st.integers(0, 10),
    lam=st.sampled_from([0.0, 0.25, 0.5, 0.75, 1.0]),
    data=st.data(),
)
def test_matches_the_reference(dim: int, n: int, k: int, lam: float, data: st.DataObject) -> None:
    query = data.draw(st.lists(small, min_size=dim, max_size=dim))
    candidates = data.draw(
        st.lists(
            st.lists(small, min_size=dim, max_size=dim), min_size=n, max_size=n, unique_by=tuple
        )
    )
    got = mmr(query, np.array(candidates).reshape(n, dim), k, lambda_mult=lam)
    want = reference_mmr(query, candidates, k, lam)
    assert len(got) == min(k, n) and len(set(got)) == len(got)
    # float rounding may flip exact ties differently; the scores picked must still be equal
    if got != want:
        assert _scores(query, candidates, got, lam) == pytest.approx(
            _scores(query, candidates, want, lam), abs=1e-9
        )


def _scores(
    query: list[float], candidates: list[list[float]], order: list[int], lam: float
) -> list[float]:
    q = np.array(query, dtype=float)
    c = np.array(candidates, dtype=float)

    def cos(a: np.ndarray, b: np.ndarray) -> float:
        na, nb = np.linalg.norm(a), np.linalg.norm(b)
        return 0.0 if na == 0 or nb == 0 else float(a @ b / (na * nb))

    out = []
    for step, i in enumerate(order):
        relevance = cos(q, c[i])
        if step == 0:
            out.append(relevance)
        else:
            out.append(lam * relevance - (1 - lam) * max(cos(c[i], c[j]) for j in order[:step]))
    return out


def test_hand_checked() -> None:
    cands = [[1.0, 0.0], [0.99, 0.1], [0.0, 1.0], [0.7, 0.7]]
    assert mmr([1.0, 0.0], cands, 4, lambda_mult=1.0) == [0, 1, 3, 2]
    assert mmr([1.0, 0.0], cands, 2, lambda_mult=0.3) == [0, 2]
    assert mmr([1.0, 0.0], cands, 0) == []
    assert mmr([1.0, 0.0], np.empty((0, 2)), 3) == []
    assert mmr([1, 0], [[2, 0], [0, 3]], 5) == [0, 1]  # ints, k > n
    assert mmr(np.float32([1, 0]), np.float32(cands), 1) == [0]


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "fragment"),
    [
        (([1.0, 0.0], [[1.0, 0.0, 0.0]], 1), {}, InvalidValueError, "dimension 3"),
        (([1.0, 0.0], [[1.0, float("nan")]], 1), {}, InvalidValueError, "NaN"),
        (([1.0, 0.0], [[1.0, 0.0]], -1), {}, InvalidValueError, "k must be >= 0"),
        (([1.0, 0.0], [[1.0, 0.0]], 1.5), {}, UnsupportedTypeError, "k must be an int"),
        (([1.0, 0.0], [[1.0, 0.0]], True), {}, UnsupportedTypeError, "k must be an int"),
        (([1.0, 0.0], [[1.0, 0.0]], 1), {"lambda_mult": 1.5}, InvalidValueError, "between 0 and 1"),
        (([1.0, 0.0], [[1.0, 0.0]], 1), {"lambda_mult": "x"}, UnsupportedTypeError, "lambda_mult"),
        (([[1.0, 0.0]], [[1.0, 0.0]], 1), {}, InvalidValueError, "query_vector must be a 1-D"),
        (([1.0, 0.0], [1.0, 0.0], 1), {}, InvalidValueError, "candidate_vectors must be a 2-D"),
        (([1.0, 0.0], [[1.0], [1.0, 0.0]], 1), {}, InvalidValueError, "ragged"),
        (("ab", [[1.0, 0.0]], 1), {}, UnsupportedTypeError, "query_vector"),
        (([1.0, 0.0], [["a", "b"]], 1), {}, InvalidValueError, "real numbers"),
    ],
)
def test_validation(args: tuple, kwargs: dict, error: type, fragment: str) -> None:
    with pytest.raises(error, match=fragment):
        mmr(*args, **kwargs)


@pytest.mark.engine
def test_recipe_on_the_engine(tmp_path: Path) -> None:
    """fetch_k rows with similar_to (selecting the embedding), re-rank with mmr."""
    pytest.importorskip("deeplake")
    root = make_datasets(tmp_path / "root")
    query_vector = [1.0, 0.0, 0.0, 0.0]
    fetch = (
        select("id", "embedding")
        .from_(DOCS_PATH)
        .similar_to(query_vector, column="embedding")
        .limit(6)
    )
    with LocalExecutor(root) as executor:
        result = executor.execute(fetch)
    embeddings = result.to_numpy("embedding")
    assert embeddings.shape == (6, 4)
    relevance_only = mmr(query_vector, embeddings, 3, lambda_mult=1.0)
    assert [result.column("id")[i] for i in relevance_only] == result.column("id")[:3]
    diverse = mmr(query_vector, embeddings, 3, lambda_mult=0.0)
    assert diverse[0] == 0 and len(set(diverse)) == 3
    assert diverse == reference_mmr(query_vector, embeddings.tolist(), 3, 0.0)
