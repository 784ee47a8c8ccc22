"""shopaug data: inspect and validate datasets."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="Validate and describe datasets.", no_args_is_help=True)


def _is_log_folder(path: Path) -> bool:
    from shopaug.data._stream import log_parts

    return path.is_dir() and not (path / "sequences.txt").exists() and bool(log_parts(path))


@app.command("check")
def check(
    path: Annotated[str, typer.Argument(help="Dataset folder, CSV/Parquet log or bundled:NAME.")],
    catalog: Annotated[str | None, typer.Option(help="Item catalogue file for a log.")] = None,
    kcore: Annotated[int | None, typer.Option(help="Apply k-core filtering first.")] = None,
    json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Validate PATH (errors name file, line and column) and print its statistics."""
    from shopaug.cli._common import print_json
    from shopaug.data import load

    options = {}
    if catalog is not None:
        options["catalog"] = catalog
    if kcore is not None:
        options["kcore"] = kcore
    if options and not (Path(path).is_file() or _is_log_folder(Path(path))):
        raise typer.BadParameter("--catalog and --kcore apply to interaction logs")
    stats = load(path, **options).stats()
    if json:
        print_json(stats)
        return
    print(f"ok: {path}")
    for k, v in stats.items():
        print(f"  {k:<28}{v:.6g}" if isinstance(v, float) else f"  {k:<28}{v}")


@app.command("generate")
def generate(
    interactions: Annotated[int, typer.Option(help="Rows to write (exactly).", min=1)],
    out: Annotated[str, typer.Option(help="Folder for the Parquet parts (new or empty).")],
    files: Annotated[int, typer.Option(help="Parquet parts (time partitions).", min=1)] = 8,
    seed: Annotated[int, typer.Option(help="Random seed; same seed, same log.")] = 0,
    events: Annotated[bool, typer.Option("--events", help="Also write an event column.")] = False,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """Write a large synthetic log with Amazon Beauty's statistics (scale tests)."""
    from shopaug.data import generate_log

    log = generate_log(out, interactions, seed=seed, files=files, events=events,
                       progress=progress)
    print(f"wrote {log.interactions} interactions of {log.users} users on {log.items} items "
          f"in {log.files} Parquet files to {log.path}")
