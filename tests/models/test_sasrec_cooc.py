"""SASRec's co-occurrence mixture (``cooc_blend``): the model's next-item distribution mixed
with ItemKNN's, the weight fixed or chosen on validation, saved with the model."""

import numpy as np
import pytest
import torch

from shopaug.data import Sequences, TrainSet
from shopaug.models import SASRec, load_model
from shopaug.models.itemknn import ItemKNN
from shopaug.models.sasrec import COOC_GRID, COOC_KNN, SASRecConfig, _zscore
from shopaug.training import TrainOptions, epochs_run


def data():
    rng = np.random.default_rng(0)
    rows = [list(rng.choice(np.arange(1, 19), size=6, replace=False)) for _ in range(40)]
    return TrainSet(Sequences.from_lists(rows), n_items=20)


OPTS = dict(seed=0, epochs=2, progress=False)
SMALL = dict(dim=16, heads=2, layers=1, max_len=8, batch_size=16, dropout=0.1)
HIST = Sequences.from_lists([[1, 2, 3], [4], [5, 6]])
USERS = np.arange(3)


def test_mixture_is_the_weighted_sum_of_both_distributions():
    m = SASRec(cooc_blend=0.3, **SMALL).fit(data(), TrainOptions(**OPTS))
    assert m.mix_ == 0.3 and not m.vector_scoring and m.probability_scores
    mixed = m.score(USERS, HIST)
    m.mix_ = 0.0
    plain = m.score(USERS, HIST)
    # by hand: softmax of the standardised scores, ItemKNN's scores divided by their sum
    knn = ItemKNN(**COOC_KNN).fit(data()).score(USERS, HIST)[:, 1:].clip(min=0)
    p_knn = knn / knn.sum(1, keepdims=True)
    p_model = torch.softmax(_zscore(torch.from_numpy(plain[:, 1:])), 1).numpy()
    np.testing.assert_allclose(mixed[:, 1:], 0.7 * p_model + 0.3 * p_knn, rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(mixed[:, 1:].sum(1), 1.0, rtol=1e-4)
    # every score is > 0, so the ``zero`` history convention still ranks history items last
    assert (mixed[:, 1:] > 0).all()
    # the item most co-occurring with the history gains on item 19, never bought
    a, b = int(p_knn[0].argmax()), 18
    assert p_knn[0, b] == 0 < p_knn[0, a]
    assert mixed[0, 1 + a] / mixed[0, 1 + b] > p_model[0, a] / p_model[0, b]


def test_auto_is_chosen_on_the_validation_callback_saved_and_loaded(tmp_path):
    seen = []

    def validate(m):  # a stand-in figure that peaks at 0.1
        seen.append(m.mix_)
        return -abs(m.mix_ - 0.1)

    m = SASRec(cooc_blend="auto", **SMALL).fit(
        data(), TrainOptions(**{**OPTS, "validate": validate}))
    assert m.mix_ == 0.1 and set(COOC_GRID) <= set(seen)
    assert m.history_[-1]["chosen"] == 0.1 and "cooc_blend" in m.history_[-1]
    # the weight choice is recorded in the history but is not an epoch
    assert len(m.history_) == 3 and epochs_run(m.history_) == 2
    m.save(tmp_path / "m")
    again = load_model(tmp_path / "m")
    assert again.mix_ == 0.1 and again.config.cooc_blend == "auto"
    np.testing.assert_allclose(again.score(USERS, HIST), m.score(USERS, HIST),
                               rtol=1e-5, atol=1e-6)


def test_off_by_default_and_auto_without_validation_stays_off(tmp_path):
    plain = SASRec(**SMALL).fit(data(), TrainOptions(**OPTS))
    auto = SASRec(cooc_blend="auto", **SMALL).fit(data(), TrainOptions(**OPTS))
    assert plain.vector_scoring and auto.vector_scoring and auto.mix_ == 0.0
    assert not plain.probability_scores
    np.testing.assert_array_equal(auto.score(USERS, HIST), plain.score(USERS, HIST))
    auto.save(tmp_path / "m")  # nothing of the unused expert is stored
    assert load_model(tmp_path / "m").cooc_ is None


@pytest.mark.parametrize("bad", [1.0, -0.1, "yes"])
def test_bad_weights_are_refused(bad):
    with pytest.raises(ValueError, match="cooc_blend"):
        SASRecConfig(cooc_blend=bad)


def test_int8_serving_refuses_a_mixed_model():
    from shopaug.serving._quantize import Int8Recommender

    m = SASRec(cooc_blend=0.2, **SMALL).fit(data(), TrainOptions(**OPTS))
    with pytest.raises(ValueError, match="co-occurrence"):
        Int8Recommender(m)


def test_the_cooc_expert_sees_the_training_partition_only():
    from shopaug.evaluation import leave_one_out
    from shopaug.testing import planted

    ds, canaries = planted(n_users=40, n_items=120)
    m = SASRec(cooc_blend=0.2, **SMALL).fit(leave_one_out(ds).train, TrainOptions(**OPTS))
    c = np.array(sorted(canaries))
    assert m.cooc_.sim_[c].nnz == 0 and m.cooc_.sim_[:, c].nnz == 0
    # the check can fail: an expert fitted on every interaction links the canaries
    leaky = ItemKNN(**COOC_KNN).fit(TrainSet(ds.sequences(), ds.n_items))
    assert leaky.sim_[c].nnz > 0


def test_explanations_weigh_probabilities_by_value_and_logits_by_softmax():
    from shopaug.serving._engine import explain_weights

    probs = np.array([0.004, 0.001, 0.0])
    np.testing.assert_allclose(explain_weights(probs, True), [0.8, 0.2, 0.0])
    logits = np.array([2.0, 1.0, 0.0])
    e = np.exp([0.0, -1.0, -2.0])
    np.testing.assert_allclose(explain_weights(logits, False), e / e.sum())
    np.testing.assert_allclose(explain_weights(np.zeros(4), True), 0.25)


def test_a_refit_validates_without_the_previous_fits_late_fusions():
    class Encoder:  # deterministic 4-d vectors, enough for a text-fused model
        def encode(self, texts):
            return np.array([[len(t) % 3, len(t) % 5, 1.0, 0.0] for t in texts], np.float32)

    train = data()
    train = TrainSet(train.sequences, n_items=20,
                     item_text=np.array([""] + [f"item {i}" for i in range(1, 21)], dtype=object))
    mixes, blends = [], []

    def validate(m):
        mixes.append(m.mix_)
        blends.append(m.blend_)
        return -abs(m.blend_ - 0.2)  # the first fit keeps text blend .2

    m = SASRec(text="fuse", text_blend="auto", cooc_blend=0.3, **SMALL)
    opts = TrainOptions(**OPTS, encoder=Encoder(), validate=validate)
    m.fit(train, opts)
    assert m.mix_ == 0.3
    assert m.blend_ == 0.2
    mixes.clear()
    blends.clear()
    m.fit(train, opts)
    assert mixes and set(mixes) == {0.0}  # epochs and text-blend figures, all without a mixture
    assert blends[:2] == [0.0, 0.0]  # the 2 epochs: without the first fit's text blend either
    assert m.mix_ == 0.3
