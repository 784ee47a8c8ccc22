"""Contract tests every Recommender inherits (pytest collects subclasses named Test*)."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from shopaug.evaluation import evaluate, leave_one_out
from shopaug.testing._tiny import checkerboard, planted
from shopaug.training import TrainOptions


class RecommenderContract:
    """Subclass as ``class TestMyModel(RecommenderContract)`` and set ``model_class`` and
    ``config`` (small settings that train in a second)."""

    model_class: ClassVar[Any]
    config: ClassVar[dict] = {}
    learns: ClassVar[bool] = True  # Popularity cannot separate the checkerboard

    def make(self):
        return self.model_class(**self.config)

    def fit(self, ds, seed: int = 0):
        split = leave_one_out(ds)
        return self.make().fit(split.train, TrainOptions(seed=seed, progress=False)), split

    def test_score_shape_and_dtype(self):
        ds = checkerboard()
        model, split = self.fit(ds)
        cases = split.test
        scores = model.score(cases.users, cases.history)
        assert scores.shape == (len(cases), ds.n_items + 1)
        assert scores.dtype == np.float32
        assert np.isfinite(scores[:, 1:]).all()

    def test_same_seed_same_scores(self):
        ds = checkerboard()
        a, split = self.fit(ds, seed=3)
        b, _ = self.fit(ds, seed=3)
        cases = split.test
        np.testing.assert_array_equal(
            a.score(cases.users, cases.history), b.score(cases.users, cases.history)
        )

    def test_save_load_roundtrip(self, tmp_path):
        ds = checkerboard()
        model, split = self.fit(ds)
        model.save(tmp_path / "m")
        loaded = self.model_class.load(tmp_path / "m")
        assert loaded.config == model.config
        cases = split.test
        np.testing.assert_allclose(
            loaded.score(cases.users, cases.history),
            model.score(cases.users, cases.history),
            rtol=1e-5, atol=1e-6,
        )
        assert sorted(p.name for p in (tmp_path / "m").iterdir()) == [
            "config.json", "weights.safetensors"
        ]

    def test_recommend_excludes_history(self):
        ds = checkerboard()
        model, split = self.fit(ds)
        cases = split.test
        items, scores = model.recommend(cases.users, cases.history, k=5)
        assert items.shape == (len(cases), 5)
        assert (items > 0).all()
        for r in range(len(cases)):
            assert not set(items[r]) & set(cases.history[r].tolist())
        assert (np.diff(scores, axis=1) <= 0).all()

    def test_learns_checkerboard(self):
        if not self.learns:
            return
        ds = checkerboard()
        model, split = self.fit(ds)
        # Chance is about 10 / 32 unseen items; same-parity structure gets far above it.
        assert evaluate(model, split, "test", beyond=False)["HR@10"] >= 0.6

    def test_never_trained_on_planted_targets(self):
        ds, canaries = planted()
        model, split = self.fit(ds)
        assert not canaries & set(split.train.sequences.items.tolist())
        assert (split.train.item_counts()[sorted(canaries)] == 0).all()
        # Each canary target occurs nowhere else, so a model that never saw it cannot put it
        # near the top (chance is about 5 / 70); a model trained on the targets would.
        for which in ("valid", "test"):
            r = evaluate(model, split, which, beyond=False)
            assert r["HR@5"] < 0.3, (which, r)
