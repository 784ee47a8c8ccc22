"""Item-based nearest neighbours on cosine similarity of training co-occurrence."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Self

import numpy as np
import scipy.sparse as sp

from shopaug.data import Sequences, TrainSet
from shopaug.models._base import BaseRecommender, gather_history_matrix
from shopaug.training import TrainOptions


@dataclass(frozen=True)
class ItemKNNConfig:
    """ItemKNN settings.

    Attributes:
        neighbors: similar items kept per item.
        shrink: added to the cosine denominator, damping pairs seen together rarely.
        recency: weight ``recency ** age`` of a history item, age 0 being the latest
            (1.0 weighs the whole history equally, as classic ItemKNN does).
    """

    neighbors: int = 100
    shrink: float = 0.0
    recency: float = 1.0

    def __post_init__(self) -> None:
        if self.neighbors < 1:
            raise ValueError("neighbors must be >= 1")
        if self.shrink < 0:
            raise ValueError("shrink must be >= 0")
        if not 0 < self.recency <= 1:
            raise ValueError("recency must be in (0, 1]")


class ItemKNN(BaseRecommender):
    """Scores an item by the summed similarity to the user's history items."""

    name = "itemknn"
    Config = ItemKNNConfig

    def fit(self, train: TrainSet, options: TrainOptions | None = None) -> Self:
        n = train.n_items + 1
        x = train.sequences.to_csr(n, binary=True)
        co = (x.T @ x).tocsr().astype(np.float32)
        norms = np.sqrt(co.diagonal())
        co.setdiag(0)
        co.eliminate_zeros()
        coo = co.tocoo()
        denom = norms[coo.row] * norms[coo.col] + self.config.shrink
        sim = sp.csr_matrix(
            (coo.data / np.maximum(denom, 1e-12), (coo.row, coo.col)), shape=(n, n)
        )
        self.sim_ = _top_per_row(sim, self.config.neighbors)
        # Break ties (most items share score 0) by popularity, far below any real similarity.
        counts = train.item_counts().astype(np.float64)
        self.prior_ = (1e-6 * counts / max(counts.max(), 1.0)).astype(np.float32)
        self.n_items_ = train.n_items
        self.n_users_ = train.n_users
        return self

    def score(self, users: np.ndarray, histories: Sequences) -> np.ndarray:
        self._check_fitted()
        weights = None
        if self.config.recency < 1.0:
            age = np.repeat(histories.indptr[1:], histories.lengths) - 1 - np.arange(
                len(histories.items)
            )
            weights = self.config.recency ** age.astype(np.float32)
        h = gather_history_matrix(histories, self.n_items_ + 1, weights)
        return np.asarray((h @ self.sim_).toarray(), dtype=np.float32) + self.prior_

    def _state(self) -> dict[str, np.ndarray]:
        s = self.sim_
        return {"indptr": s.indptr.astype(np.int64), "indices": s.indices.astype(np.int64),
                "data": s.data.astype(np.float32), "prior": self.prior_}

    def _set_state(self, state: dict[str, np.ndarray]) -> None:
        n = self.n_items_ + 1
        self.sim_ = sp.csr_matrix((state["data"], state["indices"], state["indptr"]), shape=(n, n))
        self.prior_ = state["prior"]


def _top_per_row(m: sp.csr_matrix, k: int, block: int = 2048) -> sp.csr_matrix:
    """Keep the ``k`` largest entries of each row, working on dense blocks of rows."""
    n_rows, n_cols = m.shape
    parts = []
    for start in range(0, n_rows, block):
        dense = m[start : start + block].toarray()
        kk = min(k, n_cols)
        idx = np.argpartition(-dense, kk - 1, axis=1)[:, :kk]
        vals = np.take_along_axis(dense, idx, axis=1)
        rows = np.repeat(np.arange(dense.shape[0]), kk)
        keep = vals.ravel() > 0
        parts.append(
            sp.csr_matrix(
                (vals.ravel()[keep], (rows[keep], idx.ravel()[keep])), shape=dense.shape
            )
        )
    return sp.vstack(parts, format="csr")
