"""Time of SASRec training steps on bundled Beauty: fp32 vs bfloat16 autocast.

Runs both variants on the same batches in one process, alternating, and prints medians and
their ratio plus one JSON object.

    python benchmarks/sasrec_step.py [--steps 30] [--dim 64] [--batch 256]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np
import torch
import torch.nn.functional as F

from shopaug.data import load
from shopaug.evaluation import leave_one_out
from shopaug.models.sasrec import SASRecConfig, _Net


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--batch", type=int, default=256)
    args = ap.parse_args()
    ds = load("bundled:amazon-beauty")
    train = leave_one_out(ds).train
    cfg = SASRecConfig(dim=args.dim, batch_size=args.batch)
    torch.manual_seed(0)
    net = _Net(train.n_items, cfg)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3)
    rows = np.flatnonzero(train.sequences.lengths >= 2)
    windows = train.sequences.padded(cfg.max_len + 1, rows)
    rng = np.random.default_rng(0)

    def step(idx: np.ndarray, bf16: bool) -> float:
        w = torch.from_numpy(windows[idx])
        keep = (w > 0).any(0)
        w = w[:, keep.nonzero().min() :]
        t0 = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            h = net(w[:, :-1])
            tgt = w[:, 1:]
            real = tgt > 0
            logits = h[real] @ net.item.weight[1:].T
        loss = F.cross_entropy(logits.float(), tgt[real] - 1)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return time.perf_counter() - t0

    times: dict[str, list[float]] = {"fp32": [], "bf16": []}
    for _ in range(args.steps):
        idx = rng.choice(len(rows), args.batch, replace=False)
        times["fp32"].append(step(idx, False))
        times["bf16"].append(step(idx, True))
    med = {k: statistics.median(v[3:]) for k, v in times.items()}
    print(f"median step: fp32 {med['fp32'] * 1e3:.1f} ms, bf16 {med['bf16'] * 1e3:.1f} ms, "
          f"ratio fp32/bf16 {med['fp32'] / med['bf16']:.2f}")
    print(json.dumps({"benchmark": "sasrec_step", "dim": args.dim, "batch": args.batch,
                      "threads": torch.get_num_threads(), "median_s": med,
                      "ratio": med["fp32"] / med["bf16"]}))


if __name__ == "__main__":
    main()
