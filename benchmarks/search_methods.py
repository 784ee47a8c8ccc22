"""Search method table on Home Depot: whole-catalogue retrieval, held-out queries, perturbed
queries, query latency.

The given judgments are split by query (seed 0): 80% "dev" (the only queries any weight or
setting was tuned on, and the ceiling's training data) and 20% "held" (only reported).
Perturbed queries: each held query gets one seeded edit (typo, swap, drop_char, synonym,
drop_word or reorder); the drop is measured per method on the same edited queries.

    python benchmarks/search_methods.py --best runs/search/best [--ceiling-model DIR]
        [--out docs/results/search_methods.json]

``--best`` is a ``search index --method best`` folder (its encoder was fine-tuned on
synthetic queries only); ``--ceiling-model`` an encoder fine-tuned on the dev judgments
(``search finetune --judgments dev.tsv``). doc2query rows append the best build's kept
synthetic queries (regenerated from the warm Gemma cache when the folder has no
``queries.tsv``) to product texts for BM25. Prints a table and writes JSON.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np

from shopaug.data._bundled import resolve_file
from shopaug.lm import TextEncoder
from shopaug.search import (
    IndexConfig,
    Perturber,
    SearchIndex,
    expand_texts,
    read_catalog,
    read_judgments,
)
from shopaug.search._pipeline import evaluate_index


def split_queries(j, frac: float = 0.2, seed: int = 0):
    """(dev, held): a seeded permutation of the queries in first-seen order."""
    qs = j.queries()
    perm = np.random.default_rng(seed).permutation(len(qs))
    n = int(len(qs) * frac)
    held = {qs[i] for i in perm[:n]}
    return j.select([q for q in qs if q not in held]), j.select(held)


def bootstrap(a: np.ndarray, b: np.ndarray, seed: int = 0, n: int = 2000) -> list[float]:
    """95% interval of mean(a) / mean(b) - 1 over queries (paired)."""
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(a), (n, len(a)))
    r = a[idx].mean(1) / b[idx].mean(1) - 1
    return [float(np.percentile(r, 2.5)), float(np.percentile(r, 97.5))]


def latency(index: SearchIndex, queries: list[str], method: str, n: int = 200) -> dict:
    times = []
    for q in queries[:n]:
        t0 = time.perf_counter()
        index.search([q], 10, method=method)  # type: ignore[arg-type]
        times.append(time.perf_counter() - t0)
    ms = np.array(times) * 1000
    return {"p50_ms": round(float(np.percentile(ms, 50)), 2),
            "p99_ms": round(float(np.percentile(ms, 99)), 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--catalog", default="bundled:homedepot-search/products.tsv")
    ap.add_argument("--judgments", default="bundled:homedepot-search/judgments.tsv")
    ap.add_argument("--best", type=Path, required=True,
                    help="index folder of `search index --method best` (its model/ is the "
                         "synthetic encoder; its index.json has the build figures)")
    ap.add_argument("--ceiling-model", type=Path)
    ap.add_argument("--weight", type=float, default=None,
                    help="dense weight of the hybrids (default: tuned on dev)")
    ap.add_argument("--out", type=Path, default=Path("docs/results/search_methods.json"))
    args = ap.parse_args()

    cat = read_catalog(resolve_file(args.catalog))
    dev, held = split_queries(read_judgments(resolve_file(args.judgments)))
    held_q = held.queries()
    perturbed = Perturber()(held_q, np.random.default_rng(0))
    print(f"{len(cat)} products; dev {len(dev.queries())} queries, held {len(held_q)}")

    # one index per encoder; methods are views of it (bm25 / dense / hybrid)
    t0 = time.perf_counter()
    plain = SearchIndex.build(cat, IndexConfig(method="bm25"))
    build = {"bm25_seconds": round(time.perf_counter() - t0, 1)}
    indexes = {"bm25": (plain, "bm25")}
    tuned_lex = SearchIndex.build(cat, IndexConfig(method="bm25", b=0.5, spell=True))
    indexes["bm25 (b=.5, spell)"] = (tuned_lex, "bm25")
    best_meta = json.loads((args.best / "index.json").read_text())
    build["best index (search index --method best)"] = best_meta.get("best", {})
    pairs, gen = _pairs(cat, args.best)
    build["synthetic pairs regenerated (warm cache)"] = gen
    expanded = expand_texts(cat.texts(), pairs, max_queries=3)
    indexes["bm25 (b=.5, spell) + doc2query"] = (SearchIndex.build(
        cat, IndexConfig(method="bm25", b=0.5, spell=True),
        lexical_texts=expanded), "bm25")
    encoders = {"zero-shot": None, "synthetic": args.best / "model"}
    if args.ceiling_model:
        encoders["ceiling (real dev judgments)"] = args.ceiling_model
    for name, model in encoders.items():
        t0 = time.perf_counter()
        enc = TextEncoder(model=model, progress=True)
        base = SearchIndex.build(cat, IndexConfig(method="dense", b=0.5, spell=True,
                                                  model=str(model) if model else None),
                                 encoder=enc)
        build[f"dense {name} seconds (cache warm if re-run)"] = round(time.perf_counter() - t0, 1)
        indexes[f"dense {name}"] = (base, "dense")
        w = args.weight
        if w is None:  # tune the hybrid weight on dev queries only
            best = (-1.0, 0.5)
            for cand in (0.3, 0.4, 0.5, 0.6, 0.7):
                hyb = _with(base, cand)
                s = evaluate_index(hyb, dev, method="hybrid")["NDCG@10"]
                best = max(best, (s, cand))
            w = best[1]
        indexes[f"hybrid {name} (w={w})"] = (_with(base, w), "hybrid")

    rows, per = {}, {}
    for name, (idx, method) in indexes.items():
        r = evaluate_index(idx, held, method=method, per_query=True)
        p = evaluate_index(idx, held, method=method, queries=perturbed)
        per[name] = r.pop("per_query")["NDCG@10"]
        rows[name] = {
            "NDCG@10": r["NDCG@10"], "MRR@10": r["MRR@10"], "Recall@100": r["Recall@100"],
            "perturbed NDCG@10": p["NDCG@10"], "drop": r["NDCG@10"] - p["NDCG@10"],
            **latency(idx, held_q, method),
        }
    ref = per["bm25"]
    for name in rows:
        rows[name]["vs bm25"] = float(per[name].mean() / ref.mean() - 1)
        rows[name]["vs bm25 95% CI"] = bootstrap(per[name], ref)
        rows[name]["drop / bm25 drop"] = rows[name]["drop"] / rows["bm25"]["drop"]
    print(f"{'method':<44}{'NDCG@10':>8}{'MRR@10':>8}{'R@100':>7}{'vs BM25':>9}"
          f"{'pert.':>7}{'drop':>7}{'p50ms':>7}{'p99ms':>7}")
    for name, r in rows.items():
        print(f"{name:<44}{r['NDCG@10']:>8.4f}{r['MRR@10']:>8.4f}{r['Recall@100']:>7.3f}"
              f"{r['vs bm25']:>+9.1%}{r['perturbed NDCG@10']:>7.4f}{r['drop']:>7.4f}"
              f"{r['p50_ms']:>7.1f}{r['p99_ms']:>7.1f}")
    out = {"date": time.strftime("%Y-%m-%d"), "machine": f"{platform.machine()}, 2 cores",
           "held_queries": len(held_q), "dev_queries": len(dev.queries()),
           "build": build, "methods": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2))
    print(json.dumps(out["build"]))


def _pairs(cat, best: Path):
    from shopaug.search import AugmentConfig, LexicalIndex, read_pairs
    from shopaug.search._pipeline import BestConfig, augment_queries

    if (best / "queries.tsv").is_file():
        return read_pairs(best / "queries.tsv", cat), {"read": str(best / "queries.tsv")}
    cfg: AugmentConfig = BestConfig().augment
    t0 = time.perf_counter()
    pairs, rep = augment_queries(cat, cfg, lexical=LexicalIndex(b=BestConfig().b).fit(
        cat.texts()))
    rep["seconds_total"] = round(time.perf_counter() - t0, 1)
    return pairs, rep


def _with(index: SearchIndex, weight: float) -> SearchIndex:
    """The same index with another hybrid weight (shares vectors and BM25)."""
    from dataclasses import replace

    other = SearchIndex(index.catalog, replace(index.config, method="hybrid", weight=weight))
    other.lexical, other.vectors, other.spell = index.lexical, index.vectors, index.spell
    other._encoder, other._faiss = index._encoder, index._faiss
    return other


if __name__ == "__main__":
    main()
