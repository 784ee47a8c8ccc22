"""Graded search metrics (NDCG, MRR, Recall) of rankings against relevance judgments.

Semantics, for ``evaluate_rankings(rankings, judgments, ...)``:

- Graded gain = (relevance - lo) / (hi - lo) clipped to [0, 1], where (lo, hi) = ``scale``
  or the min and max relevance over all rows of the judgments (if lo == hi every judged
  product gets gain 1).
- Binary relevant = gain >= ``threshold`` (up to 1e-9 of rounding); ``threshold`` must be
  in (0, 1]. For 1..3 labels and the default 0.5: relevance >= 2.
- Judged products not in ``known`` (the catalogue's ids, when given) are dropped and the
  dropped (query, product) pairs are counted in ``missing_products``.
- A query is evaluated when it has at least one (kept) judged product with gain > 0; the
  other queries of the judgments are counted in ``skipped_queries``. Ranked queries that
  the judgments do not hold are ignored.
- Unjudged products in a ranking count as non-relevant (gain 0).
- NDCG@k = DCG@k / IDCG@k with DCG = sum gain_i / log2(i + 1), i = 1-based rank, and IDCG
  the DCG of that query's judged gains sorted descending (cut at k).
- MRR@k = 1 / rank of the first binary-relevant product within the top k, else 0.
- Recall@k = |binary-relevant in top k| / |binary-relevant judged| over queries with at
  least one binary-relevant product; the others are excluded from the Recall mean only
  (their per-query value is NaN).
- Duplicate products inside one ranking: only the first occurrence counts; a repeat keeps
  its rank (later products do not move up) but adds no gain and is never relevant.
- An evaluated query missing from ``rankings`` counts as an empty ranking (all zeros).
- Means are over evaluated queries; a mean over no queries is NaN.
"""

from __future__ import annotations

import itertools
from collections.abc import Collection, Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from shopaug.search._catalog import Judgments

# Labels such as 2.33 on a 1..3 scale must not miss a threshold by float rounding.
_EPS = 1e-9


def evaluate_rankings(
    rankings: Mapping[str, Sequence[str]],
    judgments: Judgments,
    *,
    ndcg_k: int = 10,
    mrr_k: int = 10,
    recall_k: int = 100,
    scale: tuple[float, float] | None = None,
    threshold: float = 0.5,
    known: Collection[str] | None = None,
    per_query: bool = False,
) -> dict[str, Any]:
    """NDCG, MRR and Recall of ranked product ids per query (see the module docstring).

    Args:
        rankings: query -> product ids, best first. Only the first ``max(k)`` are read.
        judgments: graded (query, product_id, relevance) rows, one per pair.
        ndcg_k: cut-off of NDCG.
        mrr_k: cut-off of MRR.
        recall_k: cut-off of Recall.
        scale: (lo, hi) of the relevance scale; defaults to the judgments' min and max.
        threshold: gain at or above which a product is relevant for MRR and Recall.
        known: ids of the catalogue searched; judged products outside it are dropped.
        per_query: also return aligned per-query values (for bootstrap intervals).

    Returns:
        ``{"NDCG@10", "MRR@10", "Recall@100"}`` means (keys follow the k arguments),
        ``"queries"`` (evaluated), ``"skipped_queries"``, ``"missing_products"``; with
        ``per_query`` also ``"per_query": {"query": [...], "NDCG@10": array, ...}``.

    Raises:
        ValueError: for a cut-off below 1, a threshold outside (0, 1], a bad scale, or a
            (query, product_id) pair judged twice.
        TypeError: when rankings hold something other than string ids.
    """
    for name, k in (("ndcg_k", ndcg_k), ("mrr_k", mrr_k), ("recall_k", recall_k)):
        if int(k) != k or k < 1:
            raise ValueError(f"{name} must be a positive integer, got {k!r}")
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    names = (f"NDCG@{ndcg_k}", f"MRR@{mrr_k}", f"Recall@{recall_k}")

    gain = _gains(judgments.relevance, scale)
    queries = pc.dictionary_encode(pa.array(judgments.query.tolist(), pa.string()))
    qcode = queries.indices.to_numpy().astype(np.int64)  # codes in first-seen order
    n_all = len(queries.dictionary)
    products = pa.array(judgments.product_id.tolist(), pa.string())
    keep = np.ones(len(judgments), dtype=bool)
    if known is not None:
        ids = known.tolist() if isinstance(known, np.ndarray) else list(known)
        keep = np.asarray(pc.is_in(products, value_set=pa.array(ids, pa.string())), dtype=bool)
    missing = int((~keep).sum())

    # Evaluated queries and their judged rows, renumbered 0..n-1 in first-seen order.
    evaluated = np.zeros(n_all, dtype=bool)
    evaluated[qcode[keep & (gain > 0)]] = True
    order = np.flatnonzero(evaluated)
    row_of = np.full(n_all, -1, dtype=np.int64)
    row_of[order] = np.arange(len(order))
    sel = keep & (row_of[qcode] >= 0)
    j_row, j_gain = row_of[qcode[sel]], gain[sel]
    j_rel = j_gain >= threshold - _EPS
    n = len(order)
    query_names = [queries.dictionary[i].as_py() for i in order]

    # One sorted int64 key per judged pair: row * n_products + product code.
    j_products = products.filter(pa.array(sel))
    vocab = pc.unique(j_products)
    key = j_row * len(vocab) + pc.index_in(j_products, value_set=vocab).to_numpy()
    by_key = np.argsort(key, kind="stable")
    key, key_gain, key_rel = key[by_key], j_gain[by_key], j_rel[by_key]
    if len(key) > 1 and np.any(key[1:] == key[:-1]):
        raise ValueError("a (query, product_id) pair is judged twice; expected one row per pair")

    # Gain and relevance matrices (n x K) of the ranked products, zeros past each list.
    depth = max(ndcg_k, mrr_k, recall_k)
    lists = [list(itertools.islice(rankings.get(q, ()), depth)) for q in query_names]
    lengths = np.array([len(x) for x in lists], dtype=np.int64)
    try:
        flat = pa.array(list(itertools.chain.from_iterable(lists)), pa.string())
    except (pa.ArrowTypeError, pa.ArrowInvalid):
        raise TypeError("rankings must hold product ids as strings") from None
    f_row = np.repeat(np.arange(n), lengths)
    f_pos = np.arange(len(f_row)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    f_code = pc.index_in(flat, value_set=vocab).fill_null(-1).to_numpy().astype(np.int64)
    f_key = f_row * len(vocab) + f_code
    at = np.minimum(np.searchsorted(key, f_key), max(len(key) - 1, 0))
    judged = (f_code >= 0) & (key[at] == f_key) if len(key) else np.zeros(len(f_key), bool)
    # Only the first occurrence of a judged product counts: positions are in list order.
    hits = np.flatnonzero(judged)
    _, first = np.unique(f_key[hits], return_index=True)
    counted = np.zeros(len(f_key), dtype=bool)
    counted[hits[first]] = True
    gains = np.zeros((n, depth))
    relevant = np.zeros((n, depth), dtype=bool)
    gains[f_row[counted], f_pos[counted]] = key_gain[at[counted]]
    relevant[f_row[counted], f_pos[counted]] = key_rel[at[counted]]

    discount = 1.0 / np.log2(np.arange(2, depth + 2))
    ndcg = gains[:, :ndcg_k] @ discount[:ndcg_k] / _ideal_dcg(j_row, j_gain, n, discount[:ndcg_k])
    top = relevant[:, :mrr_k]
    mrr = np.where(top.any(axis=1), 1.0 / (top.argmax(axis=1) + 1.0), 0.0)
    n_rel = np.bincount(j_row[j_rel], minlength=n)
    found = relevant[:, :recall_k].sum(axis=1)
    recall = np.full(n, np.nan)
    np.divide(found, n_rel, out=recall, where=n_rel > 0)

    out: dict[str, Any] = {
        names[0]: _mean(ndcg),
        names[1]: _mean(mrr),
        names[2]: _mean(recall[n_rel > 0]),
        "queries": n,
        "skipped_queries": n_all - n,
        "missing_products": missing,
    }
    if per_query:
        out["per_query"] = {"query": query_names, names[0]: ndcg, names[1]: mrr, names[2]: recall}
    return out


def _gains(relevance: np.ndarray, scale: tuple[float, float] | None) -> np.ndarray:
    """Relevance mapped to [0, 1] by the scale (or the observed min and max)."""
    relevance = np.asarray(relevance, dtype=np.float64)
    if scale is not None:
        lo, hi = float(scale[0]), float(scale[1])
        if not (np.isfinite(lo) and np.isfinite(hi) and lo <= hi):
            raise ValueError(f"scale must be finite (lo, hi) with lo <= hi, got {scale}")
    elif len(relevance):
        lo, hi = float(relevance.min()), float(relevance.max())
    else:
        lo = hi = 0.0
    if hi == lo:
        return np.ones(len(relevance))
    return np.clip((relevance - lo) / (hi - lo), 0.0, 1.0)


def _ideal_dcg(row: np.ndarray, gain: np.ndarray, n: int, discount: np.ndarray) -> np.ndarray:
    """DCG of each query's judged gains sorted descending, cut at ``len(discount)``."""
    order = np.lexsort((-gain, row))
    row, gain = row[order], gain[order]
    counts = np.bincount(row, minlength=n)
    rank = np.arange(len(row)) - np.repeat(np.cumsum(counts) - counts, counts)
    inside = rank < len(discount)
    ideal = np.zeros((n, len(discount)))
    ideal[row[inside], rank[inside]] = gain[inside]
    return ideal @ discount


def _mean(values: np.ndarray) -> float:
    return float(values.mean()) if len(values) else float("nan")
