"""Out-of-core ingest, augmentation and one training epoch at 1M, 5M and 20M interactions,
local engine vs Ray engine, on this machine.

    python benchmarks/scale.py [--sizes 1000000 5000000 20000000] [--engines local ray]
        [--root /tmp/shopaug-scale] [--out docs/results/scale.json]

Each (size, engine) runs in a fresh process. Logs come from ``shopaug data generate``
(Beauty-like statistics, 8 Parquet parts, cached under ``--root``). Phases:

* ``ingest``: ``shopaug.data.load`` on the Parquet folder (the out-of-core reader) and the
  leave-one-out split;
* ``augment``: crop/mask/reorder (one of, CL4SRec's strengths), one copy per user, sharded by
  users on the engine; the grown training set is originals + copies (masked items dropped);
* ``epoch``: one SASRec epoch on the grown set (dim 32, 20 items of history, softmax over
  the positive and 512 shared popularity-sampled negatives with logQ correction, 1,024
  sequences per step, no validation): one process with 2 torch threads, or Ray Train with
  2 DDP workers of 1 thread, each taking half of every batch.

Peak memory is the largest sum of proportional set sizes (PSS: shared pages split between
the processes that map them) over the process and all its descendants (Ray's raylet, GCS,
object store and workers included), sampled every 0.25 s.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import threading
import time
from pathlib import Path

CONFIG = {"dim": 32, "max_len": 20, "loss": "sampled", "negatives": 512,
          "sampler": "popularity", "batch_size": 1024, "dropout": 0.2}


class PeakMemory:
    """Largest total PSS of this process tree, sampled in a thread."""

    def __init__(self, every: float = 0.25) -> None:
        import psutil

        self.psutil, self.every, self.peak = psutil, every, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def sample(self) -> int:
        me = self.psutil.Process()
        total = 0
        for p in [me, *me.children(recursive=True)]:
            try:
                total += p.memory_full_info().pss
            except (self.psutil.NoSuchProcess, self.psutil.AccessDenied):
                pass
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.sample())
            self._stop.wait(self.every)

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return round(self.peak / 2**20, 1)


def one(size: int, engine_name: str, root: Path) -> dict:
    import dataclasses

    import numpy as np
    import torch

    from shopaug.augment import load_recipe
    from shopaug.augment.expand import samples
    from shopaug.data import load
    from shopaug.engine import augment, get_engine
    from shopaug.experiment import fit_model, make_split, resolve

    torch.set_num_threads(2)
    mem = PeakMemory()
    folder = root / f"log-{size}"
    out: dict = {"interactions": size, "engine": engine_name}
    t = time.perf_counter()
    ds = load(folder)
    sp = make_split(ds, "loo")
    out["ingest_seconds"] = round(time.perf_counter() - t, 1)
    out.update(users=ds.n_users, items=ds.n_items,
               train_interactions=int(sp.train.sequences.n_interactions))
    t = time.perf_counter()
    engine = None if engine_name == "local" else get_engine("ray", workers=2)
    out["engine_start_seconds"] = round(time.perf_counter() - t, 1)
    t = time.perf_counter()
    aug = load_recipe("crop-mask-reorder").build().fit(sp.train)
    table = augment(sp.train, aug, 0, copies=1, max_len=CONFIG["max_len"], engine=engine)
    copies = samples(table.filter(table["copy"].to_numpy() > 0))
    copies = copies.keep(copies.items <= sp.train.n_items)
    from shopaug.data import Sequences

    grown = dataclasses.replace(sp.train, sequences=Sequences.concat([sp.train.sequences, copies]))
    out["augment_seconds"] = round(time.perf_counter() - t, 1)
    out["train_sequences"] = len(grown.sequences)
    del table, copies
    rc = resolve(model="sasrec")
    rc = dataclasses.replace(rc, config=dict(CONFIG), train={"valid_users": 0})
    split = dataclasses.replace(sp, train=grown)
    t = time.perf_counter()
    if engine is None:
        model, _ = fit_model(rc, split, seed=0, epochs=1, progress=False)
    else:
        model, _ = engine.fit(rc, split, seed=0, epochs=1)
    out["epoch_seconds"] = round(time.perf_counter() - t, 1)
    out["epoch_loss"] = round(float(model.history_[0]["loss"]), 4)
    out["total_seconds"] = round(out["ingest_seconds"] + out["engine_start_seconds"]
                                 + out["augment_seconds"] + out["epoch_seconds"], 1)
    out["peak_pss_mb"] = mem.stop()
    out["driver_max_rss_mb"] = round(
        __import__("resource").getrusage(__import__("resource").RUSAGE_SELF).ru_maxrss / 1024, 1)
    if engine is not None:
        engine.close()
    assert np.isfinite(out["epoch_loss"])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 5_000_000, 20_000_000])
    ap.add_argument("--engines", nargs="+", default=["local", "ray"])
    ap.add_argument("--root", type=Path, default=Path("/tmp/shopaug-scale"))
    ap.add_argument("--out", type=Path, default=Path("docs/results/scale.json"))
    ap.add_argument("--one", nargs=2, metavar=("SIZE", "ENGINE"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print("RESULT " + json.dumps(one(int(args.one[0]), args.one[1], args.root)), flush=True)
        return

    from shopaug.data import generate_log

    rows = []
    for size in args.sizes:
        folder = args.root / f"log-{size}"
        if not (folder / "_manifest.json").exists():
            t = time.perf_counter()
            generate_log(folder, size, seed=0, files=8)
            print(f"generated {size:,} interactions in {time.perf_counter() - t:.0f}s",
                  flush=True)
        for engine in args.engines:
            proc = subprocess.run(
                [sys.executable, __file__, "--one", str(size), engine, "--root", str(args.root)],
                capture_output=True, text=True,
            )
            line = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
            if proc.returncode or not line:
                print(proc.stderr[-3000:], file=sys.stderr)
                raise SystemExit(f"{size} {engine}: failed (exit {proc.returncode})")
            row = json.loads(line[0][7:])
            rows.append(row)
            print(json.dumps(row), flush=True)
    result = {"benchmark": "scale", "config": CONFIG, "date": time.strftime("%Y-%m-%d"),
              "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                          "platform": platform.platform()},
              "rows": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"{'size':>11} {'engine':>6} {'ingest':>7} {'augment':>8} {'epoch':>7} "
          f"{'total s':>8} {'peak MB':>8}")
    for r in rows:
        print(f"{r['interactions']:>11,} {r['engine']:>6} {r['ingest_seconds']:>7} "
              f"{r['augment_seconds']:>8} {r['epoch_seconds']:>7} {r['total_seconds']:>8} "
              f"{r['peak_pss_mb']:>8}")


if __name__ == "__main__":
    main()
