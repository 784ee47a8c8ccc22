"""The Ray engine: shards as Ray Data blocks, training with Ray Train (PyTorch DDP).

``RayEngine()`` joins a running cluster (``address``, or ``RAY_ADDRESS``) or starts a local
one sized to this machine. Large objects (a fitted augmenter, a model) go to the object
store once and every task reads them from there.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa

from shopaug.exceptions import ConfigError, ShopaugError

#: Models whose ``fit`` runs data-parallel (reads ``TrainOptions.dist``).
DISTRIBUTED_MODELS = {"sasrec"}


def _ray():
    try:
        import ray
    except ImportError:
        raise ShopaugError("--engine ray needs Ray: pip install 'shopaug[scale]'") from None
    return ray


class RayEngine:
    name = "ray"

    def __init__(self, address: str | None = None, *, workers: int = 2) -> None:
        ray = _ray()
        if workers < 1:
            raise ConfigError(f"Ray workers must be >= 1, got {workers}")
        self.workers = workers
        self._owned = False
        if not ray.is_initialized():
            opts: dict[str, Any] = {"include_dashboard": False, "logging_level": logging.WARNING}
            address = address or os.environ.get("RAY_ADDRESS")
            if address:
                ray.init(address=address, **opts)
            else:
                ray.init(num_cpus=os.cpu_count() or 1, **opts)
            self._owned = True
        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = False
        ctx.print_on_execution_start = False
        logging.getLogger("ray.data").setLevel(logging.WARNING)
        ctx.execution_options.preserve_order = True

    def map_blocks(
        self, fn: Callable[[pa.Table], pa.Table], blocks: list[pa.Table]
    ) -> list[pa.Table]:
        """``fn`` over each block as one Ray Data batch (blocks are never split or merged,
        and ``fn`` checks it)."""
        ray = _ray()
        ref = ray.put(fn)

        def apply(batch: pa.Table) -> pa.Table:
            return ray.get(ref)(batch)

        ds = ray.data.from_arrow(blocks).map_batches(
            apply, batch_size=None, batch_format="pyarrow", zero_copy_batch=True, num_cpus=1
        )
        return [ray.get(r) for r in ds.to_arrow_refs()]

    def fit(
        self, rc: Any, split: Any, *, seed: int = 0, epochs: int | None = None,
        log: Callable[[dict], None] | None = None,
    ) -> tuple[Any, float]:
        """Fit ``rc``'s model on ``split.train`` with Ray Train: ``workers`` DDP processes,
        each on its share of every epoch's batches; early stopping on validation as in
        local training. Returns (model, seconds)."""
        ray = _ray()
        from ray.train import Checkpoint, RunConfig, ScalingConfig
        from ray.train.torch import TorchTrainer

        if rc.model not in DISTRIBUTED_MODELS:
            raise ConfigError(f"model {rc.model!r} has no data-parallel training; use "
                              f"--engine local (Ray trains {sorted(DISTRIBUTED_MODELS)})")
        split_ref = ray.put(split)

        def loop(config: dict) -> None:
            import ray.train
            import torch

            from shopaug.experiment import fit_model
            from shopaug.training.distributed import Distributed

            ctx = ray.train.get_context()
            dist = Distributed(ctx.get_world_rank(), ctx.get_world_size())
            torch.set_num_threads(1)
            model, secs = fit_model(
                rc, ray.get(config["split"]), seed=seed, epochs=epochs, progress=False,
                log=log if dist.rank == 0 else None, dist=dist,
            )
            with tempfile.TemporaryDirectory() as d:
                ck = None
                if dist.rank == 0:
                    model.save(Path(d) / "model")
                    ck = Checkpoint.from_directory(d)
                ray.train.report({"fit_seconds": secs}, checkpoint=ck)

        # checkpoints pass through here: shared storage (NFS, s3://) on a multi-node cluster
        storage = os.environ.get("SHOPAUG_RAY_STORAGE") or tempfile.mkdtemp(prefix="shopaug-ray-")
        trainer = TorchTrainer(
            loop,
            train_loop_config={"split": split_ref},
            scaling_config=ScalingConfig(
                num_workers=self.workers, use_gpu=False, resources_per_worker={"CPU": 1}
            ),
            run_config=RunConfig(storage_path=storage, name=f"fit-{rc.model}-{seed}"),
        )
        t0 = time.perf_counter()
        try:
            result = trainer.fit()
        except Exception as e:  # Ray wraps the worker's error; keep its message
            raise ShopaugError(f"Ray training failed: {e}") from e
        seconds = time.perf_counter() - t0
        from shopaug.models import load_model

        with result.checkpoint.as_directory() as d:
            model = load_model(Path(d) / "model")
        if "SHOPAUG_RAY_STORAGE" not in os.environ:
            shutil.rmtree(storage, ignore_errors=True)
        return model, seconds

    def close(self) -> None:
        if self._owned:
            _ray().shutdown()
            self._owned = False
