"""Contrastive losses over sequence representations (CL4SRec, DuoRec)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def info_nce(
    a: torch.Tensor,
    b: torch.Tensor,
    *,
    temperature: float = 1.0,
    similarity: str = "dot",
    groups: torch.Tensor | None = None,
) -> torch.Tensor:
    """InfoNCE (NT-Xent) between two views ``a`` and ``b`` of the same ``n`` samples.

    Each of the ``2n`` representations has its other view as the positive and the other
    ``2n - 2`` as negatives. With ``groups`` (one label per sample, e.g. the next item),
    samples of the same group are not used as each other's negatives: they are likely
    positives too, as DuoRec observes.
    """
    n = a.shape[0]
    z = torch.cat([a, b])
    if similarity == "cos":
        z = F.normalize(z, dim=-1)
    elif similarity != "dot":
        raise ValueError("similarity must be 'dot' or 'cos'")
    sim = (z @ z.T) / temperature
    idx = torch.arange(2 * n)
    partner = torch.cat([idx[n:], idx[:n]])
    drop = torch.eye(2 * n, dtype=torch.bool)
    if groups is not None:
        g = torch.cat([groups, groups])
        drop |= g[:, None] == g[None, :]
        drop[idx, partner] = False
    sim = sim.masked_fill(drop, float("-inf"))
    return F.cross_entropy(sim, partner)
