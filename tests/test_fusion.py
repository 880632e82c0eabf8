"""Reciprocal rank fusion: exact scores, validation, and properties that must hold for any input."""

from __future__ import annotations

import doctest
import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tqlbuilder
from tqlbuilder.rank import fusion
from tqlbuilder.rank.fusion import reciprocal_rank_fusion

# rankings of small ints, without repeats inside one ranking (the shape real result lists have)
ranking = st.lists(st.integers(min_value=0, max_value=30), unique=True, max_size=12)
rankings = st.lists(ranking, min_size=1, max_size=5)


def test_exported_lazily_from_the_package() -> None:
    assert tqlbuilder.reciprocal_rank_fusion is reciprocal_rank_fusion


def test_doctests_pass() -> None:
    result = doctest.testmod(fusion, raise_on_error=False)
    assert result.attempted >= 3
    assert result.failed == 0


def test_exact_scores_default_k() -> None:
    fused = reciprocal_rank_fusion(["a", "b", "c"], ["c", "a", "d"])
    expected = {
        "a": 1 / 61 + 1 / 62,
        "b": 1 / 62,
        "c": 1 / 63 + 1 / 61,
        "d": 1 / 63,
    }
    assert [item for item, _ in fused] == ["a", "c", "b", "d"]
    for item, score in fused:
        assert score == pytest.approx(expected[item], rel=1e-15)


def test_exact_scores_with_weights_and_k() -> None:
    fused = reciprocal_rank_fusion([1, 2], [2, 3], k=1, weights=[1.0, 3.0])
    assert fused == [
        (2, pytest.approx(1 / 3 + 3 / 2)),
        (3, pytest.approx(3 / 3)),
        (1, pytest.approx(1 / 2)),
    ]


def test_ties_keep_first_appearance_order() -> None:
    # b and x both score 1/(k+1) + 0; a and y both 1/(k+2): order follows first appearance
    fused = reciprocal_rank_fusion(["b", "a"], ["x", "y"])
    assert [item for item, _ in fused] == ["b", "x", "a", "y"]


def test_limit_and_empty_inputs() -> None:
    assert reciprocal_rank_fusion([3, 1, 2], limit=2) == [
        (3, pytest.approx(1 / 61)),
        (1, pytest.approx(1 / 62)),
    ]
    assert reciprocal_rank_fusion([3, 1], limit=0) == []
    assert reciprocal_rank_fusion() == []
    assert reciprocal_rank_fusion([], []) == []


def test_duplicates_within_a_ranking_count_once_at_their_best_position() -> None:
    assert reciprocal_rank_fusion(["a", "b", "a"], k=1) == [
        ("a", pytest.approx(1 / 2)),
        ("b", pytest.approx(1 / 3)),
    ]


def test_zero_weight_ranking_contributes_nothing() -> None:
    fused = reciprocal_rank_fusion(["a"], ["b"], weights=[1, 0])
    assert fused == [("a", pytest.approx(1 / 61)), ("b", 0.0)]


def test_numpy_weights_and_tuples_are_accepted() -> None:
    fused = reciprocal_rank_fusion((1, 2), np.array([2, 1]), weights=np.array([1.0, 1.0]))
    assert sorted(item for item, _ in fused) == [1, 2]


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"k": 0}, ValueError, "k must be positive"),
        ({"k": -5}, ValueError, "k must be positive"),
        ({"k": 1.5}, TypeError, "k must be an int"),
        ({"k": True}, TypeError, "k must be an int"),
        ({"weights": [1.0]}, ValueError, "weights has 1 values for 2 rankings"),
        ({"weights": [1.0, 1.0, 1.0]}, ValueError, "weights has 3 values"),
        ({"weights": [1.0, -0.5]}, ValueError, "weight 1 must be finite and non-negative"),
        ({"weights": [math.nan, 1.0]}, ValueError, "weight 0 must be finite"),
        ({"weights": [1.0, math.inf]}, ValueError, "weight 1 must be finite"),
        ({"weights": ["1", 1.0]}, TypeError, "weight 0 must be a number"),
        ({"weights": [True, 1.0]}, TypeError, "weight 0 must be a number"),
        ({"weights": "11"}, TypeError, "not a string"),
        ({"limit": -1}, ValueError, "limit must be non-negative"),
        ({"limit": 2.0}, TypeError, "limit must be an int"),
    ],
)
def test_invalid_arguments_are_refused(
    kwargs: dict[str, object], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        reciprocal_rank_fusion([1, 2], [2, 3], **kwargs)  # type: ignore[arg-type]


def test_a_string_ranking_is_refused() -> None:
    with pytest.raises(TypeError, match="ranking 1 is a str"):
        reciprocal_rank_fusion([1], "abc")


# --------------------------------------------------------------------------- properties


@given(ranking, st.integers(min_value=1, max_value=1000))
def test_a_single_ranking_is_preserved(items: list[int], k: int) -> None:
    fused = reciprocal_rank_fusion(items, k=k)
    assert [item for item, _ in fused] == items
    assert [score for _, score in fused] == [1 / (k + r) for r in range(1, len(items) + 1)]


@given(rankings, st.integers(min_value=100, max_value=200), st.integers(min_value=1, max_value=500))
def test_an_item_ranked_first_everywhere_comes_first(
    others: list[list[int]], top: int, k: int
) -> None:
    lists = [[top, *(item for item in other if item != top)] for other in others]
    fused = reciprocal_rank_fusion(*lists, k=k)
    assert fused[0][0] == top
    assert all(score < fused[0][1] for _, score in fused[1:])


@given(rankings, st.randoms(use_true_random=False), st.integers(min_value=1, max_value=100))
def test_permuting_equal_weight_rankings_keeps_the_scores(
    lists: list[list[int]], rng: object, k: int
) -> None:
    shuffled = list(lists)
    rng.shuffle(shuffled)  # type: ignore[attr-defined]
    original = reciprocal_rank_fusion(*lists, k=k)
    permuted = reciprocal_rank_fusion(*shuffled, k=k)
    # exactly the same scores (fsum), and the same order except among tied items
    assert dict(permuted) == dict(original)
    assert _grouped_by_score(permuted) == _grouped_by_score(original)


@given(rankings, st.integers(min_value=1, max_value=100))
def test_scores_match_exact_rational_arithmetic(lists: list[list[int]], k: int) -> None:
    exact = _exact_scores(lists, k)
    fused = reciprocal_rank_fusion(*lists, k=k)
    assert {item for item, _ in fused} == set(exact)
    for item, score in fused:
        assert score == pytest.approx(float(exact[item]), rel=1e-12)
    ranks = [exact[item] for item, _ in fused]
    assert ranks == sorted(ranks, reverse=True)


@given(rankings, st.integers(min_value=0, max_value=20))
def test_limit_is_a_prefix(lists: list[list[int]], limit: int) -> None:
    full = reciprocal_rank_fusion(*lists)
    assert reciprocal_rank_fusion(*lists, limit=limit) == full[:limit]


def _exact_scores(lists: list[list[int]], k: int) -> dict[int, Fraction]:
    scores: dict[int, Fraction] = {}
    for items in lists:
        for position, item in enumerate(items, start=1):
            scores[item] = scores.get(item, Fraction(0)) + Fraction(1, k + position)
    return scores


def _grouped_by_score(fused: list[tuple[object, float]]) -> list[tuple[float, frozenset[object]]]:
    groups: list[tuple[float, set[object]]] = []
    for item, score in fused:
        if groups and groups[-1][0] == score:
            groups[-1][1].add(item)
        else:
            groups.append((score, {item}))
    return [(score, frozenset(items)) for score, items in groups]
