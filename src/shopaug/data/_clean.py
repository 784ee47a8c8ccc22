"""Cleaning steps on a Dataset: exact-duplicate removal and k-core filtering."""

from __future__ import annotations

import numpy as np

from shopaug.data._dataset import Dataset
from shopaug.data._vocab import IdVocab


def _take(
    ds: Dataset,
    rows: np.ndarray,
    users: np.ndarray | None = None,
    items: np.ndarray | None = None,
) -> Dataset:
    """A Dataset of ``ds``'s rows ``rows``, keeping only internal ``users``/``items``
    (sorted arrays of ids; None keeps the vocabulary as is) with ids made dense again."""
    user, item = ds.user[rows], ds.item[rows]
    user_vocab, item_vocab = ds.users, ds.items
    item_text, item_attrs = ds.item_text, ds.item_attrs
    if users is not None:
        lut = np.full(ds.n_users, -1, dtype=np.int64)
        lut[users] = np.arange(len(users))
        user = lut[user]
        user_vocab = IdVocab(ds.users.external[users], offset=0)
    if items is not None:
        lut = np.full(ds.n_items + 1, -1, dtype=np.int64)
        lut[items] = np.arange(1, len(items) + 1)
        item = lut[item]
        item_vocab = IdVocab(ds.items.external[items - 1], offset=1)
        keep = np.concatenate([[0], items])  # slot 0 stays the padding entry
        if item_text is not None:
            item_text = item_text[keep]
        if item_attrs is not None:
            item_attrs = [item_attrs[i] for i in keep]
    return Dataset.from_arrays(
        name=ds.name,
        source=ds.source,
        users=user_vocab,
        items=item_vocab,
        user=user,
        item=item,
        # Without timestamps, ``time`` is a position; from_arrays renumbers the kept rows.
        time=ds.time[rows] if ds.has_time else None,
        event=None if ds.event is None else ds.event[rows],
        item_text=item_text,
        item_attrs=item_attrs,
    )


def dedupe(ds: Dataset) -> Dataset:
    """Drop exact duplicate interactions (same user, item, timestamp and event), keeping
    the first. Vocabularies are unchanged: every user and item keeps at least one row.

    Without timestamps ``time`` is the position in the sequence, so no row is a duplicate.
    """
    cols = [ds.user, ds.item, ds.time]
    if ds.event is not None:
        cols.append(ds.event.astype(np.int64))
    _, first = np.unique(np.column_stack(cols), axis=0, return_index=True)
    if len(first) == ds.n_interactions:
        return ds
    return _take(ds, np.sort(first))


def kcore(ds: Dataset, k: int) -> Dataset:
    """Keep the k-core: repeatedly drop users and items with fewer than ``k`` interactions
    until none is left, since dropping a user can push an item below ``k`` and vice versa.

    Ids are made dense again; ``item_text`` and ``item_attrs`` follow the kept items.
    Items without interactions (e.g. from a catalogue) are dropped too.
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    keep = np.ones(ds.n_interactions, dtype=bool)
    while True:
        n_user = np.bincount(ds.user[keep], minlength=ds.n_users)
        n_item = np.bincount(ds.item[keep], minlength=ds.n_items + 1)
        drop = keep & ((n_user[ds.user] < k) | (n_item[ds.item] < k))
        if not drop.any():
            break
        keep &= ~drop
    users = np.flatnonzero(n_user > 0)
    items = np.flatnonzero(n_item > 0)
    return _take(ds, np.flatnonzero(keep), users, items)
