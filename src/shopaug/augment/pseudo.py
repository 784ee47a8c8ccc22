"""LLMRec-style interaction augmentation for sparse users, denoised by a second opinion.

A short row (few interactions) gets pseudo-interactions: the training items whose catalogue
text is closest to the row's recency-weighted text profile (MiniLM knowledge). Text alone
proposes look-alikes that people do not actually buy together, so with ``filter =
"cooccurrence"`` a candidate is kept only when behaviour agrees: it must be among the
training co-occurrence neighbours of one of the row's items (LLMRec prunes its augmented
edges with a model score in the same spirit). ``filter = "none"`` keeps the text proposals
as they are, for the ablation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Self

import numpy as np

from shopaug.augment import ops
from shopaug.augment.augmenters import Augmenter, _fail, _int, _set, register
from shopaug.augment.knowledge import item_embeddings, profile_embeddings
from shopaug.augment.neighbors import cooccurrence_neighbors
from shopaug.data import Sequences, TrainSet


@register
class Pseudo(Augmenter):
    """Append up to ``n`` pseudo-interactions to rows with at most ``max_len`` items; longer
    rows are returned unchanged. See the module docstring."""

    name = "pseudo"

    @dataclass(frozen=True)
    class Config:
        """Attributes:
        n: pseudo-items added per sparse row.
        max_len: rows with at most this many items are sparse.
        candidates: text-nearest items considered per row.
        filter: ``cooccurrence`` (keep a candidate only if it is among the ``agree``
            co-occurrence neighbours of one of the row's items) or ``none``.
        agree: co-occurrence neighbours per item that count as agreement.
        decay: recency weight of the profile, ``decay ** age``.
        """

        n: int = 1
        max_len: int = 5
        candidates: int = 20
        filter: str = "cooccurrence"
        agree: int = 20
        decay: float = 0.9

        def __post_init__(self) -> None:
            for f in ("n", "max_len", "candidates", "agree"):
                _set(self, f, _int("pseudo", f, getattr(self, f), 1))
            if self.filter not in ("cooccurrence", "none"):
                raise _fail("pseudo", "filter", "'cooccurrence' or 'none'", self.filter)
            if not 0 < float(self.decay) <= 1:
                raise _fail("pseudo", "decay", "a number in (0, 1]", self.decay)

    def __init__(self, p: float = 1.0, **params: Any) -> None:
        super().__init__(p, **params)
        self.emb_: np.ndarray | None = None

    def fit(self, train: TrainSet, encoder: Any = None) -> Self:
        cfg = self.config
        emb = item_embeddings(train, encoder)
        seen = train.item_counts() > 0
        seen[0] = False
        self.items_ = np.flatnonzero(seen & (np.abs(emb).sum(1) > 0))  # proposable items
        self.emb_ = emb
        self.agree_ = None
        if cfg.filter == "cooccurrence":
            self.agree_ = cooccurrence_neighbors(train.sequences, train.n_items, k=cfg.agree)
        return self

    def _fitted(self) -> bool:
        return self.emb_ is not None

    def propose(self, batch: np.ndarray) -> np.ndarray:
        """``(B, n)`` pseudo-items per row (0 = none), best first; rows longer than
        ``max_len`` get none."""
        cfg = self.config
        n_items = len(self.emb_) - 1
        length = ops.lengths(batch)
        out = np.zeros((len(batch), cfg.n), dtype=np.int64)
        rows = np.flatnonzero((length > 0) & (length <= cfg.max_len))
        for s in range(0, len(rows), 1024):  # bounds the (rows, items) score matrix
            r = rows[s : s + 1024]
            b = np.where(batch[r] <= n_items, batch[r], 0)  # a mask token has no text
            prof = profile_embeddings(Sequences.from_padded(b), self.emb_, last=b.shape[1],
                                      decay=cfg.decay)
            sim = prof @ self.emb_[self.items_].T  # (r, proposable)
            own = np.zeros((len(r), n_items + 1), dtype=bool)
            own[np.arange(len(r))[:, None], b] = True
            sim[own[:, self.items_]] = -np.inf  # never an item the row already has
            kk = min(cfg.candidates, len(self.items_))
            top = np.argpartition(-sim, kk - 1, axis=1)[:, :kk]
            order = np.argsort(-np.take_along_axis(sim, top, 1), axis=1, kind="stable")
            cand = self.items_[np.take_along_axis(top, order, 1)]  # (r, kk), best first
            ok = np.isfinite(np.take_along_axis(sim, np.take_along_axis(top, order, 1), 1))
            if self.agree_ is not None:
                agree = np.zeros((len(r), n_items + 1), dtype=bool)
                nb = self.agree_[b].reshape(len(r), -1)
                agree[np.arange(len(r))[:, None], nb] = True
                agree[:, 0] = False
                ok &= np.take_along_axis(agree, cand, 1)
            # the first n kept candidates of each row
            rank = np.cumsum(ok, axis=1) - 1
            keep = ok & (rank < cfg.n)
            rr, cc = np.nonzero(keep)
            out[r[rr], rank[rr, cc]] = cand[rr, cc]
        return out

    def _apply(self, batch: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        # append the pseudo-items as the newest interactions: pack each row's non-zero ids
        # to the right (a stable sort keeps their order) and keep the newest L
        grown = np.concatenate([batch, self.propose(batch)], axis=1)
        order = np.argsort(grown > 0, axis=1, kind="stable")
        return np.take_along_axis(grown, order, axis=1)[:, -batch.shape[1] :]
