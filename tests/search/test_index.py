"""Lexical, dense and hybrid retrieval on a tiny catalogue with known answers."""

import numpy as np
import pytest

from shopaug.search._index import IndexConfig, SearchIndex, _dedupe
from shopaug.search._lexical import Analyzer, LexicalIndex
from shopaug.testing import tiny_catalog

TITLES = [
    "DEWALT 20-Volt Cordless Drill Kit",
    "BEHR Premium Red Exterior Paint 1 gal.",
    "Glacier Bay Bathroom Faucet in Chrome",
    "Husky 1/2 in. Drive Socket Set",
    "Ryobi Cordless Leaf Blower",
    "Red Brick Paver 8 in. x 4 in.",
]


def catalog(titles=TITLES):
    return tiny_catalog(titles)


def test_analyzer_keeps_sizes_folds_accents_and_stems():
    (terms,) = Analyzer()(["Café 1/2 in. Drills and the 2.5 Gallons"])
    assert terms == ["cafe", "1/2", "drill", "2.5", "gallon"]


def test_bm25_known_answer_and_exact_scores():
    lex = LexicalIndex().fit(TITLES)
    top, val = lex.search(["cordless drill", "red paint", "zzz"], 3)
    assert top[0, 0] == 0 and top[1, 0] == 1
    assert (top[2] == -1).all() and np.isneginf(val[2]).all()  # no shared term: no result
    assert set(top[0, :2]) == {0, 4}  # both cordless products, the drill first
    # score() agrees with search() on the same documents
    again = lex.score(["cordless drill"], top[:1, :2])
    np.testing.assert_allclose(again[0], val[0, :2], rtol=1e-6)
    assert lex.score(["cordless drill"], np.array([[-1, 2]]))[0].tolist() == [0.0, 0.0]


def test_bm25_matches_reference_formula():
    # Lucene BM25 by hand: idf = ln(1 + (N - n + .5) / (n + .5)),
    # tf part = tf / (tf + k1 * (1 - b + b * len / avglen)), k1 = 1.2, b = .75 (Lucene >= 8
    # drops the constant (k1 + 1) factor; rankings are unchanged)
    docs = ["red red paint", "red brick", "blue paint can"]
    lex = LexicalIndex().fit(docs)
    n_docs, avg = 3, (3 + 2 + 3) / 3

    def term(tf, n, length):
        idf = np.log(1 + (n_docs - n + 0.5) / (n + 0.5))
        return idf * tf / (tf + 1.2 * (1 - 0.75 + 0.75 * length / avg))

    expect = term(2, 2, 3) + term(1, 2, 3)  # "red paint" on doc 0: red x2, paint x1
    got = lex.score(["red paint"], np.array([[0]]))[0, 0]
    assert got == pytest.approx(expect, rel=1e-5)


def test_save_load_round_trip(tmp_path):
    idx = SearchIndex.build(catalog(), IndexConfig(method="bm25"))
    idx.save(tmp_path / "ix")
    again = SearchIndex.load(tmp_path / "ix")
    a = idx.search(["red brick", "socket set"], 3)
    b = again.search(["red brick", "socket set"], 3)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_allclose(a[1], b[1])
    assert again.query("socket set", 1)[0]["product_id"] == "p3"


def test_dedupe_keeps_first_occurrence():
    out = _dedupe(np.array([[3, 1, 3, -1, 1], [2, 2, 2, 0, 5]]))
    assert out.tolist() == [[3, 1, -1, -1, -1], [2, -1, -1, 0, 5]]


class Words:
    """A deterministic bag-of-words encoder: stands in only where MiniLM's exact scores
    would make a hand-checked answer impossible (fusion arithmetic)."""

    vocab = ["drill", "paint", "faucet", "socket", "blower", "brick", "red", "cordless"]

    def encode(self, texts):
        v = np.array([[w in t.lower() for w in self.vocab] for t in texts], dtype=np.float32)
        n = np.linalg.norm(v, axis=1, keepdims=True)
        return v / np.where(n == 0, 1, n)


def test_hybrid_weight_zero_and_one_reduce_to_the_parts():
    cat = catalog()
    enc = Words()
    for w, method in ((0.0, "bm25"), (1.0, "dense")):
        hyb = SearchIndex.build(cat, IndexConfig(method="hybrid", weight=w, candidates=6),
                                encoder=enc)
        top_h, _ = hyb.search(["red paint brick"], 6)
        cand = top_h
        ref = hyb.score(["red paint brick"], cand, method=method)
        order = np.argsort(-ref[0], kind="stable")
        assert top_h[0].tolist() == cand[0][order].tolist()


def test_hybrid_cross_scores_every_candidate_and_rrf_runs():
    cat = catalog()
    idx = SearchIndex.build(cat, IndexConfig(method="hybrid", weight=0.5, candidates=2),
                            encoder=Words())
    cand = np.array([[0, 4, 1, -1]])
    s = idx.score(["cordless drill"], cand)
    # drill matches both words in both signals: top normalised score 1.0 in each
    assert s[0, 0] == pytest.approx(1.0)
    assert s[0, 0] > s[0, 1] > s[0, 2] and np.isneginf(s[0, 3])
    rrf = SearchIndex.build(cat, IndexConfig(method="hybrid", fusion="rrf"), encoder=Words())
    top, _ = rrf.search(["cordless drill"], 2)
    assert top[0, 0] == 0


def test_boost_reranks_by_user_state():
    idx = SearchIndex.build(catalog(), IndexConfig(method="bm25"))
    top, _ = idx.search(["red"], 2)
    assert set(top[0]) == {1, 5}
    user = np.zeros(len(TITLES))
    user[5] = 1.0  # the user's recommendation state prefers the paver
    boosted, _ = idx.search(["red"], 2, boost=user, boost_weight=2.0)
    assert boosted[0, 0] == 5
    user[:] = 0
    user[1] = 1.0
    boosted, _ = idx.search(["red"], 2, boost=user, boost_weight=2.0)
    assert boosted[0, 0] == 1


def test_dense_index_with_real_minilm(tmp_path):
    idx = SearchIndex.build(catalog(), IndexConfig(method="dense"))
    top, _ = idx.search(["power tool for making holes", "sink tap"], 1)
    assert top[:, 0].tolist() == [0, 2]
    idx.save(tmp_path / "ix")
    again = SearchIndex.load(tmp_path / "ix")
    np.testing.assert_array_equal(again.search(["sink tap"], 3)[0],
                                  idx.search(["sink tap"], 3)[0])


def test_bm25_only_index_refuses_dense_queries():
    from shopaug.exceptions import ShopaugError

    idx = SearchIndex.build(catalog(), IndexConfig(method="bm25"))
    with pytest.raises(ShopaugError, match="no dense vectors"):
        idx.search(["drill"], 2, method="dense")
