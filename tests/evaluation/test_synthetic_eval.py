"""Fidelity, copy, distance and membership-inference measures against hand-computed values,
and an attack that must detect membership on a deliberately overfitted model."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from shopaug.data import Sequences, TrainSet
from shopaug.evaluation.synthetic import (
    copy_rates,
    distance_to_closest,
    fidelity,
    membership_auc,
    transition_matrix,
)


def S(rows):
    return Sequences.from_lists([np.array(r, np.int64) for r in rows])


def test_copy_rates_by_hand():
    real = S([[1, 2, 3, 4, 5, 6], [7, 8]])
    syn = S([[1, 2, 3, 4, 5, 9], [7, 8], [9, 9], [2, 3, 4, 5, 6, 1, 1]])
    out = copy_rates(real, syn, n=5)
    assert out["exact_copy_rate"] == pytest.approx(1 / 4)  # [7, 8]
    # rows with >= 5 items: 0 and 3; both contain a real run of 5 (1..5 and 2..6)
    assert out["ngram5_copy_rate"] == 1.0
    # 5-runs in syn: row 0 has 2 (one copied), row 3 has 3 (one copied)
    assert out["ngram5_share_copied"] == pytest.approx(2 / 5)


def test_distance_to_closest_by_hand():
    real = S([[1, 2, 3], [4], [5, 6]])
    query = S([[1, 2], [4, 4], [7], [5, 6, 1]])
    d = distance_to_closest(query, real, n_items=8)
    np.testing.assert_allclose(d, [1 - 2 / 3, 0.0, 1.0, 1 - 2 / 3])
    self_d = distance_to_closest(real, real, n_items=8, exclude_self=True)
    np.testing.assert_allclose(self_d, [1.0, 1.0, 1.0])


def test_fidelity_identical_and_disjoint():
    a = S([[1, 2, 3], [2, 3], [1, 3, 2, 4]])
    same = fidelity(a, a, n_items=6)
    assert same["popularity_js"] == 0 and same["length_js"] == 0
    assert same["transition_cosine"] == pytest.approx(1.0)
    other = fidelity(a, S([[5, 6], [6, 5]]), n_items=6)
    assert other["popularity_js"] == pytest.approx(1.0)
    assert other["transition_cosine"] == 0.0
    t = transition_matrix(a, 6)
    assert t[2, 3] == 2 and t[1, 2] == 1 and t[3, 2] == 1 and t.sum() == 6


def test_membership_auc_extremes():
    rng = np.random.default_rng(0)
    hi = membership_auc(np.arange(10.0, 20.0), np.arange(0.0, 10.0), rng=rng, resamples=200)
    assert hi["auc"] == 1.0 and hi["ci_low"] == 1.0
    x = rng.normal(size=4000)
    mid = membership_auc(x[:2000], x[2000:], rng=rng, resamples=200)
    assert abs(mid["auc"] - 0.5) < 0.03 and mid["ci_low"] < 0.5 < mid["ci_high"]


def _random_users(rng, n_users, n_items, length):
    return S([rng.integers(1, n_items + 1, length) for _ in range(n_users)])


def test_log_likelihood_matches_step_by_step_scores():
    from shopaug.models import SASRec
    from shopaug.training import TrainOptions

    rng = np.random.default_rng(0)
    seqs = _random_users(rng, 60, 30, 6)
    m = SASRec(dim=16, layers=1, heads=1, epochs=1, dropout=0.0).fit(
        TrainSet(seqs, 30), TrainOptions(progress=False))
    row = seqs[0]
    want = []
    for t in range(1, len(row)):
        s = torch.from_numpy(m.score(np.array([-1]), S([row[:t]]))[0, 1:])
        want.append(float(torch.log_softmax(s, 0)[row[t] - 1]))
    got = m.log_likelihood(S([row, row[:1]]))
    assert got[0] == pytest.approx(np.mean(want), abs=1e-5)
    assert np.isnan(got[1])  # one item: nothing to predict


def test_attack_detects_membership_of_an_overfitted_model():
    """The test can fail: a model that memorised its training users must be caught."""
    from shopaug.models import SASRec
    from shopaug.training import TrainOptions

    rng = np.random.default_rng(1)
    users = _random_users(rng, 300, 200, 8)  # random sequences: only memory can fit them
    members, others = users.rows(np.arange(150)), users.rows(np.arange(150, 300))
    m = SASRec(dim=48, layers=2, heads=2, epochs=80, dropout=0.0, batch_size=32).fit(
        TrainSet(members, 200), TrainOptions(progress=False, seed=0))
    out = membership_auc(m.log_likelihood(members), m.log_likelihood(others),
                         rng=np.random.default_rng(0), resamples=200)
    assert out["auc"] > 0.9 and out["ci_low"] > 0.8
