"""Offline expansion: grow a training set with augmented copies, keeping each one's origin.

``expand`` returns one Arrow row per sample; ``write_expanded`` stores it as Parquet with the
recipe, seed and source dataset in the schema metadata, so an expanded file always says how
it was made; ``read_expanded`` gives it back as :class:`~shopaug.data.Sequences` for
training.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from shopaug._fs import write_file_atomic
from shopaug.data import Sequences, TrainSet
from shopaug.exceptions import DataError
from shopaug.random import RNGLike, make_rng

if TYPE_CHECKING:
    import pyarrow as pa

    from shopaug.augment.augmenters import Augmenter

__all__ = ["EXPANDED_COLUMNS", "expand", "read_expanded", "write_expanded"]

#: Columns of an expanded table, in order.
EXPANDED_COLUMNS: tuple[str, ...] = ("user", "source", "copy", "items", "ops")

_META_KEY = b"shopaug.expanded"
_FORMAT = 1


def expand(
    train: TrainSet,
    augmenter: Augmenter,
    rng: RNGLike,
    copies: int = 1,
    max_len: int = 50,
    chunk_size: int = 4096,
) -> pa.Table:
    """Every non-empty training sequence, unchanged, plus ``copies`` augmented copies.

    Augmentation runs on the newest ``max_len`` items of each row (left-padded), in chunks
    of about ``chunk_size`` padded rows, all rows of a chunk at once.

    Args:
        train: the training partition (never the full dataset: held-out items would leak).
        augmenter: a fitted augmenter.
        rng: seed or random stream; the same seed gives the same table.
        copies: augmented copies per sequence.
        max_len: padded width the augmenter sees (augmented copies hold at most this many
            items; originals are kept whole).
        chunk_size: padded rows augmented per call.

    Returns:
        A table ordered by source row, then copy, with columns ``user`` (internal user id),
        ``source`` (row of ``train.sequences``), ``copy`` (0 = original, ``1..copies`` =
        augmented), ``items`` (list<int64>, oldest first, no padding) and ``ops`` (labels of
        the ops applied, joined by ``|``; ``""`` for originals and untouched copies).
    """
    import pyarrow as pa

    if copies < 0 or max_len < 1 or chunk_size < 1:
        raise ValueError("expand needs copies >= 0, max_len >= 1 and chunk_size >= 1")
    rng = make_rng(rng)
    seqs = train.sequences
    sources = np.flatnonzero(seqs.lengths > 0)
    per_source = copies + 1
    step = max(1, chunk_size // max(copies, 1))
    parts: list[Sequences] = []
    labels: list[np.ndarray] = []
    for lo in range(0, len(sources), step):
        rows = sources[lo : lo + step]
        n = len(rows)
        originals = seqs.rows(rows)
        padded = np.repeat(seqs.padded(max_len, rows), copies, axis=0)
        aug = augmenter.apply(padded, rng)
        # originals first, then copies (source-major); reorder to source, then copy
        both = Sequences.concat([originals, Sequences.from_padded(aug.items)])
        order = np.empty((n, per_source), dtype=np.int64)
        order[:, 0] = np.arange(n)
        order[:, 1:] = n + np.arange(n * copies).reshape(n, copies)
        parts.append(both.rows(order.ravel()))
        row_labels = np.concatenate([np.full(n, "", dtype=object), aug.row_labels()])
        labels.append(row_labels[order.ravel()])
    out = Sequences.concat(parts)
    ops_col = np.concatenate(labels) if labels else np.empty(0, dtype=object)
    source = np.repeat(sources, per_source)
    copy = np.tile(np.arange(per_source, dtype=np.int64), len(sources))
    items = pa.ListArray.from_arrays(
        pa.array(out.indptr, type=pa.int32()), pa.array(out.items, type=pa.int64())
    )
    return pa.table(
        {
            "user": pa.array(source, type=pa.int64()),
            "source": pa.array(source, type=pa.int64()),
            "copy": pa.array(copy, type=pa.int64()),
            "items": items,
            "ops": pa.array(ops_col.tolist(), type=pa.string()),
        }
    )


def write_expanded(table: pa.Table, path: str | Path, meta: dict[str, Any]) -> Path:
    """Write an expanded table as Parquet, atomically (temp file + rename).

    ``meta`` (recipe config, seed, source dataset, ...) must be JSON-serialisable; it is
    stored in the schema metadata and returned by ``read_expanded``.
    """
    import pyarrow.parquet as pq

    missing = [c for c in EXPANDED_COLUMNS if c not in table.column_names]
    if missing:
        raise ValueError(f"not an expanded table: missing column(s) {missing}")
    path = Path(path)
    payload = json.dumps({"format": _FORMAT, "meta": meta}, sort_keys=True).encode()
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), _META_KEY: payload})
    return write_file_atomic(path, lambda tmp: pq.write_table(table, tmp))


def read_expanded(path: str | Path) -> tuple[Sequences, pa.Table, dict[str, Any]]:
    """Read a file written by ``write_expanded``: the samples as Sequences (row ``i`` is
    table row ``i``), the table, and the metadata."""
    import pyarrow.parquet as pq

    path = Path(path)
    if not path.is_file():
        raise DataError("expanded file not found", file=path)
    table = pq.read_table(path)
    raw = (table.schema.metadata or {}).get(_META_KEY)
    if raw is None:
        raise DataError("not an expanded file (no shopaug metadata)", file=path)
    stored = json.loads(raw)
    if stored.get("format") != _FORMAT:
        raise DataError(f"unsupported expanded-file format; expected {_FORMAT}", file=path)
    return samples(table), table, stored.get("meta", {})


def samples(table: pa.Table) -> Sequences:
    """The ``items`` column of an expanded table as Sequences (row ``i`` is table row
    ``i``)."""
    import pyarrow.compute as pc

    col = table.column("items").combine_chunks()
    lengths = pc.list_value_length(col).fill_null(0).to_numpy(zero_copy_only=False)
    values = pc.list_flatten(col).to_numpy(zero_copy_only=False).astype(np.int64)
    return Sequences(np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)]), values)
