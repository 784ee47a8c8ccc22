"""shopaug tune-augment: search augmentation policies on validation NDCG@10 (Optuna)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def tune_augment(
    data: Annotated[str, typer.Option(help="Dataset folder, CSV/Parquet log or bundled:NAME.")],
    out: Annotated[Path, typer.Option(help="Folder for best.toml, study.db, trials.json.")]
    = Path("tune-augment"),
    budget_minutes: Annotated[float, typer.Option(help="Stop starting trials after this.")]
    = 30.0,
    trials: Annotated[int | None, typer.Option(help="Stop after this many trials.")] = None,
    model: Annotated[str | None, typer.Option(help="Model name (default: sasrec).")] = None,
    preset: Annotated[str | None, typer.Option(help="Named shipped configuration.")] = None,
    config: Annotated[Path | None, typer.Option(help="TOML/YAML/JSON config overrides.")] = None,
    epochs: Annotated[int | None, typer.Option(help="Epochs per trial.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the search and of each trial.")] = 0,
    split: Annotated[
        str, typer.Option(help="loo (leave-one-out), temporal, or cold (10% of items unseen).")
    ] = "loo",
) -> None:
    """Search operator choice, strengths and probabilities (and online vs contrastive use)
    on VALIDATION NDCG@10 with pruning; write the best recipe to OUT/best.toml. The test
    targets are removed before the search starts. Re-running with the same OUT resumes."""
    from shopaug.tuning import tune_augment as run

    summary = run(
        data, out, budget_minutes=budget_minutes, trials=trials, model=model, preset=preset,
        config_file=config, epochs=epochs, seed=seed, split=split,
    )
    print(f"best trial {summary['best_trial']}: valid NDCG@10 "
          f"{summary['best_valid_ndcg10']:.4f} -> {out / 'best.toml'}")
