"""Language-model knowledge as arrays: text neighbours, profiles, pseudo-interactions.

These tests pass a table encoder (hand-made 2-d vectors) so expected values can be worked
out by hand; the real MiniLM runs in tests/lm and in the leakage tests.
"""

import numpy as np
import pytest

from shopaug.augment import Pseudo, Substitute, build
from shopaug.augment.knowledge import item_embeddings, profile_embeddings, text_neighbors
from shopaug.data import Sequences, TrainSet
from shopaug.exceptions import ConfigError

VECS = {
    "lipstick red": [1.0, 0.0],
    "lipstick pink": [0.96, 0.28],
    "lip gloss": [0.8, 0.6],
    "drill": [0.0, 1.0],
    "drill bits": [0.28, 0.96],
}


class TableEncoder:
    def encode(self, texts):
        return np.array([VECS.get(t, [0.0, 0.0]) for t in texts], dtype=np.float32)


TEXTS = np.array(["", "lipstick red", "lipstick pink", "lip gloss", "drill", "drill bits", ""],
                 dtype=object)


def trainset(rows):
    return TrainSet(Sequences.from_lists(rows), n_items=6, item_text=TEXTS)


def test_item_embeddings_row_zero_and_missing_text_are_zero():
    emb = item_embeddings(trainset([[1, 2]]), TableEncoder())
    assert emb.shape == (7, 2)
    assert not emb[0].any() and not emb[6].any()
    np.testing.assert_allclose(emb[3], [0.8, 0.6])


def test_text_neighbors_by_hand():
    emb = item_embeddings(trainset([[1, 2]]), TableEncoder())
    table = text_neighbors(emb, 2)
    # cosines: 1-2 .96, 1-3 .8, 2-3 .936, 4-5 .96, 3-5 .8, 3-4 .6, 2-5 .5376
    np.testing.assert_array_equal(table[1], [2, 3])
    np.testing.assert_array_equal(table[2], [1, 3])
    np.testing.assert_array_equal(table[3], [2, 1])
    np.testing.assert_array_equal(table[5], [4, 3])
    np.testing.assert_array_equal(table[6], [0, 0])  # no text, no neighbours
    only = text_neighbors(emb, 2, candidates=np.array([0, 1, 0, 0, 1, 0, 0], bool))
    np.testing.assert_array_equal(only[2], [1, 4])
    np.testing.assert_array_equal(only[1], [4, 0])


def test_profile_is_recency_weighted_mean():
    emb = item_embeddings(trainset([[1, 2]]), TableEncoder())
    prof = profile_embeddings(Sequences.from_lists([[1, 4], [], [4]]), emb, decay=0.5)
    expected = np.array([0.5, 1.0]) / np.sqrt(1.25)  # item 4 newest (weight 1), item 1 .5
    np.testing.assert_allclose(prof[0], expected, rtol=1e-6)
    assert not prof[1].any()
    np.testing.assert_allclose(prof[2], [0, 1])


def test_pseudo_appends_the_best_text_match_seen_in_training():
    train = trainset([[1, 3], [4, 5], [2, 1, 3]])
    aug = Pseudo(max_len=2, filter="none").fit(train, TableEncoder())
    batch = train.sequences.padded(3)
    out = aug(batch, 0)
    # row 0 (1, 3): profile ~ 0.9 * v1 + v3 = (1.7, 0.6); dot with v2 1.80, v5 1.05, v4 0.6
    np.testing.assert_array_equal(out[0], [1, 3, 2])
    # row 1 (4, 5): profile ~ (0.28, 1.86); dot with v3 1.34, v2 0.79, v1 0.28
    np.testing.assert_array_equal(out[1], [4, 5, 3])
    np.testing.assert_array_equal(out[2], batch[2])  # 3 items > max_len: unchanged
    assert batch[0, 0] == 0  # input untouched


def test_pseudo_filter_needs_cooccurrence_agreement():
    # 4 and 5 co-occur with 3 (row 3); 2 co-occurs with nothing in row 0's items
    train = trainset([[1, 6], [4, 5], [3, 5], [2]])
    aug = Pseudo(max_len=2, filter="cooccurrence", candidates=5).fit(train, TableEncoder())
    out = aug(train.sequences.padded(3), 0)
    # row 0 = (1, 6): text candidates 2, 3, 5, 4; co-occurrence neighbours of 1 and 6 are
    # only each other, so nothing is kept
    np.testing.assert_array_equal(out[0], [0, 1, 6])
    # row 1 = (4, 5): 3 is the text-nearest and co-occurs with 5 (row 2), so it is kept
    np.testing.assert_array_equal(out[1], [4, 5, 3])
    unfiltered = Pseudo(max_len=2, filter="none").fit(train, TableEncoder())
    assert unfiltered(train.sequences.padded(3), 0)[0, 0] == 1  # (1, 6, +1 item)


def test_pseudo_never_proposes_items_unseen_in_training():
    train = trainset([[1], [4]])  # 2, 3, 5 have text but no training interaction
    out = Pseudo(max_len=3, filter="none").fit(train, TableEncoder())(
        train.sequences.padded(2), 0)
    np.testing.assert_array_equal(out, [[1, 4], [4, 1]])


def test_pseudo_and_text_source_round_trip_and_validate():
    for cfg in ({"op": "pseudo", "n": 2, "filter": "none"},
                {"op": "substitute", "ratio": 0.5, "source": "both"}):
        assert build(build(cfg).to_config()).to_config() == build(cfg).to_config()
    with pytest.raises(ConfigError, match="filter"):
        Pseudo(filter="maybe")
    with pytest.raises(ConfigError, match="source"):
        Substitute(source="llm")


def test_substitute_text_source_uses_text_neighbours_of_training_items():
    train = trainset([[1, 4], [2, 5]])
    aug = Substitute(ratio=1.0, k=1, source="text").fit(train, TableEncoder())
    np.testing.assert_array_equal(aug.table_[:, 0], [0, 2, 1, 0, 5, 4, 0])
    out = aug(np.array([[1, 4]]), 0)
    np.testing.assert_array_equal(out, [[2, 5]])


def test_offline_pseudo_adds_copies_only_for_rows_it_changed(monkeypatch):
    from shopaug.augment import Recipe
    from shopaug.experiment import expand_train

    train = TrainSet(Sequences.from_lists([[1, 3], [4, 5], [2, 1, 3]]), n_items=6,
                     item_text=TEXTS)
    recipe = Recipe.from_dict({"name": "p", "train": {"mode": "offline"},
                               "augment": {"op": "pseudo", "max_len": 2, "filter": "none"}})
    # the default encoder would be MiniLM; the table encoder keeps expected values by hand
    real = Pseudo.fit
    monkeypatch.setattr(Pseudo, "fit", lambda self, tr, encoder=None: real(self, tr,
                                                                          TableEncoder()))
    grown = expand_train(train, recipe, seed=0)
    rows = [list(r) for r in grown.sequences]
    assert rows[:3] == [[1, 3], [4, 5], [2, 1, 3]]  # originals keep their rows
    assert rows[3:] == [[1, 3, 2], [4, 5, 3]]  # the long row's unchanged copy is dropped
