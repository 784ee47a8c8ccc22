"""Throughput of the vectorized augmentation ops vs a straightforward per-sequence loop.

Builds a batch of training sequences of the bundled Beauty data (leave-one-out training
partition, left-padded to 50), then times crop, mask, reorder, substitute and insert from
``shopaug.augment.ops`` against plain Python versions of the same operators written below
(one row at a time, lists plus per-row ``np.random.Generator`` calls). Prints a table, then
one JSON line with per-operator ``seq_per_s`` and the geometric-mean speedup.

    OMP_NUM_THREADS=1 python benchmarks/augment_throughput.py [--rows 22000] [--repeats 5]
        [--json-out PATH]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from shopaug.augment import cooccurrence_neighbors, ops
from shopaug.data import load
from shopaug.evaluation import leave_one_out

MAX_LEN = 50
RATIOS = {"crop": 0.6, "mask": 0.3, "reorder": 0.3, "substitute": 0.2, "insert": 0.2}


# --- the straightforward implementation: one sequence at a time ----------------------------


def _rows(batch: np.ndarray) -> list[list[int]]:
    return [[x for x in row if x] for row in batch.tolist()]


def _pad(rows: list[list[int]], width: int) -> np.ndarray:
    out = np.zeros((len(rows), width), dtype=np.int64)
    for r, seq in enumerate(rows):
        seq = seq[-width:]
        if seq:
            out[r, width - len(seq) :] = seq
    return out


def naive_crop(batch: np.ndarray, rng: np.random.Generator, ratio: float) -> np.ndarray:
    out = []
    for seq in _rows(batch):
        n = len(seq)
        if n == 0:
            out.append([])
            continue
        m = max(1, int(ratio * n + 1e-9))
        start = int(rng.integers(0, n - m + 1))
        out.append(seq[start : start + m])
    return _pad(out, batch.shape[1])


def naive_mask(batch: np.ndarray, rng: np.random.Generator, ratio: float, token: int) -> np.ndarray:
    out = []
    for seq in _rows(batch):
        k = int(ratio * len(seq) + 1e-9)
        for i in rng.choice(len(seq), size=k, replace=False):
            seq[i] = token
        out.append(seq)
    return _pad(out, batch.shape[1])


def naive_reorder(batch: np.ndarray, rng: np.random.Generator, ratio: float) -> np.ndarray:
    out = []
    for seq in _rows(batch):
        n = len(seq)
        m = int(ratio * n + 1e-9)
        start = int(rng.integers(0, n - m + 1))
        window = seq[start : start + m]
        out.append(seq[:start] + [window[i] for i in rng.permutation(m)] + seq[start + m :])
    return _pad(out, batch.shape[1])


def naive_substitute(
    batch: np.ndarray, rng: np.random.Generator, ratio: float, table: np.ndarray
) -> np.ndarray:
    out = []
    for seq in _rows(batch):
        k = int(ratio * len(seq) + 1e-9)
        for i in rng.choice(len(seq), size=k, replace=False):
            cand = [x for x in table[seq[i]].tolist() if x]
            if cand:
                seq[i] = cand[int(rng.integers(len(cand)))]
        out.append(seq)
    return _pad(out, batch.shape[1])


def naive_insert(
    batch: np.ndarray, rng: np.random.Generator, ratio: float, table: np.ndarray
) -> np.ndarray:
    out = []
    for seq in _rows(batch):
        k = int(ratio * len(seq) + 1e-9)
        chosen = set(rng.choice(len(seq), size=k, replace=False).tolist())
        grown = []
        for i, item in enumerate(seq):
            grown.append(item)
            if i in chosen:
                cand = [x for x in table[item].tolist() if x]
                if cand:
                    grown.append(cand[int(rng.integers(len(cand)))])
        out.append(grown)
    return _pad(out, batch.shape[1])


# --- timing ---------------------------------------------------------------------------------


def _median_seconds(fn: Callable[[np.random.Generator], np.ndarray], repeats: int) -> float:
    times = []
    for rep in range(repeats):
        rng = np.random.default_rng(rep)
        t0 = time.perf_counter()
        fn(rng)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=22000, help="padded rows per batch")
    ap.add_argument("--repeats", type=int, default=5, help="timed runs per op (median)")
    ap.add_argument("--json-out", type=Path, default=None, help="also write the JSON here")
    args = ap.parse_args()

    ds = load("bundled:amazon-beauty")
    train = leave_one_out(ds).train
    seqs = train.sequences
    rows = np.flatnonzero(seqs.lengths > 0)
    rows = np.resize(rows, args.rows)  # repeats rows when more are asked than exist
    batch = seqs.padded(MAX_LEN, rows)
    t0 = time.perf_counter()
    table = cooccurrence_neighbors(seqs, train.n_items, k=10, window=3)
    table_s = time.perf_counter() - t0
    token = train.n_items + 1

    fast: dict[str, Callable[[np.random.Generator], np.ndarray]] = {
        "crop": lambda rng: ops.crop(batch, rng, RATIOS["crop"]),
        "mask": lambda rng: ops.mask(batch, rng, RATIOS["mask"], token=token),
        "reorder": lambda rng: ops.reorder(batch, rng, RATIOS["reorder"]),
        "substitute": lambda rng: ops.substitute(batch, rng, RATIOS["substitute"], table),
        "insert": lambda rng: ops.insert(batch, rng, RATIOS["insert"], table),
    }
    slow: dict[str, Callable[[np.random.Generator], np.ndarray]] = {
        "crop": lambda rng: naive_crop(batch, rng, RATIOS["crop"]),
        "mask": lambda rng: naive_mask(batch, rng, RATIOS["mask"], token),
        "reorder": lambda rng: naive_reorder(batch, rng, RATIOS["reorder"]),
        "substitute": lambda rng: naive_substitute(batch, rng, RATIOS["substitute"], table),
        "insert": lambda rng: naive_insert(batch, rng, RATIOS["insert"], table),
    }

    # The two implementations agree on what they can agree on: lengths and changed counts.
    for name in fast:
        a, b = fast[name](np.random.default_rng(0)), slow[name](np.random.default_rng(0))
        assert a.shape == b.shape == batch.shape, name
        if name != "insert":
            assert ((a != 0).sum(1) == (b != 0).sum(1)).all(), name
        if name in ("crop", "mask", "reorder"):
            assert ((a != batch).sum(1) <= (batch != 0).sum(1)).all(), name

    results = {}
    print(
        f"{len(batch)} rows x {MAX_LEN}, mean length {(batch != 0).sum(1).mean():.1f}; "
        f"neighbour table {table_s:.2f} s; median of {args.repeats}"
    )
    print(f"{'op':<11} {'vectorized':>14} {'naive':>14} {'speedup':>8}")
    for name in fast:
        t_fast = _median_seconds(fast[name], args.repeats)
        t_slow = _median_seconds(slow[name], args.repeats)
        results[name] = {
            "vectorized_seq_per_s": len(batch) / t_fast,
            "naive_seq_per_s": len(batch) / t_slow,
            "vectorized_ms": 1e3 * t_fast,
            "naive_ms": 1e3 * t_slow,
            "speedup": t_slow / t_fast,
        }
        r = results[name]
        print(
            f"{name:<11} {r['vectorized_seq_per_s']:>10,.0f} s/s {r['naive_seq_per_s']:>10,.0f}"
            f" s/s {r['speedup']:>7.1f}x"
        )
    geo = math.exp(statistics.fmean(math.log(r["speedup"]) for r in results.values()))
    print(f"geometric-mean speedup: {geo:.1f}x")
    summary = {
        "benchmark": "augment_throughput",
        "rows": len(batch),
        "max_len": MAX_LEN,
        "repeats": args.repeats,
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "neighbor_table_s": round(table_s, 4),
        "speedup_vs_naive": round(geo, 2),
        "seq_per_s": {
            name: {
                "vectorized": round(r["vectorized_seq_per_s"]),
                "naive": round(r["naive_seq_per_s"]),
            }
            for name, r in results.items()
        },
        "speedup": {name: round(r["speedup"], 2) for name, r in results.items()},
    }
    line = json.dumps(summary)
    if args.json_out is not None:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(line + "\n")
    print(line)


if __name__ == "__main__":
    main()
