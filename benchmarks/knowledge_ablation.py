"""Language-model knowledge on Beauty: preset `best` against `sasrec` and `augmented`.

    python benchmarks/knowledge_ablation.py [--seeds 3] [--runs runs/bench-knowledge]
        [--baseline-runs runs/bench-rec-accuracy] [--augmented-runs runs/bench-augment]
        [--json-out docs/results/knowledge_ablation.json]

Trains what is missing (`shopaug train --preset P --seed S` per run folder, as
`benchmarks/augment_ablation.py` does, reusing folders of the same configuration), then
re-ranks every saved model on the test cases: 3 seeds per preset, full ranking, history
excluded, per-user NDCG@10 averaged over seeds, paired bootstrap over users against
`sasrec`. A `best` run trained before `text_blend = "auto"` entered the preset gets its
blend weight chosen exactly as `fit` chooses it (``SASRec.choose_blend`` on the validation
cases, all users), so the figures are those of today's preset. Prints the table, writes
`--runs`/report.html and one JSON line.
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
    ap.add_argument("--json-out", type=Path, default=None)
    args = ap.parse_args()

    from shopaug.ablation import arm_records, compare, format_ablation, ndcg_per_case
    from shopaug.evaluation import evaluate, rank_cases
    from shopaug.evaluation.report import write_report
    from shopaug.experiment import load_run, resolve

    folders = {
        "sasrec": [args.baseline_runs / f"sasrec-seed{s}" for s in range(args.seeds)],
        "augmented": [args.augmented_runs / f"augmented-seed{s}" for s in range(args.seeds)],
        "best": [args.runs / f"best-seed{s}" for s in range(args.seeds)],
    }
    blend_today = resolve(preset="best").config.get("text_blend", 0.0)
    for preset, fs in folders.items():
        for s, f in enumerate(fs):
            if preset == "best" and (f / "results.json").is_file():
                continue  # checked below: the same model, with the blend chosen as fit does
            train(preset, s, f, args.data, args.threads)

    per_case, records, blends = {}, {}, []
    split = None
    for preset, fs in folders.items():
        gains, recs = [], []
        for f in fs:
            _, split, model, name = load_run(f)
            rec = json.loads((f / "results.json").read_text())["models"][name]
            if preset == "best" and blend_today == "auto" and model.config.text_blend != "auto":
                figures = model.choose_blend(
                    lambda m, sp=split: evaluate(m, sp, "valid", beyond=False)["NDCG@10"])
                blends.append({"run": str(f), "valid": figures, "chosen": model.blend_})
                rec = {**rec, "test": {h: evaluate(model, split, "test", history=h)
                                       for h in ("exclude", "zero", "keep")}}
            ranks, _ = rank_cases(model, split.test, history="exclude")
            gains.append(ndcg_per_case(ranks))
            recs.append(rec)
        per_case[preset], records[preset] = np.mean(gains, axis=0), recs
    assert split is not None
    summary = {"seeds": args.seeds, "model": "sasrec", "text_blend": blends,
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
