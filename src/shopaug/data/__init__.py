"""Data layer: readers with validation, id vocabularies, the Dataset, bundled data."""

from __future__ import annotations

import os
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
    from shopaug.data._generate import LogProfile, generate_log
    from shopaug.data._log import read_log
    from shopaug.data._stream import read_log_stream

__all__ = [
    "BUNDLED",
    "STREAM_THRESHOLD_BYTES",
    "Dataset",
    "IdVocab",
    "LogProfile",
    "Sequences",
    "TrainSet",
    "bundled_path",
    "dedupe",
    "generate_log",
    "kcore",
    "load",
    "read_folder",
    "read_log",
    "read_log_stream",
    "stream_threshold",
]

#: Log files larger than this are read out of core by ``load`` (override with the
#: environment variable ``SHOPAUG_STREAM_THRESHOLD_MB``).
STREAM_THRESHOLD_BYTES = 256 * 2**20


def __getattr__(name: str) -> object:
    # The log readers need pyarrow; import them on first use so `import shopaug` stays fast.
    if name == "read_log":
        from shopaug.data._log import read_log

        return read_log
    if name == "read_log_stream":
        from shopaug.data._stream import read_log_stream

        return read_log_stream
    if name in ("generate_log", "LogProfile"):
        from shopaug.data import _generate

        return getattr(_generate, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def stream_threshold() -> int:
    """Bytes above which ``load`` streams a log file: ``SHOPAUG_STREAM_THRESHOLD_MB``
    (MiB) if set, else ``STREAM_THRESHOLD_BYTES``."""
    value = os.environ.get("SHOPAUG_STREAM_THRESHOLD_MB", "").strip()
    if not value:
        return STREAM_THRESHOLD_BYTES
    try:
        return int(float(value) * 2**20)
    except ValueError:
        raise DataError(
            f"SHOPAUG_STREAM_THRESHOLD_MB={value!r}: expected a number of MiB"
        ) from None


def load(path: str | Path, *, stream: bool | None = None, **options) -> Dataset:
    """Load a dataset from a folder (Beauty layout), an interaction log (CSV/Parquet),
    a folder of Parquet log files, or a bundled dataset given as ``bundled:NAME``
    (e.g. ``bundled:amazon-beauty``).

    Logs are read out of core (``read_log_stream``: bounded memory, the same Dataset) when
    they are a folder holding Parquet files and no ``sequences.txt``, a file larger than
    ``stream_threshold()`` (256 MiB unless ``SHOPAUG_STREAM_THRESHOLD_MB`` says otherwise),
    or when ``keep_last`` is given; smaller files are read in memory by ``read_log``.
    ``stream=True``/``False`` forces either reader for a log file.

    Extra keyword options go to the log reader (catalog path, cleaning, ``keep_last``).
    """
    spec = str(path)
    if spec.startswith("bundled:"):
        name = spec.split(":", 1)[1]
        return read_folder(bundled_path(name), name=name, source=spec)
    p = Path(spec)
    if p.is_dir():
        if not (p / "sequences.txt").exists():
            from shopaug.data._stream import log_parts, read_log_stream

            if log_parts(p):
                return read_log_stream(p, **options)
            raise DataError(
                "neither 'sequences.txt' (one user a line: user_id item_id ...) nor Parquet "
                "log files (*.parquet with user_id, item_id, timestamp) in the folder",
                file=p,
            )
        return read_folder(p)
    if options.get("keep_last", 0) is None:
        del options["keep_last"]  # so callers may pass keep_last=None to either reader
    if p.is_file():
        if stream is None:
            stream = "keep_last" in options or p.stat().st_size > stream_threshold()
        if stream:
            from shopaug.data._stream import read_log_stream

            return read_log_stream(p, **options)
        from shopaug.data._log import read_log

        return read_log(p, **options)
    raise DataError(
        "no such file or folder; expected a dataset folder, a CSV/Parquet log "
        f"or bundled:NAME (bundled: {', '.join(sorted(BUNDLED))})",
        file=p,
    )
