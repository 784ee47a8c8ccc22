"""Metrics against values computed by hand."""

import math

import numpy as np
import pytest
import scipy.sparse as sp

from shopaug.evaluation import (
    coverage,
    hit_rate,
    intra_list_diversity,
    item_features,
    mrr,
    ndcg,
    novelty,
)

RANKS = np.array([0, 1, 4, 9, 10, 30])  # 0-based ranks of six targets


def test_hit_rate_by_hand():
    assert hit_rate(RANKS, 5) == pytest.approx(3 / 6)
    assert hit_rate(RANKS, 10) == pytest.approx(4 / 6)
    assert hit_rate(RANKS, 20) == pytest.approx(5 / 6)
    assert hit_rate(RANKS, 1) == pytest.approx(1 / 6)


def test_ndcg_by_hand():
    # one relevant item: gain 1/log2(rank+2) when rank < k (ideal DCG is 1)
    by_hand_10 = (1 / math.log2(2) + 1 / math.log2(3) + 1 / math.log2(6) + 1 / math.log2(11)) / 6
    assert ndcg(RANKS, 10) == pytest.approx(by_hand_10)
    by_hand_5 = (1.0 + 1 / math.log2(3) + 1 / math.log2(6)) / 6
    assert ndcg(RANKS, 5) == pytest.approx(by_hand_5)
    assert ndcg(np.array([0]), 10) == 1.0
    assert ndcg(np.array([2]), 10) == pytest.approx(0.5)  # 1/log2(4)


def test_mrr_by_hand():
    assert mrr(RANKS, 10) == pytest.approx((1 + 1 / 2 + 1 / 5 + 1 / 10) / 6)
    assert mrr(np.array([10]), 10) == 0.0


def test_empty_ranks_are_zero():
    empty = np.array([], dtype=np.int64)
    assert hit_rate(empty, 10) == ndcg(empty, 10) == mrr(empty, 10) == 0.0


def test_coverage_by_hand():
    top = np.array([[1, 2, 3], [2, 3, 4]])
    assert coverage(top, n_items=10) == pytest.approx(4 / 10)
    # padding id 0 never counts as an item
    assert coverage(np.array([[0, 1]]), n_items=4) == pytest.approx(1 / 4)


def test_novelty_by_hand():
    counts = np.array([0, 8, 4, 1, 0])  # item 4 unseen -> counted as half a user
    top = np.array([[1, 2], [3, 4]])
    expected = np.mean([-math.log2(8 / 16), -math.log2(4 / 16), -math.log2(1 / 16),
                        -math.log2(0.5 / 16)])
    assert novelty(top, counts, n_users=16) == pytest.approx(expected)


def test_diversity_by_hand_with_attributes():
    # items 1 and 2 share both attributes, item 3 shares nothing
    attrs = [np.array([]), np.array([0, 1]), np.array([0, 1]), np.array([2])]
    f = item_features(3, attrs=attrs)
    assert sp.issparse(f)
    # list [1, 2, 3]: pairs (1,2) cos 1, (1,3) cos 0, (2,3) cos 0 -> 1 - mean = 2/3
    assert intra_list_diversity(np.array([[1, 2, 3]]), f) == pytest.approx(2 / 3)
    assert intra_list_diversity(np.array([[1, 2]]), f) == pytest.approx(0.0)


def test_diversity_from_text_cosine():
    text = np.array(["", "red nail polish", "red lipstick", "blue"], dtype=object)
    f = item_features(3, text=text)
    # cos(1,2) = 1 / (sqrt(3) sqrt(2)); others 0
    c12 = 1 / (math.sqrt(3) * math.sqrt(2))
    assert intra_list_diversity(np.array([[1, 2, 3]]), f) == pytest.approx(1 - c12 / 3)
