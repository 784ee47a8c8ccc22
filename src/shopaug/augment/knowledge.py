"""Knowledge from pretrained language models, as arrays the augmenters and models use.

* ``item_embeddings``: a text vector per internal item id (MiniLM over the catalogue text).
* ``text_neighbors``: the most similar items by text, a table for ``substitute``/``insert``
  alongside ``cooccurrence_neighbors``.
* ``profile_embeddings``: a user vector pooled from the text vectors of the user's
  TRAINING history (recency-weighted), for cold and short-history users.

Item text is catalogue side information (known for every item, held-out ones included, as
for a new product on a shop); what a user did is known only from the training partition.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from shopaug.data import Sequences, TrainSet

__all__ = ["item_embeddings", "item_texts", "profile_embeddings", "text_neighbors", "unit_rows"]


def unit_rows(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (float32); all-zero rows stay 0."""
    x = np.asarray(x, dtype=np.float32)
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    return np.divide(x, norm, out=np.zeros_like(x), where=norm > 0)


def item_texts(train: TrainSet) -> np.ndarray:
    """Catalogue text per internal item id (index 0 is ``""``); empty when the data has none."""
    if train.item_text is None:
        return np.full(train.n_items + 1, "", dtype=object)
    texts = np.asarray(train.item_text, dtype=object)
    if len(texts) != train.n_items + 1:
        raise ValueError(f"item_text has {len(texts)} rows, expected n_items + 1 = "
                         f"{train.n_items + 1}")
    return np.array(["" if t is None else str(t) for t in texts], dtype=object)


def item_embeddings(train: TrainSet, encoder: Any = None, texts: Any = None) -> np.ndarray:
    """``(n_items + 1, dim)`` float32 unit text vectors; row 0 and items without text are 0.

    Args:
        train: gives the catalogue size and (unless ``texts`` is given) the item text.
        encoder: an object with ``encode(list[str]) -> (n, dim)``; default a cached
            ``shopaug.lm.TextEncoder``.
        texts: text per internal item id (index 0 unused), e.g. enriched texts.
    """
    if encoder is None:
        from shopaug.lm import TextEncoder

        encoder = TextEncoder()
    texts = item_texts(train) if texts is None else np.asarray(texts, dtype=object)
    emb = np.asarray(encoder.encode(list(texts[1:])), dtype=np.float32)
    return np.concatenate([np.zeros((1, emb.shape[1]), np.float32), emb])


def text_neighbors(
    emb: np.ndarray, k: int = 10, *, candidates: np.ndarray | None = None, chunk: int = 2048
) -> np.ndarray:
    """The ``k`` items with the most similar text vector to each item, as an id table.

    Args:
        emb: ``(n_items + 1, dim)`` vectors (row 0 and all-zero rows never match).
        k: neighbours per item.
        candidates: boolean ``(n_items + 1,)``: items allowed as neighbours (for example
            those seen in training, so an augmenter never inserts an item the model cannot
            learn); default every item with a vector.
        chunk: rows scored per matrix product (bounds memory to ``chunk * n_items`` floats).

    Returns:
        int64 ``(n_items + 1, k)``, best first, ties by smaller id, 0-padded; no item is
        its own neighbour; rows of items without a vector are all 0.
    """
    if k < 1:
        raise ValueError("text_neighbors needs k >= 1")
    emb = np.asarray(emb, dtype=np.float32)
    has = np.abs(emb).sum(1) > 0
    allowed = has if candidates is None else has & np.asarray(candidates, dtype=bool)
    allowed[0] = False
    cols = np.flatnonzero(allowed)
    out = np.zeros((len(emb), k), dtype=np.int64)
    if not len(cols):
        return out
    kk = min(k, len(cols))
    base = emb[cols]
    for s in range(0, len(emb), chunk):
        rows = np.arange(s, min(s + chunk, len(emb)))
        sim = emb[rows] @ base.T  # (r, c)
        sim[cols[None, :] == rows[:, None]] = -np.inf  # never itself
        part = np.argpartition(-sim, kk - 1, axis=1)[:, :kk]
        vals = np.take_along_axis(sim, part, axis=1)
        order = np.lexsort((cols[part], -vals), axis=1)
        best = np.take_along_axis(part, order, axis=1)
        ids = cols[best]
        ids[~np.isfinite(np.take_along_axis(vals, order, axis=1))] = 0
        out[rows, :kk] = ids
    out[~has] = 0
    return out


def profile_embeddings(
    seqs: Sequences, emb: np.ndarray, *, last: int = 20, decay: float = 0.9
) -> np.ndarray:
    """A unit vector per row of ``seqs``: the recency-weighted mean of the text vectors of
    its newest ``last`` items (weight ``decay ** age``, age 0 = newest); 0 for empty rows.

    Pass TRAINING sequences (or an evaluation case's history): the profile may only know
    what the model is allowed to know.
    """
    if not 0 < decay <= 1 or last < 1:
        raise ValueError("profile_embeddings needs 0 < decay <= 1 and last >= 1")
    lengths = seqs.lengths
    row = np.repeat(np.arange(len(seqs)), lengths)
    age = np.repeat(seqs.indptr[1:], lengths) - 1 - np.arange(len(seqs.items))
    keep = age < last
    w = (decay ** age[keep]).astype(np.float32)
    out = np.zeros((len(seqs), emb.shape[1]), dtype=np.float32)
    np.add.at(out, row[keep], emb[seqs.items[keep]] * w[:, None])
    return unit_rows(out)
