"""Leakage-free splits: leave-one-out and global temporal."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from shopaug.data import Dataset, Sequences, TrainSet

Which = Literal["valid", "test"]


@dataclass(frozen=True, eq=False)
class Targets:
    """Evaluation cases: for row ``r``, user ``users[r]`` with ``history[r]`` should get
    ``target[r]``. ``history`` is the user's whole past (models cut it to their own length)."""

    users: np.ndarray
    history: Sequences
    target: np.ndarray

    def __len__(self) -> int:
        return len(self.users)

    def rows(self, rows: np.ndarray) -> Targets:
        return Targets(self.users[rows], self.history.rows(rows), self.target[rows])


@dataclass(frozen=True, eq=False)
class Split:
    """A training partition and two sets of evaluation cases.

    Attributes:
        protocol: ``leave-one-out``, ``temporal`` or ``cold-items``.
        train: what models may learn from.
        valid: cases for early stopping and tuning.
        test: cases for the reported figures.
        cold: under ``cold-items``, the sorted ids of the items withheld from ``train``
            (the figure that matters is accuracy on cases whose target is one of them);
            None otherwise.
    """

    protocol: str
    train: TrainSet
    valid: Targets
    test: Targets
    cold: np.ndarray | None = None

    def targets(self, which: Which) -> Targets:
        if which not in ("valid", "test"):
            raise ValueError(f"split must be 'valid' or 'test', got {which!r}")
        return self.valid if which == "valid" else self.test

    @property
    def n_items(self) -> int:
        return self.train.n_items


def _trainset(ds: Dataset, seqs: Sequences) -> TrainSet:
    return TrainSet(seqs, ds.n_items, item_text=ds.item_text, item_attrs=ds.item_attrs)


def leave_one_out(ds: Dataset) -> Split:
    """Last item of each user is the test target, the one before it the validation target,
    the rest is training. Users with fewer than 3 interactions are kept whole in training and
    not evaluated. The test history includes the validation target (it precedes the test
    target in time); no model is ever trained on either target."""
    seqs = ds.sequences()
    lengths = seqs.lengths
    evaluated = np.flatnonzero(lengths >= 3)
    ev = seqs.rows(evaluated)
    train_part, tail = ev.drop_last(2)
    # Training rows for every user: short users keep all items, evaluated users lose two.
    keep = np.ones(seqs.n_interactions, dtype=bool)
    ends = seqs.indptr[evaluated + 1]
    keep[ends - 1] = False
    keep[ends - 2] = False
    cut = np.zeros(len(seqs), dtype=np.int64)
    cut[evaluated] = 2
    indptr = np.concatenate([[0], np.cumsum(lengths - cut)])
    train = Sequences(indptr, seqs.items[keep])
    valid = Targets(evaluated, train_part, tail[:, 0])
    test = Targets(evaluated, train_part.append(tail[:, 0]), tail[:, 1])
    return Split("leave-one-out", _trainset(ds, train), valid, test)


def cold_items(ds: Dataset, frac: float = 0.1, *, seed: int = 0) -> Split:
    """Leave-one-out with a random ``frac`` of the catalogue made new: every interaction with
    those items is removed from the training partition, so a model can know them only from
    their side information (text, attributes), as with a product just added to a shop.

    Validation and test cases are exactly those of ``leave_one_out(ds)``. Histories keep
    cold items: they are what the user did, known at serving time even for a new product
    (the model just never trained on them). The reported figure is accuracy on the test
    cases whose target is cold (``evaluate`` adds a ``cold`` entry); those cases are a
    sample of users, not all of them, since a target is cold only by chance.

    Args:
        ds: the dataset.
        frac: share of item ids (``1..n_items``) made cold, rounded to a whole number.
        seed: picks the cold items (``np.random.default_rng(seed)``).
    """
    if not 0 < frac < 1:
        raise ValueError(f"cold_items needs 0 < frac < 1, got {frac}")
    rng = np.random.default_rng(seed)
    n_cold = max(1, round(frac * ds.n_items))
    cold = np.sort(rng.choice(np.arange(1, ds.n_items + 1), size=n_cold, replace=False))
    base = leave_one_out(ds)
    seqs = base.train.sequences
    train = seqs.keep(~np.isin(seqs.items, cold))
    return Split("cold-items", _trainset(ds, train), base.valid, base.test, cold=cold)


def temporal_split(ds: Dataset, *, valid_frac: float = 0.1, test_frac: float = 0.1) -> Split:
    """Global temporal split: interactions before the ``1 - valid_frac - test_frac`` time
    quantile train, the next window validates, the last window tests. Each user's first
    interaction inside a window is that user's target, with everything before it (and before
    the window) as history; users with no earlier interaction are not evaluated."""
    if not ds.has_time:
        raise ValueError("temporal split needs real timestamps; this dataset has only order")
    if not (0 < valid_frac and 0 < test_frac and valid_frac + test_frac < 1):
        raise ValueError("need 0 < valid_frac, test_frac and valid_frac + test_frac < 1")
    t_valid = np.quantile(ds.time, 1 - valid_frac - test_frac, method="higher")
    t_test = np.quantile(ds.time, 1 - test_frac, method="higher")

    def before(cut: int) -> Sequences:
        keep = ds.time < cut
        counts = np.bincount(ds.user[keep], minlength=ds.n_users)
        return Sequences(np.concatenate([[0], np.cumsum(counts)]), ds.item[keep])

    def window(lo: int, hi: int | None, hist: Sequences) -> Targets:
        inside = (ds.time >= lo) if hi is None else ((ds.time >= lo) & (ds.time < hi))
        idx = np.flatnonzero(inside)
        # first interaction inside the window per user (rows are sorted by user, time)
        users, first = np.unique(ds.user[idx], return_index=True)
        has_hist = hist.lengths[users] > 0
        users = users[has_hist]
        return Targets(users, hist.rows(users), ds.item[idx[first[has_hist]]])

    train = before(t_valid)
    valid = window(t_valid, t_test, train)
    test = window(t_test, None, before(t_test))
    return Split("temporal", _trainset(ds, train), valid, test)
