"""Run settings shared by every trainable model, kept apart from model hyper-parameters."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class TrainOptions:
    """How to run training (not what to learn: that is the model's config).

    Attributes:
        seed: seed of every random stream in the run (torch and numpy).
        epochs: overrides the model config's epoch count when set.
        patience: stop after this many validations without improvement.
        eval_every: validate every this many epochs.
        time_budget: stop starting new epochs after this many seconds.
        threads: torch CPU threads (None: all cores).
        progress: show progress bars.
        validate: returns the figure to maximise for early stopping (validation NDCG@10);
            built by the caller, so training never sees evaluation code or test data.
        checkpoint_dir: where the best weights so far are written, if set.
        log: called with a dict per epoch (epoch, loss, metric, seconds).
        recipe: an augmentation recipe (``shopaug.augment.Recipe``) applied online or as
            contrastive views by models that support it; offline recipes are applied to the
            training set before ``fit``.
        encoder: the text encoder of models that read item text (anything with
            ``encode(list[str])``); default the cached MiniLM ``shopaug.lm.TextEncoder``.
        warm_start: continue from the model's current weights instead of re-initialising
            (incremental updates); models without learned weights to keep refit from scratch.
        dist: this process's rank in a data-parallel group (``shopaug.training.distributed``;
            set by the Ray engine), or None for single-process training.
    """

    seed: int = 0
    epochs: int | None = None
    patience: int = 10
    eval_every: int = 1
    time_budget: float | None = None
    threads: int | None = None
    progress: bool = True
    validate: Callable[[Any], float] | None = None
    checkpoint_dir: Path | None = None
    log: Callable[[dict], None] | None = None
    recipe: Any = None
    encoder: Any = None
    warm_start: bool = False
    dist: Any = None


def epochs_run(history: list[dict]) -> int:
    """Training epochs in a model's ``history_``: its other entries record choices made
    after training (such as late-fusion weights)."""
    return sum("epoch" in h for h in history)
