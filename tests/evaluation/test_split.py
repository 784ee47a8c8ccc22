"""Splits: leave-one-out and temporal, with planted canaries to prove no leakage."""

import numpy as np
import pytest

from shopaug.data import Dataset, IdVocab
from shopaug.evaluation import leave_one_out, temporal_split
from shopaug.testing import planted


def test_leave_one_out_by_hand():
    ds = Dataset.from_arrays(
        name="t", source="t",
        users=IdVocab(["a", "b", "c"]), items=IdVocab([str(i) for i in range(1, 8)], offset=1),
        user=np.array([0, 0, 0, 0, 1, 1, 2, 2, 2]),
        item=np.array([1, 2, 3, 4, 5, 6, 7, 1, 2]),
    )
    sp = leave_one_out(ds)
    # user b has only 2 items: kept whole in training, not evaluated
    assert sp.train.sequences[0].tolist() == [1, 2]
    assert sp.train.sequences[1].tolist() == [5, 6]
    assert sp.train.sequences[2].tolist() == [7]
    assert sp.valid.users.tolist() == [0, 2]
    assert sp.valid.target.tolist() == [3, 1]
    assert sp.test.target.tolist() == [4, 2]
    assert sp.valid.history[0].tolist() == [1, 2]
    assert sp.test.history[0].tolist() == [1, 2, 3]  # includes the validation target
    assert sp.test.history[1].tolist() == [7, 1]


def test_planted_canaries_never_reach_training():
    ds, canaries = planted(n_users=20, n_items=60)
    sp = leave_one_out(ds)
    train_items = set(sp.train.sequences.items.tolist())
    assert not train_items & canaries
    assert set(sp.valid.target.tolist()) | set(sp.test.target.tolist()) == canaries
    assert not set(sp.valid.history.items.tolist()) & set(sp.valid.target.tolist())


def test_temporal_split_by_hand():
    t = np.arange(10) * 100
    ds = Dataset.from_arrays(
        name="t", source="t", users=IdVocab(["a", "b"]),
        items=IdVocab([str(i) for i in range(1, 11)], offset=1),
        user=np.array([0, 1, 0, 1, 0, 1, 0, 1, 0, 1]),
        item=np.arange(1, 11), time=t,
    )
    sp = temporal_split(ds, valid_frac=0.2, test_frac=0.2)
    # times 0..500 train, 600..700 validate, 800..900 test
    assert sorted(sp.train.sequences.items.tolist()) == [1, 2, 3, 4, 5, 6]
    assert sp.valid.target.tolist() == [7, 8]
    assert sp.test.target.tolist() == [9, 10]
    assert sp.test.history[0].tolist() == [1, 3, 5, 7]
    train_max = max(ds.time[np.isin(ds.item, sp.train.sequences.items)])
    assert train_max < 600


def test_temporal_needs_timestamps():
    ds, _ = planted()
    with pytest.raises(ValueError, match="timestamps"):
        temporal_split(ds)
