"""shopaug ablate: the same model with and without each augmentation recipe."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer


def ablate(
    data: Annotated[str, typer.Option(help="Dataset folder, CSV/Parquet log or bundled:NAME.")],
    recipes: Annotated[
        list[str], typer.Option(help="Recipe folder, recipe files or shipped names (repeat).")
    ],
    out: Annotated[Path, typer.Option(help="Folder to write (ablation.json, report.html).")],
    model: Annotated[str | None, typer.Option(help="Model name (default: sasrec).")] = None,
    preset: Annotated[str | None, typer.Option(help="Named shipped configuration.")] = None,
    config: Annotated[Path | None, typer.Option(help="TOML/YAML/JSON config overrides.")] = None,
    seeds: Annotated[int, typer.Option(help="Seeds per arm (0 .. seeds-1).")] = 3,
    epochs: Annotated[int | None, typer.Option(help="Override the number of epochs.")] = None,
    split: Annotated[
        str, typer.Option(help="loo (leave-one-out), temporal, or cold (10% of items unseen).")
    ] = "loo",
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
    track: Annotated[bool | None, typer.Option(
        "--track/--no-track", help="Log the ablation to MLflow (default: $SHOPAUG_TRACKING).")]
    = None,
) -> None:
    """Train without augmentation and with each recipe over several seeds; write a table
    (mean ± std, relative gain with a paired bootstrap interval over users, tail-item and
    short-history slices), plots and an HTML report."""
    from shopaug.ablation import ablate as run
    from shopaug.ablation import format_ablation
    from shopaug.cli._common import epoch_logger
    from shopaug.tracking import ablation_record, log_record

    started = time.time()
    summary = run(
        data, recipes, out, model=model, preset=preset, config_file=config, seeds=seeds,
        epochs=epochs, split=split, progress=progress, log=epoch_logger("train"),
    )
    print(format_ablation(summary))
    print(f"\nablation: {out}")
    log_record("ablate", lambda: ablation_record(out, epochs=epochs), start_time=started,
               enabled=track)
