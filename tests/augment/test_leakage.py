"""Planted canaries: no augmenter, neighbour table or expansion may reveal a held-out item."""

import numpy as np
import pytest

from shopaug.augment import AUGMENTERS, Compose, Insert, Noise, OneOf, Substitute, build, expand
from shopaug.evaluation import leave_one_out
from shopaug.testing import planted


@pytest.fixture(scope="module")
def setup():
    ds, canaries = planted()
    split = leave_one_out(ds)
    canary_ids = np.array(sorted(canaries))
    # sanity: the canaries are held out, yet they are items of the catalogue
    assert not np.isin(split.train.sequences.items, canary_ids).any()
    assert canary_ids.max() <= split.train.n_items
    return split.train, canary_ids


def every_augmenter():
    leaves = [
        cls(ratio=0.5) if name != "identity" else cls()
        for name, cls in AUGMENTERS.items()
        if name not in ("compose", "one_of")
    ]
    # strong settings too: every item replaced or followed by a neighbour / noise item
    leaves += [
        Substitute(ratio=1.0, k=50, window=10),
        Insert(ratio=1.0, k=50, window=10),
        Noise(ratio=1.0),
        Noise(ratio=1.0, alpha=1.0),
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
