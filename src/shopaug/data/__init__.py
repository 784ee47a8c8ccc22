"""Data layer: readers with validation, id vocabularies, the Dataset, bundled data."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from shopaug.data._bundled import BUNDLED, bundled_path
from shopaug.data._clean import dedupe, kcore
from shopaug.data._dataset import Dataset, TrainSet
from shopaug.data._folder import read_folder
from shopaug.data._sequences import Sequences
from shopaug.data._vocab import IdVocab
from shopaug.exceptions import DataError

if TYPE_CHECKING:
    from shopaug.data._log import read_log

__all__ = [
    "BUNDLED",
    "Dataset",
    "IdVocab",
    "Sequences",
    "TrainSet",
    "bundled_path",
    "dedupe",
    "kcore",
    "load",
    "read_folder",
    "read_log",
]


def __getattr__(name: str) -> object:
    # The log reader needs pyarrow; import it on first use so `import shopaug` stays fast.
    if name == "read_log":
        from shopaug.data._log import read_log

        return read_log
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def load(path: str | Path, **options) -> Dataset:
    """Load a dataset from a folder (Beauty layout), an interaction log (CSV/Parquet),
    or a bundled dataset given as ``bundled:NAME`` (e.g. ``bundled:amazon-beauty``).

    Extra keyword options go to the log reader (catalog path, cleaning).
    """
    spec = str(path)
    if spec.startswith("bundled:"):
        name = spec.split(":", 1)[1]
        return read_folder(bundled_path(name), name=name, source=spec)
    p = Path(spec)
    if p.is_dir():
        return read_folder(p)
    if p.is_file():
        from shopaug.data._log import read_log

        return read_log(p, **options)
    raise DataError(
        "no such file or folder; expected a dataset folder, a CSV/Parquet log "
        f"or bundled:NAME (bundled: {', '.join(sorted(BUNDLED))})",
        file=p,
    )
