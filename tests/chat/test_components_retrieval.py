"""``score_fusion``: relative score fusion of the dense and keyword rankings (the default ``relative`` fusion)."""

from __future__ import annotations

import pytest

from chat.components.retrieval import score_fusion


def test_each_ranking_is_min_max_normalised_then_weighted():
    fused = score_fusion(
        {"dense": [("a", 0.9), ("b", 0.8), ("c", 0.5)], "keyword": [("c", 12.0), ("a", 2.0)]},
        weights={"dense": 0.7, "keyword": 0.3},
    )
    scores = dict(fused)
    assert scores["a"] == pytest.approx(0.7 * 1.0 + 0.3 * 0.0)
    assert scores["b"] == pytest.approx(0.7 * 0.75)
    assert scores["c"] == pytest.approx(0.7 * 0.0 + 0.3 * 1.0)
    assert [pid for pid, _ in fused] == ["a", "b", "c"]


def test_a_single_candidate_or_equal_scores_count_as_best_and_ties_order_by_id():
    fused = score_fusion(
        {"dense": [("z", 0.4)], "keyword": [("y", 3.0), ("x", 3.0)]}, weights={"dense": 0.5, "keyword": 0.5}
    )
    assert fused == [("x", 0.5), ("y", 0.5), ("z", 0.5)]


def test_an_empty_ranking_is_ignored():
    assert score_fusion({"dense": [], "keyword": [("k", 1.0)]}, weights={"dense": 0.7, "keyword": 0.3}) == [("k", 0.3)]
