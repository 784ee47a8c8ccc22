"""Synthetic queries: template generator, Gemma (real model), the filter, doc2query, pairs I/O."""

import numpy as np
import pytest

from shopaug.exceptions import DataError
from shopaug.search._lexical import LexicalIndex
from shopaug.search._pipeline import AugmentConfig, augment_queries, read_pairs, write_pairs
from shopaug.search._queries import (
    QueryFilter,
    QueryPairs,
    TemplateQueries,
    expand_texts,
    gemma_queries,
    inpars_prompt,
)
from shopaug.testing import tiny_catalog

TITLES = [
    "Delta Vero 1-Handle Shower Only Faucet Trim Kit in Chrome (Valve Not Included)",
    "Whirlpool 1.9 cu. ft. Over the Range Convection Microwave in Stainless Steel",
    "Toro Personal Pace Recycler 22 in. Variable Speed Gas Lawn Mower",
    "Everbilt 1/2 in. x 4 in. Galvanized Hex Lag Screw",
    "Hampton Bay Caramel Bamboo Rollup Shade",
    "Husky 1/2 in. Drive Socket Set",
]


def catalog(titles=TITLES):
    return tiny_catalog(titles)


def test_template_queries_are_key_phrases_of_the_title():
    t = TemplateQueries(per_product=10)
    (qs,) = t([TITLES[0]], np.random.default_rng(0))
    assert "faucet trim kit" in qs and "delta trim kit" in qs
    assert all(q == q.lower() and "(" not in q for q in qs)
    for q in qs:  # every word comes from the title
        assert set(q.split()) <= set(TITLES[0].lower().replace("(", " ").split())
    (mower,) = t([TITLES[2]], np.random.default_rng(0))
    assert "gas lawn mower" in mower and "22 in mower" in mower


def test_template_queries_are_seeded():
    t = TemplateQueries(per_product=2)
    a = t(TITLES, np.random.default_rng(3))
    assert a == t(TITLES, np.random.default_rng(3))
    assert all(len(q) <= 2 for q in a)
    many = [t(TITLES, np.random.default_rng(s)) for s in range(6)]
    assert any(m != a for m in many)


def test_filter_text_checks_duplicates_and_consistency():
    lex = LexicalIndex().fit(TITLES)
    queries = ["faucet trim kit", "faucet trim kit", "socket set", "x" * 3 + " 1 2 3 4 5 6 7 8",
               "Query: lawn mower", "1/2 4", TITLES[4], "lawn mower"]
    products = np.array([0, 0, 5, 2, 2, 3, 4, 0])
    keep, why = QueryFilter(top_k=1)(queries, products, TITLES,
                                     rank=lambda q, k: lex.search(q, k)[0])
    # kept: the first faucet query, the socket set; "lawn mower" names product 2, not 0
    assert keep.tolist() == [True, False, True, False, False, False, False, False]
    assert why == {"duplicate": 1, "length": 1, "prompt residue": 1, "language": 1,
                   "copies the title": 1, "not in top 1": 1}


def test_expand_texts_appends_kept_queries_once():
    p = QueryPairs()
    p.add([["trim kit", "trim kit", "shower faucet"], [], ["mower"]], [0, 1, 2], "template")
    out = expand_texts(["a", "b", "c", "d"], p, max_queries=3)
    assert out == ["a | trim kit | shower faucet", "b", "c | mower", "d"]


def test_pairs_round_trip_and_errors(tmp_path):
    cat = catalog()
    p = QueryPairs()
    # inch marks and backslashes survive the round trip (regression: they came back escaped)
    p.add([["faucet trim kit"], ['4" x 4" microwave \\ vent']], [0, 1], "template")
    path = write_pairs(p, cat, tmp_path / "pairs.tsv")
    again = read_pairs(path, cat)
    assert again.queries == p.queries and again.products == p.products
    assert again.sources == ["template", "template"]
    bad = tmp_path / "bad.tsv"
    bad.write_text("query\tproduct_id\nmower\tnope\n")
    with pytest.raises(DataError, match=r"bad.tsv, line 2, column 'product_id'"):
        read_pairs(bad, cat)
    bad.write_text("q\tproduct_id\nmower\tp1\n")
    with pytest.raises(DataError, match=r"line 1, column 'query'"):
        read_pairs(bad, cat)


def test_augment_queries_templates_only_is_deterministic():
    cat = catalog()
    cfg = AugmentConfig(template_per_product=2, seed=1)
    a, rep = augment_queries(cat, cfg)
    b, _ = augment_queries(cat, cfg)
    assert a.queries == b.queries and a.products == b.products
    assert rep["generated"] == rep["template_pairs"] >= len(a) == rep["kept"] > 0
    assert set(a.sources) == {"template"}


@pytest.fixture(scope="module")
def gemma(tmp_path_factory):
    from shopaug.lm import Generator

    return Generator(cache_dir=tmp_path_factory.mktemp("gemma-cache"), batch_size=4)


def test_gemma_writes_queries_cached_and_filterable(gemma):
    titles = TITLES[:4]
    assert inpars_prompt(titles[0]).endswith(f"Product: {titles[0]}\nQuery:")
    qs = gemma_queries(titles, gemma, per_product=1, max_new_tokens=10)
    assert all(len(q) == 1 and q[0].strip() for q in qs)
    tokens = gemma.generated_tokens_
    assert gemma_queries(titles, gemma, per_product=1, max_new_tokens=10) == qs
    assert gemma.generated_tokens_ == tokens  # the second call is served from the cache
    # the filter runs on Gemma's output like on any other generator's
    keep, why = QueryFilter(top_k=0)([q[0] for q in qs], np.arange(4), titles)
    assert keep.sum() + sum(why.values()) == 4


def test_training_pairs_never_hold_held_out_queries(tmp_path):
    """Leakage guard: the supervised ceiling trains on the dev part of a query split only
    (a planted canary query that is held out never reaches the training pairs)."""
    from shopaug.search._catalog import read_judgments
    from shopaug.search._pipeline import judged_pairs

    rows = [f"query {i},p{i % 6},3" for i in range(40)]
    path = tmp_path / "j.csv"
    path.write_text("query,product_id,relevance\n" + "\n".join(rows) + "\n")
    j = read_judgments(path)
    dev, held = j.split(0.25, seed=0)
    assert len(held.queries()) == 10
    train = judged_pairs(dev, catalog(), min_relevance=2)
    assert len(train) == len(dev) == 30
    assert set(train.queries).isdisjoint(held.queries())
    low = judged_pairs(dev, catalog(), min_relevance=3.5)  # nothing reaches the threshold
    assert len(low) == 0
