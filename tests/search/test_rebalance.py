"""Re-balancing relevance labels: tiny data with hand-computed or known answers.

A bag-of-words encoder stands in for MiniLM (real vectors only in benchmarks/rebalance.py),
and logistic regression keeps every fit in milliseconds.
"""

import re

import numpy as np
import pytest

from shopaug.columns import EVENT_TYPES
from shopaug.data import Dataset, IdVocab
from shopaug.exceptions import ShopaugError
from shopaug.search import (
    COMPARE_METHODS,
    Judgments,
    LexicalIndex,
    RebalanceConfig,
    RebalancedClassifier,
    compare_event_rebalancing,
    compare_rebalancing,
    pair_features,
    prior_correct,
    rebalance,
    recalibrate,
    relevance_classes,
    split_by_query,
)
from shopaug.testing import tiny_catalog

LOGREG = RebalanceConfig(model="logreg", pca_dim=2)


class Words:
    """Unit bag-of-words vectors over a fixed vocabulary (whole words, case ignored)."""

    def __init__(self, vocab):
        self.vocab = list(vocab)

    def encode(self, texts):
        rows = [set(re.findall(r"[a-z]+", t.lower())) for t in texts]
        v = np.array([[w in r for w in self.vocab] for r in rows], dtype=np.float32)
        n = np.linalg.norm(v, axis=1, keepdims=True)
        return v / np.where(n == 0, 1, n)


def judgments(rows):
    q, p, r = zip(*rows, strict=True)
    return Judgments(query=np.array(q, dtype=object), product_id=np.array(p, dtype=object),
                     relevance=np.array(r, dtype=np.float64))


# --- re-calibration ----------------------------------------------------------------------


def test_recalibrate_matches_hand_computed_values():
    # beta * p / (beta * p - p + 1)
    got = recalibrate(np.array([0.0, 0.5, 0.8, 1.0]), 0.5)
    np.testing.assert_allclose(got, [0.0, 0.25 / 0.75, 0.4 / 0.6, 1.0])
    assert recalibrate(0.8, 0.1) == pytest.approx(0.08 / 0.28)  # 0.285714...
    np.testing.assert_allclose(recalibrate(np.array([0.3, 0.9]), 1.0), [0.3, 0.9])
    with pytest.raises(ValueError, match="beta"):
        recalibrate(0.5, 0.0)
    # the multiclass prior correction is the same formula for two classes: the majority
    # (class 0) kept a fraction beta, the minority (class 1) all its rows
    p = np.array([0.1, 0.5, 0.8])
    two = prior_correct(np.column_stack([1 - p, p]), np.array([0.25, 1.0]))
    np.testing.assert_allclose(two[:, 1], recalibrate(p, 0.25))
    np.testing.assert_allclose(two.sum(axis=1), 1.0)


def test_downsampling_with_recalibration_recovers_the_base_rate():
    # x ~ N(0, 1) for negatives, N(1, 1) for positives, 10% positives: logistic regression is
    # the true model, so only the changed class balance can make it miscalibrated
    rng = np.random.default_rng(0)
    rate, n = 0.1, 20_000
    y = (rng.random(2 * n) < rate).astype(np.int64)
    x = (rng.normal(size=2 * n) + y)[:, None]
    clf = RebalancedClassifier("random_under", config=LOGREG, seed=0).fit(x[:n], y[:n])
    n_pos = int(y[:n].sum())
    beta = n_pos / (n - n_pos)
    assert clf.counts_.tolist() == [n_pos, n_pos]
    assert clf.rates_[0] == pytest.approx(beta) and clf.rates_[1] == 1.0
    raw = clf.predict_proba(x[n:])[:, 1]
    fixed = clf.predict_proba(x[n:], corrected=True)[:, 1]
    np.testing.assert_allclose(fixed, recalibrate(raw, beta))
    assert raw.mean() > rate + 0.2  # a balanced training set: probabilities near 0.5
    assert abs(fixed.mean() - rate) < 0.015
    brier = lambda p: np.mean((p - y[n:]) ** 2)  # noqa: E731
    assert brier(fixed) < brier(raw) - 0.05


# --- resamplers --------------------------------------------------------------------------


def test_each_resampler_yields_the_expected_class_counts():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2], [60, 30, 10])
    x = rng.normal(size=(100, 3)) + y[:, None]
    expected = {"none": [60, 30, 10], "random_over": [60, 60, 60], "smote": [60, 60, 60],
                "random_under": [10, 10, 10], "class_weight": [60, 30, 10]}
    for method, counts in expected.items():
        xr, yr, rates = rebalance(x, y, method, seed=0)
        assert np.bincount(yr).tolist() == counts, method
        assert len(xr) == len(yr)
        if method != "class_weight":
            np.testing.assert_allclose(rates, np.array(counts) / [60, 30, 10])
    _, _, weights = rebalance(x, y, "class_weight", seed=0)
    np.testing.assert_allclose(weights, 100 / (3 * np.array([60, 30, 10])))
    # SMOTE adds new points between same-class neighbours; over-sampling only repeats rows
    xs, _, _ = rebalance(x, y, "smote", seed=0)
    xo, _, _ = rebalance(x, y, "random_over", seed=0)
    assert len({tuple(r) for r in xo}) == 100 and len({tuple(r) for r in xs}) == 180
    # two classes: under-sampling stops at under_ratio (minority / majority)
    y2 = np.repeat([0, 1], [80, 20])
    for ratio, kept in ((1.0, 20), (0.5, 40), (0.25, 80)):
        _, yr, rates = rebalance(x, y2, "random_under", seed=0, under_ratio=ratio)
        assert np.bincount(yr).tolist() == [kept, 20]
        assert rates[0] == pytest.approx(kept / 80)
    with pytest.raises(ValueError, match="every class"):
        rebalance(x, np.repeat([0, 2], [50, 50]), "none", seed=0)


def test_resampling_is_seeded():
    rng = np.random.default_rng(1)
    y = np.repeat([0, 1], [70, 30])
    x = rng.normal(size=(100, 2))
    for method in ("random_over", "smote", "random_under"):
        a, b, c = (rebalance(x, y, method, seed=s)[0] for s in (3, 3, 4))
        np.testing.assert_array_equal(a, b)
        assert not np.array_equal(a, c), method


def test_relevance_classes_edges():
    rel = np.array([1.0, 1.67, 1.9999999999, 2.0, 2.33, 2.5, 2.6, 2.67, 3.0])
    assert relevance_classes(rel).tolist() == [0, 0, 1, 1, 1, 1, 2, 2, 2]
    with pytest.raises(ValueError, match="relevant_at"):
        RebalanceConfig(relevant_at=2.5)


# --- features ----------------------------------------------------------------------------

TITLES = ["BEHR Premium Red Exterior Paint 1 gal.", "Ryobi Cordless Leaf Blower",
          "Husky 1/2 in. Drive Socket Set"]
VOCAB = ["red", "paint", "drill", "cordless", "socket", "set", "blower"]


def test_features_on_a_tiny_catalogue_match_hand_computed_values():
    cat = tiny_catalog(TITLES)
    j = judgments([("red paint", "p0", 3), ("cordless drill kit", "p1", 2),
                   ("socket set for the car", "p2", 2.33), ("red paint", "p1", 1)])
    lex = LexicalIndex().fit(cat.texts())
    f = pair_features(cat, j, encoder=Words(VOCAB), lexical=lex)
    bm25, cosine, q_terms, t_terms, overlap = f.x.T
    # terms after stopwords ("in", "for", "the"): behr premium red exterior paint 1 gal;
    # ryobi cordless leaf blower; husky 1/2 drive socket set
    assert q_terms.tolist() == [2, 3, 3, 2]
    assert t_terms.tolist() == [7, 4, 5, 4]
    np.testing.assert_allclose(overlap, [1.0, 1 / 3, 2 / 3, 0.0])
    # bag-of-words cosines: {red, paint} . {red, paint}; {drill, cordless} . {cordless, blower}
    np.testing.assert_allclose(cosine, [1.0, 0.5, 1.0, 0.0], atol=1e-6)
    np.testing.assert_allclose(f.product.sum(axis=1), cosine, atol=1e-6)
    expect = [lex.score([q], np.array([[p]]))[0, 0]
              for q, p in (("red paint", 0), ("cordless drill kit", 1),
                           ("socket set for the car", 2))]
    np.testing.assert_allclose(bm25[:3], expect, rtol=1e-6)
    assert min(bm25[:3]) > 0 and bm25[3] == 0.0
    with pytest.raises(ValueError, match="not in the catalogue"):
        pair_features(cat, judgments([("red paint", "p9", 3)]), encoder=Words(VOCAB),
                      lexical=lex)


# --- comparison on a tiny synthetic search problem ------------------------------------

NOUNS = ["drill", "paint", "faucet", "socket", "blower", "brick", "hammer", "ladder"]
ADJS = ["red", "blue", "steel", "cordless", "large"]


def tiny_search():
    """40 products "Brand adj noun kit" and 40 queries "adj noun"; each query judges its exact
    product 3, two products with its noun 2.33, one with its adjective 1.67, three others 1."""
    titles = [f"Acme {a} {n} kit" for a in ADJS for n in NOUNS]
    cat = tiny_catalog(titles)
    rng = np.random.default_rng(0)
    rows = []
    for ai, a in enumerate(ADJS):
        for ni, n in enumerate(NOUNS):
            q = f"{a} {n}"
            same_noun = [k for k in range(len(ADJS)) if k != ai]
            others = [(k, m) for k in range(len(ADJS)) for m in range(len(NOUNS))
                      if k != ai and m != ni]
            rows.append((q, ai, ni, 3.0))
            rows += [(q, k, ni, 2.33) for k in rng.choice(same_noun, 2, replace=False)]
            rows.append((q, ai, int(rng.choice([m for m in range(len(NOUNS)) if m != ni])),
                         1.67))
            rows += [(q, *others[i], 1.0) for i in rng.choice(len(others), 3, replace=False)]
    j = judgments([(q, f"p{k * len(NOUNS) + m}", r) for q, k, m, r in rows])
    return cat, j


def test_split_is_by_query_and_agrees_with_judgments_split():
    _, j = tiny_search()
    train, held = split_by_query(j, 0.25, seed=3)
    assert len(train) + len(held) == len(j)
    assert not set(j.query[train]) & set(j.query[held])
    assert len(set(j.query[held])) == 10  # round(0.25 * 40)
    _, expect = j.split(0.25, 3)
    assert set(j.query[held]) == set(expect.queries())
    other = split_by_query(j, 0.25, seed=4)[1]
    assert set(j.query[other]) != set(j.query[held])


def test_compare_rebalancing_rows_counts_and_seeds():
    cat, j = tiny_search()
    enc = Words(ADJS + NOUNS)
    out = compare_rebalancing(cat, j, seed=1, held_frac=0.25, config=LOGREG, encoder=enc)
    rows = out["methods"]
    recal = [f"{m}+recal" for m in COMPARE_METHODS if m not in ("none", "binary_none")]
    assert set(rows) == set(COMPARE_METHODS) | set(recal)
    assert out["split"]["shared_queries"] == 0 and out["split"]["held_queries"] == 10
    assert out["classes"]["counts"]["all"] == {"low": 160, "mid": 80, "high": 40}
    train = out["classes"]["counts"]["train"]
    assert train == {"low": 120, "mid": 60, "high": 30}  # 30 queries x (4, 2, 1)
    assert out["split"]["train_pairs"] == 210
    assert rows["none"]["train_counts"] == train == rows["class_weight"]["train_counts"]
    assert set(rows["random_over"]["train_counts"].values()) == {train["low"]}
    assert set(rows["smote"]["train_counts"].values()) == {train["low"]}
    assert set(rows["random_under"]["train_counts"].values()) == {train["high"]}
    # relevant (>= 2) is the minority of the binary task: 90 of 210 training pairs
    assert rows["binary_downsample"]["train_counts"] == {"not_relevant": 90, "relevant": 90}
    # re-calibrating two classes is monotone: same ranking, same AUC, other probabilities
    raw, fixed = rows["binary_downsample"], rows["binary_downsample+recal"]
    assert fixed["auc_relevant"] == raw["auc_relevant"] and fixed["NDCG@10"] == raw["NDCG@10"]
    for row in rows.values():
        assert 0 <= row["brier_relevant"] <= 1 and 0 < row["NDCG@10"] <= 1
    # the task is easy from the words: every model beats random order
    assert min(r["NDCG@10"] for r in rows.values()) > out["reference"]["NDCG@10"]["random"]
    # same seed, same table; another seed, another split and other figures
    again = compare_rebalancing(cat, j, seed=1, held_frac=0.25, config=LOGREG, encoder=enc)
    strip = lambda t: {k: {m: v for m, v in r.items() if m != "fit_seconds"}  # noqa: E731
                       for k, r in t["methods"].items()}
    assert strip(again) == strip(out)
    other = compare_rebalancing(cat, j, seed=2, held_frac=0.25, config=LOGREG, encoder=enc,
                                methods=["none"])
    assert set(other["methods"]) == {"none"}
    assert other["methods"]["none"]["brier_3class"] != rows["none"]["brier_3class"]


# --- event types -----------------------------------------------------------------------


# purchase probability 0.02 + 0.2 * position, position uniform on 0..1 in steps of 1/9
TRUE_RATE = 0.12


def event_log(n_users=400, per_user=10, seed=0):
    """A synthetic log: purchases get likelier towards the end of each user's history."""
    rng = np.random.default_rng(seed)
    user = np.repeat(np.arange(n_users), per_user)
    item = rng.integers(1, 51, len(user))
    position = np.tile(np.arange(per_user) / (per_user - 1), n_users)
    purchase = rng.random(len(user)) < 0.02 + 0.2 * position
    event = np.where(purchase, EVENT_TYPES.index("purchase"), rng.integers(0, 3, len(user)))
    return Dataset.from_arrays(
        name="tiny-events", source="test", users=IdVocab([f"u{i}" for i in range(n_users)]),
        items=IdVocab([f"i{i}" for i in range(1, 51)], offset=1), user=user, item=item,
        time=np.tile(np.arange(per_user), n_users), event=event,
    )


def test_event_rebalancing_counts_and_calibration():
    ds = event_log()
    out = compare_event_rebalancing(ds, seed=0, config=LOGREG)
    rows = out["methods"]
    n_train = out["split"]["train_interactions"]
    n_pos = round(out["train_rate"] * n_train)
    assert out["split"]["held_users"] == 80 and n_train == 320 * 10
    assert rows["none"]["train_counts"] == {"rest": n_train - n_pos, "purchase": n_pos}
    assert rows["random_under"]["train_counts"] == {"rest": n_pos, "purchase": n_pos}
    assert rows["random_over"]["train_counts"] == {"rest": n_train - n_pos,
                                                   "purchase": n_train - n_pos}
    assert rows["none"]["auc"] > 0.6  # position carries the signal
    for method in ("random_over", "smote", "random_under", "class_weight"):
        raw, fixed = rows[method], rows[f"{method}+recal"]
        assert raw["mean_p"] > out["held_rate"] + 0.2, method
        assert abs(fixed["mean_p"] - TRUE_RATE) < 0.02, method
        assert fixed["brier"] < raw["brier"], method


def test_event_rebalancing_needs_event_types():
    ds = event_log(n_users=5)
    plain = Dataset(name="no-events", source="test", users=ds.users, items=ds.items,
                    user=ds.user, item=ds.item, time=ds.time)
    with pytest.raises(ShopaugError, match="no event types"):
        compare_event_rebalancing(plain, seed=0)
