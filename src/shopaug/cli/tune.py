"""shopaug tune and tune-augment: search model hyper-parameters or augmentation policies on
validation NDCG@10 (Optuna, pruned, resumable); both runs are tracked in MLflow."""

from __future__ import annotations

import time
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
    track: Annotated[bool | None, typer.Option(
        "--track/--no-track", help="Log the search to MLflow (default: $SHOPAUG_TRACKING).")]
    = None,
) -> None:
    """Search operator choice, strengths and probabilities (and online vs contrastive use)
    on VALIDATION NDCG@10 with pruning; write the best recipe to OUT/best.toml. The test
    targets are removed before the search starts. Re-running with the same OUT resumes."""
    from shopaug.tracking import log_record, tuning_record
    from shopaug.tuning import tune_augment as run

    started = time.time()
    summary = run(
        data, out, budget_minutes=budget_minutes, trials=trials, model=model, preset=preset,
        config_file=config, epochs=epochs, seed=seed, split=split,
    )
    print(f"best trial {summary['best_trial']}: valid NDCG@10 "
          f"{summary['best_valid_ndcg10']:.4f} -> {out / 'best.toml'}")
    log_record("tune-augment", lambda: tuning_record(out), start_time=started, enabled=track)


def tune(
    data: Annotated[str, typer.Option(help="Dataset folder, CSV/Parquet log or bundled:NAME.")],
    model: Annotated[str | None, typer.Option(
        help="Model to tune: sasrec (default), bpr or itemknn.")] = None,
    budget_minutes: Annotated[float, typer.Option(
        help="Stop starting trials (and end the running one's training) after this.")] = 30.0,
    trials: Annotated[int | None, typer.Option(help="Stop after this many trials.")] = None,
    epochs: Annotated[int | None, typer.Option(
        help="Epochs per trial (written into best.toml).")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the search and of each trial.")] = 0,
    out: Annotated[Path | None, typer.Option(
        help="Folder for best.toml, trials.json and the study (default: "
             "WORKSPACE/tune/STUDY with the study in WORKSPACE/optuna.db).")] = None,
    preset: Annotated[str | None, typer.Option(
        help="Start from a named shipped configuration instead of --model.")] = None,
    config: Annotated[Path | None, typer.Option(
        help="TOML/YAML/JSON config the search starts from.")] = None,
    split: Annotated[
        str, typer.Option(help="loo (leave-one-out), temporal, or cold (10% of items unseen).")
    ] = "loo",
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = False,
    track: Annotated[bool | None, typer.Option(
        "--track/--no-track", help="Log the search to MLflow (default: $SHOPAUG_TRACKING).")]
    = None,
) -> None:
    """Search a model's hyper-parameters on VALIDATION NDCG@10 (Optuna TPE, median pruning
    on per-epoch validation); write the best config to OUT/best.toml for
    `shopaug train --config`. Test targets are removed before the search starts. Re-running
    the same search resumes its study."""
    from shopaug.tracking import log_record, tuning_record
    from shopaug.tuning import tune_model

    started = time.time()
    summary = tune_model(
        data, out, model=model, preset=preset, config_file=config,
        budget_minutes=budget_minutes, trials=trials, epochs=epochs, seed=seed, split=split,
        progress=progress,
    )
    folder = Path(summary["out"])
    print(f"best trial {summary['best_trial']} of {len(summary['trials'])}: valid NDCG@10 "
          f"{summary['best_valid_ndcg10']:.4f} -> {folder / 'best.toml'}")
    print(f"study {summary['study']} in sqlite:///{summary['storage']}")
    log_record("tune", lambda: tuning_record(folder), start_time=started, enabled=track)
