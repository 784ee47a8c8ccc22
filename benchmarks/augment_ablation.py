"""Augmentation on Beauty: preset `best` (SASRec + the `recommended` recipe) against preset
`sasrec` (no augmentation), 3 seeds, test split, full ranking, with a paired bootstrap.

    python benchmarks/augment_ablation.py [--seeds 3] [--recipes recommended ...] [--out DIR]

Runs `shopaug ablate` (one process; torch uses all cores), prints its table, then one JSON
line with the gain, its interval and the cost per epoch of each arm.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", default="bundled:amazon-beauty")
    ap.add_argument("--preset", default="sasrec")
    ap.add_argument("--recipes", nargs="+", default=["recommended"])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--out", default="runs/bench-augment")
    ap.add_argument("--json-out", default=None)
    args = ap.parse_args()
    cmd = [sys.executable, "-m", "shopaug.cli", "ablate", "--data", args.data, "--preset",
           args.preset, "--seeds", str(args.seeds), "--out", args.out, "--no-progress"]
    for r in args.recipes:
        cmd += ["--recipes", r]
    if args.epochs:
        cmd += ["--epochs", str(args.epochs)]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True)
    summary = json.loads((Path(args.out) / "ablation.json").read_text())
    out = {"benchmark": "augment_ablation", "seconds": round(time.perf_counter() - t0, 1),
           "data": args.data, "preset": args.preset, "seeds": args.seeds, "arms": {}}
    for row in summary["table"]:
        out["arms"][row["arm"]] = {
            "NDCG@10": row["NDCG@10"], "HR@10": row["HR@10"],
            "zero NDCG@10": row["zero NDCG@10"], "tail NDCG@10": row["tail NDCG@10"],
            "short NDCG@10": row["short NDCG@10"], "seconds_per_epoch": row["seconds_per_epoch"],
            "fit_seconds": row["fit_seconds"], "vs_none": row.get("vs_none"),
        }
    line = json.dumps(out)
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(out, indent=2) + "\n")
    print(line)


if __name__ == "__main__":
    main()
