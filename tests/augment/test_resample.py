"""Resamplers: hand-checked row counts for each strategy, determinism, config round-trip."""

import sys

import numpy as np
import pytest

from shopaug.augment.resample import RESAMPLERS, build, create_resampler
from shopaug.data import Sequences, TrainSet
from shopaug.exceptions import ConfigError, ShopaugError


def trainset(rows, n_items=None):
    seqs = Sequences.from_lists(rows)
    return TrainSet(seqs, n_items or int(max(seqs.items.max(), 1)))


# lengths 1, 2, 3, 6, 0, 5: rows 0 and 4 hold no (history, target) pair
SMALL = [[1], [1, 2], [3, 1, 2], [4, 5, 6, 7, 8, 1], [], [2, 3, 4, 5, 6]]


@pytest.mark.parametrize("name", sorted(RESAMPLERS))
def test_contract(name):
    train = trainset(SMALL)
    r = create_resampler(name).fit(train)
    a = r.resample(np.random.default_rng(5))
    np.testing.assert_array_equal(a, r.resample(np.random.default_rng(5)))
    assert a.dtype == np.int64 and (np.diff(a) >= 0).all()
    assert set(a.tolist()) <= {1, 2, 3, 5}  # only rows with >= 2 items
    w = r.weights()
    assert w.shape == (len(SMALL),) and w[0] == 0 and w[4] == 0
    assert build(r.to_config()).to_config() == r.to_config()


def test_every_strategy_is_registered():
    assert set(RESAMPLERS) == {"oversample_short", "undersample_head", "balance_activity"}


def test_oversample_short_doubles_short_rows():
    r = create_resampler("oversample_short", max_len=3, factor=2.0).fit(trainset(SMALL))
    np.testing.assert_array_equal(r.weights(), [0, 2, 2, 1, 0, 1])
    np.testing.assert_array_equal(r.resample(np.random.default_rng(0)), [1, 1, 2, 2, 3, 5])


def test_oversample_short_fractional_factor_rounds_randomly():
    rows = [[1, 2]] * 2000 + [[1, 2, 3, 4, 5, 6]] * 10
    r = create_resampler("oversample_short", max_len=5, factor=1.5).fit(trainset(rows))
    copies = np.bincount(r.resample(np.random.default_rng(0)), minlength=len(rows))
    assert set(copies[:2000].tolist()) == {1, 2}
    assert copies[:2000].mean() == pytest.approx(1.5, abs=0.05)
    assert (copies[2000:] == 1).all()


def test_undersample_head_drops_rows_ending_in_head_items():
    # Counts: item 1 six times, item 2 three times, items 3..10 once: 10 items, so the
    # head (share 0.2) is items 1 and 2.
    rows = [[3, 1], [4, 1], [5, 2], [1, 6], [1, 2], [7, 8, 9, 10, 2, 1], [1]]
    train = trainset(rows)
    drop = create_resampler("undersample_head", keep=0.0).fit(train)
    np.testing.assert_array_equal(drop.head_items_, [1, 2])
    np.testing.assert_array_equal(drop.weights(), [0, 0, 0, 1, 0, 0, 0])
    np.testing.assert_array_equal(drop.resample(np.random.default_rng(0)), [3])
    half = create_resampler("undersample_head").fit(train)
    np.testing.assert_array_equal(half.weights(), [0.5, 0.5, 0.5, 1, 0.5, 0.5, 0])
    kept = np.concatenate([half.resample(np.random.default_rng(s)) for s in range(400)])
    counts = np.bincount(kept, minlength=len(rows))
    assert counts[3] == 400 and counts[6] == 0
    assert 160 < counts[0] < 240


def _activity_rows():
    # lengths 2 (x6), 5 (x3), 9 (x1) -> buckets {2}, {5}, {9} of sizes 6, 3, 1
    return [[1, 2]] * 6 + [[1, 2, 3, 4, 5]] * 3 + [list(range(1, 10))] + [[7]]


def test_balance_activity_oversamples_buckets_to_the_largest():
    r = create_resampler("balance_activity").fit(trainset(_activity_rows()))
    np.testing.assert_array_equal(r.labels_, [0] * 6 + [1] * 3 + [2] + [-1])
    rows = r.resample(np.random.default_rng(0))
    assert 10 not in rows
    assert np.bincount(r.labels_[rows], minlength=3).tolist() == [6, 6, 6]
    assert (np.bincount(rows, minlength=11)[:6] == 1).all()  # largest bucket untouched
    assert r.weights()[9] == 6.0 and r.weights()[6] == 2.0


def test_balance_activity_undersamples_to_the_smallest():
    r = create_resampler("balance_activity", mode="under").fit(trainset(_activity_rows()))
    rows = r.resample(np.random.default_rng(3))
    assert np.bincount(r.labels_[rows], minlength=3).tolist() == [1, 1, 1]
    assert 9 in rows
    np.testing.assert_array_equal(rows, r.resample(np.random.default_rng(3)))


def test_balance_activity_one_bucket_returns_eligible_rows():
    r = create_resampler("balance_activity").fit(trainset([[1, 2]] * 4 + [[3]]))
    np.testing.assert_array_equal(r.resample(np.random.default_rng(0)), [0, 1, 2, 3])


def test_balance_activity_names_the_missing_package(monkeypatch):
    r = create_resampler("balance_activity").fit(trainset(_activity_rows()))
    monkeypatch.setitem(sys.modules, "imblearn", None)
    monkeypatch.setitem(sys.modules, "imblearn.over_sampling", None)
    with pytest.raises(ShopaugError, match="pip install imbalanced-learn"):
        r.resample(np.random.default_rng(0))


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        ("oversample_short", {"factor": 0.5}, "'oversample_short': factor must be"),
        ("oversample_short", {"max_len": 1}, "'oversample_short': max_len must be"),
        ("undersample_head", {"keep": 1.5}, r"'undersample_head': keep must be a number in"),
        ("undersample_head", {"head_share": 0}, "'undersample_head': head_share must be"),
        ("balance_activity", {"mode": "sideways"}, "'balance_activity': mode must be"),
        ("balance_activity", {"buckets": 1}, "'balance_activity': buckets must be"),
        ("balance_activity", {"bucket": 3}, r"unknown option\(s\) \['bucket'\]"),
        ("nope", {}, "unknown resampler 'nope'"),
    ],
)
def test_bad_config_is_named(name, params, message):
    with pytest.raises(ConfigError, match=message):
        create_resampler(name, **params)


def test_unfitted_resampler_refuses():
    with pytest.raises(RuntimeError, match="not fitted"):
        create_resampler("oversample_short").resample(np.random.default_rng(0))
