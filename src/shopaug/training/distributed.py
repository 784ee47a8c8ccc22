"""Data-parallel training inside an existing process group (Ray Train sets one up).

A model's ``fit`` that supports it reads ``TrainOptions.dist``: every rank draws the same
epoch plan from the same seed, keeps every ``world``-th batch, wraps its forward module in
``DistributedDataParallel`` (gradients are averaged across ranks after each backward) and
agrees with the other ranks on when to stop, so no rank waits forever in a collective.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

import torch

T = TypeVar("T")


@dataclass(frozen=True)
class Distributed:
    """This process's place in a data-parallel group (``torch.distributed`` is initialised)."""

    rank: int
    world: int

    def shard(self, batches: list[T]) -> list[T]:
        """This rank's share of an epoch's batches: every rank gets the same count (the
        last ``len % world`` batches are dropped), so the all-reduces line up."""
        usable = len(batches) - len(batches) % self.world
        return batches[self.rank : usable : self.world]

    def wrap(self, module: torch.nn.Module) -> torch.nn.Module:
        return torch.nn.parallel.DistributedDataParallel(module)

    def any(self, flag: bool) -> bool:
        """True on every rank when ``flag`` is true on some rank."""
        t = torch.tensor([int(flag)])
        torch.distributed.all_reduce(t, op=torch.distributed.ReduceOp.MAX)
        return bool(t.item())
