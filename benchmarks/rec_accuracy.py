"""Accuracy of the four recommenders on bundled Amazon Beauty, over several seeds.

Each (model, seed) trains in its own `shopaug train` process, so wall time and peak memory
belong to that run alone. Prints a table (mean +- std over seeds, all three history
conventions) and one JSON object; `--json-out` also writes the JSON to a file.

    python benchmarks/rec_accuracy.py                       # 4 models x 3 seeds
    python benchmarks/rec_accuracy.py --models sasrec --seeds 0
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

METRICS = ["HR@5", "HR@10", "HR@20", "NDCG@5", "NDCG@10", "NDCG@20", "MRR@10", "coverage@10",
           "diversity@10", "novelty@10"]
CONVENTIONS = ["exclude", "zero", "keep"]


def train(model: str, seed: int, runs: Path, data: str) -> dict:
    out = runs / f"{model}-seed{seed}"
    cmd = [sys.executable, "-m", "shopaug.cli", "train", "--data", data, "--preset", model,
           "--seed", str(seed), "--out", str(out), "--no-progress"]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    rec = json.loads((out / "results.json").read_text())["models"][model]
    rec["wall_seconds"] = round(wall, 1)
    return rec


def mean_std(values: list[float]) -> dict[str, float]:
    return {
        "mean": statistics.fmean(values),
        "std": statistics.stdev(values) if len(values) > 1 else 0.0,
    }


def summarise(records: dict[str, list[dict]]) -> dict:
    out: dict = {}
    for model, recs in records.items():
        s: dict = {"seeds": [r["seed"] for r in recs]}
        for conv in CONVENTIONS:
            s[conv] = {
                k: mean_std([r["test"][conv][k] for r in recs])
                for k in METRICS if k in recs[0]["test"][conv]
            }
            tail = [r["test"][conv]["slices"]["tail"]["NDCG@10"] for r in recs]
            s[conv]["tail_NDCG@10"] = mean_std(tail)
        for k in ("fit_seconds", "wall_seconds", "peak_rss_mb", "epochs_run"):
            s[k] = mean_std([float(r[k]) for r in recs])
        s["valid_NDCG@10"] = mean_std([r["valid"]["NDCG@10"] for r in recs])
        out[model] = s
    return out


def table(summary: dict) -> str:
    lines = []
    for conv in CONVENTIONS:
        lines.append(f"\ntest split, full ranking, history={conv} (mean +- std over seeds)")
        cols = ["HR@5", "HR@10", "HR@20", "NDCG@5", "NDCG@10", "NDCG@20", "MRR@10"]
        if conv == "exclude":
            cols += ["coverage@10"]
        lines.append(f"{'model':<11}" + "".join(f"{c:>16}" for c in cols))
        for model, s in summary.items():
            cells = "".join(
                f"{s[conv][c]['mean']:>9.4f}+-{s[conv][c]['std']:.4f}"[-16:].rjust(16)
                for c in cols
            )
            lines.append(f"{model:<11}{cells}")
    lines.append("\ntraining (mean over seeds)")
    lines.append(f"{'model':<11}{'fit s':>10}{'wall s':>10}{'peak MB':>10}{'epochs':>8}")
    for model, s in summary.items():
        lines.append(
            f"{model:<11}{s['fit_seconds']['mean']:>10.1f}{s['wall_seconds']['mean']:>10.1f}"
            f"{s['peak_rss_mb']['mean']:>10.0f}{s['epochs_run']['mean']:>8.1f}"
        )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=["popularity", "itemknn", "bpr", "sasrec"])
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--data", default="bundled:amazon-beauty")
    ap.add_argument("--runs", type=Path, default=Path("runs/bench-rec-accuracy"))
    ap.add_argument("--json-out", type=Path, default=None)
    args = ap.parse_args()

    records: dict[str, list[dict]] = {}
    for model in args.models:
        for seed in args.seeds:
            rec = train(model, seed, args.runs, args.data)
            ex = rec["test"]["exclude"]
            print(f"{model} seed {seed}: NDCG@10 {ex['NDCG@10']:.4f} HR@10 {ex['HR@10']:.4f} "
                  f"fit {rec['fit_seconds']:.0f}s peak {rec['peak_rss_mb']:.0f} MB",
                  file=sys.stderr, flush=True)
            records.setdefault(model, []).append(rec)
    summary = summarise(records)
    print(table(summary))
    result = {
        "benchmark": "rec_accuracy",
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "command": "python " + " ".join(sys.argv),
        "data": args.data,
        "protocol": "leave-one-out, full ranking over all items, test split",
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "python": platform.python_version()},
        "summary": summary,
    }
    text = json.dumps(result, indent=2)
    print(text)
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(text + "\n")


if __name__ == "__main__":
    main()
