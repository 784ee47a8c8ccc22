"""`shopaug search` end to end: real subprocesses, files, exit codes and JSON."""

import json

import pytest
from test_cli import run

PRODUCTS = """product_id\ttitle
100\tDEWALT 20-Volt Cordless Drill Kit
101\tBEHR Premium Red Exterior Paint 1 gal.
102\tGlacier Bay Bathroom Faucet in Chrome
103\tHusky 1/2 in. Drive Socket Set
104\tRyobi Cordless Leaf Blower
105\tRed Brick Paver 8 in. x 4 in.
"""
JUDGMENTS = """query,product_id,relevance
cordless drill,100,3
cordless drill,104,1.5
red paint,101,3
red paint,105,1
socket set,103,2.67
"""


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("search")
    (root / "products.tsv").write_text(PRODUCTS)
    (root / "judgments.csv").write_text(JUDGMENTS)
    run("search", "index", "--catalog", root / "products.tsv", "--out", root / "ix",
        "--method", "bm25", "--no-progress")
    return root


def test_index_query_and_evaluate(files):
    p = run("search", "query", files / "ix", "cordless drill", "--k", "2", "--json")
    hits = json.loads(p.stdout)["results"]
    assert [h["product_id"] for h in hits] == ["100", "104"]
    p = run("search", "evaluate", files / "ix", "--judgments", files / "judgments.csv", "--json")
    res = json.loads(p.stdout)
    for key in ("NDCG@10", "MRR@10", "Recall@100"):
        assert 0.0 <= res[key] <= 1.0
    # every query finds its best product first: MRR 1; "red paint" ranks the paint first,
    # the paver (gain 0) may follow or not: NDCG is 1 either way
    assert res["MRR@10"] == 1.0 and res["NDCG@10"] == pytest.approx(1.0)
    assert res["queries"] == 3
    p = run("search", "evaluate", files / "ix", "--judgments", files / "judgments.csv",
            "--mode", "pool", "--json")
    assert json.loads(p.stdout)["mode"] == "pool"


def test_perturbed_evaluation_is_seeded(files):
    args = ("search", "evaluate", files / "ix", "--judgments", files / "judgments.csv",
            "--perturb", "typo,swap", "--seed", "3", "--json")
    a, b = json.loads(run(*args).stdout), json.loads(run(*args).stdout)
    assert a["NDCG@10"] == b["NDCG@10"] and a["perturb"] == "typo,swap"


def test_malformed_files_exit_2_naming_file_line_column(files, tmp_path):
    bad = tmp_path / "bad.tsv"
    bad.write_text("product_id\ttitle\n1\tok\n1\tagain\n")
    p = run("search", "index", "--catalog", bad, "--out", tmp_path / "ix", "--method", "bm25",
            check=False)
    assert p.returncode == 2 and "bad.tsv" in p.stderr and "line 3" in p.stderr
    assert not (tmp_path / "ix").exists()  # nothing half-written
    j = tmp_path / "j.csv"
    j.write_text("query,product_id,relevance\nred paint,101,high\n")
    p = run("search", "evaluate", files / "ix", "--judgments", j, "--json", check=False)
    assert p.returncode == 2
    assert "j.csv" in p.stderr and "line 2" in p.stderr and "relevance" in p.stderr
    p = run("search", "evaluate", tmp_path, "--judgments", files / "judgments.csv", check=False)
    assert p.returncode == 2 and "not a search index" in p.stderr


def test_personalised_query_on_beauty(tmp_path):
    """Search re-ranked by a user's recommendation state: a Beauty run and an index of the
    same items (ids are the external item ids of both)."""
    run("train", "--data", "bundled:amazon-beauty", "--model", "popularity", "--out",
        tmp_path / "run", "--no-progress")
    run("search", "index", "--catalog", "bundled:amazon-beauty/items.tsv", "--out",
        tmp_path / "ix", "--method", "bm25", "--no-progress")
    args = ("search", "query", tmp_path / "ix", "nail polish", "--k", "10", "--json")
    plain = [h["product_id"] for h in json.loads(run(*args).stdout)["results"]]
    mine = json.loads(run(*args, "--run", tmp_path / "run", "--user", "1",
                          "--boost-weight", "5").stdout)["results"]
    assert len(plain) == len(mine) == 10
    assert [h["product_id"] for h in mine] != plain  # popularity re-ranked the results
    p = run(*args, "--run", tmp_path / "run", "--user", "no-such-user", check=False)
    assert p.returncode == 2 and "no-such-user" in p.stderr
