"""BPR matrix factorisation: ``p(u prefers i) = sigma(theta_u . phi_i + b_i)`` (Rendle 2009)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Self

import numpy as np
import torch

from shopaug.data import Sequences, TrainSet
from shopaug.models._base import BaseRecommender, fit_sampler
from shopaug.models._torch import numpy_to_state, state_to_numpy, torch_generator
from shopaug.random import make_rng
from shopaug.training import TrainOptions
from shopaug.training.loop import run_epochs


@dataclass(frozen=True)
class BPRConfig:
    """BPR-MF settings.

    Attributes:
        dim: latent factors per user and item.
        epochs: passes over the training pairs.
        batch_size: pairs per step.
        lr: Adam learning rate.
        reg: L2 weight on the factors of each step's users and items.
        sampler: negative sampler (``shopaug.augment.negatives.SAMPLERS``); negatives come
            from training items only.
    """

    dim: int = 64
    epochs: int = 100
    batch_size: int = 2048
    lr: float = 2e-3
    reg: float = 1e-4
    sampler: str = "uniform"

    def __post_init__(self) -> None:
        for f in ("dim", "epochs", "batch_size"):
            if getattr(self, f) < 1:
                raise ValueError(f"{f} must be >= 1")
        if self.lr <= 0 or self.reg < 0:
            raise ValueError("lr must be > 0 and reg >= 0")


class _MF(torch.nn.Module):
    def __init__(self, n_users: int, n_items: int, dim: int, seed: int) -> None:
        super().__init__()
        g = torch_generator(seed)
        self.user = torch.nn.Parameter(torch.randn(n_users, dim, generator=g) * 0.01)
        self.item = torch.nn.Parameter(torch.randn(n_items + 1, dim, generator=g) * 0.01)
        self.bias = torch.nn.Parameter(torch.zeros(n_items + 1))


class BPR(BaseRecommender):
    """Pairwise ranking MF trained on (user, seen item, uniformly sampled unseen item)."""

    name = "bpr"
    Config = BPRConfig

    def fit(self, train: TrainSet, options: TrainOptions | None = None) -> Self:
        options = options or TrainOptions()
        cfg = self.config
        rng = make_rng(options.seed)
        torch.manual_seed(options.seed)
        seqs = train.sequences
        users = np.repeat(np.arange(len(seqs)), seqs.lengths)
        items = seqs.items
        seen = seqs.to_csr(train.n_items + 1)
        sampler = fit_sampler(cfg.sampler, train, options)
        self.n_items_, self.n_users_ = train.n_items, train.n_users
        self.net_ = _MF(train.n_users, train.n_items, cfg.dim, options.seed)
        opt = torch.optim.Adam(self.net_.parameters(), lr=cfg.lr)

        def batches(epoch: int):
            order = rng.permutation(len(users))
            for start in range(0, len(order), cfg.batch_size):
                idx = order[start : start + cfg.batch_size]
                u = users[idx]
                neg = sampler.sample(items[idx], 1, rng, users=u)[:, 0]
                # one vectorized resampling round for negatives the user has seen
                clash = np.asarray(seen[u, neg]).ravel() > 0
                neg[clash] = sampler.sample(items[idx][clash], 1, rng, users=u[clash])[:, 0]
                yield (torch.from_numpy(u), torch.from_numpy(items[idx]), torch.from_numpy(neg))

        def step(batch) -> torch.Tensor:
            u, i, j = batch
            pu, qi, qj = self.net_.user[u], self.net_.item[i], self.net_.item[j]
            x = (pu * (qi - qj)).sum(1) + self.net_.bias[i] - self.net_.bias[j]
            reg = cfg.reg * (pu.pow(2).sum() + qi.pow(2).sum() + qj.pow(2).sum()) / len(u)
            return torch.nn.functional.softplus(-x).mean() + reg

        self.history_ = run_epochs(
            model=self, module=self.net_, optimizer=opt, batches=batches, step=step,
            epochs=options.epochs or cfg.epochs, options=options, desc="bpr",
        )
        return self

    def score(self, users: np.ndarray, histories: Sequences) -> np.ndarray:
        self._check_fitted()
        users = np.asarray(users, dtype=np.int64)
        with torch.no_grad():
            item = self.net_.item
            known = (users >= 0) & (users < self.n_users_)
            vec = torch.zeros(len(users), item.shape[1])
            if known.any():
                vec[torch.from_numpy(known)] = self.net_.user[torch.from_numpy(users[known])]
            # users the model never saw: fold in as the mean factor of their history
            unknown = np.flatnonzero(~known)
            if len(unknown):
                h = histories.rows(unknown)
                rows = torch.from_numpy(np.repeat(np.arange(len(unknown)), h.lengths))
                sums = torch.zeros(len(unknown), item.shape[1]).index_add_(
                    0, rows, item[torch.from_numpy(h.items)]
                )
                lengths = torch.from_numpy(np.maximum(h.lengths, 1)).float()[:, None]
                vec[torch.from_numpy(unknown)] = sums / lengths
            return (vec @ item.T + self.net_.bias).numpy()

    def _state(self) -> dict[str, np.ndarray]:
        return state_to_numpy(self.net_)

    def _set_state(self, state: dict[str, np.ndarray]) -> None:
        self.net_ = _MF(state["user"].shape[0], self.n_items_, self.config.dim, 0)
        self.net_.load_state_dict(numpy_to_state(state))
        self.net_.eval()
