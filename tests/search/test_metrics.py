"""Search metrics against hand-computed values, edge cases and a loop-based reference."""

from __future__ import annotations

import math

import numpy as np
import pytest

from shopaug.search._catalog import Judgments
from shopaug.search._metrics import evaluate_rankings

L2, L3, L4 = math.log2(2), math.log2(3), math.log2(4)  # discounts of ranks 1, 2, 3


def judgments(rows: list[tuple[str, str, float]]) -> Judgments:
    q, p, r = zip(*rows, strict=True)
    return Judgments(np.array(q, dtype=object), np.array(p, dtype=object), np.array(r, float))


# Labels 1..3, so lo = 1, hi = 3 and gain = (relevance - 1) / 2; binary relevant: gain >= 0.5.
#   q1: a = 3 -> gain 1, b = 2 -> 0.5, c = 1 -> 0       relevant {a, b}
#   q2: d = 2.5 -> 0.75, e = 1 -> 0                     relevant {d}
#   q3: f = 1 -> 0                                      no gain > 0: skipped
J = judgments(
    [
        ("q1", "a", 3),
        ("q1", "b", 2),
        ("q1", "c", 1),
        ("q2", "d", 2.5),
        ("q2", "e", 1),
        ("q3", "f", 1),
    ]
)
# q1 ranks [c, a, x, b] -> gains [0, 1, 0 (x unjudged), 0.5]
#   DCG@3  = 0/log2(2) + 1/log2(3) + 0/log2(4)          = 0.6309
#   IDCG@3 = 1/log2(2) + 0.5/log2(3) + 0/log2(4)        = 1.3155
#   NDCG@3 = 0.6309 / 1.3155                             = 0.4796
#   MRR@3  = first relevant (a) at rank 2                = 0.5
#   Recall@2 = {a} of {a, b}                             = 0.5
# q2 ranks [d] -> DCG = IDCG = 0.75, NDCG 1, MRR 1, Recall@2 = 1/1
Q1_NDCG = (1 / L3) / (1 / L2 + 0.5 / L3)
RANKINGS = {"q1": ["c", "a", "x", "b"], "q2": ["d"], "other": ["a"]}
CUTS = {"ndcg_k": 3, "mrr_k": 3, "recall_k": 2}


def test_hand_computed_three_query_example() -> None:
    out = evaluate_rankings(RANKINGS, J, **CUTS, per_query=True)
    assert out["NDCG@3"] == pytest.approx((Q1_NDCG + 1) / 2)  # 0.7398
    assert out["MRR@3"] == pytest.approx((0.5 + 1) / 2)
    assert out["Recall@2"] == pytest.approx((0.5 + 1) / 2)
    assert out["queries"] == 2 and out["skipped_queries"] == 1 and out["missing_products"] == 0
    per = out["per_query"]
    assert per["query"] == ["q1", "q2"]  # first-seen order; "other" is not judged: ignored
    np.testing.assert_allclose(per["NDCG@3"], [Q1_NDCG, 1.0])
    np.testing.assert_allclose(per["MRR@3"], [0.5, 1.0])
    np.testing.assert_allclose(per["Recall@2"], [0.5, 1.0])


def test_default_keys_follow_the_cut_offs() -> None:
    out = evaluate_rankings(RANKINGS, J)
    assert set(out) == {
        "NDCG@10",
        "MRR@10",
        "Recall@100",
        "queries",
        "skipped_queries",
        "missing_products",
    }
    assert "per_query" not in out


def test_unjudged_products_count_as_zero() -> None:
    # q2 ranks [x, y, d]: DCG@3 = 0.75 / log2(4); IDCG = 0.75 -> NDCG = 1 / log2(4) = 0.5
    # MRR = 1/3; Recall@2 = 0 (d is third); Recall@3 = 1
    j = J.select(["q2"])
    out = evaluate_rankings({"q2": ["x", "y", "d"]}, j, **CUTS)
    assert out["NDCG@3"] == pytest.approx(1 / L4)
    assert out["MRR@3"] == pytest.approx(1 / 3)
    assert out["Recall@2"] == 0.0
    assert evaluate_rankings({"q2": ["x", "y", "d"]}, j, recall_k=3)["Recall@3"] == 1.0


def test_duplicates_count_once_and_keep_their_rank() -> None:
    # q1 ranks [a, a, b]: gains [1, 0 (repeat), 0.5]
    #   DCG@3 = 1 + 0 + 0.5/log2(4) = 1.25; IDCG@3 = 1 + 0.5/log2(3) = 1.3155
    #   Recall@2 = {a} of {a, b} = 0.5 (the repeat is not a second hit); MRR = 1
    out = evaluate_rankings({"q1": ["a", "a", "b"]}, J.select(["q1"]), **CUTS)
    assert out["NDCG@3"] == pytest.approx((1 + 0.5 / L4) / (1 + 0.5 / L3))
    assert out["Recall@2"] == pytest.approx(0.5)
    assert out["MRR@3"] == 1.0
    # a ranking of only repeats of one product never passes the ideal one
    j = judgments([("q", "a", 3), ("q", "b", 1)])
    assert evaluate_rankings({"q": ["a", "a", "a"]}, j)["NDCG@10"] == pytest.approx(1.0)


def test_missing_query_counts_as_empty_ranking() -> None:
    out = evaluate_rankings({"q1": RANKINGS["q1"]}, J, **CUTS, per_query=True)
    assert out["queries"] == 2
    np.testing.assert_allclose(out["per_query"]["NDCG@3"], [Q1_NDCG, 0.0])
    assert out["MRR@3"] == pytest.approx(0.5 / 2)
    assert out["Recall@2"] == pytest.approx(0.5 / 2)
    empty = evaluate_rankings({}, J)
    assert empty["NDCG@10"] == empty["MRR@10"] == empty["Recall@100"] == 0.0


def test_scale_override() -> None:
    # scale (0, 3): gain = relevance / 3, so a = 1, b = 2/3, c = 1/3, d = 5/6, e = f = 1/3.
    # q3 now has gain > 0 and is evaluated; its only product f (1/3) is below 0.5, so its
    # Recall is undefined (NaN) and left out of the Recall mean.
    # q1 ranks [c, a, x, b]: DCG@3 = 1/3 + 1/log2(3); IDCG@3 = 1 + (2/3)/log2(3) + (1/3)/2
    # q2 ranks [d]: DCG@3 = 5/6; IDCG@3 = 5/6 + (1/3)/log2(3) (e now has a gain)
    # q3 (not ranked): NDCG 0, MRR 0.
    out = evaluate_rankings(RANKINGS, J, **CUTS, scale=(0, 3), per_query=True)
    q1 = (1 / 3 + 1 / L3) / (1 + (2 / 3) / L3 + (1 / 3) / L4)
    q2 = (5 / 6) / (5 / 6 + (1 / 3) / L3)
    assert out["queries"] == 3 and out["skipped_queries"] == 0
    np.testing.assert_allclose(out["per_query"]["NDCG@3"], [q1, q2, 0.0])
    np.testing.assert_allclose(out["per_query"]["Recall@2"], [0.5, 1.0, np.nan])
    assert out["Recall@2"] == pytest.approx(0.75)
    assert out["MRR@3"] == pytest.approx((0.5 + 1 + 0) / 3)
    # labels outside the scale are clipped to gains 0 and 1
    j = judgments([("q", "a", 5), ("q", "b", -1)])
    assert evaluate_rankings({"q": ["b", "a"]}, j, scale=(0, 3))["NDCG@10"] == pytest.approx(1 / L3)


def test_threshold() -> None:
    # threshold 0.8: only a (gain 1) is relevant; d (0.75) is not, so q2 gets MRR 0 and
    # no Recall; NDCG (graded) does not change.
    out = evaluate_rankings(RANKINGS, J, **CUTS, threshold=0.8, per_query=True)
    np.testing.assert_allclose(out["per_query"]["MRR@3"], [0.5, 0.0])
    np.testing.assert_allclose(out["per_query"]["Recall@2"], [1.0, np.nan])
    assert out["Recall@2"] == 1.0
    assert out["NDCG@3"] == pytest.approx((Q1_NDCG + 1) / 2)
    # 2.33 on 1..3 is gain 0.665: relevant at 0.665 despite float rounding
    j = judgments([("q", "a", 1 + 0.665 * 2), ("q", "b", 1), ("q", "c", 3)])
    assert evaluate_rankings({"q": ["a"]}, j, threshold=0.665)["MRR@10"] == 1.0


def test_skipped_queries() -> None:
    j = judgments([("q", "a", 1), ("q", "b", 1), ("r", "c", 1), ("s", "d", 3), ("s", "e", 1)])
    out = evaluate_rankings({"s": ["d"], "q": ["a"]}, j)
    assert out["queries"] == 1 and out["skipped_queries"] == 2
    assert out["NDCG@10"] == 1.0


def test_missing_products() -> None:
    # b is not in the catalogue: dropped from q1, so IDCG@3 = 1 and NDCG(q1) = 1/log2(3),
    # and q1's relevant set is {a}: Recall@2 = 1. q3's f is missing too (already skipped).
    known = np.array(["a", "c", "d", "e", "x"], dtype=object)
    out = evaluate_rankings(RANKINGS, J, **CUTS, known=known, per_query=True)
    assert out["missing_products"] == 2
    np.testing.assert_allclose(out["per_query"]["NDCG@3"], [1 / L3, 1.0])
    assert out["Recall@2"] == 1.0
    # a query whose every product is missing is skipped
    out = evaluate_rankings(RANKINGS, J, known={"a", "b", "c"})
    assert out["queries"] == 1 and out["skipped_queries"] == 2 and out["missing_products"] == 3


def test_equal_labels_all_get_gain_one() -> None:
    j = judgments([("q", "a", 2), ("q", "b", 2)])
    # gains [1, 1]; ranks [b, x]: DCG@10 = 1, IDCG = 1 + 1/log2(3)
    out = evaluate_rankings({"q": ["b", "x"]}, j)
    assert out["NDCG@10"] == pytest.approx(1 / (1 + 1 / L3))
    assert out["Recall@100"] == 0.5


def test_no_evaluated_queries_gives_nan() -> None:
    out = evaluate_rankings({}, judgments([("q", "a", 1), ("q", "b", 1)]), scale=(1, 3))
    assert out["queries"] == 0 and out["skipped_queries"] == 1
    assert math.isnan(out["NDCG@10"]) and math.isnan(out["Recall@100"])


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="ndcg_k"):
        evaluate_rankings({}, J, ndcg_k=0)
    with pytest.raises(ValueError, match="threshold"):
        evaluate_rankings({}, J, threshold=0)
    with pytest.raises(ValueError, match="scale"):
        evaluate_rankings({}, J, scale=(3, 1))
    with pytest.raises(TypeError, match="strings"):
        evaluate_rankings({"q1": [1, 2]}, J)
    with pytest.raises(ValueError, match="twice"):
        evaluate_rankings({}, judgments([("q", "a", 1), ("q", "a", 3)]))


def reference(rankings, j: Judgments, k: int, threshold: float = 0.5):
    """Plain-Python NDCG/MRR/Recall at one cut-off, straight from the definitions."""
    lo, hi = j.relevance.min(), j.relevance.max()
    gains: dict[str, dict[str, float]] = {}
    for q, p, r in zip(j.query, j.product_id, j.relevance, strict=True):
        gains.setdefault(q, {})[p] = 1.0 if hi == lo else (r - lo) / (hi - lo)
    rows = []
    for q, judged in gains.items():
        if max(judged.values()) <= 0:
            continue
        seen: set[str] = set()
        ranked = []
        for p in list(rankings.get(q, []))[:k]:
            ranked.append(judged.get(p, 0.0) if p not in seen else 0.0)
            seen.add(p)
        dcg = sum(g / math.log2(i + 2) for i, g in enumerate(ranked))
        ideal = sorted(judged.values(), reverse=True)[:k]
        idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
        rel = [g >= threshold for g in ranked]
        rr = 1 / (rel.index(True) + 1) if any(rel) else 0.0
        n_rel = sum(g >= threshold for g in judged.values())
        rows.append((dcg / idcg, rr, sum(rel) / n_rel if n_rel else math.nan))
    return np.array(rows)


def test_matches_loop_reference_on_random_data() -> None:
    rng = np.random.default_rng(0)
    products = [f"p{i}" for i in range(30)]
    rows, rankings = [], {}
    for q in range(40):
        judged = rng.choice(products, size=rng.integers(1, 8), replace=False)
        rows += [(f"q{q}", p, float(rng.choice([1, 1.33, 2, 2.5, 3]))) for p in judged]
        if q % 7:  # some evaluated queries have no ranking at all
            rankings[f"q{q}"] = rng.choice(products, size=rng.integers(0, 12)).tolist()
    j = judgments(rows)
    out = evaluate_rankings(rankings, j, ndcg_k=5, mrr_k=5, recall_k=5, per_query=True)
    ref = reference(rankings, j, k=5)
    per = out["per_query"]
    assert out["queries"] == len(ref)
    np.testing.assert_allclose(per["NDCG@5"], ref[:, 0])
    np.testing.assert_allclose(per["MRR@5"], ref[:, 1])
    np.testing.assert_allclose(per["Recall@5"], ref[:, 2])
    assert out["Recall@5"] == pytest.approx(np.nanmean(ref[:, 2]))
