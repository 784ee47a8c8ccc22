"""Search and recommendation share knowledge: the same item vectors, one user state.

* :func:`catalog_from_dataset` turns a recommendation dataset's items (external ids, text)
  into a search catalogue, so a search index and a text-aware recommender encode the SAME
  texts with the same cached MiniLM vectors (one cache entry serves both).
* :func:`user_scores` asks any :class:`~shopaug.models.Recommender` for a user's scores and
  aligns them with a search catalogue: ``SearchIndex.search(..., boost=scores,
  boost_weight=w)`` then re-ranks the query's candidates by that recommendation state.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from shopaug.exceptions import ShopaugError
from shopaug.search._catalog import Catalog


def catalog_from_dataset(ds: Any) -> Catalog:
    """A catalogue of the dataset's items that have text (ids are the external item ids)."""
    if ds.item_text is None:
        raise ShopaugError(f"{ds.source}: the dataset has no item text to search")
    internal = np.arange(1, ds.n_items + 1)
    texts = np.array(["" if t is None else str(t) for t in ds.item_text[1:]], dtype=object)
    keep = np.array([bool(t.strip()) for t in texts])
    ids = ds.items.to_external(internal[keep]).astype(str).astype(object)
    return Catalog(ids=ids, titles=list(texts[keep]), descriptions=None, brands=None,
                   categories=None, source=str(ds.source))


def catalog_positions(ds: Any, catalog: Catalog) -> np.ndarray:
    """The dataset's internal item id of every catalogue product (-1 where it has none)."""
    ids = np.array([str(i) for i in catalog.ids], dtype=object)
    known = np.array([i in ds.items for i in ids], dtype=bool)
    pos = np.full(len(ids), -1, np.int64)
    if known.any():
        pos[known] = ds.items.to_internal(ids[known])
    return pos


def align_scores(scores: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """Per-item scores (indexed by internal id) as per-product scores; products the model
    does not know (or scores it) get the lowest score, so a boost never favours them."""
    out = np.where(positions > 0, scores[np.maximum(positions, 0)], np.nan).astype(np.float64)
    finite = np.isfinite(out)
    out[~finite] = out[finite].min() if finite.any() else 0.0
    return out


def user_scores(
    model: Any,
    ds: Any,
    history: Sequence[str],
    catalog: Catalog,
    *,
    user: str | None = None,
) -> np.ndarray:
    """The recommender's score of every catalogue product for a user with this history
    (external item ids, oldest first). Products the model does not know get the lowest
    score, so the boost never favours them."""
    from shopaug.data._sequences import Sequences

    known = [h for h in history if h in ds.items]
    hist = ds.items.to_internal(np.array(known, dtype=object)) if known else np.zeros(0, int)
    uid = -1
    if user is not None and ds.users.get(user) is not None:
        uid = int(ds.users.get(user))
    scores = model.score(np.array([uid]), Sequences.from_lists([np.asarray(hist, np.int64)]))[0]
    return align_scores(scores, catalog_positions(ds, catalog))
