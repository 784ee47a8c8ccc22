"""shopaug knowledge: extract language-model knowledge of a dataset (cached)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def knowledge(
    data: Annotated[str, typer.Option(help="Dataset folder, CSV/Parquet log or bundled:NAME.")],
    out: Annotated[Path, typer.Option(help="Folder to write (replaced atomically).")],
    enrich: Annotated[
        bool, typer.Option(help="Enrich item texts shorter than four words with Gemma 3 270M.")
    ] = False,
    int8: Annotated[bool, typer.Option(help="Encode with the int8-quantized MiniLM.")] = False,
    neighbors: Annotated[int, typer.Option(help="Text neighbours per item.")] = 10,
    split: Annotated[str, typer.Option(help="loo or temporal: profiles read its training part.")]
    = "loo",
    time_budget_minutes: Annotated[
        float | None, typer.Option(help="Stop starting new Gemma batches after this long.")
    ] = None,
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
) -> None:
    """Item text vectors (MiniLM), text-neighbour tables, user profiles from TRAINING
    histories and, with --enrich, Gemma-written item enrichment. Everything is cached on disk
    ($SHOPAUG_CACHE or ~/.cache/shopaug), so a second run only reads the cache."""
    from shopaug.experiment import extract_knowledge

    if neighbors < 1:
        raise typer.BadParameter("--neighbors must be >= 1")
    m = extract_knowledge(
        data, out, split=split, enrich=enrich, quantize="int8" if int8 else None,
        neighbors=neighbors, time_budget_minutes=time_budget_minutes, progress=progress,
    )
    print(f"{m['items']} items, {m['users']} user profiles, {m['enriched_items']} enriched "
          f"texts in {m['timings']['total_seconds']:.1f}s -> {out}")
