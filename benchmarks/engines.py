"""Ray engine vs local engine on Beauty: metric agreement and Ray's overhead on small data.

    python benchmarks/engines.py [--epochs 24] [--seed 0] [--out docs/results/engines.json]

Rows, measured side by side in one run on one machine:

* augmentation (``recommended`` recipe, 1 copy, sharded by users): seconds on each engine and
  whether the samples are identical;
* evaluation of the trained local model (test, full ranking, history excluded): seconds on
  each engine and whether the figures are identical;
* SASRec (preset ``sasrec``, fixed ``--epochs``, no early stopping): local training in one
  process (2 torch threads) vs Ray Train with 2 DDP workers (1 thread each, each taking half
  of every batch), test NDCG@10 / HR@10 of both and the wall time;
* Ray start-up (``ray.init`` with ``num_cpus`` = cores).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default="bundled:amazon-beauty")
    ap.add_argument("--epochs", type=int, default=24)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=Path("docs/results/engines.json"))
    args = ap.parse_args()

    import torch

    from shopaug.augment import load_recipe
    from shopaug.data import load
    from shopaug.engine import augment, get_engine
    from shopaug.evaluation import evaluate
    from shopaug.experiment import fit_and_evaluate, make_split, resolve

    torch.set_num_threads(2)
    sp = make_split(load(args.data), "loo")
    out: dict = {"benchmark": "engines", "data": args.data, "epochs": args.epochs,
                 "seed": args.seed, "date": time.strftime("%Y-%m-%d"),
                 "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                             "torch": torch.__version__}}

    t = time.perf_counter()
    ray = get_engine("ray", workers=2)
    out["ray_start_seconds"] = round(time.perf_counter() - t, 2)
    aug = load_recipe("recommended").build().fit(sp.train)
    t = time.perf_counter()
    a_local = augment(sp.train, aug, args.seed, copies=1)
    t_local = time.perf_counter() - t
    t = time.perf_counter()
    a_ray = augment(sp.train, aug, args.seed, copies=1, engine=ray)
    t_ray = time.perf_counter() - t
    out["augment"] = {"rows": a_local.num_rows, "local_seconds": round(t_local, 2),
                      "ray_seconds": round(t_ray, 2), "identical": a_local.equals(a_ray)}
    print("augment:", out["augment"], flush=True)

    rc = resolve(preset="sasrec")
    rc = dataclasses.replace(rc, train={**rc.train, "valid_users": 0,
                                        "time_budget_minutes": None})
    rows = {}
    for name, engine in (("local", None), ("ray", ray)):
        t = time.perf_counter()
        model, rec = fit_and_evaluate(rc, sp, seed=args.seed, epochs=args.epochs,
                                      progress=False, engine=engine)
        test = rec["test"]["exclude"]
        rows[name] = {"NDCG@10": test["NDCG@10"], "HR@10": test["HR@10"],
                      "NDCG@10_tail": test["slices"]["tail"]["NDCG@10"],
                      "epochs_run": rec["epochs_run"], "fit_seconds": rec["fit_seconds"],
                      "total_seconds": round(time.perf_counter() - t, 1)}
        print(name, rows[name], flush=True)
        if name == "local":
            t = time.perf_counter()
            e_local = evaluate(model, sp, "test")
            t_local = time.perf_counter() - t
            t = time.perf_counter()
            e_ray = evaluate(model, sp, "test", engine=ray)
            out["evaluate"] = {"local_seconds": round(t_local, 2),
                               "ray_seconds": round(time.perf_counter() - t, 2),
                               "identical": e_local == e_ray, "NDCG@10": e_local["NDCG@10"]}
            print("evaluate:", out["evaluate"], flush=True)
    out["train"] = rows
    a, b = rows["local"]["NDCG@10"], rows["ray"]["NDCG@10"]
    out["train_ndcg10_ratio_ray_over_local"] = round(b / a, 4)
    ray.close()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
