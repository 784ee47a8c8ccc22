"""Ranking and beyond-accuracy metrics as pure functions of ranks and top-k lists.

``ranks`` are 0-based: rank 0 means the target was the first recommendation.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def hit_rate(ranks: np.ndarray, k: int) -> float:
    """Share of cases whose target is in the top ``k``."""
    return float(np.mean(ranks < k)) if len(ranks) else 0.0


def ndcg_per_case(ranks: np.ndarray, k: int = 10) -> np.ndarray:
    """Per-case NDCG@k with one relevant item: ``1 / log2(rank + 2)`` inside the top k."""
    return np.where(ranks < k, 1.0 / np.log2(ranks + 2.0), 0.0)


def ndcg(ranks: np.ndarray, k: int) -> float:
    """NDCG@k with one relevant item per case: the mean of ``ndcg_per_case``."""
    if not len(ranks):
        return 0.0
    return float(ndcg_per_case(ranks, k).mean())


def mrr(ranks: np.ndarray, k: int) -> float:
    """Mean reciprocal rank, counting only targets inside the top ``k``."""
    if not len(ranks):
        return 0.0
    return float(np.where(ranks < k, 1.0 / (ranks + 1.0), 0.0).mean())


def coverage(topk: np.ndarray, n_items: int) -> float:
    """Share of the catalogue (ids ``1..n_items``) recommended to at least one user."""
    items = np.unique(topk[topk > 0])
    return float(len(items) / n_items) if n_items else 0.0


def novelty(topk: np.ndarray, item_counts: np.ndarray, n_users: int) -> float:
    """Mean self-information ``-log2(p(i))`` of recommended items, where ``p(i)`` is the
    share of training users who interacted with ``i`` (unseen items get half a user)."""
    counts = np.maximum(item_counts[topk].astype(np.float64), 0.5)
    return float(np.mean(-np.log2(counts / max(n_users, 1))))


def item_features(
    n_items: int,
    attrs: list[np.ndarray] | None = None,
    text: np.ndarray | None = None,
) -> sp.csr_matrix | None:
    """L2-normalised sparse item features for diversity: attribute ids, else text words."""
    if attrs is not None:
        rows = np.repeat(np.arange(len(attrs)), [len(a) for a in attrs])
        cols = np.concatenate(attrs) if len(rows) else np.zeros(0, dtype=np.int64)
    elif text is not None:
        vocab: dict[str, int] = {}
        rows_l, cols_l = [], []
        for i, t in enumerate(text):
            for w in set(str(t).lower().split()):
                rows_l.append(i)
                cols_l.append(vocab.setdefault(w, len(vocab)))
        rows, cols = np.asarray(rows_l, dtype=np.int64), np.asarray(cols_l, dtype=np.int64)
    else:
        return None
    n_cols = int(cols.max()) + 1 if len(cols) else 1
    m = sp.csr_matrix(
        (np.ones(len(rows), dtype=np.float64), (rows, cols)), shape=(n_items + 1, n_cols)
    )
    m.data[:] = 1.0  # repeated attributes count once
    norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    return sp.csr_matrix(sp.diags(1.0 / norms) @ m)


def intra_list_diversity(topk: np.ndarray, features: sp.csr_matrix) -> float:
    """Mean pairwise ``1 - cosine`` between the items of each list, averaged over lists.

    Items without features have cosine 0 to everything (they count as fully different).
    """
    n, k = topk.shape
    if n == 0 or k < 2:
        return 0.0
    i, j = np.triu_indices(k, 1)
    a = topk[:, i].ravel()
    b = topk[:, j].ravel()
    sims = np.asarray(features[a].multiply(features[b]).sum(axis=1)).ravel()
    return float(np.mean(1.0 - sims))
