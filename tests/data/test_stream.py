"""The out-of-core log reader: the same Dataset as read_log, the same errors, and load()'s
choice between them."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import shopaug.data as data
from shopaug.columns import EVENT_TYPES
from shopaug.data import Dataset, generate_log, load, read_log, read_log_stream
from shopaug.data._stream import log_parts
from shopaug.exceptions import DataError
from shopaug.experiment import fingerprint

# Out of order, a duplicate row, a blank line, ISO and integer times, mixed-case events.
LOG = """user_id,item_id,timestamp,event,price
u2,b,2020-01-02,purchase,1.5
u1,a,100,view,2
u1,b,2020-01-02T03:04:05,Click,3

u2,a,2020-01-02T03:04:05+02:00,cart,4
u1,a,100,view,2
u1,c,100,view,2
u3,c,50,cart,1
"""
TINY = {"batch_rows": 2, "bucket_rows": 2}  # many batches and many buckets


def write(tmp_path: Path, name: str, body: str | bytes) -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(body.encode() if isinstance(body, str) else body)
    return path


def assert_same(a: Dataset, b: Dataset) -> None:
    assert a.users == b.users
    assert a.items == b.items
    for field in ("user", "item", "time"):
        x, y = getattr(a, field), getattr(b, field)
        assert x.dtype == y.dtype and np.array_equal(x, y), field
    assert (a.event is None) == (b.event is None)
    if a.event is not None:
        assert a.event.dtype == b.event.dtype and np.array_equal(a.event, b.event)
    if a.item_text is not None or b.item_text is not None:
        assert a.item_text.tolist() == b.item_text.tolist()
    assert (a.name, a.source, a.has_time) == (b.name, b.source, b.has_time)
    assert fingerprint(a) == fingerprint(b)


def random_log(n: int, seed: int, *, numeric: bool = False) -> pa.Table:
    """Rows in random order with time ties and exact duplicates."""
    rng = np.random.default_rng(seed)
    user = rng.integers(0, n // 8, n)
    item = rng.integers(0, n // 4, n)
    time = rng.integers(0, 30, n)  # few distinct times: many ties within a user
    dup = rng.random(n) < 0.1
    src = rng.integers(0, n, n)
    user[dup], item[dup], time[dup] = user[src[dup]], item[src[dup]], time[src[dup]]
    event = np.array(EVENT_TYPES)[rng.integers(0, 2, n)]  # 2 kinds: duplicates happen
    if numeric:
        return pa.table({"user_id": user, "item_id": item, "timestamp": time})
    return pa.table({
        "user_id": [f"user-{u}" for u in user],
        "item_id": [f"{'é' if i % 7 == 0 else ''}i{i}" for i in item],  # non-ASCII ids sort too
        "timestamp": time,
        "event": event,
    })


def test_csv_file_same_as_read_log(tmp_path: Path) -> None:
    path = write(tmp_path, "shop.csv", LOG)
    expected = read_log(path)
    assert expected.n_interactions == 6  # the duplicate is gone
    assert_same(read_log_stream(path), expected)
    assert_same(read_log_stream(path, **TINY), expected)
    assert_same(read_log_stream(path, dedupe=False, **TINY), read_log(path, dedupe=False))


def test_tsv_and_bom(tmp_path: Path) -> None:
    path = write(tmp_path, "t.tsv", "\ufeffitem_id\t user_id \ttimestamp\n a \tü\t 5\nb\tü\t7\n")
    assert_same(read_log_stream(path, batch_rows=1), read_log(path))


@pytest.mark.parametrize("numeric", [False, True])
def test_partitioned_folder_same_as_read_log(tmp_path: Path, numeric: bool) -> None:
    table = random_log(3000, seed=1, numeric=numeric)
    single = tmp_path / "single.parquet"
    pq.write_table(table, single)
    # Hive-style parts, given out of lexical order: day=10 must come after day=2.
    folder = tmp_path / "log"
    bounds = [0, 700, 1500, 2200, 3000]
    for day, (lo, hi) in zip([1, 2, 10, 11], pairwise(bounds), strict=True):
        path = folder / f"day={day}" / "part-0.parquet"
        path.parent.mkdir(parents=True)
        pq.write_table(table.slice(lo, hi - lo), path, row_group_size=128)
    write(folder, "_SUCCESS", "")
    write(folder, ".hidden/part-9.parquet", "not parquet")
    assert [p.parent.name for p in log_parts(folder)] == ["day=1", "day=2", "day=10", "day=11"]

    expected = read_log(single)
    for options in ({}, {"batch_rows": 97, "bucket_rows": 50}, {"dedupe": False}):
        got = read_log_stream(folder, name="single", **options)
        ref = expected if options.get("dedupe", True) else read_log(single, dedupe=False)
        object.__setattr__(got, "source", ref.source)  # the only intended difference
        assert_same(got, ref)
    assert read_log_stream(folder).name == "log"


def test_many_buckets_on_generated_log(tmp_path: Path) -> None:
    gen = generate_log(tmp_path / "gen", 30_000, seed=3, files=5, events=True)
    single = tmp_path / "single.parquet"
    pq.write_table(pa.concat_tables([pq.read_table(p) for p in log_parts(gen.path)]), single)
    got = read_log_stream(gen.path, batch_rows=1000, bucket_rows=500)  # 60 buckets
    ref = read_log(single)
    object.__setattr__(got, "source", ref.source)
    object.__setattr__(got, "name", ref.name)
    assert_same(got, ref)
    assert got.n_interactions == 30_000


def test_catalog_and_kcore_same_as_read_log(tmp_path: Path) -> None:
    log = write(tmp_path, "log.csv", "user_id,item_id,timestamp\nu1,a,1\nu1,b,2\nu2,a,1\n"
                                     "u2,b,2\nu3,a,1\n")
    cat = write(tmp_path, "items.csv", "item_id,title\nz,zed\na,alpha\n")
    assert_same(read_log_stream(log, catalog=cat, **TINY), read_log(log, catalog=cat))
    assert_same(read_log_stream(log, catalog=cat, kcore=2), read_log(log, catalog=cat, kcore=2))
    with pytest.raises(DataError, match="no interactions left after 5-core"):
        read_log_stream(log, kcore=5)


def test_keep_last_keeps_newest_per_user(tmp_path: Path) -> None:
    single = tmp_path / "log.parquet"
    pq.write_table(random_log(2000, seed=2), single)
    full = read_log(single)
    got = read_log_stream(single, keep_last=3, **TINY)
    # expected: the last 3 rows of each user in the fully read, sorted, de-duplicated data
    rank_from_end = np.empty(full.n_interactions, dtype=np.int64)
    _, starts, counts = np.unique(full.user, return_index=True, return_counts=True)
    ends = np.repeat(starts + counts, counts)
    rank_from_end[:] = ends - np.arange(full.n_interactions)
    keep = rank_from_end <= 3
    assert got.users == full.users and got.items == full.items  # vocabularies keep every id
    assert np.array_equal(got.user, full.user[keep])
    assert np.array_equal(got.item, full.item[keep])
    assert np.array_equal(got.time, full.time[keep])
    assert np.array_equal(got.event, full.event[keep])
    assert got.sequences().lengths.max() == 3
    with pytest.raises(ValueError, match="keep_last"):
        read_log_stream(single, keep_last=0)


HEADER = "user_id,item_id,timestamp,event\n"


@pytest.mark.parametrize(
    "body",
    [
        "user_id,item_id\nu,a\n",
        "user_id,item_id,item_id,timestamp\nu,a,b,1\n",
        HEADER + "u,a,1,view\n\nu,b,2\n",
        HEADER + "u,a,1,view\nu,b,2,view\n,b,2,view\n",
        HEADER + "u,a,1,view\nu,b,2,view\nu,b,12.5,view\n",
        HEADER + "u,a,1,view\nu,b,2,view\n\nu,b,-5,view\n",
        HEADER + "u,a,1,view\nu,b,2,view\nu,b,3,like\n",
        HEADER + "u,a,1,view\nu,b,1,buy\n,c,1,view\n",  # the earliest bad row wins
        'user_id,item_id,timestamp\r\nu,"two\r\nlines",1\r\n\r\nu,c,1\r\nu,d,x\r\n',
        'user_id,item_id,timestamp\nu,a,1\nu,"b,2\nu,c,3\n',
        b"user_id,item_id,timestamp\nu,a,1\nu,b,2\nu,caf\xe9,2\n",
        "\n\n",
        "user_id,item_id,timestamp\n",
    ],
)
def test_csv_errors_match_read_log(tmp_path: Path, body: str | bytes) -> None:
    path = write(tmp_path, "bad.csv", body)
    with pytest.raises(DataError) as ref:
        read_log(path)
    with pytest.raises(DataError) as got:
        read_log_stream(path, batch_rows=1)  # the bad row is never in the first batch
    assert str(got.value) == str(ref.value)
    assert (got.value.line, got.value.column) == (ref.value.line, ref.value.column)


def test_parquet_part_errors_name_file_and_row(tmp_path: Path) -> None:
    folder = tmp_path / "log"
    folder.mkdir()
    good = {"user_id": ["u"] * 5, "item_id": list("abcde"), "timestamp": [1, 2, 3, 4, 5]}
    pq.write_table(pa.table(good), folder / "part-0.parquet")
    bad = dict(good, timestamp=["1", "2", "3", "4", "soon"])
    pq.write_table(pa.table(bad), folder / "part-1.parquet")
    with pytest.raises(DataError) as info:
        read_log_stream(folder, batch_rows=2)
    e = info.value
    assert e.file.endswith("part-1.parquet") and e.column == "timestamp"
    assert "row 5: cannot read timestamp 'soon'" in str(e)  # row within that file

    pq.write_table(pa.table({"user_id": ["u"], "item_id": ["a"]}), folder / "part-1.parquet")
    with pytest.raises(DataError) as info:
        read_log_stream(folder)
    assert info.value.file.endswith("part-1.parquet") and info.value.column == "timestamp"
    assert "missing column 'timestamp'; header is ['user_id', 'item_id']" in str(info.value)

    pq.write_table(pa.table(dict(good, event=["view"] * 5)), folder / "part-1.parquet")
    with pytest.raises(DataError, match="'event' is present here but missing in part-0"):
        read_log_stream(folder)

    write(folder, "part-1.parquet", "user_id,item_id,timestamp\n")
    with pytest.raises(DataError, match="not a readable Parquet file") as info:
        read_log_stream(folder)
    assert info.value.file.endswith("part-1.parquet")


def test_empty_inputs(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no Parquet files in the folder") as info:
        read_log_stream(tmp_path / "empty")
    assert info.value.file.endswith("empty")
    folder = tmp_path / "rowless"
    folder.mkdir()
    schema = pa.schema([("user_id", pa.string()), ("item_id", pa.string()),
                        ("timestamp", pa.int64())])
    pq.write_table(schema.empty_table(), folder / "part-0.parquet")
    with pytest.raises(DataError, match="no rows in any file"):
        read_log_stream(folder)
    with pytest.raises(DataError, match=r"unsupported file type '\.json'"):
        read_log_stream(write(tmp_path, "log.json", "{}"))


def spy(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    import shopaug.data._stream as stream

    calls: list[Path] = []
    real = stream.read_log_stream

    def wrapped(path, **options):
        calls.append(Path(path))
        return real(path, **options)

    monkeypatch.setattr(stream, "read_log_stream", wrapped)
    return calls


def test_load_streams_above_threshold(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = spy(monkeypatch)
    path = write(tmp_path, "shop.csv", LOG)
    ref = load(path, keep_last=None)
    assert calls == []  # small file: in memory
    monkeypatch.setattr(data, "STREAM_THRESHOLD_BYTES", path.stat().st_size - 1)
    assert_same(load(path), ref)
    assert calls == [path]
    monkeypatch.setenv("SHOPAUG_STREAM_THRESHOLD_MB", "1")  # the environment wins
    load(path)
    assert len(calls) == 1
    assert load(path, stream=True).n_interactions == ref.n_interactions
    assert load(path, keep_last=1).n_interactions == 3  # a streaming option streams
    assert len(calls) == 3
    monkeypatch.setenv("SHOPAUG_STREAM_THRESHOLD_MB", "lots")
    with pytest.raises(DataError, match="SHOPAUG_STREAM_THRESHOLD_MB"):
        load(path)


def test_load_streams_parquet_folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = spy(monkeypatch)
    folder = tmp_path / "log"
    folder.mkdir()
    pq.write_table(random_log(100, seed=0), folder / "part-0.parquet")
    assert load(folder, dedupe=False).n_interactions == 100
    assert calls == [folder]
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=r"neither 'sequences\.txt'.* nor Parquet") as info:
        load(tmp_path / "empty")
    assert info.value.file.endswith("empty")
    write(folder, "sequences.txt", "1 1 2\n")  # a Beauty-layout folder wins
    assert load(folder).n_interactions == 2
    assert len(calls) == 1
