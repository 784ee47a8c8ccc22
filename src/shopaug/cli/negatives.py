"""shopaug negatives: sampled negatives for every training interaction, as Parquet."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from shopaug.cli._common import AddressOpt, EngineOpt


def negatives(
    data: Annotated[str, typer.Option(help="Dataset folder, CSV/Parquet log or bundled:NAME.")],
    out: Annotated[Path, typer.Option(help="Parquet file to write.")],
    sampler: Annotated[str, typer.Option(help="uniform, popularity, hard, ... (see docs).")]
    = "popularity",
    k: Annotated[int, typer.Option(help="Negatives per interaction.")] = 8,
    seed: Annotated[int, typer.Option(help="Seed of the sampling.")] = 0,
    split: Annotated[str, typer.Option(help="loo or temporal: only its training part is used.")]
    = "loo",
    engine: EngineOpt = "local",
    address: AddressOpt = None,
) -> None:
    """Fit SAMPLER on the TRAINING partition and draw K negatives for each training
    interaction, sharded by users and seeded per shard (``--engine ray`` writes the same
    rows as the local engine). Held-out items are never drawn."""
    from shopaug.cli._common import engine_scope
    from shopaug.experiment import negatives_dataset

    with engine_scope(engine, address) as eng:
        summary = negatives_dataset(data, sampler, out, k=k, seed=seed, split=split, engine=eng)
    print(f"{summary['rows']} interactions x {summary['k']} negatives "
          f"({summary['users']} users) -> {out}")
