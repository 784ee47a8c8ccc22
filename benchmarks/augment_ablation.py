"""A preset against preset `sasrec` on Beauty: `best` (augmentation plus language-model
knowledge, the default) or `augmented` (the `recommended` recipe alone); 3 seeds each, test
split, full ranking, history excluded, with the gain's 95% paired bootstrap interval over
users.

    python benchmarks/augment_ablation.py [--preset best|augmented] [--seeds 3] [--jobs 1]
        [--threads N] [--baseline-runs runs/bench-rec-accuracy] [--runs runs/bench-augment]

Each (preset, seed) is one `shopaug train` process writing a run folder; a folder that
already holds results for the same preset and seed is reused, so the `sasrec` runs of
`benchmarks/rec_accuracy.py` serve as the baseline when `--baseline-runs` points at them.
The saved models are then re-ranked to get per-user NDCG@10 for the paired comparison.
Prints the table (as `shopaug ablate` does) and one JSON line.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np


def _same(meta: dict, preset: str, seed: int) -> bool:
    """Whether a run folder was trained with what ``preset`` means today: same model config
    and the same recipe (operators and training use; its name may differ)."""
    from shopaug.experiment import resolve

    want, got = resolve(preset=preset), meta.get("run_config", {})

    def recipe(r: dict | None) -> tuple:
        return (None,) if not r else (r["augment"], r["train"])

    return (meta.get("seed") == seed and got.get("config") == want.config
            and recipe(got.get("recipe")) == recipe(want.recipe))


def train(preset: str, seed: int, out: Path, data: str, threads: int | None) -> None:
    if (out / "results.json").is_file():
        if _same(json.loads((out / "run.json").read_text()), preset, seed):
            print(f"reusing {out}", flush=True)
            return
        raise SystemExit(f"{out} holds a different configuration; move it away first")
    cmd = [sys.executable, "-m", "shopaug.cli", "train", "--data", data, "--preset", preset,
           "--seed", str(seed), "--out", str(out), "--no-progress"]
    if threads:
        cmd += ["--threads", str(threads)]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    print(f"trained {out} in {time.perf_counter() - t0:.0f}s", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", default="bundled:amazon-beauty")
    ap.add_argument("--baseline", default="sasrec")
    ap.add_argument("--preset", default="best")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--jobs", type=int, default=1, help="training processes at once")
    ap.add_argument("--threads", type=int, default=None, help="torch threads per process")
    ap.add_argument("--runs", type=Path, default=Path("runs/bench-augment"))
    ap.add_argument("--baseline-runs", type=Path, default=None,
                    help="folder holding <baseline>-seed<N> runs to reuse")
    ap.add_argument("--json-out", type=Path, default=None)
    args = ap.parse_args()

    from shopaug.ablation import arm_records, compare, format_ablation, ndcg_per_case
    from shopaug.evaluation import rank_cases
    from shopaug.evaluation.report import write_report
    from shopaug.experiment import load_run

    base_dir = args.baseline_runs or args.runs
    folders = {
        args.baseline: [base_dir / f"{args.baseline}-seed{s}" for s in range(args.seeds)],
        args.preset: [args.runs / f"{args.preset}-seed{s}" for s in range(args.seeds)],
    }
    jobs = [(p, s, f) for p, fs in folders.items() for s, f in enumerate(fs)]
    with ThreadPoolExecutor(args.jobs) as pool:
        list(pool.map(lambda j: train(j[0], j[1], j[2], args.data, args.threads), jobs))

    per_case, records = {}, {}
    split = None
    for preset, fs in folders.items():
        gains, recs = [], []
        for f in fs:
            _, split, model, name = load_run(f)
            ranks, _ = rank_cases(model, split.test, history="exclude")
            gains.append(ndcg_per_case(ranks))
            recs.append(json.loads((f / "results.json").read_text())["models"][name])
        per_case[preset], records[preset] = np.mean(gains, axis=0), recs
    assert split is not None
    summary = {"seeds": args.seeds, "model": "sasrec",
               **compare(records, per_case, split, baseline=args.baseline)}
    print(format_ablation(summary))
    # the same HTML report as `shopaug ablate`: seed-mean metrics per preset plus the section
    results = {
        "name": "bench-augment", "primary": args.preset,
        "protocol": {"split": "leave-one-out", "ranking": "full",
                     "history_conventions": ["exclude", "zero", "keep"],
                     "default_history": "exclude"},
        "models": arm_records(records),
        "ablation": summary,
    }
    print(f"report: {write_report(results, args.runs / 'report.html')}")
    out = {"benchmark": "augment_ablation", "data": args.data, "baseline": args.baseline,
           "preset": args.preset, **summary}
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
