"""Where the heavy steps run: in this process (``local``, the default) or on Ray (``ray``).

Both engines cut the work into the same shards (``SHARD_ROWS`` users or cases each) and seed
every shard from ``(seed, shard)``, so a seed gives the same augmented samples and negatives
on either engine, and sharded evaluation gathers every case's rank before averaging, so the
metrics are the same figures. Training on Ray runs data-parallel (Ray Train, PyTorch DDP)
and agrees with local training within run-to-run noise, not bit for bit.
"""

from __future__ import annotations

from shopaug.engine._local import LocalEngine
from shopaug.engine._ops import (
    SHARD_ROWS,
    augment,
    case_blocks,
    negatives,
    rank_cases,
    sequence_blocks,
)
from shopaug.exceptions import ConfigError

ENGINES = ("local", "ray")

__all__ = [
    "ENGINES",
    "SHARD_ROWS",
    "LocalEngine",
    "augment",
    "case_blocks",
    "get_engine",
    "negatives",
    "rank_cases",
    "sequence_blocks",
]


def get_engine(name: str = "local", *, address: str | None = None, workers: int = 2):
    """An engine by name. ``ray`` joins the cluster at ``address`` (``auto`` for the one
    this machine belongs to) or starts a local one; ``workers`` is the number of Ray Train
    workers."""
    if name == "local":
        if address is not None:
            raise ConfigError("--address needs --engine ray")
        return LocalEngine()
    if name == "ray":
        from shopaug.engine._ray import RayEngine

        return RayEngine(address=address, workers=workers)
    raise ConfigError(f"unknown engine {name!r}; expected one of {list(ENGINES)}")
