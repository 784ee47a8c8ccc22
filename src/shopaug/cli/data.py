"""shopaug data: inspect and validate datasets."""

from __future__ import annotations

from typing import Annotated

import typer

app = typer.Typer(help="Validate and describe datasets.", no_args_is_help=True)


@app.command("check")
def check(
    path: Annotated[str, typer.Argument(help="Dataset folder, CSV/Parquet log or bundled:NAME.")],
    catalog: Annotated[str | None, typer.Option(help="Item catalogue file for a log.")] = None,
    kcore: Annotated[int | None, typer.Option(help="Apply k-core filtering first.")] = None,
    json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Validate PATH (errors name file, line and column) and print its statistics."""
    from pathlib import Path

    from shopaug.cli._common import print_json
    from shopaug.data import load

    options = {}
    if catalog is not None:
        options["catalog"] = catalog
    if kcore is not None:
        options["kcore"] = kcore
    if options and not Path(path).is_file():
        raise typer.BadParameter("--catalog and --kcore apply to interaction log files")
    stats = load(path, **options).stats()
    if json:
        print_json(stats)
        return
    print(f"ok: {path}")
    for k, v in stats.items():
        print(f"  {k:<28}{v:.6g}" if isinstance(v, float) else f"  {k:<28}{v}")
