"""The Beauty-layout folder reader: a tiny folder with a known answer, and bad inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from shopaug.data import load, read_folder
from shopaug.exceptions import DataError

SEQUENCES = "1 1 2 3\n2 2 3\n\n10 4\n"
ITEMS = "item_id\tasin\ttext\n1\tA1\tred lipstick\n2\tA2\tblue nail polish\n5\tA5\tnever bought\n"
ATTRS = '{"1": [7, 8], "3": [9]}'


def make(tmp_path: Path) -> Path:
    """A good dataset folder; tests overwrite one file to break it."""
    (tmp_path / "sequences.txt").write_text(SEQUENCES)
    (tmp_path / "items.tsv").write_text(ITEMS)
    (tmp_path / "item_attributes.json").write_text(ATTRS)
    return tmp_path


def error(tmp_path: Path, name: str, body: str | bytes) -> DataError:
    folder = make(tmp_path)
    (folder / name).write_bytes(body.encode() if isinstance(body, str) else body)
    with pytest.raises(DataError) as info:
        read_folder(folder)
    return info.value


def test_reads_tiny_folder(tmp_path: Path) -> None:
    ds = read_folder(make(tmp_path), name="tiny")
    assert (ds.n_users, ds.n_items, ds.n_interactions) == (3, 5, 6)
    assert list(ds.users.external) == ["1", "2", "10"]  # numeric order, not "1", "10", "2"
    assert list(ds.items.external) == ["1", "2", "3", "4", "5"]  # catalogue item 5 included
    seqs = ds.sequences()
    assert list(ds.items.to_external(seqs[0])) == ["1", "2", "3"]
    assert list(ds.items.to_external(seqs[2])) == ["4"]
    assert ds.item_text[ds.items.get("2")] == "blue nail polish"
    assert ds.item_text[ds.items.get("4")] == ""
    assert list(ds.item_attrs[ds.items.get("1")]) == [7, 8]
    assert len(ds.item_attrs[ds.items.get("2")]) == 0
    assert not ds.has_time


def test_missing_sequences_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"sequences\.txt"):
        read_folder(tmp_path)


def test_bad_token_names_line_and_column(tmp_path: Path) -> None:
    e = error(tmp_path, "sequences.txt", "1 1 2\n2 3 x4\n")
    assert (e.line, e.column) == (2, "item_id (token 3)")
    assert e.file.endswith("sequences.txt")
    assert "sequences.txt, line 2, column 'item_id (token 3)'" in str(e)
    assert "'x4'" in str(e)


def test_empty_sequences_file(tmp_path: Path) -> None:
    e = error(tmp_path, "sequences.txt", "\n\n")
    assert e.file.endswith("sequences.txt")
    assert "empty file" in str(e)


def test_user_without_items(tmp_path: Path) -> None:
    e = error(tmp_path, "sequences.txt", "1 1\n2\n")
    assert e.line == 2
    assert "at least one item" in str(e)


def test_duplicate_user_line(tmp_path: Path) -> None:
    e = error(tmp_path, "sequences.txt", "1 1 2\n2 3\n1 4\n")
    assert (e.line, e.column) == (3, "user_id")
    assert "first on line 1" in str(e)
    assert "sequences.txt, line 3, column 'user_id'" in str(e)


def test_items_tsv_missing_column(tmp_path: Path) -> None:
    e = error(tmp_path, "items.tsv", "item_id\ttitle\n1\tx\n")
    assert e.file.endswith("items.tsv")
    assert e.line == 1
    assert "missing column 'text'" in str(e)
    assert "['item_id', 'title']" in str(e)


def test_items_tsv_duplicate_header(tmp_path: Path) -> None:
    e = error(tmp_path, "items.tsv", "item_id\ttext\ttext\n1\ta\tb\n")
    assert e.file.endswith("items.tsv")
    assert e.line == 1
    assert "duplicate header column(s) ['text']" in str(e)


def test_items_tsv_too_many_fields(tmp_path: Path) -> None:
    e = error(tmp_path, "items.tsv", "item_id\ttext\n1\ta\n2\tb\tc\n")
    assert e.line == 3
    assert "expected 2 tab-separated fields, got 3" in str(e)


def test_items_tsv_empty_id(tmp_path: Path) -> None:
    e = error(tmp_path, "items.tsv", "item_id\ttext\n1\ta\n \tb\n")
    assert (e.line, e.column) == (3, "item_id")


def test_bad_utf8_names_line(tmp_path: Path) -> None:
    e = error(tmp_path, "items.tsv", b"item_id\ttext\n1\tok\n2\tcaf\xe9\n")
    assert e.file.endswith("items.tsv")
    assert e.line == 3
    assert "not valid UTF-8" in str(e)
    assert "items.tsv, line 3" in str(e)


def test_invalid_json_attributes(tmp_path: Path) -> None:
    e = error(tmp_path, "item_attributes.json", '{"1": [1, 2],\n "2": [3,, 4]}')
    assert e.file.endswith("item_attributes.json")
    assert e.line == 2
    assert "invalid JSON" in str(e)


def test_json_attributes_not_integer_lists(tmp_path: Path) -> None:
    e = error(tmp_path, "item_attributes.json", '{"1": [1, "a"]}')
    assert e.column == "1"
    assert "integer attribute ids" in str(e)


def test_bundled_amazon_beauty() -> None:
    ds = load("bundled:amazon-beauty")
    assert (ds.n_users, ds.n_items, ds.n_interactions) == (22_363, 12_101, 198_502)
    assert ds.source == "bundled:amazon-beauty"
    assert ds.item_text is not None and ds.item_attrs is not None
    assert np.all(ds.sequences().lengths >= 5)


def test_unknown_bundled_name_is_a_data_error() -> None:
    with pytest.raises(DataError, match=r"unknown bundled dataset 'beauty'.*amazon-beauty"):
        load("bundled:beauty")
