"""Training with recipes: held-out (canary) items never reach a training sample, and the
training set transformations keep users' rows in place."""

import numpy as np

from shopaug.augment import Recipe
from shopaug.data import Sequences, TrainSet
from shopaug.evaluation import leave_one_out
from shopaug.experiment import expand_train, resample_train
from shopaug.models import SASRec
from shopaug.models import sasrec as sasrec_mod
from shopaug.testing import planted
from shopaug.training import TrainOptions

STRONG = {"op": "compose", "children": [
    {"op": "insert", "ratio": 0.5}, {"op": "substitute", "ratio": 0.5},
    {"op": "noise", "ratio": 0.3}, {"op": "mask", "ratio": 0.2}]}


def test_offline_and_resampled_training_sets_hold_no_canary():
    ds, canaries = planted(n_users=40, n_items=120)
    sp = leave_one_out(ds)
    recipe = Recipe.from_dict({"name": "x", "train": {"mode": "offline", "copies": 3},
                               "augment": STRONG})
    grown = expand_train(sp.train, recipe, seed=1)
    assert len(grown.sequences) == 4 * sp.train.n_users
    assert not set(grown.sequences.items.tolist()) & canaries
    assert grown.sequences.items.max() <= sp.train.n_items  # mask tokens dropped
    over = resample_train(grown, {"name": "oversample_short", "max_len": 5, "factor": 3.0}, 0)
    assert not set(over.sequences.items.tolist()) & canaries


def test_online_and_contrastive_batches_hold_no_canary(monkeypatch):
    ds, canaries = planted(n_users=40, n_items=120)
    sp = leave_one_out(ds)
    seen: list[np.ndarray] = []
    original = sasrec_mod._Views.augment

    def spy(self, w, rng):
        out = original(self, w, rng)
        seen.append(out)
        return out

    monkeypatch.setattr(sasrec_mod._Views, "augment", spy)
    for samples in ("positions", "prefixes"):
        for mode, supervised in (("online", False), ("contrastive", False),
                                 ("contrastive", True)):
            train = {"mode": mode, "supervised": supervised}
            recipe = Recipe.from_dict({"name": "x", "train": train, "augment": STRONG})
            m = SASRec(dim=8, heads=1, epochs=2, batch_size=8, samples=samples).fit(
                sp.train, TrainOptions(progress=False, recipe=recipe))
            assert np.isfinite([r["loss"] for r in m.history_]).all()
    assert seen
    items = np.concatenate([s.ravel() for s in seen])
    assert not set(items.tolist()) & canaries


def test_resample_train_keeps_rows_in_place_and_appends_copies():
    seqs = Sequences.from_lists([[1, 2], [3, 4, 5], [6], [7, 8]])
    train = TrainSet(seqs, n_items=8)
    out = resample_train(train, {"name": "oversample_short", "max_len": 2, "factor": 2.0}, 0)
    rows = [list(r) for r in out.sequences]
    # rows 0 and 3 (length 2 <= max_len) are doubled, row 1 once, row 2 (length 1) is
    # not trainable and comes back empty
    assert rows[:4] == [[1, 2], [3, 4, 5], [], [7, 8]]
    assert sorted(map(tuple, rows[4:])) == [(1, 2), (7, 8)]


def test_recipe_with_resampling_round_trips():
    rec = Recipe.from_dict({"name": "r", "train": {"mode": "offline", "resample": {
        "op": "undersample_head", "keep": 0.3}}, "augment": {"op": "identity"}})
    assert rec.train["resample"]["name"] == "undersample_head"
    assert Recipe.from_dict(rec.to_dict()) == rec
