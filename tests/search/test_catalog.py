"""Catalogue and judgment readers: CSV/TSV/Parquet round trips, splits, and bad inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from shopaug.data._bundled import bundled_path
from shopaug.exceptions import DataError
from shopaug.search._catalog import Catalog, Judgments, read_catalog, read_judgments

HOMEDEPOT = bundled_path("homedepot-search")  # the copy shipped in the package


def write(tmp_path: Path, name: str, body: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(body.encode() if isinstance(body, str) else body)
    return path


def fails(read, path: Path, *parts: str) -> DataError:
    """The DataError ``read(path)`` raises; its message must name the file and ``parts``."""
    with pytest.raises(DataError) as info:
        read(path)
    message = str(info.value)
    assert path.name in message
    for part in parts:
        assert part in message, (part, message)
    return info.value


# --- catalogues ------------------------------------------------------------------------


def test_csv_round_trip_with_quotes_and_optional_columns(tmp_path: Path) -> None:
    body = (
        "product_id,title,price,brand,category,description\n"
        '007,"  Pipe, 1/2 in. ""copper"" ",3,Acme,Plumbing,"Solid copper pipe,\nten feet"\n'
        "10,Acme Hose,4,acme,,A garden hose\n"
    )
    cat = read_catalog(write(tmp_path, "c.csv", body))
    assert cat.ids.tolist() == ["007", "10"]  # strings, leading zero kept
    assert cat.ids.dtype == object
    assert cat.titles == ['Pipe, 1/2 in. "copper"', "Acme Hose"]
    assert cat.descriptions == ["Solid copper pipe,\nten feet", "A garden hose"]
    assert cat.brands == ["Acme", "acme"]
    assert cat.categories == ["Plumbing", ""]
    assert cat.source.endswith("c.csv") and len(cat) == 2
    # brand skipped when already in the title (case ignored), empty category left out
    assert cat.texts(description_words=2) == [
        'Pipe, 1/2 in. "copper" | Acme | Plumbing | Solid copper',
        "Acme Hose | A garden",
    ]
    assert cat.texts(description_words=0)[1] == "Acme Hose"


def test_tsv_keeps_quotes_and_txt_is_tsv(tmp_path: Path) -> None:
    body = 'product_id\ttitle\n0042\t 3/4 in. " Elbow \n43\tValve "A\n'
    for name in ("p.tsv", "p.txt"):
        cat = read_catalog(write(tmp_path, name, body))
        assert cat.ids.tolist() == ["0042", "43"]
        assert cat.titles == ['3/4 in. " Elbow', 'Valve "A']
        assert cat.descriptions is None and cat.brands is None and cat.categories is None
        assert cat.texts() == cat.titles


def test_aliases_item_id_and_text(tmp_path: Path) -> None:
    cat = read_catalog(write(tmp_path, "a.csv", "text,item_id\nHammer,h1\n"))
    assert cat.ids.tolist() == ["h1"] and cat.titles == ["Hammer"]


def test_parquet_round_trip_with_integer_ids(tmp_path: Path) -> None:
    path = tmp_path / "c.parquet"
    table = pa.table(
        {"product_id": pa.array([7, 12]), "title": ["Saw", " Drill "], "description": [None, "x"]}
    )
    pq.write_table(table, path)
    cat = read_catalog(path)
    assert cat.ids.tolist() == ["7", "12"]
    assert cat.titles == ["Saw", "Drill"]
    assert cat.descriptions == ["", "x"]
    path = tmp_path / "s.pq"
    pq.write_table(pa.table({"product_id": ["007"], "title": ["Saw"]}), path)
    assert read_catalog(path).ids.tolist() == ["007"]


def test_empty_title_allowed_with_description(tmp_path: Path) -> None:
    cat = read_catalog(write(tmp_path, "d.tsv", "product_id\ttitle\tdescription\n1\t\tA rake\n"))
    assert cat.titles == [""]
    assert cat.texts() == ["A rake"]


def test_index_of_and_subset() -> None:
    cat = Catalog(
        ids=np.array(["a", "b", "c"], dtype=object),
        titles=["A", "B", "C"],
        brands=["x", "y", "z"],
        source="mem",
    )
    assert cat.index_of(["c", "zz", "a"]).tolist() == [2, -1, 0]
    assert cat.index_of(np.array(["b"])).dtype == np.int64
    sub = cat.subset([2, 0])
    assert sub.ids.tolist() == ["c", "a"] and sub.titles == ["C", "A"]
    assert sub.brands == ["z", "x"] and sub.descriptions is None and sub.source == "mem"
    assert cat.subset(np.array([False, True, False])).ids.tolist() == ["b"]
    with pytest.raises(ValueError, match="titles"):
        Catalog(ids=np.array(["a"], dtype=object), titles=[])


def test_catalog_missing_file(tmp_path: Path) -> None:
    fails(read_catalog, tmp_path / "none.tsv", "no such file")


@pytest.mark.parametrize("body", ["", "\n\n"])
def test_catalog_empty_file(tmp_path: Path, body: str) -> None:
    fails(read_catalog, write(tmp_path, "e.tsv", body), "line 1", "'product_id'", "empty file")


def test_catalog_header_only(tmp_path: Path) -> None:
    path = write(tmp_path, "h.csv", "product_id,title\n")
    fails(read_catalog, path, "line 2", "column 'product_id'", "no data rows")


def test_catalog_missing_required_column(tmp_path: Path) -> None:
    path = write(tmp_path, "m.csv", "product_id,name\n1,Saw\n")
    err = fails(read_catalog, path, "line 1", "column 'title'", "['product_id', 'name']")
    assert err.line == 1 and err.column == "title"


def test_catalog_duplicate_header_column(tmp_path: Path) -> None:
    path = write(tmp_path, "d.csv", "product_id,title,title\n1,a,b\n")
    fails(read_catalog, path, "line 1", "column 'title'", "duplicate header")


def test_catalog_empty_product_id(tmp_path: Path) -> None:
    path = write(tmp_path, "i.tsv", "product_id\ttitle\n1\tSaw\n \tDrill\n")
    fails(read_catalog, path, "line 3", "column 'product_id'", "empty product_id")


def test_catalog_duplicate_product_id_names_both_lines(tmp_path: Path) -> None:
    # the quoted newline makes the second record start on line 4, the third on line 5
    body = 'item_id,title\n7,"Saw\nlong"\n8,Drill\n7,Hammer\n'
    err = fails(read_catalog, write(tmp_path, "d.csv", body), "line 5", "column 'item_id'")
    assert "first on line 2" in str(err) and "'7'" in str(err)


def test_catalog_duplicate_product_id_in_parquet_names_rows(tmp_path: Path) -> None:
    path = tmp_path / "d.parquet"
    pq.write_table(pa.table({"product_id": ["a", "b", "a"], "title": ["x", "y", "z"]}), path)
    fails(read_catalog, path, "row 3", "first on row 1", "column 'product_id'")


def test_catalog_keeps_products_without_text(tmp_path: Path) -> None:
    path = write(tmp_path, "t.tsv", "product_id\ttitle\tdescription\n1\tSaw\t\n2\t \t\n")
    cat = read_catalog(path)
    assert cat.titles == ["Saw", ""] and cat.texts() == ["Saw", ""]
    path = write(tmp_path, "u.csv", "product_id,title\n1,Saw\n2,\n")
    assert read_catalog(path).titles == ["Saw", ""]


def test_catalog_wrong_number_of_fields(tmp_path: Path) -> None:
    path = write(tmp_path, "w.tsv", "product_id\ttitle\n1\tSaw\n2\tDrill\textra\n")
    fails(read_catalog, path, "line 3", "column 'title'", "expected 2", "got 3")
    path = write(tmp_path, "f.csv", "product_id,title,brand\n1,Saw,A\n\n2,Drill\n")
    fails(read_catalog, path, "line 4", "column 'brand'", "expected 3", "got 2")


def test_catalog_bad_encoding_names_line_and_column(tmp_path: Path) -> None:
    body = b"product_id\ttitle\n1\tSaw\n2\tCaf\xe9 table\n"
    err = fails(read_catalog, write(tmp_path, "b.tsv", body), "line 3", "column 'title'")
    assert "UTF-8" in str(err) and "0xe9" in str(err)


def test_catalog_unsupported_suffix(tmp_path: Path) -> None:
    fails(read_catalog, write(tmp_path, "c.json", "{}"), "unsupported file type")


# --- judgments -------------------------------------------------------------------------

JUDGMENTS = (
    "query\tproduct_id\trelevance\n Deck Over \t007\t3\nl bracket\t1\t2.33\nDeck Over\t1\t1\n"
)


def test_judgments_tsv_round_trip(tmp_path: Path) -> None:
    j = read_judgments(write(tmp_path, "j.tsv", JUDGMENTS))
    assert j.query.tolist() == ["Deck Over", "l bracket", "Deck Over"]  # stripped, case kept
    assert j.product_id.tolist() == ["007", "1", "1"]
    assert j.relevance.dtype == np.float64
    assert j.relevance.tolist() == [3.0, 2.33, 1.0]
    assert j.queries() == ["Deck Over", "l bracket"]
    assert len(j) == 3 and j.source.endswith("j.tsv")


def test_judgments_csv_with_item_id_alias_and_any_scale(tmp_path: Path) -> None:
    body = 'query,item_id,relevance\n"drill, cordless",a,-1.5e1\nsaw,b,+4\n'
    j = read_judgments(write(tmp_path, "j.csv", body))
    assert j.query.tolist() == ["drill, cordless", "saw"]
    assert j.relevance.tolist() == [-15.0, 4.0]


def test_judgments_parquet(tmp_path: Path) -> None:
    path = tmp_path / "j.parquet"
    table = pa.table({"query": ["a", "b"], "product_id": [1, 2], "relevance": [0, 3]})
    pq.write_table(table, path)
    j = read_judgments(path)
    assert j.product_id.tolist() == ["1", "2"] and j.relevance.tolist() == [0.0, 3.0]
    pq.write_table(table.set_column(2, "relevance", pa.array([1.0, float("nan")])), path)
    fails(read_judgments, path, "row 2", "column 'relevance'", "nan")


def test_judgments_missing_column(tmp_path: Path) -> None:
    path = write(tmp_path, "j.tsv", "query\tproduct_id\tscore\nq\t1\t2\n")
    fails(read_judgments, path, "line 1", "column 'relevance'", "['query', 'product_id', 'score']")


def test_judgments_empty_file(tmp_path: Path) -> None:
    fails(read_judgments, write(tmp_path, "j.csv", ""), "line 1", "column 'query'", "empty file")


@pytest.mark.parametrize("value", ["high", "", "nan", "inf", "1e999", "2,5"])
def test_judgments_bad_relevance_shows_value(tmp_path: Path, value: str) -> None:
    path = write(tmp_path, "j.tsv", f"query\tproduct_id\trelevance\nq\t1\t2\nq\t2\t{value}\n")
    fails(read_judgments, path, "line 3", "column 'relevance'", repr(value), "not a finite number")


def test_judgments_empty_query(tmp_path: Path) -> None:
    path = write(tmp_path, "j.csv", "query,product_id,relevance\nq,1,2\n  ,2,3\n")
    fails(read_judgments, path, "line 3", "column 'query'", "empty query")


def test_judgments_duplicate_pair_names_both_lines(tmp_path: Path) -> None:
    body = "query\tproduct_id\trelevance\nq\t1\t2\nq\t2\t3\nr\t1\t3\n q \t1\t1\n"
    err = fails(read_judgments, write(tmp_path, "j.tsv", body), "line 5", "column 'product_id'")
    assert "first on line 2" in str(err) and "('q', '1')" in str(err)


def test_judgments_bad_encoding(tmp_path: Path) -> None:
    body = b"query\tproduct_id\trelevance\nq\t1\t2\n\xffq\t2\t3\n"
    fails(read_judgments, write(tmp_path, "j.tsv", body), "line 3", "column 'query'", "UTF-8")


def test_earliest_problem_is_reported(tmp_path: Path) -> None:
    body = "query\tproduct_id\trelevance\nq\t1\t2\nq\t\tx\n\t3\t2\n"
    fails(read_judgments, write(tmp_path, "j.tsv", body), "line 3", "column 'product_id'")


def make_judgments(n_queries: int) -> Judgments:
    queries = np.repeat([f"q{i}" for i in range(n_queries)], 2).astype(object)
    ids = np.array([f"p{i}" for i in range(2 * n_queries)], dtype=object)
    return Judgments(queries, ids, np.arange(2.0 * n_queries), source="mem")


def test_split_is_by_query_deterministic_and_disjoint() -> None:
    j = make_judgments(20)
    rest, held = j.split(0.25, seed=3)
    assert len(held.queries()) == 5 and len(rest.queries()) == 15
    assert not set(rest.queries()) & set(held.queries())
    assert len(rest) + len(held) == len(j)
    again = j.split(0.25, seed=3)
    assert again[1].queries() == held.queries() and again[0].queries() == rest.queries()
    assert j.split(0.25, seed=4)[1].queries() != held.queries()
    # the split depends on the set of queries, not on the row order
    flipped = Judgments(j.query[::-1], j.product_id[::-1], j.relevance[::-1])
    assert set(flipped.split(0.25, seed=3)[1].queries()) == set(held.queries())
    assert len(j.split(0.0, seed=0)[1]) == 0 and len(j.split(1.0, seed=0)[0]) == 0
    with pytest.raises(ValueError, match="frac"):
        j.split(1.5, seed=0)


def test_select_keeps_row_order() -> None:
    j = make_judgments(3)
    sub = j.select({"q2", "q0", "nope"})
    assert sub.query.tolist() == ["q0", "q0", "q2", "q2"]
    assert sub.product_id.tolist() == ["p0", "p1", "p4", "p5"]
    assert sub.relevance.tolist() == [0.0, 1.0, 4.0, 5.0]


def test_real_homedepot_files() -> None:
    cat = read_catalog(HOMEDEPOT / "products.tsv")
    j = read_judgments(HOMEDEPOT / "judgments.tsv")
    assert len(cat) == 54_667
    assert len(j) == 52_231
    assert len(j.queries()) == 8_254
    assert isinstance(cat.ids[0], str)
    assert (cat.index_of(np.unique(j.product_id)) >= 0).all()
    assert 1.0 <= j.relevance.min() and j.relevance.max() <= 3.0
