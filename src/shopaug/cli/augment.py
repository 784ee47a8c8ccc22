"""shopaug augment: write a training set expanded by a recipe, with provenance (Parquet)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from shopaug.cli._common import AddressOpt, EngineOpt


def augment(
    data: Annotated[str, typer.Option(help="Dataset folder, CSV/Parquet log or bundled:NAME.")],
    recipe: Annotated[str, typer.Option(help="Shipped recipe name or recipe file.")],
    out: Annotated[Path, typer.Option(help="Parquet file to write.")],
    copies: Annotated[
        int | None, typer.Option(help="Augmented copies per sequence (default: recipe's).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the augmentation.")] = 0,
    split: Annotated[str, typer.Option(help="loo or temporal: only its training part is used.")]
    = "loo",
    max_len: Annotated[int, typer.Option(help="Newest items of each sequence augmented.")] = 50,
    engine: EngineOpt = "local",
    address: AddressOpt = None,
) -> None:
    """Expand the TRAINING partition of a dataset with a recipe and write it as Parquet.

    One row per sample: user and item ids (external), the source row, the copy number
    (0 = original) and the operators applied. Held-out items never reach the output.
    Users are augmented in shards seeded from (seed, shard), so ``--engine ray`` writes the
    same samples as the local engine.
    """
    from shopaug.cli._common import engine_scope
    from shopaug.experiment import augment_dataset

    with engine_scope(engine, address) as eng:
        summary = augment_dataset(
            data, recipe, out, copies=copies, seed=seed, split=split, max_len=max_len,
            engine=eng,
        )
    print(
        f"{summary['originals']} original + {summary['augmented']} augmented sequences "
        f"({summary['items']} items) -> {out}"
    )
