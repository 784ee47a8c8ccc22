"""Cold-start fallback chain: serve every request, whatever the model knows about it.

A trained sequential model is only as good as what it saw. ``Fallback`` wraps one and picks,
per request (a row of histories), the best source of evidence available:

* ``popularity``: nothing usable in the history (a new user). Most popular items, those of
  the requested category first when one is given.
* ``text``: the model trained on fewer than ``min_history`` of the history items (a user
  with 1-2 purchases). The text ranking (cosine between each item's text vector and the
  recency-weighted profile of the history's text vectors, ``profile_embeddings``) fused with
  the model's ranking by reciprocal rank fusion, ``1/(k + rank_model) + 1/(k + rank_text)``
  (1-based ranks, ``k = fusion_k``). Ranks, because model scores and cosines share no scale.
  Fused, because on Beauty with 1-2 history items the text ranking alone is well below
  ItemKNN and the fusion above both (docs/results/cold_start.json). When the model knows
  none of the history items (all new), the text ranking alone. The model ranking fused here
  already has new items placed as on the model path.
* ``model``: the wrapped model. Items it never trained on (new products) would score as
  noise there, so each is placed by its text rank instead (``_place_new``): if the text
  profile ranks ``r`` trained items above it, it gets a score just above the model's
  ``(r+1)``-th best, so the same ``r`` trained items outrank it in the model's order.

``TextProfile`` is the text path on its own, a scorer for every history.

Item text vectors come from ``shopaug.augment.knowledge.item_embeddings`` (MiniLM, cached on
disk); the tests pass small hand-made tables instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
import scipy.sparse as sp

from shopaug.augment.knowledge import profile_embeddings, unit_rows
from shopaug.data import Sequences, TrainSet
from shopaug.models._base import Recommender, top_items
from shopaug.training import TrainOptions

__all__ = ["PATHS", "Fallback", "TextProfile"]

PATHS: tuple[str, ...] = ("popularity", "text", "model")
_POP, _TEXT, _MODEL = range(3)
_TIE = 1e-6  # popularity tie-break, far below any real score difference


def _row_counts(histories: Sequences, flag: np.ndarray) -> np.ndarray:
    """How many items of each history row have ``flag`` set."""
    row = np.repeat(np.arange(len(histories)), histories.lengths)
    return np.bincount(row, weights=flag[histories.items], minlength=len(histories))


def _ranks(scores: np.ndarray) -> np.ndarray:
    """0-based rank of every column within its row, best first, ties to the smaller id."""
    order = np.argsort(-scores, axis=1, kind="stable")
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(scores.shape[1])[None, :], axis=1)
    return ranks


def _place_new(warm: np.ndarray, warm_text: np.ndarray, new_text: np.ndarray) -> np.ndarray:
    """Scores for new items on the model's scale: a new item that the text profile ranks
    below ``r`` warm items gets a score just above the model's ``r+1``-th best warm score,
    so exactly those ``r`` warm items (up to ties) outrank it. Rank matching needs no common
    scale between text cosines and model scores.

    Args:
        warm: model scores of the warm items (rows, n_warm).
        warm_text, new_text: text scores (cosines, in [-1, 1]) of warm and new items.
    """
    n_rows, n_warm = warm.shape
    # r = warm items with a higher text score, for all rows at once: shift row i by 4 * i
    # (cosines span < 4), then one searchsorted over the flattened, row-sorted array.
    shift = 4.0 * np.arange(n_rows, dtype=np.float64)[:, None]
    flat = np.sort(warm_text.astype(np.float64) + shift, axis=1).ravel()
    le = np.searchsorted(flat, new_text.astype(np.float64) + shift, side="right")
    r = n_warm - (le - np.arange(n_rows)[:, None] * n_warm)
    desc = -np.sort(-warm, axis=1)
    at = np.take_along_axis(desc, np.minimum(r, n_warm - 1), axis=1)
    return np.where(r < n_warm, np.nextafter(at, np.float32(np.inf)),
                    np.nextafter(at, np.float32(-np.inf))).astype(np.float32)


class TextProfile:
    """Scores items by the cosine between their text vector and the history's profile vector.

    Needs no training interactions at all, so it scores new items like any other; a row
    whose history has no text vector scores 0 everywhere.

    Args:
        item_emb: ``(n_items + 1, dim)`` item text vectors (normalised here; zero rows stay 0).
        last, decay: the profile pools the newest ``last`` items with weight ``decay ** age``.
    """

    name: ClassVar[str] = "textprofile"

    def __init__(self, item_emb: np.ndarray, *, last: int = 20, decay: float = 0.9) -> None:
        self.item_emb = unit_rows(item_emb)
        self.last = last
        self.decay = decay

    def score(self, users: np.ndarray, histories: Sequences) -> np.ndarray:
        prof = profile_embeddings(histories, self.item_emb, last=self.last, decay=self.decay)
        return prof @ self.item_emb.T

    def recommend(
        self, users: np.ndarray, histories: Sequences, k: int = 10, *, exclude_history: bool = True
    ) -> tuple[np.ndarray, np.ndarray]:
        return top_items(self.score(users, histories), histories, k,
                         exclude_history=exclude_history)


class Fallback:
    """A model wrapped in the cold-start chain popularity -> text -> model (module docstring).

    A runtime composition, not a saved model: save the wrapped model, and rebuild the chain
    with ``Fallback.for_train`` (item vectors come back from the encoder's disk cache).

    Args:
        model: a fitted Recommender (or anything with ``score(users, histories)``).
        item_emb: ``(n_items + 1, dim)`` item text vectors; zero rows mean "no text".
        popularity: training interactions per item id (``TrainSet.item_counts()``); items
            with 0 are new to the model.
        item_attrs: attribute ids per item id (``TrainSet.item_attrs``), for category
            popularity; None disables categories.
        min_history: the model serves a row once it trained on this many of its items.
        last, decay: profile pooling of the text path (see ``profile_embeddings``).
        fusion_k: the ``k`` of the rank fusion on the text path (20: best of 5/10/20/60 on
            Beauty's validation cases cut to 1-2 items); None ranks by text alone.
        transfer: place new items by their text rank on the model's scale (``_place_new``);
            False leaves the wrapped model's own scores for them.

    After each ``score`` call, ``last_paths_`` holds the path that served each row.
    """

    name: ClassVar[str] = "coldstart"

    def __init__(
        self,
        model: Recommender | Any,
        *,
        item_emb: np.ndarray,
        popularity: np.ndarray,
        item_attrs: list[np.ndarray] | None = None,
        min_history: int = 3,
        last: int = 20,
        decay: float = 0.9,
        fusion_k: int | None = 20,
        transfer: bool = True,
    ) -> None:
        if min_history < 1:
            raise ValueError("min_history must be >= 1")
        if fusion_k is not None and fusion_k < 0:
            raise ValueError("fusion_k must be >= 0 or None")
        self.model = model
        self.min_history = min_history
        self.fusion_k = fusion_k
        self.transfer = transfer
        self.text = TextProfile(item_emb, last=last, decay=decay)
        self.last_paths_ = np.empty(0, dtype="<U10")
        self._prepare(np.asarray(popularity), item_attrs)

    @classmethod
    def for_train(
        cls, model: Recommender | Any, train: TrainSet, *, item_emb: np.ndarray, **kwargs: Any
    ) -> Fallback:
        """The chain around ``model`` (already fitted on ``train``), with popularity and
        categories taken from the same training partition."""
        return cls(model, item_emb=item_emb, popularity=train.item_counts(),
                   item_attrs=train.item_attrs, **kwargs)

    def fit(self, train: TrainSet, options: TrainOptions | None = None) -> Self:
        """Fit the wrapped model on ``train`` and take popularity and categories from it."""
        self.model.fit(train, options)
        self._prepare(train.item_counts(), train.item_attrs)
        return self

    def _prepare(self, popularity: np.ndarray, item_attrs: list[np.ndarray] | None) -> None:
        emb = self.text.item_emb
        n = len(emb)
        if len(popularity) != n:
            raise ValueError(f"popularity has {len(popularity)} entries, item_emb {n} rows")
        counts = popularity.astype(np.float64)
        counts[0] = 0
        # in [0, 1): category membership (+1) always outranks popularity
        self.pop_ = (counts / (counts.max() + 1.0)).astype(np.float32)
        self.known_ = counts > 0
        self.has_text_ = np.abs(emb).sum(1) > 0
        self.has_text_[0] = False
        self.attrs_: sp.csr_matrix | None = None
        if item_attrs is not None:
            if len(item_attrs) != n:
                raise ValueError(f"item_attrs has {len(item_attrs)} rows, item_emb {n}")
            per = [np.asarray([] if a is None else a, dtype=np.int64) for a in item_attrs]
            cols = np.repeat(np.arange(n), [len(a) for a in per])
            rows = np.concatenate(per) if cols.size else np.empty(0, np.int64)
            shape = (int(rows.max()) + 1 if rows.size else 0, n)
            m = sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=shape)
            m.data[:] = 1.0  # duplicates of an attribute on one item count once
            self.attrs_ = m
        # new items with text get placed by text rank; without text they keep model scores
        self.warm_ = np.flatnonzero(self.known_)
        self.new_ = np.flatnonzero(~self.known_ & self.has_text_)
        if not len(self.warm_):
            self.new_ = self.new_[:0]

    # routing -------------------------------------------------------------------------------
    def route(self, histories: Sequences) -> np.ndarray:
        """Path code per row (an index into ``PATHS``): ``model`` once the model trained on
        ``min_history`` of the row's items; else ``text`` if any item has a text vector; else
        ``model`` if it knows any item; else ``popularity``."""
        known = _row_counts(histories, self.known_)
        texty = _row_counts(histories, self.has_text_)
        code = np.full(len(histories), _POP, dtype=np.int64)
        code[known > 0] = _MODEL
        code[(known < self.min_history) & (texty > 0)] = _TEXT
        code[known >= self.min_history] = _MODEL
        return code

    # scoring -------------------------------------------------------------------------------
    def score(
        self,
        users: np.ndarray,
        histories: Sequences,
        categories: np.ndarray | None = None,
    ) -> np.ndarray:
        """Scores (n_rows, n_items + 1); each row is on its own path's scale (rank within a row
        only). ``categories`` gives per row an attribute id, or -1 for none; it steers only
        the popularity path."""
        users = np.asarray(users)
        code = self.route(histories)
        out = np.empty((len(histories), len(self.pop_)), dtype=np.float32)
        rows = np.flatnonzero(code == _POP)
        if len(rows):
            out[rows] = self._popularity(rows, categories)
        rows = np.flatnonzero(code != _POP)
        if len(rows):
            self._text_and_model(out, rows, users[rows], histories.rows(rows), code[rows])
        self.last_paths_ = np.asarray(PATHS)[code]
        return out

    def _text_and_model(
        self, out: np.ndarray, rows: np.ndarray, users: np.ndarray, hist: Sequences,
        code: np.ndarray,
    ) -> None:
        """Fill ``out[rows]`` for the text and model paths; text scores are computed only for
        rows that use them (all rows when new items need placing on the model path)."""
        place = self.transfer and len(self.new_) > 0
        on_text = code == _TEXT
        text_rows = np.arange(len(rows)) if place else np.flatnonzero(on_text)
        text = np.zeros((len(rows), len(self.pop_)), np.float32)
        if len(text_rows):
            text[text_rows] = self.text.score(users[text_rows], hist.rows(text_rows))
        # the text path fuses with the model only if the model knows a history item
        knows = _row_counts(hist, self.known_) > 0
        fuse = on_text & knows & (self.fusion_k is not None)
        use = np.flatnonzero(~on_text | fuse)
        if len(use):
            model = self._model(users[use], hist.rows(use), text[use] if place else None)
            sel = ~on_text[use]
            out[rows[use[sel]]] = model[sel]
            if fuse.any():
                k = float(self.fusion_k or 0) + 1.0  # 1-based ranks
                out[rows[fuse]] = 1.0 / (k + _ranks(model[~sel])) + 1.0 / (
                    k + _ranks(text[fuse])
                )
        alone = on_text & ~fuse
        out[rows[alone]] = text[alone] + _TIE * self.pop_

    def _popularity(self, rows: np.ndarray, categories: np.ndarray | None) -> np.ndarray:
        out = np.tile(self.pop_, (len(rows), 1))
        if categories is None or self.attrs_ is None:
            return out
        cat = np.asarray(categories, dtype=np.int64)[rows]
        ok = np.flatnonzero((cat >= 0) & (cat < self.attrs_.shape[0]))
        if len(ok):
            out[ok] += self.attrs_[cat[ok]].toarray()
        return out

    def _model(
        self, users: np.ndarray, histories: Sequences, text: np.ndarray | None
    ) -> np.ndarray:
        """The wrapped model's scores, new items placed by their text rank (``_place_new``)."""
        s = np.array(self.model.score(users, histories), dtype=np.float32, copy=True)
        if text is not None:
            s[:, self.new_] = _place_new(s[:, self.warm_], text[:, self.warm_],
                                         text[:, self.new_])
        return s

    def recommend(
        self,
        users: np.ndarray,
        histories: Sequences,
        k: int = 10,
        *,
        exclude_history: bool = True,
        categories: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` item ids and scores per row, best first; ``last_paths_`` says who served."""
        scores = self.score(users, histories, categories)
        return top_items(scores, histories, k, exclude_history=exclude_history)

    def save(self, path: str | Path) -> None:
        raise NotImplementedError(
            "Fallback is a runtime composition: save the wrapped model and rebuild the chain "
            "with Fallback.for_train(model, train, item_emb=...)"
        )

    @classmethod
    def load(cls, path: str | Path) -> Self:
        raise NotImplementedError(
            "Fallback is not saved; load the wrapped model and use Fallback.for_train"
        )
