"""Item neighbours from co-occurrence in training sequences, for ``substitute`` / ``insert``."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from shopaug.data import Sequences

__all__ = ["cooccurrence_neighbors"]


def cooccurrence_neighbors(
    seqs: Sequences, n_items: int, k: int = 10, window: int = 3
) -> np.ndarray:
    """The ``k`` items co-occurring most often with each item, as an id table.

    Two items co-occur when they are at most ``window`` positions apart in the same row
    (both directions count; every occurrence counts). Counts are cosine-normalised,
    ``c(a, b) / sqrt(count(a) * count(b))`` with ``count`` the item's number of occurrences,
    so very popular items do not become everybody's neighbour.

    Requirements:
        Only training sequences: a table built on held-out data would let ``substitute`` and
        ``insert`` copy held-out items into training samples.

    Args:
        seqs: training sequences (internal ids ``1..n_items``).
        n_items: catalogue size.
        k: neighbours kept per item.
        window: largest distance (in positions) of a co-occurring pair.

    Returns:
        int64 ``(n_items + 1, k)``: row ``i`` holds item ``i``'s neighbours, best first, ties
        broken by smaller id, then 0s. Row 0 and rows of items never seen in training are
        all 0; no item is its own neighbour.

    Example:
        >>> s = Sequences.from_lists([[1, 2, 3], [2, 3]])
        >>> cooccurrence_neighbors(s, n_items=3, k=2, window=1)
        array([[0, 0],
               [2, 0],
               [3, 1],
               [2, 0]])
    """
    if k < 1 or window < 1:
        raise ValueError("cooccurrence_neighbors needs k >= 1 and window >= 1")
    items = seqs.items
    if len(items) and (items.min() < 1 or items.max() > n_items):
        raise ValueError(f"item ids must be in 1..{n_items}")
    size = n_items + 1
    n = len(items)
    row_end = np.repeat(seqs.indptr[1:], seqs.lengths)  # end of each position's row
    pos = np.arange(n)
    left, right = [], []
    for offset in range(1, window + 1):
        ok = pos[: max(n - offset, 0)] + offset < row_end[: max(n - offset, 0)]
        a = items[: max(n - offset, 0)][ok]
        b = items[offset:][ok]
        keep = a != b
        left += [a[keep], b[keep]]
        right += [b[keep], a[keep]]
    a = np.concatenate(left) if left else np.empty(0, np.int64)
    b = np.concatenate(right) if right else np.empty(0, np.int64)
    co = sp.coo_matrix((np.ones(len(a), dtype=np.float64), (a, b)), shape=(size, size)).tocsr()
    co.sum_duplicates()
    co = co.tocoo()
    counts = np.bincount(items, minlength=size).astype(np.float64)
    sim = co.data / np.sqrt(counts[co.row] * counts[co.col])
    # best first within each row, ties by smaller id; then rank within row
    order = np.lexsort((co.col, -sim, co.row))
    row, col = co.row[order].astype(np.int64), co.col[order].astype(np.int64)
    first = np.searchsorted(row, np.arange(size))
    rank = np.arange(len(row)) - first[row]
    keep = rank < k
    table = np.zeros((size, k), dtype=np.int64)
    table[row[keep], rank[keep]] = col[keep]
    return table
