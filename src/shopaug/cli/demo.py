"""shopaug demo: the main job on the bundled Amazon Beauty data."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def demo(
    quick: Annotated[bool, typer.Option(help="Small, fast run (2,000 users, few epochs).")] = False,
    out: Annotated[Path, typer.Option(help="Folder that receives runs/<name>.")] = Path("runs"),
    name: Annotated[str | None, typer.Option(help="Run name (default: demo or demo-quick).")]
    = None,
    seed: Annotated[int, typer.Option(help="Seed of every random stream.")] = 0,
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
) -> None:
    """Train Popularity, ItemKNN, BPR-MF and SASRec on bundled Beauty; write a report."""
    import sys

    from shopaug.cli._common import epoch_logger
    from shopaug.evaluation.report import format_table
    from shopaug.experiment import demo as run_demo

    results = run_demo(
        out, name=name, quick=quick, seed=seed, progress=progress,
        log=epoch_logger("  "), echo=lambda s: print(s, file=sys.stderr, flush=True),
    )
    folder = out / results["name"]
    print(format_table(results))
    print(f"\nresults: {folder / 'results.json'}\nreport:  {folder / 'report.html'}")
