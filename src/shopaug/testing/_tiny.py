"""Tiny datasets whose right answers are known by construction."""

from __future__ import annotations

import numpy as np

from shopaug.data import Dataset, IdVocab
from shopaug.random import RNGLike, make_rng


def checkerboard(
    n_users: int = 40, n_items: int = 40, length: int = 8, seed: RNGLike = 0
) -> Dataset:
    """Even users interact only with even items, odd users only with odd items, and every
    sequence walks upward through its parity class (item i is followed by i + 2).

    A model that learns anything should rank same-parity items first.
    """
    rng = make_rng(seed)
    users, items = [], []
    for u in range(n_users):
        parity = u % 2
        start = int(rng.integers(0, n_items // 2 - length)) if n_items // 2 > length else 0
        seq = [i for i in ((start + j) * 2 + parity + 1 for j in range(length)) if i <= n_items]
        users += [u] * len(seq)
        items += seq
    user_vocab = IdVocab([f"u{u}" for u in range(n_users)])
    item_vocab = IdVocab([f"i{i}" for i in range(1, n_items + 1)], offset=1)
    return Dataset.from_arrays(
        name="checkerboard", source="shopaug.testing.checkerboard", users=user_vocab,
        items=item_vocab, user=np.asarray(users), item=np.asarray(items),
    )


def planted(n_users: int = 30, n_items: int = 80, seed: RNGLike = 0) -> tuple[Dataset, set[int]]:
    """Random sequences whose last two items per user are canaries: items that occur
    nowhere else. Returns the dataset and the canary item ids. Under leave-one-out, no
    training sample may ever contain a canary."""
    rng = make_rng(seed)
    n_regular = n_items - 2 * n_users
    if n_regular < 5:
        raise ValueError("need n_items >= 2 * n_users + 5")
    users, items = [], []
    canaries: set[int] = set()
    for u in range(n_users):
        length = int(rng.integers(3, 8))
        seq = list(rng.choice(np.arange(1, n_regular + 1), size=length, replace=False))
        c1, c2 = n_regular + 2 * u + 1, n_regular + 2 * u + 2
        canaries |= {c1, c2}
        seq += [c1, c2]
        users += [u] * len(seq)
        items += seq
    return (
        Dataset.from_arrays(
            name="planted", source="shopaug.testing.planted",
            users=IdVocab([str(u) for u in range(n_users)]),
            items=IdVocab([str(i) for i in range(1, n_items + 1)], offset=1),
            user=np.asarray(users), item=np.asarray(items),
        ),
        canaries,
    )
