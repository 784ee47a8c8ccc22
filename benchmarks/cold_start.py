"""Cold start on bundled Amazon Beauty: new items, and users with 1-2 history items.

Two settings, full ranking over all items, history items excluded:

* cold items: ``cold_items(frac, seed)`` (leave-one-out, with every interaction of a random
  ``frac`` of the items removed from training). Recall@20 and NDCG@20 on the test cases
  whose target is a cold item, and NDCG@10 / Recall@20 on all test cases (what ranking new
  items costs on the others).
* short histories: leave-one-out test cases with the history cut to its newest ``n`` items.
  Beauty is a 5-core dataset (no user has fewer than 5 interactions), so this simulates a
  user with 1-2 purchases; the models were still trained on the full training partition.
  NDCG@10 and HR@10.

Models: Popularity, ItemKNN (the shipped ``itemknn`` preset), TextProfile (text only: MiniLM
item vectors vs the recency-weighted profile of the history) and Fallback over ItemKNN. The
MiniLM vectors are cached in ``~/.cache/shopaug`` (about 35-80 s to encode the first time).

    OMP_NUM_THREADS=1 python benchmarks/cold_start.py
    python benchmarks/cold_start.py --sample 3000 --out /tmp/cold.json    # quicker
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from shopaug.augment.knowledge import item_embeddings
from shopaug.data import load
from shopaug.evaluation import (
    Targets,
    accuracy,
    cold_items,
    leave_one_out,
    rank_cases,
)
from shopaug.experiment import presets, read_config_file
from shopaug.models import Fallback, ItemKNN, Popularity, TextProfile
from shopaug.models.coldstart import PATHS
from shopaug.training import TrainOptions

MODELS = ("popularity", "itemknn", "text", "fallback")


def last_n(cases: Targets, n: int) -> Targets:
    """The same cases with each history cut to its newest ``n`` items."""
    h = cases.history
    age = np.repeat(h.indptr[1:], h.lengths) - 1 - np.arange(len(h.items))
    return Targets(cases.users, h.keep(age < n), cases.target)


def paths(fb: Fallback, cases: Targets) -> dict[str, int]:
    code = fb.route(cases.history)
    return {p: int((code == i).sum()) for i, p in enumerate(PATHS)}


def build(train, emb: np.ndarray, knn_config: dict, seed: int) -> dict:
    opts = TrainOptions(seed=seed, progress=False)
    knn = ItemKNN(**knn_config).fit(train, opts)
    return {
        "popularity": Popularity().fit(train, opts),
        "itemknn": knn,
        "text": TextProfile(emb),
        "fallback": Fallback.for_train(knn, train, item_emb=emb),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="bundled:amazon-beauty")
    ap.add_argument("--frac", type=float, default=0.1, help="share of items made cold")
    ap.add_argument("--seed", type=int, default=0, help="picks the cold items")
    ap.add_argument("--short", type=int, nargs="+", default=[1, 2], help="history lengths")
    ap.add_argument("--sample", type=int, default=0,
                    help="evaluate a random sample of this many test cases (0: all)")
    ap.add_argument("--out", type=Path, default=Path("docs/results/cold_start.json"))
    args = ap.parse_args()

    t0 = time.perf_counter()
    ds = load(args.data)
    knn_config = read_config_file(presets()["itemknn"])["config"]
    rng = np.random.default_rng(args.seed)

    def sample(cases: Targets) -> Targets:
        if not args.sample or args.sample >= len(cases):
            return cases
        return cases.rows(np.sort(rng.choice(len(cases), args.sample, replace=False)))

    # 1. cold items ------------------------------------------------------------------------
    split = cold_items(ds, args.frac, seed=args.seed)
    t = time.perf_counter()
    emb = item_embeddings(split.train)  # text is side information: known for cold items too
    emb_seconds = time.perf_counter() - t
    models = build(split.train, emb, knn_config, args.seed)
    test = sample(split.test)
    is_cold = np.isin(test.target, split.cold)  # as cold_metrics() selects them
    cold_res: dict = {}
    for name in MODELS:
        t = time.perf_counter()
        ranks, _ = rank_cases(models[name], test)
        acc_cold = accuracy(ranks[is_cold])
        acc_all = accuracy(ranks)
        cold_res[name] = {
            "cold": {
                "n_cases": int(is_cold.sum()),
                "Recall@20": acc_cold["HR@20"],
                "NDCG@20": acc_cold["NDCG@20"],
            },
            "all": {"n_cases": len(test), "NDCG@10": acc_all["NDCG@10"],
                    "Recall@20": acc_all["HR@20"]},
            "seconds": round(time.perf_counter() - t, 1),
        }
        print(f"cold items: {name} done", file=sys.stderr, flush=True)
    cold_paths = {"cold_targets": paths(models["fallback"], test.rows(np.flatnonzero(is_cold))),
                  "all": paths(models["fallback"], test)}

    # 2. short histories under plain leave-one-out -----------------------------------------
    loo = leave_one_out(ds)
    models = build(loo.train, emb, knn_config, args.seed)
    test = sample(loo.test)
    short_res: dict = {}
    for n in args.short:
        cases = last_n(test, n)
        short_res[str(n)] = {"n_cases": len(cases), "paths": paths(models["fallback"], cases)}
        for name in MODELS:
            ranks, _ = rank_cases(models[name], cases)
            acc = accuracy(ranks)
            short_res[str(n)][name] = {"NDCG@10": acc["NDCG@10"], "HR@10": acc["HR@10"]}
        print(f"short histories: n={n} done", file=sys.stderr, flush=True)

    print(table(cold_res, short_res, args))
    result = {
        "benchmark": "cold_start",
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "command": "python " + " ".join(sys.argv),
        "data": args.data,
        "protocol": {
            "cold": f"cold_items(frac={args.frac}, seed={args.seed}); test cases, full ranking "
                    "over all items, history excluded; Recall@20 = HR@20 (one target)",
            "short": "leave_one_out test cases, history cut to its newest n items, full "
                     "ranking, history excluded",
            "sample": args.sample or "all",
        },
        "itemknn": knn_config,
        "fallback": {"min_history": 3, "fusion_k": 20, "transfer": True},
        "cold_items": {"n_cold_items": len(split.cold), "models": cold_res,
                       "fallback_paths": cold_paths},
        "short_history": short_res,
        "embedding_seconds": round(emb_seconds, 1),
        "total_seconds": round(time.perf_counter() - t0, 1),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "python": platform.python_version(),
                    "omp_threads": os.environ.get("OMP_NUM_THREADS")},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}", file=sys.stderr)


def table(cold: dict, short: dict, args: argparse.Namespace) -> str:
    n_cold = next(iter(cold.values()))["cold"]["n_cases"]
    n_all = next(iter(cold.values()))["all"]["n_cases"]
    lines = [f"\ncold items (frac {args.frac}, seed {args.seed}): {n_cold} cold-target test "
             f"cases of {n_all}",
             f"{'model':<12}{'cold R@20':>11}{'cold N@20':>11}{'all N@10':>10}{'all R@20':>10}"]
    for name, r in cold.items():
        lines.append(f"{name:<12}{r['cold']['Recall@20']:>11.4f}{r['cold']['NDCG@20']:>11.4f}"
                     f"{r['all']['NDCG@10']:>10.4f}{r['all']['Recall@20']:>10.4f}")
    for n, r in short.items():
        lines.append(f"\nshort histories: newest {n} item(s), {r['n_cases']} test cases")
        lines.append(f"{'model':<12}{'NDCG@10':>10}{'HR@10':>10}")
        for name in MODELS:
            lines.append(f"{name:<12}{r[name]['NDCG@10']:>10.4f}{r[name]['HR@10']:>10.4f}")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
