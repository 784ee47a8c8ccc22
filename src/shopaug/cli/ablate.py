"""shopaug ablate: the same model with and without each augmentation recipe."""

from __future__ import annotations

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
) -> None:
    """Train without augmentation and with each recipe over several seeds; write a table
    (mean ± std, relative gain with a paired bootstrap interval over users, tail-item and
    short-history slices), plots and an HTML report."""
    from shopaug.ablation import ablate as run
    from shopaug.ablation import format_ablation
    from shopaug.cli._common import epoch_logger

    summary = run(
        data, recipes, out, model=model, preset=preset, config_file=config, seeds=seeds,
        epochs=epochs, split=split, progress=progress, log=epoch_logger("train"),
    )
    print(format_ablation(summary))
    print(f"\nablation: {out}")
