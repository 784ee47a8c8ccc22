"""Planted canaries: no augmenter, neighbour table or expansion may reveal a held-out item."""

import numpy as np
import pytest

from shopaug.augment import (
    AUGMENTERS,
    Compose,
    Insert,
    Noise,
    OneOf,
    Pseudo,
    Substitute,
    build,
    expand,
)
from shopaug.augment.knowledge import item_embeddings, profile_embeddings, text_neighbors
from shopaug.evaluation import leave_one_out
from shopaug.testing import planted

DEFAULTS = {"identity": {}, "pseudo": {"filter": "none", "max_len": 10}}


@pytest.fixture(scope="module")
def setup():
    # canaries' titles are near-copies of their users' newest training items, so text
    # knowledge (real MiniLM) would propose them if it were not restricted to training
    ds, canaries = planted(text=True)
    split = leave_one_out(ds)
    canary_ids = np.array(sorted(canaries))
    # sanity: the canaries are held out, yet they are items of the catalogue
    assert not np.isin(split.train.sequences.items, canary_ids).any()
    assert canary_ids.max() <= split.train.n_items
    return split.train, canary_ids


def every_augmenter():
    leaves = [
        cls(**DEFAULTS.get(name, {"ratio": 0.5}))
        for name, cls in AUGMENTERS.items()
        if name not in ("compose", "one_of")
    ]
    # strong settings too: every item replaced or followed by a neighbour / noise item
    leaves += [
        Substitute(ratio=1.0, k=50, window=10),
        Insert(ratio=1.0, k=50, window=10),
        Noise(ratio=1.0),
        Noise(ratio=1.0, alpha=1.0),
        Substitute(ratio=1.0, k=50, source="text"),
        Insert(ratio=1.0, k=50, source="both"),
        Pseudo(n=5, max_len=50, candidates=100, filter="none"),
        Pseudo(n=5, max_len=50, candidates=100, filter="cooccurrence", agree=50),
    ]
    return [
        *leaves,
        Compose([Insert(ratio=1.0), Substitute(ratio=1.0)]),
        OneOf([Noise(ratio=1.0), Insert(ratio=1.0)], p=0.9),
    ]


def test_augmenters_never_emit_canaries(setup):
    train, canaries = setup
    batch = train.sequences.padded(12)
    for aug in every_augmenter():
        aug.fit(train)
        for table in (
            getattr(aug, "table_", None),
            *(getattr(c, "table_", None) for c in getattr(aug, "children", [])),
        ):
            if table is not None:
                assert not np.isin(table, canaries).any(), aug
        for seed in range(25):
            out = aug(batch, seed)
            assert not np.isin(out, canaries).any(), (aug, seed)


def test_expansion_never_contains_canaries(setup):
    train, canaries = setup
    for recipe in (
        {
            "op": "one_of",
            "children": [
                {"op": "substitute", "ratio": 1.0},
                {"op": "insert", "ratio": 1.0},
                {"op": "noise", "ratio": 1.0},
            ],
        },
        [{"op": "crop"}, {"op": "mask"}, {"op": "reorder"}],
    ):
        aug = build(recipe).fit(train)
        table = expand(train, aug, 0, copies=5, max_len=10)
        items = np.concatenate([np.asarray(r) for r in table.column("items").to_pylist()])
        assert not np.isin(items, canaries).any()
        assert table.num_rows == 6 * int((train.sequences.lengths > 0).sum())


def test_text_knowledge_would_find_canaries_without_the_guard(setup):
    """The plant works: on the whole catalogue, a canary is its user's best text match."""
    train, canaries = setup
    emb = item_embeddings(train)
    table = text_neighbors(emb, 1)
    newest = train.sequences.padded(1)[:, 0]
    assert np.isin(table[newest, 0], canaries).mean() > 0.8
    guarded = text_neighbors(emb, 50, candidates=train.item_counts() > 0)
    assert not np.isin(guarded, canaries).any()


def test_profiles_read_training_history_only(setup):
    train, _ = setup
    emb = item_embeddings(train)
    prof = profile_embeddings(train.sequences, emb)
    again = profile_embeddings(train.sequences, emb.copy() * np.isin(
        np.arange(len(emb)), train.sequences.items)[:, None])
    np.testing.assert_allclose(prof, again, atol=1e-6)  # held-out vectors change nothing
