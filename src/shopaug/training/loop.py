"""A generic epoch loop for torch models: progress, validation, early stopping, checkpoints."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Sized
from pathlib import Path
from typing import Any

import torch

from shopaug.training.options import TrainOptions


def set_threads(options: TrainOptions) -> None:
    """Apply an explicit thread count; by default torch's own choice (all cores) stands."""
    if options.threads:
        torch.set_num_threads(options.threads)


def run_epochs(
    *,
    model: Any,
    module: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    batches: Callable[[int], Iterable[Any]],
    step: Callable[[Any], torch.Tensor],
    epochs: int,
    options: TrainOptions,
    desc: str = "train",
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
) -> list[dict]:
    """Train ``module`` for up to ``epochs`` epochs and return one record per epoch.

    ``batches(epoch)`` yields the batches of an epoch; ``step(batch)`` returns the loss.
    With ``options.validate``, the best weights by that figure are restored at the end.
    """
    from tqdm.auto import tqdm

    set_threads(options)
    history: list[dict] = []
    best, best_state, waited = -float("inf"), None, 0
    start = time.perf_counter()
    for epoch in range(1, epochs + 1):
        t0 = time.perf_counter()
        module.train()
        total, n = 0.0, 0
        epoch_batches = batches(epoch)
        size = len(epoch_batches) if isinstance(epoch_batches, Sized) else None
        bar = tqdm(
            epoch_batches, total=size, desc=f"{desc} {epoch}/{epochs}",
            disable=not options.progress, leave=False,
        )
        for batch in bar:
            optimizer.zero_grad(set_to_none=True)
            loss = step(batch)
            loss.backward()
            optimizer.step()
            total += float(loss.detach())
            n += 1
        if scheduler is not None:
            scheduler.step()
        module.eval()
        record = {"epoch": epoch, "loss": total / max(n, 1), "seconds": time.perf_counter() - t0}
        if options.validate is not None and epoch % options.eval_every == 0:
            with torch.no_grad():
                metric = float(options.validate(model))
            record["valid"] = metric
            if metric > best:
                best, waited = metric, 0
                best_state = {k: v.detach().clone() for k, v in module.state_dict().items()}
                if options.checkpoint_dir is not None and (
                    options.dist is None or options.dist.rank == 0
                ):
                    save_checkpoint(module, Path(options.checkpoint_dir), epoch, metric)
            else:
                waited += 1
        history.append(record)
        if options.log is not None:
            options.log(record)
        stop = (options.validate is not None and waited >= options.patience) or (
            options.time_budget is not None and time.perf_counter() - start > options.time_budget
        )
        if options.dist is not None:
            stop = options.dist.any(stop)  # ranks stop together or hang in the next step
        if stop:
            break
    if best_state is not None:
        module.load_state_dict(best_state)
    module.eval()
    return history


def save_checkpoint(module: torch.nn.Module, folder: Path, epoch: int, metric: float) -> None:
    """Best-so-far weights as safetensors, written to a temporary file then renamed."""
    import json

    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / "best.safetensors.tmp"
    state = {k: v.detach().contiguous() for k, v in module.state_dict().items()}
    save_file(state, str(tmp), metadata={"epoch": str(epoch), "valid": f"{metric:.6f}"})
    os.replace(tmp, folder / "best.safetensors")
    meta = folder / "best.json.tmp"
    meta.write_text(json.dumps({"epoch": epoch, "valid": metric}))
    os.replace(meta, folder / "best.json")
