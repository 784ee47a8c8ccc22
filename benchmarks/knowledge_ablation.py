"""Language-model knowledge on Beauty: preset `best` against `sasrec` and `augmented`.

    python benchmarks/knowledge_ablation.py [--seeds 3] [--runs runs/bench-knowledge]
        [--baseline-runs runs/bench-rec-accuracy] [--augmented-runs runs/bench-augment]
        [--arms sasrec,augmented,best] [--json-out docs/results/knowledge_ablation.json]
        [--refresh]

Trains what is missing (`shopaug train --preset P --seed S` per run folder, as
`benchmarks/augment_ablation.py` does, reusing folders of the same configuration), then
re-ranks every saved model on the test cases: 3 seeds per preset, full ranking, history
excluded, per-user NDCG@10 averaged over seeds, paired bootstrap over users against
`sasrec`. Prints the table (with the late-fusion weights each `best` run chose on
validation), writes `--runs`/report.html and one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from augment_ablation import train


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", default="bundled:amazon-beauty")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--runs", type=Path, default=Path("runs/bench-knowledge"))
    ap.add_argument("--baseline-runs", type=Path, default=Path("runs/bench-rec-accuracy"))
    ap.add_argument("--augmented-runs", type=Path, default=Path("runs/bench-augment"))
    ap.add_argument("--arms", default="sasrec,augmented,best",
                    help="presets to compare; sasrec is the baseline and always included")
    ap.add_argument("--json-out", type=Path, default=None)
    ap.add_argument("--refresh", action="store_true",
                    help="re-evaluate every run's test metrics (all history conventions) with "
                         "today's scoring code instead of reading them from results.json: for "
                         "saved weights whose scoring changed since they were trained")
    args = ap.parse_args()
    arms = ["sasrec", *(a for a in args.arms.split(",") if a and a != "sasrec")]

    from shopaug.ablation import arm_records, compare, format_ablation, ndcg_per_case
    from shopaug.evaluation import HISTORY_CONVENTIONS, evaluate, rank_cases
    from shopaug.evaluation.report import write_report
    from shopaug.experiment import load_run

    roots = {"sasrec": args.baseline_runs, "augmented": args.augmented_runs, "best": args.runs}
    if unknown := set(arms) - set(roots):
        raise SystemExit(f"--arms: unknown preset(s) {sorted(unknown)}; expected {sorted(roots)}")
    folders = {a: [roots[a] / f"{a}-seed{s}" for s in range(args.seeds)] for a in arms}
    for preset, fs in folders.items():
        for s, f in enumerate(fs):
            train(preset, s, f, args.data, args.threads)

    per_case, records, blends = {}, {}, []
    split = None
    for preset, fs in folders.items():
        gains, recs = [], []
        for f in fs:
            _, split, model, name = load_run(f)
            if preset == "best":  # each member of an ensemble chose its own weights
                for i, m in enumerate(getattr(model, "members_", ()) or (model,)):
                    blends.append({"run": str(f), "member": i, "text_blend": m.blend_,
                                   "cooc_blend": m.mix_})
            ranks, _ = rank_cases(model, split.test, history="exclude")
            gains.append(ndcg_per_case(ranks))
            rec = json.loads((f / "results.json").read_text())["models"][name]
            if args.refresh:
                rec["test"] = {h: evaluate(model, split, "test", history=h)
                               for h in HISTORY_CONVENTIONS}
            recs.append(rec)
        per_case[preset], records[preset] = np.mean(gains, axis=0), recs
    assert split is not None
    summary = {"seeds": args.seeds, "model": "sasrec", "late_fusion": blends,
               **compare(records, per_case, split, baseline="sasrec")}
    print(format_ablation(summary))
    results = {
        "name": "bench-knowledge", "primary": "best",
        "protocol": {"split": "leave-one-out", "ranking": "full",
                     "history_conventions": ["exclude", "zero", "keep"],
                     "default_history": "exclude"},
        "models": arm_records(records), "ablation": summary,
    }
    print(f"report: {write_report(results, args.runs / 'report.html')}")
    out = {"benchmark": "knowledge_ablation", "data": args.data, **summary}
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(json.dumps(out, indent=2, default=float) + "\n")
    print(json.dumps(out, default=float))


if __name__ == "__main__":
    main()
