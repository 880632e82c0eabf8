"""Fuse several ranked lists into one, on the client: reciprocal rank fusion (RRF).

The engine cannot select a BM25 score (``BM25_SIMILARITY`` runs only as the single
``ORDER BY ... DESC LIMIT k`` key), so a hybrid "keywords + vectors" search cannot add two scores
in TQL. It can, however, return two ranked lists of ids: one from
[`text_search()`][tqlbuilder.Query.text_search], one from
[`similar_to()`][tqlbuilder.Query.similar_to]. RRF (Cormack, Clarke and Büttcher, SIGIR 2009)
merges rankings using only positions, so it needs no score calibration between BM25 and cosine
similarity.

Examples:
    >>> from tqlbuilder import reciprocal_rank_fusion
    >>> bm25 = [7, 3, 9]
    >>> vectors = [3, 5, 7]
    >>> [item for item, _ in reciprocal_rank_fusion(bm25, vectors)]
    [3, 7, 5, 9]
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Hashable, Sequence

__all__ = ["reciprocal_rank_fusion"]


def reciprocal_rank_fusion(
    *rankings: Sequence[Hashable],
    k: int = 60,
    weights: Sequence[float] | None = None,
    limit: int | None = None,
) -> list[tuple[Hashable, float]]:
    """Merge ranked lists of ids into one list of ``(id, fused score)``, best first.

    Each ranking is a sequence of ids, best first. An id at 1-based position ``r`` in ranking
    ``i`` contributes ``weights[i] / (k + r)``; an id's fused score is the sum over the rankings
    that contain it (a ranking that lacks it contributes nothing). If an id occurs more than
    once in one ranking, only its best position counts.

    The result is sorted by fused score, highest first; ties keep the order in which ids first
    appear when reading the rankings one after another (so the function is deterministic).
    Scores are summed with `math.fsum()`, so reordering equally weighted rankings gives
    exactly the same scores (only the order among tied ids can change).

    Args:
        *rankings: ranked lists of hashable ids (ints, strings...), best first. None at all
            gives an empty result.
        k: the smoothing constant, a positive int. The usual value, 60, keeps a single first
            place from dominating; smaller values favour the top ranks more.
        weights: one non-negative, finite weight per ranking (default: all 1.0). A weight of 0
            ignores that ranking's contribution, but its ids still take part in tie-breaking.
        limit: keep only the best ``limit`` items (a non-negative int); ``None`` keeps all.

    Raises:
        ValueError: ``k`` is not positive, ``limit`` is negative, or ``weights`` has the wrong
            length or a negative, NaN or infinite value.
        TypeError: ``k`` or ``limit`` is not an int, a ranking is a ``str``/``bytes`` (a
            common mistake: pass a list of ids), or a weight is not a number.

    Returns:
        ``(id, fused score)`` pairs, highest score first.

    Examples:
        >>> reciprocal_rank_fusion(["a", "b"], ["b", "c"], k=1)
        [('b', 0.8333333333333333), ('a', 0.5), ('c', 0.3333333333333333)]
        >>> reciprocal_rank_fusion(["a", "b"], ["b", "c"], k=1, weights=[2.0, 0.0], limit=2)
        [('a', 1.0), ('b', 0.6666666666666666)]
    """
    if isinstance(k, bool) or not isinstance(k, int):
        raise TypeError(f"k must be an int, got {type(k).__name__}: {k!r}")
    if k <= 0:
        raise ValueError(f"k must be positive, got {k}")
    if limit is not None:
        if isinstance(limit, bool) or not isinstance(limit, int):
            raise TypeError(f"limit must be an int or None, got {type(limit).__name__}")
        if limit < 0:
            raise ValueError(f"limit must be non-negative, got {limit}")
    for index, ranking in enumerate(rankings):
        if isinstance(ranking, (str, bytes)):
            raise TypeError(
                f"ranking {index} is a {type(ranking).__name__}; pass a sequence of ids "
                "(e.g. a list), not a single string"
            )
    factors = _check_weights(weights, len(rankings))

    contributions: dict[Hashable, list[float]] = {}
    for ranking, weight in zip(rankings, factors, strict=True):
        seen: set[Hashable] = set()
        for position, item in enumerate(ranking, start=1):
            if item in seen:
                continue
            seen.add(item)
            contributions.setdefault(item, []).append(weight / (k + position))
    # fsum is correctly rounded, so a score does not depend on the order of the rankings; dicts
    # keep insertion order and sorted() is stable, so ties stay in first-appearance order
    scores = [(item, math.fsum(parts)) for item, parts in contributions.items()]
    fused = sorted(scores, key=lambda entry: -entry[1])
    return fused if limit is None else fused[:limit]


def _check_weights(weights: Sequence[float] | None, count: int) -> list[float]:
    """Validate ``weights`` against the number of rankings; default to all 1.0."""
    if weights is None:
        return [1.0] * count
    if isinstance(weights, (str, bytes)):
        raise TypeError("weights must be a sequence of numbers, not a string")
    values = list(weights)
    if len(values) != count:
        raise ValueError(f"weights has {len(values)} values for {count} rankings; give one each")
    checked: list[float] = []
    for index, weight in enumerate(values):
        # numbers.Real covers int, float and numpy scalars; bools and numeric strings are not
        # weights, even though float() would accept them
        if isinstance(weight, bool) or not isinstance(weight, numbers.Real):
            raise TypeError(
                f"weight {index} must be a number, got {type(weight).__name__}: {weight!r}"
            )
        number = float(weight)
        if not math.isfinite(number) or number < 0:
            raise ValueError(f"weight {index} must be finite and non-negative, got {weight!r}")
        checked.append(number)
    return checked
