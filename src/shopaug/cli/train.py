"""shopaug train: fit one model (or preset) on a dataset and write a run folder."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated

import typer

from shopaug.cli._common import AddressOpt, EngineOpt, WorkersOpt


def train(
    data: Annotated[str, typer.Option(help="Dataset folder, CSV/Parquet log or bundled:NAME.")],
    out: Annotated[Path, typer.Option(help="Run folder to write.")],
    model: Annotated[str | None, typer.Option(help="Model name (see 'shopaug presets').")] = None,
    preset: Annotated[str | None, typer.Option(help="Named shipped configuration.")] = None,
    config: Annotated[Path | None, typer.Option(help="TOML/YAML/JSON config overrides.")] = None,
    recipe: Annotated[
        str | None,
        typer.Option(help="Augmentation recipe: shipped name, TOML/YAML/JSON file, or none."),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of every random stream.")] = 0,
    epochs: Annotated[int | None, typer.Option(help="Override the number of epochs.")] = None,
    split: Annotated[
        str, typer.Option(help="loo (leave-one-out), temporal, or cold (10% of items unseen).")
    ] = "loo",
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
    threads: Annotated[int | None, typer.Option(help="Torch CPU threads (default: all).")]
    = None,
    checkpoint_dir: Annotated[
        Path | None, typer.Option(help="Keep the best weights here while training.")
    ] = None,
    track: Annotated[bool | None, typer.Option(
        "--track/--no-track", help="Log the run to MLflow (default: $SHOPAUG_TRACKING).")]
    = None,
    engine: EngineOpt = "local",
    address: AddressOpt = None,
    workers: WorkersOpt = 2,
) -> None:
    """Train, evaluate on validation and test (full ranking), write RUN_DIR with a report."""
    import time

    from shopaug.cli._common import engine_scope, epoch_logger
    from shopaug.evaluation.report import format_table
    from shopaug.experiment import resolve, train_run
    from shopaug.tracking import log_record, train_record

    started = time.time()
    rc = resolve(model=model, preset=preset, config_file=config, recipe=recipe)
    if threads is not None:
        rc = dataclasses.replace(rc, train={**rc.train, "threads": threads})
    with engine_scope(engine, address, workers) as eng:
        results = train_run(
            data, rc, out, seed=seed, epochs=epochs, split=split, progress=progress,
            log=epoch_logger(rc.model), checkpoint_dir=checkpoint_dir, engine=eng,
        )
    print(format_table(results))
    print(f"\nrun: {out}")
    log_record("train", lambda: train_record(out, epochs=epochs), start_time=started,
               enabled=track)
