"""The interaction-log reader: CSV/TSV/Parquet, catalogues, cleaning, and bad inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from shopaug.columns import EVENT_TYPES
from shopaug.data import load, read_log
from shopaug.exceptions import DataError

LOG = """user_id,item_id,timestamp,event,price
u2,b,2020-01-02,purchase,1.5
u1,a,100,view,2
u1,b,2020-01-02T03:04:05,Click,3

u2,a,2020-01-02T03:04:05+02:00,cart,4
"""


def write(tmp_path: Path, name: str, body: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(body.encode() if isinstance(body, str) else body)
    return path


def fails(path: Path, **options) -> DataError:
    with pytest.raises(DataError) as info:
        read_log(path, **options)
    return info.value


def rows(ds) -> list[tuple[str, str, int]]:
    users = ds.users.to_external(ds.user).tolist()
    items = ds.items.to_external(ds.item).tolist()
    return list(zip(users, items, ds.time.tolist(), strict=True))


def test_reads_csv_with_iso_times_and_events(tmp_path: Path) -> None:
    ds = read_log(write(tmp_path, "shop.csv", LOG))
    assert ds.name == "shop"
    assert ds.has_time
    assert list(ds.users.external) == ["u1", "u2"]
    assert list(ds.items.external) == ["a", "b"]
    assert rows(ds) == [
        ("u1", "a", 100),
        ("u1", "b", 1_577_934_245),  # naive datetimes are UTC
        ("u2", "b", 1_577_923_200),  # a date is its midnight
        ("u2", "a", 1_577_927_045),  # 03:04:05+02:00 is 01:04:05 UTC
    ]
    assert [EVENT_TYPES[e] for e in ds.event] == ["view", "click", "purchase", "cart"]
    assert ds.item_text is None


def test_fractional_seconds_and_z_suffix(tmp_path: Path) -> None:
    body = "user_id,item_id,timestamp\nu,a,2020-01-02T03:04:05.9\nu,b,2020-01-02T03:04:05Z\n"
    ds = read_log(write(tmp_path, "t.csv", body))
    assert ds.time.tolist() == [1_577_934_245, 1_577_934_245]


def test_integer_ids_sort_numerically(tmp_path: Path) -> None:
    body = "user_id,item_id,timestamp\n10,30,1\n9,4,2\n100,30,3\n"
    ds = read_log(write(tmp_path, "n.csv", body))
    assert list(ds.users.external) == ["9", "10", "100"]
    assert list(ds.items.external) == ["4", "30"]
    assert ds.item.min() == 1 and ds.user.min() == 0


def test_tsv_and_surrounding_spaces(tmp_path: Path) -> None:
    body = "item_id\t user_id \ttimestamp\n a \tu1\t 5\nb\tu1\t7\n"
    ds = read_log(write(tmp_path, "t.tsv", body))
    assert rows(ds) == [("u1", "a", 5), ("u1", "b", 7)]
    assert ds.event is None


def test_dedupe_option(tmp_path: Path) -> None:
    body = "user_id,item_id,timestamp\nu,a,1\nu,a,1\nu,b,1\n"
    path = write(tmp_path, "d.csv", body)
    assert read_log(path).n_interactions == 2
    assert read_log(path, dedupe=False).n_interactions == 3


def test_kcore_option(tmp_path: Path) -> None:
    body = "user_id,item_id,timestamp\nu1,a,1\nu1,b,2\nu2,a,1\nu2,b,2\nu3,a,1\n"
    ds = read_log(write(tmp_path, "k.csv", body), kcore=2)
    assert list(ds.users.external) == ["u1", "u2"]
    e = fails(write(tmp_path, "k.csv", body), kcore=5)
    assert "no interactions left after 5-core" in str(e)


def test_catalog_adds_items_without_interactions(tmp_path: Path) -> None:
    log = write(tmp_path, "log.csv", "user_id,item_id,timestamp\nu,a,1\nu,b,2\n")
    cat = write(
        tmp_path, "items.csv", 'item_id,title,text,brand\nc,T,"never, bought",x\na,T,alpha,y\n'
    )
    ds = read_log(log, catalog=cat)
    assert list(ds.items.external) == ["a", "b", "c"]
    assert ds.item_text.tolist() == ["", "alpha", "", "never, bought"]  # text beats title
    assert ds.item_counts().tolist() == [0, 1, 1, 0]


def test_catalog_title_and_parquet(tmp_path: Path) -> None:
    log = write(tmp_path, "log.csv", "user_id,item_id,timestamp\nu,1,1\n")
    cat = tmp_path / "items.parquet"
    pq.write_table(pa.table({"item_id": [2, 1], "title": ["two", None]}), cat)
    ds = read_log(log, catalog=cat)
    assert ds.item_text.tolist() == ["", "", "two"]


def test_catalog_duplicate_item_names_both_lines(tmp_path: Path) -> None:
    log = write(tmp_path, "log.csv", "user_id,item_id,timestamp\nu,a,1\n")
    cat = write(tmp_path, "items.tsv", "item_id\ttext\na\tx\nb\ty\n\na\tz\n")
    e = fails(log, catalog=cat)
    assert e.file.endswith("items.tsv")
    assert (e.line, e.column) == (5, "item_id")
    assert "duplicate item id 'a' (first on line 2)" in str(e)


def test_catalog_needs_text_or_title(tmp_path: Path) -> None:
    log = write(tmp_path, "log.csv", "user_id,item_id,timestamp\nu,a,1\n")
    e = fails(log, catalog=write(tmp_path, "items.csv", "item_id,brand\na,x\n"))
    assert e.file.endswith("items.csv")
    assert (e.line, e.column) == (1, "text")
    assert "'text' or 'title'" in str(e)


def test_parquet_round_trip(tmp_path: Path) -> None:
    csv_ds = read_log(write(tmp_path, "shop.csv", LOG))
    path = tmp_path / "shop.parquet"
    times = [int(t) for t in csv_ds.time]
    table = pa.table(
        {
            "user_id": csv_ds.users.to_external(csv_ds.user).tolist(),
            "item_id": csv_ds.items.to_external(csv_ds.item).tolist(),
            "timestamp": pa.array([t * 1000 for t in times], pa.timestamp("ms", tz="UTC")),
            "event": pa.array([EVENT_TYPES[e] for e in csv_ds.event]).dictionary_encode(),
        }
    )
    pq.write_table(table, path)
    ds = read_log(path)
    assert rows(ds) == rows(csv_ds)
    assert ds.event.tolist() == csv_ds.event.tolist()
    assert load(path).n_interactions == 4


def test_parquet_integer_ids_and_times(tmp_path: Path) -> None:
    path = tmp_path / "log.pq"
    pq.write_table(pa.table({"user_id": [7, 7], "item_id": [3, 12], "timestamp": [5, 1]}), path)
    ds = read_log(path)
    assert rows(ds) == [("7", "12", 1), ("7", "3", 5)]
    assert list(ds.items.external) == ["3", "12"]


def test_load_passes_options(tmp_path: Path) -> None:
    path = write(tmp_path, "d.csv", "user_id,item_id,timestamp\nu,a,1\nu,a,1\n")
    assert load(path, dedupe=False, name="x").name == "x"
    assert load(path, dedupe=False).n_interactions == 2


HEADER = "user_id,item_id,timestamp,event\n"


@pytest.mark.parametrize(
    ("body", "line", "column", "fragment"),
    [
        ("user_id,item_id\nu,a\n", 1, "timestamp", "missing column 'timestamp'; header is"),
        ("user_id,item_id,item_id,timestamp\n", 1, "item_id", "duplicate header column"),
        (
            "user_id,item_id,timestamp\nu\n",
            2,
            None,
            "3 comma-separated fields (as in the header), got 1",
        ),
        (HEADER + "u,a,1,view\n\nu,b,2\n", 4, None, "expected 4 comma-separated fields"),
        (HEADER + "u,a,1,view\nu,b,2,view,x\n", 3, None, "got 5"),
        (HEADER + "u,a,1,view\n,b,2,view\n", 3, "user_id", "empty id"),
        (HEADER + "u,a,1,view\nu,  ,2,view\n", 3, "item_id", "empty id"),
        (HEADER + "u,a,1,view\nu,b,12.5,view\n", 3, "timestamp", "cannot read timestamp '12.5'"),
        (HEADER + "u,a,1,view\nu,b,,view\n", 3, "timestamp", "cannot read timestamp ''"),
        (HEADER + "u,a,2020-01-01,view\nu,b,2020-02-30,view\n", 3, "timestamp", "ISO-8601"),
        (HEADER + "u,a,1,view\nu,b,-5,view\n", 3, "timestamp", "negative timestamp"),
        (HEADER + "u,a,1969-12-31,view\n", 2, "timestamp", "before 1970"),
        (HEADER + "u,a,12345678901234567890,view\n", 2, "timestamp", "out of range"),
        (
            HEADER + "u,a,1,view\nu,b,2,like\n",
            3,
            "event",
            "unknown event 'like'; expected one of view, click, cart, purchase",
        ),
        # The earliest bad row wins, whatever column it is in.
        (HEADER + "u,a,1,view\nu,b,1,buy\n,c,1,view\n", 3, "event", "unknown event"),
    ],
)
def test_malformed_csv(
    tmp_path: Path, body: str, line: int, column: str | None, fragment: str
) -> None:
    e = fails(write(tmp_path, "bad.csv", body))
    assert e.file.endswith("bad.csv")
    assert (e.line, e.column) == (line, column)
    assert fragment in str(e)
    where = f"bad.csv, line {line}" + (f", column '{column}'" if column else "")
    assert where in str(e)


def test_missing_column_lists_header(tmp_path: Path) -> None:
    e = fails(write(tmp_path, "bad.csv", "user,item_id,timestamp\nu,a,1\n"))
    assert "missing column 'user_id'; header is ['user', 'item_id', 'timestamp']" in str(e)


def test_empty_file(tmp_path: Path) -> None:
    e = fails(write(tmp_path, "bad.csv", "\n\n"))
    assert e.file.endswith("bad.csv")
    assert "empty file" in str(e)


def test_header_only(tmp_path: Path) -> None:
    e = fails(write(tmp_path, "bad.csv", "user_id,item_id,timestamp\n"))
    assert e.line == 2
    assert "no rows" in str(e)


def test_bad_encoding_names_line(tmp_path: Path) -> None:
    e = fails(write(tmp_path, "bad.csv", b"user_id,item_id,timestamp\nu,a,1\nu,caf\xe9,2\n"))
    assert e.line == 3
    assert "bad.csv, line 3" in str(e)
    assert "not valid UTF-8" in str(e)


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    ds = read_log(write(tmp_path, "bom.csv", "\ufeffuser_id,item_id,timestamp\nü,a,1\n"))
    assert list(ds.users.external) == ["ü"]


def test_unsupported_suffix(tmp_path: Path) -> None:
    e = fails(write(tmp_path, "log.json", "{}"))
    assert ".csv, .tsv, .parquet, .pq" in str(e)


def parquet(tmp_path: Path, columns: dict) -> Path:
    path = tmp_path / "bad.parquet"
    pq.write_table(pa.table(columns), path)
    return path


def test_parquet_missing_column(tmp_path: Path) -> None:
    e = fails(parquet(tmp_path, {"user_id": ["u"], "item_id": ["a"]}))
    assert e.file.endswith("bad.parquet")
    assert e.column == "timestamp"
    assert "missing column 'timestamp'; header is ['user_id', 'item_id']" in str(e)


def test_parquet_null_names_row(tmp_path: Path) -> None:
    e = fails(
        parquet(tmp_path, {"user_id": ["u", "u"], "item_id": ["a", None], "timestamp": [1, 2]})
    )
    assert e.column == "item_id"
    assert "bad.parquet, column 'item_id': row 2: missing value (null)" in str(e)


def test_parquet_null_timestamp(tmp_path: Path) -> None:
    e = fails(
        parquet(tmp_path, {"user_id": ["u", "u"], "item_id": ["a", "b"], "timestamp": [None, 2]})
    )
    assert e.column == "timestamp"
    assert "row 1: missing value" in str(e)


@pytest.mark.parametrize(
    ("column", "values", "fragment"),
    [
        ("item_id", [1.5, 2.5], "wrong type double: expected strings or integers"),
        ("timestamp", [1.5, 2.5], "wrong type double: expected integers (unix seconds)"),
        ("event", [1, 2], "wrong type int64: expected strings"),
    ],
)
def test_parquet_wrong_types(tmp_path: Path, column: str, values: list, fragment: str) -> None:
    columns = {"user_id": ["u", "u"], "item_id": ["a", "b"], "timestamp": [1, 2]}
    columns[column] = values
    e = fails(parquet(tmp_path, columns))
    assert e.file.endswith("bad.parquet")
    assert e.column == column
    assert fragment in str(e)


def test_not_a_parquet_file(tmp_path: Path) -> None:
    e = fails(write(tmp_path, "log.parquet", "user_id,item_id,timestamp\n"))
    assert "not a readable Parquet file" in str(e)


def test_large_generated_csv(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    n = 200_000
    user = rng.integers(0, 20_000, n)
    item = rng.integers(0, 5_000, n)
    time = rng.integers(1_500_000_000, 1_600_000_000, n)
    event = np.array(EVENT_TYPES)[rng.integers(0, len(EVENT_TYPES), n)]
    lines = [f"{u},{i},{t},{e}\n" for u, i, t, e in zip(user, item, time, event, strict=True)]
    path = write(tmp_path, "big.csv", "user_id,item_id,timestamp,event\n" + "".join(lines))
    ds = read_log(path, dedupe=False)
    assert ds.n_interactions == n
    assert ds.n_users == len(np.unique(user))
    assert np.bincount(ds.event, minlength=4).sum() == n
    # Spot-check one row survives the mapping.
    u = ds.users.get(str(user[0]))
    mine = ds.item[ds.user == u][ds.time[ds.user == u] == time[0]]
    assert ds.items.get(str(item[0])) in mine


def test_lines_count_quoted_newlines_and_crlf(tmp_path: Path) -> None:
    body = 'user_id,item_id,timestamp\r\nu,"two\r\nlines",1\r\n\r\nu,c,x\r\n'
    e = fails(write(tmp_path, "bad.csv", body))
    assert (e.line, e.column) == (5, "timestamp")


def test_unclosed_quote_names_line(tmp_path: Path) -> None:
    e = fails(write(tmp_path, "bad.csv", 'user_id,item_id,timestamp\nu,a,1\nu,"b,2\nu,c,3\n'))
    assert e.line == 3
    assert "fields" in str(e)


def test_missing_catalog_file(tmp_path: Path) -> None:
    log = write(tmp_path, "log.csv", "user_id,item_id,timestamp\nu,a,1\n")
    e = fails(log, catalog=tmp_path / "nope.csv")
    assert e.file.endswith("nope.csv")
    assert "no such file" in str(e)
