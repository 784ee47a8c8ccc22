"""shopaug train: fit one model (or preset) on a dataset and write a run folder."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def train(
    data: Annotated[str, typer.Option(help="Dataset folder, CSV/Parquet log or bundled:NAME.")],
    out: Annotated[Path, typer.Option(help="Run folder to write.")],
    model: Annotated[str | None, typer.Option(help="Model name (see 'shopaug presets').")] = None,
    preset: Annotated[str | None, typer.Option(help="Named shipped configuration.")] = None,
    config: Annotated[Path | None, typer.Option(help="TOML/YAML/JSON config overrides.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of every random stream.")] = 0,
    epochs: Annotated[int | None, typer.Option(help="Override the number of epochs.")] = None,
    split: Annotated[str, typer.Option(help="loo (leave-one-out) or temporal.")] = "loo",
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
) -> None:
    """Train, evaluate on validation and test (full ranking), write RUN_DIR with a report."""
    from shopaug.cli._common import epoch_logger
    from shopaug.evaluation.report import format_table
    from shopaug.experiment import resolve, train_run

    rc = resolve(model=model, preset=preset, config_file=config)
    results = train_run(
        data, rc, out, seed=seed, epochs=epochs, split=split, progress=progress,
        log=epoch_logger(rc.model),
    )
    print(format_table(results))
    print(f"\nrun: {out}")
