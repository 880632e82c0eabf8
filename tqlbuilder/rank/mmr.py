"""Maximal marginal relevance: re-rank vector-search candidates for relevance and diversity.

The engine has no general MMR (``mmr_similarity`` exists only inside its BM25 ORDER BY form,
engine-probe §3.13), so MMR is done on the client: fetch ``fetch_k`` candidates with
[`Query.similar_to()`][tqlbuilder.Query.similar_to], selecting the embedding column, then
pick ``k`` of them with [`mmr()`][tqlbuilder.mmr].

The recipe:

```python
q = (
    select("id", "text", "embedding")
    .from_("hub://org/docs")
    .similar_to(query_vector, column="embedding")
    .limit(fetch_k)
)
result = executor.execute(q)
picked = mmr(query_vector, result.to_numpy("embedding"), k=4, lambda_mult=0.5)
rows = [result.rows[i] for i in picked]
```
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tqlbuilder.errors import InvalidValueError, UnsupportedTypeError

__all__ = ["mmr"]


def _matrix(value: Any, argument: str, ndim: int) -> np.ndarray:
    if isinstance(value, (str, bytes)) or value is None:
        raise UnsupportedTypeError(
            f"{argument} must be a list or numpy array of numbers, got {type(value).__name__}"
        )
    try:
        array = np.asarray(value)
    except ValueError:
        raise InvalidValueError(
            f"{argument} is ragged; every vector needs the same length"
        ) from None
    if array.dtype.kind == "b" or array.dtype.kind not in "iuf":
        if array.dtype == object and array.ndim == 1 and ndim == 2 and len(array) == 0:
            array = array.astype(np.float64)
        else:
            raise InvalidValueError(
                f"{argument} must hold real numbers, got numpy dtype {array.dtype}"
            )
    if array.ndim != ndim and not (ndim == 2 and array.size == 0):
        shape = "a 1-D vector" if ndim == 1 else "a 2-D array (one row per candidate)"
        raise InvalidValueError(f"{argument} must be {shape}, got shape {array.shape}")
    array = array.astype(np.float64)
    if not np.isfinite(array).all():
        raise InvalidValueError(f"{argument} has a NaN or infinite value")
    return array


def mmr(
    query_vector: Any,
    candidate_vectors: Any,
    k: int,
    *,
    lambda_mult: float = 0.5,
) -> list[int]:
    """Pick ``k`` candidates by maximal marginal relevance (cosine similarity).

    Greedy MMR (Carbonell & Goldstein, 1998): each step takes the candidate maximising
    ``lambda_mult * cos(query, c) - (1 - lambda_mult) * max(cos(c, s) for s already picked)``;
    the first pick is the most similar candidate. Ties go to the earlier position, so the result
    is deterministic. A zero vector has cosine 0 with everything.

    Args:
        query_vector: the query, 1-D list or array of ``dim`` numbers.
        candidate_vectors: ``(n, dim)`` list or array (e.g. ``Result.to_numpy("embedding")``
            of a vector search that selected the embedding); ``n`` may be 0.
        k: how many to pick (int >= 0); at most ``n`` are returned.
        lambda_mult: 1.0 ranks by relevance only, 0.0 by diversity only (float in [0, 1]).

    Returns:
        Positions into ``candidate_vectors`` (list of int), in pick order.

    Raises:
        InvalidValueError: dimensions differ, NaN or infinity, a wrong shape, ``k < 0`` or
            ``lambda_mult`` outside [0, 1].
        UnsupportedTypeError: ``k`` is not an int, or a vector argument is not numeric.

    Examples:
        >>> mmr([1.0, 0.0], [[1.0, 0.0], [0.99, 0.1], [0.0, 1.0]], k=2, lambda_mult=0.3)
        [0, 2]
        >>> mmr([1.0, 0.0], [[1.0, 0.0], [0.99, 0.1], [0.0, 1.0]], k=2, lambda_mult=1.0)
        [0, 1]
    """
    if isinstance(k, (bool, np.bool_)) or not isinstance(k, (int, np.integer)):
        raise UnsupportedTypeError(f"k must be an int, got {type(k).__name__}")
    if k < 0:
        raise InvalidValueError(f"k must be >= 0, got {k}")
    if isinstance(lambda_mult, (bool, np.bool_)) or not isinstance(
        lambda_mult, (int, float, np.integer, np.floating)
    ):
        raise UnsupportedTypeError(f"lambda_mult must be a float, got {type(lambda_mult).__name__}")
    if not (math.isfinite(float(lambda_mult)) and 0.0 <= float(lambda_mult) <= 1.0):
        raise InvalidValueError(f"lambda_mult must be between 0 and 1, got {lambda_mult}")
    query = _matrix(query_vector, "query_vector", 1)
    candidates = _matrix(candidate_vectors, "candidate_vectors", 2)
    if candidates.size == 0:
        return []
    if candidates.shape[1] != query.shape[0]:
        raise InvalidValueError(
            f"candidate_vectors have dimension {candidates.shape[1]} but query_vector has "
            f"{query.shape[0]}"
        )
    weight = float(lambda_mult)
    unit = _normalise(candidates)
    relevance = unit @ _normalise(query[None, :])[0]
    n = len(unit)
    redundancy = np.full(n, -np.inf)
    available = np.ones(n, dtype=bool)
    picked: list[int] = []
    for _ in range(min(int(k), n)):
        # the first pick is the most relevant (redundancy is still -inf)
        score = weight * relevance - (1.0 - weight) * redundancy if picked else relevance.copy()
        score[~available] = -np.inf
        best = int(np.argmax(score))
        picked.append(best)
        available[best] = False
        redundancy = np.maximum(redundancy, unit @ unit[best])
    return picked


def _normalise(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    safe = np.where(norms == 0.0, 1.0, norms)
    result: np.ndarray = matrix / safe
    return result
