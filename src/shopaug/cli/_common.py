"""Small helpers shared by subcommands."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer

EngineOpt = Annotated[
    str, typer.Option(help="Where heavy steps run: local (this process) or ray.")
]
AddressOpt = Annotated[
    str | None,
    typer.Option(help="Ray cluster to join (host:port or auto); default: start a local one."),
]
WorkersOpt = Annotated[int, typer.Option(help="Ray Train workers (--engine ray).")]


def print_json(obj: Any) -> None:
    from shopaug.experiment import _json_default

    sys.stdout.write(json.dumps(obj, indent=2, default=_json_default) + "\n")


def epoch_logger(name: str):
    """Print one line per epoch to stderr (progress bars show the steps)."""

    def log(record: dict) -> None:
        who = name if "member" not in record else f"{name} member {record['member']}"
        parts = [f"{who} epoch {record['epoch']}", f"loss {record['loss']:.4f}"]
        if "valid" in record:
            parts.append(f"valid NDCG@10 {record['valid']:.4f}")
        parts.append(f"{record['seconds']:.1f}s")
        print("  ".join(parts), file=sys.stderr, flush=True)

    return log


@contextmanager
def engine_scope(name: str, address: str | None, workers: int = 2) -> Iterator[Any]:
    """The named engine (``shopaug.engine``), shut down afterwards if this command started it;
    None for the local engine, whose steps run in-process as before."""
    from shopaug.engine import get_engine

    engine = get_engine(name, address=address, workers=workers)
    try:
        yield None if engine.name == "local" else engine
    finally:
        engine.close()
