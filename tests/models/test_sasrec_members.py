"""SASRec ensembles (``members``): several networks trained with derived seeds, their
next-item distributions averaged, saved and loaded as one model."""

import numpy as np
import pytest
import torch
from test_sasrec_cooc import SMALL, data  # tests/models is on sys.path (prepend mode)

from shopaug.data import Sequences
from shopaug.exceptions import ConfigError
from shopaug.models import SASRec, load_model
from shopaug.models.sasrec import SASRecConfig, _zscore, member_seed
from shopaug.training import TrainOptions, epochs_run

OPTS = dict(seed=3, epochs=2, progress=False)
HIST = Sequences.from_lists([[1, 2, 3], [], [5, 6]])
USERS = np.arange(3)


@pytest.fixture(scope="module")
def pair():
    return SASRec(members=2, **SMALL).fit(data(), TrainOptions(**OPTS))


def softmax(s: np.ndarray) -> np.ndarray:
    return torch.softmax(_zscore(torch.from_numpy(s[:, 1:])), 1).numpy()


def test_members_train_as_single_models_with_derived_seeds(pair):
    assert len(pair.members_) == 2 and pair.probability_scores and not pair.vector_scoring
    # member 0 is the single model of the run's seed; member 1 has a seed of its own
    single = SASRec(**SMALL).fit(data(), TrainOptions(**OPTS))
    np.testing.assert_array_equal(pair.members_[0].score(USERS, HIST), single.score(USERS, HIST))
    other = SASRec(**SMALL).fit(data(), TrainOptions(**{**OPTS, "seed": member_seed(3, 1)}))
    np.testing.assert_array_equal(pair.members_[1].score(USERS, HIST), other.score(USERS, HIST))
    assert member_seed(3, 1) not in (3, member_seed(3, 2), member_seed(4, 1))
    assert [h["member"] for h in pair.history_] == [0, 0, 1, 1]
    assert epochs_run(pair.history_) == 4


def test_score_is_the_mean_of_the_members_distributions(pair):
    got = pair.score(USERS, HIST)
    by_hand = np.mean([softmax(m.score(USERS, HIST)) for m in pair.members_], axis=0)
    np.testing.assert_allclose(got[[0, 2], 1:], by_hand[[0, 2]], rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(got[[0, 2], 1:].sum(1), 1.0, rtol=1e-5)
    # padding and an empty history score 0, as a single model's do
    assert (got[:, 0] == 0).all() and (got[1] == 0).all()
    # the averaged distribution differs from either member's
    assert not np.allclose(got[0, 1:], softmax(pair.members_[0].score(USERS, HIST))[0])


def test_vectors_side_by_side_give_the_members_mean_logit(pair):
    q, v = pair.query_vectors(HIST), pair.item_vectors()
    assert q.shape == (3, 32) and v.shape == (21, 32)
    mean = np.mean([m.score(USERS, HIST) for m in pair.members_], axis=0)
    np.testing.assert_allclose((q @ v.T)[[0, 2]], mean[[0, 2]], rtol=1e-4, atol=1e-5)
    ll = pair.log_likelihood(HIST)
    np.testing.assert_allclose(
        ll, np.mean([m.log_likelihood(HIST) for m in pair.members_], axis=0), equal_nan=True)


def test_saved_and_loaded_as_one_model(pair, tmp_path):
    pair.save(tmp_path / "m")
    again = load_model(tmp_path / "m")
    assert again.config.members == 2 and len(again.members_) == 2
    np.testing.assert_allclose(again.score(USERS, HIST), pair.score(USERS, HIST),
                               rtol=1e-5, atol=1e-7)


def test_each_member_chooses_its_own_late_fusion_on_validation():
    first = []

    def validate(m):  # a stand-in figure: member 0 prefers no mixture, member 1 the most
        first[:] = first or [m]
        return -m.mix_ if m is first[0] else m.mix_

    pair = SASRec(members=2, cooc_blend="auto", **SMALL).fit(
        data(), TrainOptions(**{**OPTS, "validate": validate}))
    assert pair.members_[0].mix_ == 0.0 and pair.members_[1].mix_ > 0
    # the ensemble still averages distributions: member 0's softmax, member 1's mixture
    by_hand = (softmax(pair.members_[0].score(USERS, HIST))
               + pair.members_[1].score(USERS, HIST)[:, 1:]) / 2
    np.testing.assert_allclose(pair.score(USERS, HIST)[[0, 2], 1:], by_hand[[0, 2]],
                               rtol=1e-5, atol=1e-7)


def test_epoch_records_name_their_member():
    seen = []
    SASRec(members=2, **SMALL).fit(data(), TrainOptions(**{**OPTS, "log": seen.append}))
    assert [(r["member"], r["epoch"]) for r in seen] == [(0, 1), (0, 2), (1, 1), (1, 2)]


def test_the_time_budget_is_shared_by_the_members():
    pair = SASRec(members=2, **SMALL).fit(
        data(), TrainOptions(**{**OPTS, "epochs": 50, "time_budget": 0.0}))
    # a budget spent before training lets each member run its one epoch, no more
    assert epochs_run(pair.history_) == 2


def test_warm_start_continues_every_member():
    pair = SASRec(members=2, **SMALL).fit(data(), TrainOptions(**OPTS))
    before = [m.item_vectors().copy() for m in pair.members_]
    members = pair.members_
    pair.fit(data(), TrainOptions(**{**OPTS, "epochs": 1, "warm_start": True}))
    assert pair.members_ == members  # the same networks, trained on
    assert all(not np.allclose(b, m.item_vectors()) for b, m in zip(before, pair.members_,
                                                                      strict=True))


@pytest.mark.parametrize("bad", [0, 1.5, "2", True])
def test_bad_member_counts_are_refused(bad):
    with pytest.raises(ValueError, match="members"):
        SASRecConfig(members=bad)


def test_a_config_file_with_bad_members_names_the_option():
    with pytest.raises(ConfigError, match="members"):
        SASRec(members=0)
