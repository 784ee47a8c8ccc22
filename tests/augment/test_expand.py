"""Offline expansion: originals kept, copies augmented, provenance and Parquet round trip."""

import numpy as np
import pytest

from shopaug.augment import (
    EXPANDED_COLUMNS,
    Crop,
    Identity,
    Mask,
    OneOf,
    expand,
    read_expanded,
    write_expanded,
)
from shopaug.data import Sequences, TrainSet
from shopaug.exceptions import DataError

ROWS = [[1, 2, 3, 4, 5, 6], [], [2, 3], [7, 8, 9, 1, 2, 3, 4, 5, 6, 7], [4]]
TRAIN = TrainSet(Sequences.from_lists(ROWS), 10)


def test_rows_columns_and_originals():
    aug = OneOf([Crop(), Mask(ratio=0.5)], p=0.7).fit(TRAIN)
    table = expand(TRAIN, aug, 0, copies=2, max_len=8, chunk_size=3)
    assert tuple(table.column_names) == EXPANDED_COLUMNS
    assert table.num_rows == 4 * 3  # four non-empty rows, original + 2 copies
    d = table.to_pydict()
    assert d["source"] == [0, 0, 0, 2, 2, 2, 3, 3, 3, 4, 4, 4] and d["user"] == d["source"]
    assert d["copy"] == [0, 1, 2] * 4
    for src, copy, items, ops in zip(d["source"], d["copy"], d["items"], d["ops"], strict=True):
        if copy == 0:
            assert items == ROWS[src] and ops == ""  # originals whole, even beyond max_len
        else:
            assert 1 <= len(items) <= min(8, len(ROWS[src]))
            assert ops in ("", "crop(ratio=0.6)", "mask(ratio=0.5)")
            if ops == "":
                assert items == ROWS[src][-8:]
            if ops.startswith("mask"):
                assert 11 in items or len(ROWS[src]) == 1  # the token, n_items + 1


def test_deterministic_and_chunk_sizes_agree_on_originals():
    aug = Crop(ratio=0.5)
    a = expand(TRAIN, aug, 7, copies=3, chunk_size=2)
    b = expand(TRAIN, aug, 7, copies=3, chunk_size=2)
    assert a.equals(b)
    c = expand(TRAIN, Identity(), 7, copies=1, chunk_size=1)
    assert c.column("items").to_pylist() == [r for r in ROWS if r for _ in range(2)]


def test_zero_copies_and_empty_train():
    t = expand(TRAIN, Crop(), 0, copies=0)
    assert t.column("copy").to_pylist() == [0, 0, 0, 0]
    empty = TrainSet(Sequences.from_lists([[], []]), 3)
    assert expand(empty, Crop(), 0, copies=2).num_rows == 0


def test_write_and_read_back(tmp_path):
    aug = Mask(ratio=0.5).fit(TRAIN)
    table = expand(TRAIN, aug, 1, copies=1)
    meta = {"recipe": {"augment": aug.to_config()}, "seed": 1, "source": "test"}
    path = write_expanded(table, tmp_path / "out" / "expanded.parquet", meta)
    seqs, back, meta_back = read_expanded(path)
    assert meta_back == meta
    assert back.equals(table.replace_schema_metadata(back.schema.metadata))
    assert [s.tolist() for s in seqs] == table.column("items").to_pylist()
    assert seqs.items.dtype == np.int64
    assert [p.name for p in path.parent.iterdir()] == ["expanded.parquet"]


def test_read_errors(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    with pytest.raises(DataError, match="not found"):
        read_expanded(tmp_path / "none.parquet")
    pq.write_table(pa.table({"x": [1]}), tmp_path / "plain.parquet")
    with pytest.raises(DataError, match="not an expanded file"):
        read_expanded(tmp_path / "plain.parquet")
    with pytest.raises(ValueError, match="missing column"):
        write_expanded(pa.table({"x": [1]}), tmp_path / "x.parquet", {})
