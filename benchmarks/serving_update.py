"""What an incremental update buys: feedback as events, warm-start fine-tuning vs a full
retrain, measured on held-out targets.

    python benchmarks/serving_update.py --run runs/demo [--epochs 1] [--lr-scale 0.3]
        [--out docs/results/serving_update.json]

The run's model was trained on leave-one-out training sequences (all but each user's last
two items). Its feedback is each user's validation item, arriving as an event after
deployment. Test targets (the last items) are never trained on. Rows, all on the same test
cases with the validation item in the history:

* ``served, no update``: the deployed model; feedback only grows the history it reads
  (what the service does between updates);
* ``warm update``: ``shopaug update``'s fine-tuning (``warm_update``) on the training
  sequences with the feedback appended, starting from the served weights;
* ``full retrain``: the same model trained from scratch on the same grown data for as many
  epochs as the original training's best epoch.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import platform
import time
from pathlib import Path

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--run", type=Path, default=Path("runs/demo"))
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--lr-scale", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=Path("docs/results/serving_update.json"))
    ap.add_argument("--skip-full", action="store_true", help="no full retrain (variants)")
    args = ap.parse_args()

    from shopaug.data import Sequences
    from shopaug.evaluation import evaluate
    from shopaug.experiment import load_run
    from shopaug.models import create
    from shopaug.serving._update import warm_update
    from shopaug.training import TrainOptions

    _, split, model, name = load_run(args.run)
    train = split.train
    # feedback: each validation case's target appended to that user's training sequence
    extra = {int(u): int(t) for u, t in zip(split.valid.users, split.valid.target,
                                            strict=True)}
    rows = [np.append(train.sequences[u], extra[u]) if u in extra else train.sequences[u]
            for u in range(train.n_users)]
    grown = dataclasses.replace(train, sequences=Sequences.from_lists(rows))

    def score(m) -> dict:
        out = evaluate(m, split, "test")
        return {k: round(float(out[k]), 5) for k in ("NDCG@10", "HR@10", "NDCG@20")}

    result: dict = {"benchmark": "serving_update", "run": str(args.run), "model": name,
                    "feedback_events": len(extra), "epochs": args.epochs,
                    "lr_scale": args.lr_scale, "date": time.strftime("%Y-%m-%d"),
                    "machine": {"cpus": __import__("os").cpu_count(),
                                "python": platform.python_version()}}
    result["served_no_update"] = score(model)
    print("served, no update:", result["served_no_update"], flush=True)

    warm = copy.deepcopy(model)
    secs = warm_update(warm, grown, epochs=args.epochs, lr_scale=args.lr_scale,
                       seed=args.seed, progress=False)
    result["warm_update"] = {**score(warm), "seconds": round(secs, 1)}
    print("warm update:", result["warm_update"], flush=True)

    if args.skip_full:
        print(json.dumps(result, indent=2))
        return
    # as many epochs as the served model's best (early-stopped) epoch: no validation
    # targets are left to stop on once they are training data
    scored = [h for h in model.history_ if "valid" in h]
    epochs = max(scored, key=lambda h: h["valid"])["epoch"] if scored else len(model.history_)
    full = create(model.name, **dataclasses.asdict(model.config))
    t0 = time.perf_counter()
    full.fit(grown, TrainOptions(seed=args.seed, epochs=epochs, progress=False))
    result["full_retrain"] = {**score(full), "seconds": round(time.perf_counter() - t0, 1),
                              "epochs": epochs}
    print("full retrain:", result["full_retrain"], flush=True)
    result["update_time_share"] = round(result["warm_update"]["seconds"] /
                                        result["full_retrain"]["seconds"], 3)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
