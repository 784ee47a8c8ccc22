"""Negative samplers: the contract every sampler keeps, and each sampler's own promise."""

import math

import numpy as np
import pytest
from scipy import stats

from shopaug.augment.negatives import (
    SAMPLERS,
    NegativeSampler,
    build,
    create_sampler,
    sampled_softmax_logits,
)
from shopaug.data import Sequences, TrainSet
from shopaug.evaluation import leave_one_out
from shopaug.exceptions import ConfigError
from shopaug.models import create
from shopaug.testing import checkerboard, planted


def _fitted_model(train):
    return create("itemknn").fit(train)


@pytest.fixture(scope="module")
def board():
    """Checkerboard training set, a fitted ItemKNN and a batch of training (user, item)."""
    train = leave_one_out(checkerboard()).train
    users = np.repeat(np.arange(train.n_users), train.sequences.lengths)
    return train, _fitted_model(train), users, train.sequences.items.copy()


@pytest.fixture(scope="module")
def canaries():
    ds, canary = planted()
    train = leave_one_out(ds).train
    users = np.repeat(np.arange(train.n_users), train.sequences.lengths)
    return train, _fitted_model(train), users, train.sequences.items.copy(), canary


def make(name, model, train):
    if name == "mixed":
        spec = ["uniform", {"name": "popularity", "alpha": 1.0}, "in_batch", "hard"]
        return create_sampler(name, samplers=spec, weights=[1, 1, 1, 2], model=model).fit(train)
    if name == "hard":
        return create_sampler(name, model=model, top=10, skip=3, chunk=16).fit(train)
    return create_sampler(name).fit(train)


ALL = sorted(SAMPLERS)


def test_every_sampler_is_covered():
    assert set(ALL) == {"uniform", "popularity", "in_batch", "mixed", "hard"}


@pytest.mark.parametrize("name", ALL)
class TestSamplerContract:
    def test_shape_dtype_never_padding_only_training_items(self, name, board):
        train, model, users, pos = board
        s = make(name, model, train)
        out = s.sample(pos, 7, np.random.default_rng(0), users=users)
        assert out.shape == (len(pos), 7) and out.dtype == np.int64
        assert (out > 0).all()
        assert (train.item_counts()[out] > 0).all()

    def test_same_seed_same_negatives(self, name, board):
        train, model, users, pos = board
        s = make(name, model, train)
        a = s.sample(pos, 4, np.random.default_rng(11), users=users)
        b = s.sample(pos, 4, np.random.default_rng(11), users=users)
        c = s.sample(pos, 4, np.random.default_rng(12), users=users)
        np.testing.assert_array_equal(a, b)
        assert not np.array_equal(a, c)

    def test_config_roundtrip(self, name, board):
        train, model, _, _ = board
        s = make(name, model, train)
        cfg = s.to_config()
        assert cfg["name"] == name
        again = build(cfg, model=model)
        assert type(again) is type(s) and again.to_config() == cfg

    def test_empty_batch_and_zero_k(self, name, board):
        train, model, users, pos = board
        s = make(name, model, train)
        rng = np.random.default_rng(0)
        assert s.sample(pos[:0], 3, rng, users=users[:0]).shape == (0, 3)
        assert s.sample(pos[:4], 0, rng, users=users[:4]).shape == (4, 0)

    def test_held_out_canaries_are_never_drawn(self, name, canaries):
        train, model, users, pos, canary = canaries
        s = make(name, model, train)
        drawn = np.concatenate(
            [
                s.sample(pos, 5, np.random.default_rng(seed), users=users).ravel()
                for seed in range(30)
            ]
        )
        assert not set(drawn.tolist()) & canary
        assert math.isinf(s.log_q(np.array(sorted(canary))).max())  # -inf: never proposed


def test_unfitted_sampler_refuses():
    with pytest.raises(RuntimeError, match="not fitted"):
        create_sampler("uniform").sample(np.array([1]), 2, np.random.default_rng(0))


@pytest.mark.parametrize("name", ["uniform", "popularity"])
def test_positive_is_rejected_and_log_q_is_a_distribution(name, board):
    train, _, _, pos = board
    s = create_sampler(name).fit(train)
    out = s.sample(pos, 20, np.random.default_rng(0))
    assert not (out == pos[:, None]).any()
    p = np.exp(s.log_q(np.arange(train.n_items + 1)))
    seen = train.item_counts() > 0
    assert p[seen].sum() == pytest.approx(1.0)
    assert (p[~seen] == 0).all()


def test_popularity_follows_count_power_alpha():
    # Counts 1..12 for items 1..12 (item 13 unseen); the positive is always item 12, which
    # is rejected, so the others follow count**alpha renormalised without it.
    rows = [[i] * i for i in range(1, 13)]
    train = TrainSet(Sequences.from_lists(rows), n_items=13)
    alpha = 0.5
    s = create_sampler("popularity", alpha=alpha).fit(train)
    n, k = 5000, 10
    out = s.sample(np.full(n, 12), k, np.random.default_rng(0))
    observed = np.bincount(out.ravel(), minlength=14)
    assert observed[[0, 12, 13]].sum() == 0
    w = np.arange(1, 12, dtype=float) ** alpha
    expected = n * k * w / w.sum()
    assert stats.chisquare(observed[1:12], expected).pvalue > 1e-3
    np.testing.assert_allclose(observed[1:12] / (n * k), w / w.sum(), atol=0.006)


def test_popularity_alpha_zero_is_uniform_and_bad_alpha_named():
    train = TrainSet(Sequences.from_lists([[1, 1, 1, 2], [3]]), n_items=3)
    q = np.exp(create_sampler("popularity", alpha=0.0).fit(train).log_q(np.array([1, 2, 3])))
    np.testing.assert_allclose(q, 1 / 3)
    with pytest.raises(ConfigError, match=r"'popularity': alpha must be a finite number >= 0"):
        create_sampler("popularity", alpha=-1)
    with pytest.raises(ConfigError, match="unknown option"):
        create_sampler("popularity", beta=1)


def test_in_batch_draws_other_positives_only():
    train = TrainSet(Sequences.from_lists([[1, 2, 3, 4, 5, 5]]), n_items=6)
    s = create_sampler("in_batch").fit(train)
    pos = np.array([2, 2, 2, 3, 5])
    out = s.sample(pos, 50, np.random.default_rng(0))
    assert not (out == pos[:, None]).any()
    assert set(out.ravel().tolist()) == {2, 3, 5}
    # Row 0 (item 2) draws among positions holding 3 and 5: each about half the time.
    assert 0.35 < (out[0] == 3).mean() < 0.65
    # log_q is the training unigram: item 5 holds 2 of the 6 interactions.
    assert np.exp(s.log_q(np.array([5])))[0] == pytest.approx(2 / 6)


def test_in_batch_skips_unseen_positives_and_falls_back_for_one_item_batches():
    train = TrainSet(Sequences.from_lists([[1, 2, 3]]), n_items=4)  # item 4 held out
    s = create_sampler("in_batch").fit(train)
    out = s.sample(np.array([1, 4, 4]), 20, np.random.default_rng(0))
    assert 4 not in out and (out[0] != 1).all()
    same = s.sample(np.array([2, 2]), 20, np.random.default_rng(0))
    assert set(same.ravel().tolist()) <= {1, 3}


def test_mixed_takes_each_slot_from_one_child():
    train = TrainSet(Sequences.from_lists([[1, 2, 3, 4], [5, 6]]), n_items=6)
    only_a = {"name": "in_batch"}
    s = create_sampler("mixed", samplers=[only_a, "uniform"], weights=[1.0, 0.0]).fit(train)
    out = s.sample(np.array([1, 6]), 30, np.random.default_rng(0))
    assert set(out[0].tolist()) == {6} and set(out[1].tolist()) == {1}
    q_uniform = 1 / 6
    mix = create_sampler("mixed", samplers=["uniform", "in_batch"], weights=[3, 1]).fit(train)
    assert np.exp(mix.log_q(np.array([2])))[0] == pytest.approx(0.75 * q_uniform + 0.25 / 6)
    with pytest.raises(ConfigError, match="'mixed': weights must be 2 finite numbers"):
        create_sampler("mixed", samplers=["uniform", "in_batch"], weights=[1.0])


def test_hard_respects_skip_history_and_positive(board):
    train, model, users, pos = board
    skip, top = 4, 6
    s = create_sampler("hard", model=model, top=top, skip=skip, chunk=7).fit(train)
    out = s.sample(pos, 12, np.random.default_rng(0), users=users)
    scores = model.score(users, train.sequences.rows(users)).astype(np.float64)
    scores[:, train.item_counts() == 0] = -np.inf
    for r in range(len(pos)):
        hist = train.sequences[users[r]]
        assert not set(out[r].tolist()) & set(hist.tolist())
        assert pos[r] not in out[r]
        valid = scores[r].copy()
        valid[hist] = -np.inf
        valid[pos[r]] = -np.inf
        for item in set(out[r].tolist()):
            # Ranked at [skip, skip + top) whatever the order among equal scores.
            assert (valid >= valid[item]).sum() - 1 >= skip
            assert (valid > valid[item]).sum() < skip + top
        raw_top = np.argsort(-scores[r], kind="stable")[:skip]
        assert not set(raw_top.tolist()) & set(out[r].tolist()) - set(hist.tolist())


def test_hard_needs_model_and_users(board):
    train, model, _, pos = board
    with pytest.raises(ConfigError, match="'hard': model must be"):
        create_sampler("hard")
    with pytest.raises(ConfigError, match="'hard': skip must be an integer >= 0"):
        create_sampler("hard", model=model, skip=-1)
    s = create_sampler("hard", model=model).fit(train)
    with pytest.raises(ValueError, match="needs users"):
        s.sample(pos[:3], 2, np.random.default_rng(0))


def test_dotted_path_user_sampler_roundtrips():
    cfg = {"name": "shopaug.augment.negatives.UniformSampler"}
    s = build(cfg)
    assert isinstance(s, NegativeSampler) and s.to_config() == {"name": "uniform"}
    with pytest.raises(ConfigError, match="unknown sampler 'nope'"):
        create_sampler("nope")


def test_sampled_softmax_logits_by_hand():
    import torch

    # Items 1, 2 with counts 1 and 3: q = 1/4 and 3/4 under the unigram (alpha=1).
    train = TrainSet(Sequences.from_lists([[1, 2, 2, 2]]), n_items=2)
    s = create_sampler("popularity", alpha=1.0).fit(train)
    pos_logit = torch.tensor([2.0, 1.0])
    neg_logit = torch.tensor([[0.5], [3.0]])
    logits = sampled_softmax_logits(pos_logit, neg_logit, np.array([1, 2]), np.array([[2], [1]]), s)
    lq1, lq2 = math.log(0.25), math.log(0.75)
    expected = torch.tensor([[2.0 - lq1, 0.5 - lq2], [1.0 - lq2, 3.0 - lq1]])
    torch.testing.assert_close(logits, expected)
    # Accidental hit: a negative equal to its positive is masked out of the softmax.
    hit = sampled_softmax_logits(pos_logit, neg_logit, np.array([1, 2]), np.array([[1], [1]]), s)
    assert hit[0, 1] == torch.finfo(hit.dtype).min and hit[1, 1] == expected[1, 1]
