"""Text-aware SASRec: fused text vectors, text initialisation, items scored from text alone."""

import numpy as np
import pytest
import torch

from shopaug.augment import Recipe
from shopaug.data import Sequences, TrainSet
from shopaug.models import SASRec, load_model
from shopaug.models.sasrec import _pca_init
from shopaug.training import TrainOptions


class HashEncoder:
    """Deterministic 8-d unit vectors from a text's words (a stand-in whose outputs can be
    reasoned about; the real MiniLM runs in tests/lm and the leakage tests)."""

    def encode(self, texts):
        out = np.zeros((len(texts), 8), np.float32)
        for i, t in enumerate(texts):
            for w in t.split():
                out[i, sum(map(ord, w)) % 8] += 1.0
        n = np.linalg.norm(out, axis=1, keepdims=True)
        return np.divide(out, n, out=np.zeros_like(out), where=n > 0)


def data():
    rng = np.random.default_rng(0)
    rows = [list(rng.choice(np.arange(1, 19), size=6, replace=False)) for _ in range(40)]
    texts = np.array([""] + [f"item{i} group{i % 3}" for i in range(1, 21)], dtype=object)
    # items 19 and 20 have text but no interaction: new products
    return TrainSet(Sequences.from_lists(rows), n_items=20, item_text=texts)


OPTS = dict(seed=0, epochs=2, progress=False, encoder=HashEncoder())
SMALL = dict(dim=16, heads=2, layers=1, max_len=8, batch_size=16, dropout=0.1)


@pytest.fixture(scope="module")
def fused():
    return SASRec(text="fuse", **SMALL).fit(data(), TrainOptions(**OPTS))


def test_fused_model_round_trips_with_its_text_vectors(fused, tmp_path):
    fused.save(tmp_path / "m")
    again = load_model(tmp_path / "m")
    hist = Sequences.from_lists([[1, 2, 3], [4]])
    np.testing.assert_allclose(again.score(np.array([0, 1]), hist),
                               fused.score(np.array([0, 1]), hist), rtol=1e-5, atol=1e-6)
    assert again.config.text == "fuse"


def test_items_without_interactions_are_scored_from_text_alone(fused):
    net = fused.net_
    assert not net.item.weight[19:21].any()  # ID rows of new items cleared
    hist = Sequences.from_lists([[1, 2, 3]])
    scores = fused.score(np.array([0]), hist)[0]
    with torch.no_grad():
        h = net(torch.tensor([[1, 2, 3]]))[0, -1]
        expected = (h @ net.proj(net.text[19:21]).T).numpy()
    np.testing.assert_allclose(scores[19:21], expected, rtol=1e-5, atol=1e-6)
    assert (scores[19:21] != 0).all()


def test_data_without_text_warns_and_trains_on_ids(tmp_path):
    import dataclasses

    bare = dataclasses.replace(data(), item_text=None)
    opts = TrainOptions(**OPTS, validate=lambda model: 0.0)
    with pytest.warns(UserWarning, match="no item text"):
        m = SASRec(text="fuse", text_blend="auto", **SMALL).fit(bare, opts)
    plain = SASRec(**SMALL).fit(bare, opts)
    hist = Sequences.from_lists([[1, 2, 3]])
    assert not m.net_.fuse and m.blend_ == 0.0  # no text blend was tried either
    np.testing.assert_allclose(m.score(np.array([0]), hist), plain.score(np.array([0]), hist))
    m.save(tmp_path / "m")
    assert not load_model(tmp_path / "m").net_.fuse


def test_text_changes_the_model():
    plain = SASRec(**SMALL).fit(data(), TrainOptions(**OPTS))
    fused = SASRec(text="fuse", **SMALL).fit(data(), TrainOptions(**OPTS))
    hist = Sequences.from_lists([[1, 2, 3]])
    assert not np.allclose(plain.score(np.array([0]), hist), fused.score(np.array([0]), hist))
    assert not hasattr(plain.net_, "text")


def test_pca_init_keeps_identical_texts_identical_and_scales_like_embeddings():
    text = torch.tensor([[0, 0, 0], [1, 0, 0], [1, 0, 0], [0, 1, 0], [0.6, 0.8, 0]])
    out = _pca_init(text, 4)
    assert out.shape == (5, 4)
    assert not out[0].any()
    torch.testing.assert_close(out[1], out[2])
    assert abs(float(out[1:].std()) - 0.02) < 0.01


def test_init_mode_starts_from_text():
    m = SASRec(text="init", **SMALL).fit(data(), TrainOptions(**{**OPTS, "epochs": 1}))
    assert not hasattr(m.net_, "text")  # init only: nothing text-specific is kept


def test_a_recipe_can_switch_text_on_and_it_is_saved(tmp_path):
    recipe = Recipe.from_dict({"name": "text", "augment": {"op": "identity"},
                               "train": {"mode": "online", "text": "fuse"}})
    m = SASRec(**SMALL).fit(data(), TrainOptions(**OPTS, recipe=recipe))
    assert m.config.text == "fuse" and hasattr(m.net_, "text")
    m.save(tmp_path / "m")
    assert load_model(tmp_path / "m").config.text == "fuse"


def test_text_blend_auto_is_chosen_on_the_validation_callback_and_saved(tmp_path):
    seen = []

    def validate(m):  # a stand-in figure that peaks at 0.2
        seen.append(m.blend_)
        return -abs(m.blend_ - 0.2)

    m = SASRec(text="fuse", text_blend="auto", **SMALL).fit(
        data(), TrainOptions(**{**OPTS, "validate": validate}))
    assert m.blend_ == 0.2 and {0.0, 0.1, 0.2, 0.3, 0.5} <= set(seen)
    m.save(tmp_path / "m")
    again = load_model(tmp_path / "m")
    assert again.blend_ == 0.2 and again.config.text_blend == "auto"
    hist = Sequences.from_lists([[1, 2, 3]])
    blended = again.score(np.array([0]), hist)
    again.blend_ = 0.0
    plain = again.score(np.array([0]), hist)
    assert not np.allclose(blended, plain)
    # blending is z-scored model scores plus the weighted z-scored text cosines
    from shopaug.models.sasrec import _zscore

    text = again._text_scores(hist)
    expected = _zscore(torch.from_numpy(plain)) + 0.2 * _zscore(text)
    np.testing.assert_allclose(blended, expected.numpy(), rtol=1e-4, atol=1e-5)
