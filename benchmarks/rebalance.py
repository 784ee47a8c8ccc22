"""Re-balancing Home Depot relevance labels: one relevance classifier per method, held-out
queries, macro-F1 / AUC / NDCG@10 / Brier / log loss.

    python benchmarks/rebalance.py --seed 0 [--repeats 3] [--out docs/results/rebalance.json]

Features (BM25, MiniLM cosine, lengths, term overlap, PCA of the query * title vector
product) are computed once for every judged pair; MiniLM vectors come from the on-disk
cache, so only the first run encodes (all 41,209 judged titles and 8,254 queries: several
minutes on 2 cores). Each repeat splits the queries with another seed (``seed + r``), 80%
training and 20% held out. Prints a table (mean over repeats, with the spread when there
are several) and writes JSON with every repeat's full table. ``--queries N`` runs on a seeded
sample of N queries (a quick check; not the reported figures).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from shopaug.data._bundled import resolve_file
from shopaug.lm import TextEncoder
from shopaug.search import (
    LexicalIndex,
    RebalanceConfig,
    compare_rebalancing,
    pair_features,
    read_catalog,
    read_judgments,
)

COLUMNS = (  # (row key, header, format)
    ("macro_f1_3class", "F1 3c", ".4f"),
    ("auc_ovr_macro", "AUC 3c", ".4f"),
    ("macro_f1_binary", "F1 rel", ".4f"),
    ("auc_relevant", "AUC rel", ".4f"),
    ("NDCG@10", "NDCG@10", ".4f"),
    ("brier_relevant", "Brier", ".4f"),
    ("log_loss_relevant", "LogLoss", ".4f"),
    ("brier_3class", "Brier 3c", ".4f"),
    ("log_loss_3class", "LL 3c", ".4f"),
    ("mean_p_relevant", "mean p", ".3f"),
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--catalog", default="bundled:homedepot-search/products.tsv")
    ap.add_argument("--judgments", default="bundled:homedepot-search/judgments.tsv")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeats", type=int, default=1, help="splits with seeds seed..seed+n-1")
    ap.add_argument("--held-frac", type=float, default=0.2)
    ap.add_argument("--model", choices=("hgb", "logreg"), default="hgb")
    ap.add_argument("--pca-dim", type=int, default=8)
    ap.add_argument("--max-iter", type=int, default=200)
    ap.add_argument("--queries", type=int, default=0,
                    help="use a seeded sample of this many queries (0: all; for a quick run)")
    ap.add_argument("--threads", type=int, default=1,
                    help="OpenMP/BLAS threads while fitting (the encoder keeps its own); more "
                         "threads on shared cores made HistGradientBoosting ~10x slower")
    ap.add_argument("--out", type=Path, default=Path("docs/results/rebalance.json"))
    args = ap.parse_args()
    t_start = time.perf_counter()

    cat = read_catalog(resolve_file(args.catalog))
    judg = read_judgments(resolve_file(args.judgments))
    if args.queries:
        qs = np.array(sorted(judg.queries()), dtype=object)
        pick = np.random.default_rng(args.seed).permutation(len(qs))[: args.queries]
        judg = judg.select(qs[pick])
    cfg = RebalanceConfig(model=args.model, pca_dim=args.pca_dim, max_iter=args.max_iter)
    t0 = time.perf_counter()
    lexical = LexicalIndex().fit(cat.texts())
    bm25_seconds = time.perf_counter() - t0
    enc = TextEncoder(progress=True)
    t0 = time.perf_counter()
    feats = pair_features(cat, judg, encoder=enc, lexical=lexical)
    feature_seconds = time.perf_counter() - t0
    print(f"{len(cat)} products, {len(judg)} pairs, {len(judg.queries())} queries; features "
          f"{feature_seconds:.0f} s ({enc.encoded_} texts encoded, the rest cached)",
          file=sys.stderr, flush=True)

    runs = []
    for r in range(args.repeats):
        seed = args.seed + r
        t0 = time.perf_counter()
        with threadpool_limits(args.threads):
            runs.append(compare_rebalancing(cat, judg, seed=seed, held_frac=args.held_frac,
                                            config=cfg, features=feats))
        print(f"seed {seed}: {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)

    summary = summarise(runs)
    print(table(runs[0], summary, args))
    result = {
        "benchmark": "rebalance",
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": "python " + " ".join(sys.argv),
        "data": {"catalog": args.catalog, "judgments": args.judgments, "products": len(cat),
                 "pairs": len(judg), "queries": len(judg.queries())},
        "protocol": (
            "judgments split by query (Judgments.split, held_frac) per seed; scaling, PCA, "
            "re-balancing and the model see training queries only; 3-class macro-F1 (argmax) "
            "and one-vs-rest macro AUC; binary view P(relevant = relevance >= 2): macro-F1 at "
            "0.5, AUC, Brier, log loss; NDCG@10 of each held-out query's judged pool ranked "
            "by expected relevance (binary rows: P(relevant)), gains as evaluate_rankings "
            "with scale (1, 3); '+recal' rows: prior correction p_c ~ p_s,c / rate_c "
            "(two classes: Dal Pozzolo et al. 2015)"),
        "config": {k: getattr(cfg, k) for k in cfg.__dataclass_fields__},
        "events": "not run: the bundled Amazon Beauty log has no event types (reviews only); "
                  "compare_event_rebalancing is tested on a synthetic log",
        "seeds": [args.seed + r for r in range(args.repeats)],
        "summary": summary,
        "runs": runs,
        "seconds": {"bm25_index": bm25_seconds, "features": feature_seconds,
                    "texts_encoded": enc.encoded_, "total": time.perf_counter() - t_start},
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "python": platform.python_version(), "numpy": np.__version__,
                    "fit_threads": args.threads},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(_clean(result), indent=2) + "\n")
    print(f"wrote {args.out}", file=sys.stderr)


def summarise(runs: list[dict]) -> dict:
    """Mean and standard deviation over repeats of every numeric row figure."""
    out: dict = {}
    for name in runs[0]["methods"]:
        out[name] = {}
        for key, _, _ in COLUMNS:
            values = [run["methods"][name][key] for run in runs]
            if values[0] is None:
                continue
            out[name][key] = {"mean": float(np.mean(values)),
                              "sd": float(np.std(values, ddof=1)) if len(values) > 1 else None}
    out["reference"] = {
        ref: float(np.mean([run["reference"]["NDCG@10"][ref] for run in runs]))
        for ref in runs[0]["reference"]["NDCG@10"]
    }
    return out


def table(first: dict, summary: dict, args: argparse.Namespace) -> str:
    c, b, s = first["classes"], first["binary"], first["split"]
    lines = [
        f"\nclasses (edges {c['edges']}): all {c['counts']['all']}, train {c['counts']['train']}"
        f", held {c['counts']['held']}",
        f"binary relevant >= {b['relevant_at']}: all {b['counts']['all']}; held rate "
        f"{b['held_rate']:.3f}",
        f"split seed {s['seed']}: {s['train_queries']} train / {s['held_queries']} held queries,"
        f" {s['train_pairs']} / {s['held_pairs']} pairs; repeats {args.repeats}"
        + (" (mean, then sd line)" if args.repeats > 1 else ""),
        "NDCG@10 references: " + ", ".join(f"{k} {v:.4f}" for k, v in
                                           summary["reference"].items()),
        "",
        f"{'method':<26}" + "".join(f"{h:>9}" for _, h, _ in COLUMNS) + "  train counts",
    ]
    for name in first["methods"]:
        row = summary[name]
        cells = "".join(f"{format(row[k]['mean'], f):>9}" if k in row else f"{'-':>9}"
                        for k, _, f in COLUMNS)
        counts = "/".join(str(v) for v in first["methods"][name]["train_counts"].values())
        lines.append(f"{name:<26}{cells}  {counts}")
        if args.repeats > 1:
            sds = "".join(f"{format(row[k]['sd'], f):>9}" if k in row else f"{'':>9}"
                          for k, _, f in COLUMNS)
            lines.append(f"{'  sd':<26}{sds}")
    return "\n".join(lines)


def _clean(obj):
    """NaN becomes null (strict JSON); tuples become lists."""
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


if __name__ == "__main__":
    main()
