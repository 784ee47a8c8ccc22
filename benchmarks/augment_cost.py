"""Training cost of augmentation and text knowledge: time per SASRec epoch without
augmentation, with online augmentation, contrastive views, soft labels, fused text vectors
and all of them (`best`'s recipe), measured side by side.

    python benchmarks/augment_cost.py [--users 6000] [--epochs 3] [--threads N]
        [--variants plain,recommended,text,recommended-text]

Each variant trains the `sasrec` preset's model on the same users of bundled Beauty for a
few epochs (no validation), in one process, variants interleaved epoch by epoch so machine
noise hits all of them alike. Prints medians, ratios to the plain model and one JSON line.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tomllib
from importlib import resources

import torch

from shopaug.augment import Recipe, load_recipe
from shopaug.data import load
from shopaug.evaluation import leave_one_out
from shopaug.models import SASRec
from shopaug.training import TrainOptions

VARIANTS = {
    "plain": None,
    "online": {"name": "online", "train": {"mode": "online"}, "augment": {
        "op": "one_of", "children": [{"op": "crop", "ratio": 0.8}, {"op": "mask", "ratio": 0.2},
                                     {"op": "reorder", "ratio": 0.2},
                                     {"op": "substitute", "ratio": 0.2}]}},
    "contrastive": {"name": "cl", "train": {"mode": "contrastive", "cl_weight": 0.1,
                                            "cl_temperature": 0.2, "cl_similarity": "cos"},
                    "augment": {"op": "one_of", "children": [
                        {"op": "crop", "ratio": 0.6}, {"op": "mask", "ratio": 0.3},
                        {"op": "reorder", "ratio": 0.3}]}},
    "soft_labels": {"name": "soft", "train": {"mode": "online", "soft_labels": 0.1},
                    "augment": {"op": "identity"}},
    "recommended": "recommended",
    "text": "text",
    "recommended-text": "recommended-text",
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--users", type=int, default=6000)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--variants", default=",".join(VARIANTS),
                    help="comma-separated subset of: " + ", ".join(VARIANTS))
    args = ap.parse_args()
    chosen = ["plain", *(v for v in args.variants.split(",") if v != "plain")]
    unknown = set(chosen) - set(VARIANTS)
    if unknown:
        raise SystemExit(f"unknown variants {sorted(unknown)}; known: {list(VARIANTS)}")
    if args.threads:
        torch.set_num_threads(args.threads)
    preset = tomllib.loads(
        (resources.files("shopaug") / "presets" / "sasrec.toml").read_text())["config"]
    train = leave_one_out(load("bundled:amazon-beauty").head(args.users)).train
    recipes = {k: None if v is None else (load_recipe(v) if isinstance(v, str)
                                           else Recipe.from_dict(v))
               for k, v in VARIANTS.items() if k in chosen}
    times: dict[str, list[float]] = {k: [] for k in recipes}
    for epoch in range(args.epochs):
        for name, recipe in recipes.items():
            m = SASRec(**{**preset, "epochs": 1})
            m.fit(train, TrainOptions(seed=epoch, progress=False, recipe=recipe))
            times[name].append(m.history_[0]["seconds"])
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"{'variant':12} {'s/epoch':>8} {'x plain':>8}")
    for k, v in med.items():
        print(f"{k:12} {v:8.2f} {v / med['plain']:8.2f}")
    print(json.dumps({"benchmark": "augment_cost", "users": args.users,
                      "threads": torch.get_num_threads(), "seconds_per_epoch": med,
                      "ratio_to_plain": {k: v / med["plain"] for k, v in med.items()}}))


if __name__ == "__main__":
    main()
