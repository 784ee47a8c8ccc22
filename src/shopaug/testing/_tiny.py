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


_COLORS = ("red", "blue", "green", "black", "white", "pink", "gold", "silver")
_PRODUCTS = ("nail polish", "lipstick", "shampoo", "face cream", "eyeliner", "perfume",
             "hair dryer", "body lotion", "mascara", "sunscreen")


def planted(
    n_users: int = 30, n_items: int = 80, seed: RNGLike = 0, *, text: bool = False
) -> tuple[Dataset, set[int]]:
    """Random sequences whose last two items per user are canaries: items that occur
    nowhere else. Returns the dataset and the canary item ids. Under leave-one-out, no
    training sample may ever contain a canary.

    With ``text``, items get product titles and each canary's title is the title of the
    user's newest training item plus one word: the canaries are the best text matches of
    their users, so only a guard on the training partition keeps text knowledge from
    proposing them."""
    rng = make_rng(seed)
    n_regular = n_items - 2 * n_users
    if n_regular < 5:
        raise ValueError("need n_items >= 2 * n_users + 5")
    users, items, last = [], [], []
    canaries: set[int] = set()
    for u in range(n_users):
        length = int(rng.integers(3, 8))
        seq = list(rng.choice(np.arange(1, n_regular + 1), size=length, replace=False))
        c1, c2 = n_regular + 2 * u + 1, n_regular + 2 * u + 2
        canaries |= {c1, c2}
        last.append(seq[-1])
        seq += [c1, c2]
        users += [u] * len(seq)
        items += seq
    titles = None
    if text:
        titles = np.array([""] + [f"{_COLORS[i % 8]} {_PRODUCTS[i // 8 % 10]} {i}"
                                  for i in range(1, n_items + 1)], dtype=object)
        for u, item in enumerate(last):
            titles[n_regular + 2 * u + 1] = f"{titles[item]} deluxe"
            titles[n_regular + 2 * u + 2] = f"{titles[item]} mini"
    return (
        Dataset.from_arrays(
            name="planted", source="shopaug.testing.planted",
            users=IdVocab([str(u) for u in range(n_users)]),
            items=IdVocab([str(i) for i in range(1, n_items + 1)], offset=1),
            user=np.asarray(users), item=np.asarray(items), item_text=titles,
        ),
        canaries,
    )


def tiny_catalog(titles: list[str], prefix: str = "p"):
    """A search catalogue of these titles with ids ``p0, p1, ...`` (no other fields)."""
    from shopaug.search._catalog import Catalog

    ids = np.array([f"{prefix}{i}" for i in range(len(titles))], dtype=object)
    return Catalog(ids=ids, titles=list(titles), descriptions=None, brands=None,
                   categories=None, source="tiny")
