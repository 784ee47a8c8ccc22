"""Full-ranking evaluation: every case is ranked against the whole catalogue."""

from __future__ import annotations

from typing import Literal, Protocol

import numpy as np
import torch

from shopaug.data import Sequences, TrainSet
from shopaug.evaluation import _metrics as m
from shopaug.evaluation._split import Split, Targets, Which

History = Literal["exclude", "zero", "keep"]
HISTORY_CONVENTIONS: tuple[str, ...] = ("exclude", "zero", "keep")
KS = (5, 10, 20)
TAIL_MAX = 5  # an item with at most this many training interactions is a tail item
SHORT_MAX = 5  # a user with at most this many history items has a short history


class Scorer(Protocol):
    def score(self, users: np.ndarray, histories: Sequences) -> np.ndarray: ...


def apply_history(scores: torch.Tensor, histories: Sequences, convention: str) -> None:
    """Apply a history convention in place and mask the padding column 0.

    ``exclude``: history items get -inf (never ranked); ``zero``: history items get 0
    (ICLRec/S3-Rec; items with negative scores still rank below them); ``keep``: unchanged.
    """
    if convention not in HISTORY_CONVENTIONS:
        raise ValueError(f"history must be one of {HISTORY_CONVENTIONS}, got {convention!r}")
    scores[:, 0] = -torch.inf
    if convention == "keep":
        return
    rows = torch.from_numpy(np.repeat(np.arange(len(histories)), histories.lengths))
    cols = torch.from_numpy(histories.items)
    scores[rows, cols] = -torch.inf if convention == "exclude" else 0.0


def target_ranks(scores: torch.Tensor, target: np.ndarray) -> np.ndarray:
    """0-based rank of each target; ties go to the lower item id (as a stable sort would)."""
    tgt = torch.from_numpy(np.asarray(target, dtype=np.int64))
    t = scores.gather(1, tgt[:, None])
    above = (scores > t).sum(dim=1)
    ids = torch.arange(scores.shape[1])[None, :]
    tied_before = ((scores == t) & (ids < tgt[:, None])).sum(dim=1)
    return (above + tied_before).numpy()


def top_k(scores: torch.Tensor, k: int) -> np.ndarray:
    """Item ids of the ``k`` highest scores per row, best first."""
    return torch.topk(scores, min(k, scores.shape[1]), dim=1).indices.numpy()


def rank_cases(
    model: Scorer,
    cases: Targets,
    *,
    history: str = "exclude",
    k: int = 20,
    batch_size: int = 1024,
) -> tuple[np.ndarray, np.ndarray]:
    """Ranks of the targets and top-``k`` lists for all cases, in batches (a catalogue
    smaller than ``k`` gives shorter lists)."""
    ranks = np.empty(len(cases), dtype=np.int64)
    tops = np.empty((len(cases), k), dtype=np.int64)
    for start in range(0, len(cases), batch_size):
        rows = np.arange(start, min(start + batch_size, len(cases)))
        hist = cases.history.rows(rows)
        raw = model.score(cases.users[rows], hist)
        scores = torch.tensor(raw, dtype=torch.float32)  # a copy: models may return views
        apply_history(scores, hist, history)
        ranks[rows] = target_ranks(scores, cases.target[rows])
        top = top_k(scores, k)
        tops = tops[:, : top.shape[1]]
        tops[rows] = top
    return ranks, tops


def accuracy(ranks: np.ndarray, ks: tuple[int, ...] = KS) -> dict[str, float]:
    out: dict[str, float] = {}
    for k in ks:
        out[f"HR@{k}"] = m.hit_rate(ranks, k)
    for k in ks:
        out[f"NDCG@{k}"] = m.ndcg(ranks, k)
    out["MRR@10"] = m.mrr(ranks, 10)
    return out


def evaluate(
    model: Scorer,
    split: Split,
    which: Which = "test",
    *,
    history: str = "exclude",
    batch_size: int = 1024,
    beyond: bool = True,
    engine: object = None,
) -> dict[str, object]:
    """Evaluate ``model`` on one side of ``split`` with full ranking.

    Returns a flat dict: ``HR@5/10/20``, ``NDCG@5/10/20``, ``MRR@10`` and, with ``beyond``,
    ``coverage@10``, ``diversity@10``, ``novelty@10`` and a ``slices`` entry with accuracy
    on tail-item targets (at most ``TAIL_MAX`` training interactions), head targets, and
    users with short (at most ``SHORT_MAX`` items) and long histories. Under the
    ``cold-items`` protocol (``split.cold`` set), ``slices`` also holds ``cold``: accuracy on
    the cases whose target is a cold item (see ``cold_slice``), with or without ``beyond``.
    ``split``, ``history`` and ``n_cases`` state how the figures were produced. With an
    ``engine`` (``shopaug.engine``), cases are ranked in shards there and gathered before
    any average is taken, so the figures are the same.
    """
    cases = split.targets(which)
    if engine is None:
        ranks, tops = rank_cases(model, cases, history=history, batch_size=batch_size)
    else:
        from shopaug.engine import rank_cases as rank_sharded

        ranks, tops = rank_sharded(model, cases, history=history, engine=engine)
    out: dict[str, object] = {"split": which, "history": history, "n_cases": len(cases)}
    out.update(accuracy(ranks))
    if beyond:
        out.update(beyond_accuracy(tops[:, :10], split.train))
        counts = split.train.item_counts()
        tail = counts[cases.target] <= TAIL_MAX
        out["slices"] = {
            "tail": {"n_cases": int(tail.sum()), **accuracy(ranks[tail])},
            "head": {"n_cases": int((~tail).sum()), **accuracy(ranks[~tail])},
        }
        short = cases.history.lengths <= SHORT_MAX
        for name, sel in (("short", short), ("long", ~short)):
            out["slices"][name] = {"n_cases": int(sel.sum()), **accuracy(ranks[sel])}
    if split.cold is not None:
        cold = np.isin(cases.target, split.cold)
        out.setdefault("slices", {})["cold"] = cold_slice(ranks[cold])
    return out


def cold_slice(ranks: np.ndarray) -> dict[str, float | int]:
    """Accuracy on cold-target cases: ``n_cases``, ``Recall@20`` (with one target per case it
    equals ``HR@20``; named as cold-start papers report it) and the usual ``accuracy``."""
    return {"n_cases": len(ranks), "Recall@20": m.hit_rate(ranks, 20), **accuracy(ranks)}


def cold_metrics(
    model: Scorer,
    split: Split,
    which: Which = "test",
    *,
    history: str = "exclude",
    batch_size: int = 1024,
) -> dict[str, float | int]:
    """The cold-item figure alone: ``cold_slice`` over the cases of a ``cold_items`` split
    whose target is cold, full ranking over all items. Ranks only those cases, so it is much
    cheaper than ``evaluate`` when only this figure is wanted."""
    if split.cold is None:
        raise ValueError("cold_metrics needs a cold_items() split (split.cold is None)")
    cases = split.targets(which)
    sel = np.flatnonzero(np.isin(cases.target, split.cold))
    ranks, _ = rank_cases(model, cases.rows(sel), history=history, batch_size=batch_size)
    return cold_slice(ranks)


def beyond_accuracy(top10: np.ndarray, train: TrainSet) -> dict[str, float]:
    out = {"coverage@10": m.coverage(top10, train.n_items)}
    feats = m.item_features(train.n_items, train.item_attrs, train.item_text)
    if feats is not None:
        out["diversity@10"] = m.intra_list_diversity(top10, feats)
    n_users = int((train.sequences.lengths > 0).sum())
    user_counts = np.bincount(
        np.unique(
            np.repeat(np.arange(train.n_users), train.sequences.lengths) * (train.n_items + 1)
            + train.sequences.items
        )
        % (train.n_items + 1),
        minlength=train.n_items + 1,
    )
    out["novelty@10"] = m.novelty(top10, user_counts, n_users)
    return out
