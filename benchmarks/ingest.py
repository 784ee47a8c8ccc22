"""Out-of-core ingest: wall time and peak memory of reading large interaction logs.

    python benchmarks/ingest.py [--sizes 1M,5M,20M] [--cache /tmp/shopaug-scale]
        [--files 16] [--seed 0] [--repeats 3] [--readers stream,memory]
        [--out docs/results/ingest.json]

For each size, a Beauty-like log (``shopaug data generate``: the same seed gives the same
log) is generated once into the cache as ``--files`` Parquet parts, plus a single-file copy
of the same rows in the same order (written part by part, so never whole in memory). Each
reader then runs ``--repeats`` times, each time in a fresh Python process, which reports
its wall time for the read alone and its peak resident memory (``VmHWM``) and the resident
memory after imports (the baseline):

* ``stream``: ``read_log_stream`` on the folder of parts (what ``load`` does for it);
* ``stream-file``: ``read_log_stream`` on the single file;
* ``memory``: ``read_log`` on the single file (the in-memory reader).

Every reader must produce the same Dataset (fingerprint); the table gives medians. Other
jobs on the machine make timings noisy; memory figures are stable.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

READERS = ("stream", "stream-file", "memory")


def _size(text: str) -> int:
    text = text.strip().upper()
    scale = {"K": 10**3, "M": 10**6}.get(text[-1:], 1)
    return int(float(text.rstrip("KM")) * scale)


def _label(n: int) -> str:
    return f"{n // 10**6}M" if n % 10**6 == 0 else f"{n // 10**3}K"


def _status() -> dict[str, int]:
    """Resident memory now and at its peak, in bytes (Linux ``/proc``)."""
    out = {}
    with open("/proc/self/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0]) * 1024
    return out


def child(reader: str, path: str) -> None:
    """Read one log in this (fresh) process and print one JSON line."""
    from shopaug.data import read_log, read_log_stream

    base = _status()["VmRSS"]
    t0 = time.perf_counter()
    ds = read_log(path) if reader == "memory" else read_log_stream(path)
    seconds = time.perf_counter() - t0
    peak = _status()["VmHWM"]
    from shopaug.experiment import fingerprint  # imports torch: only after the peak is read
    print(json.dumps({
        "seconds": seconds, "peak_rss": peak, "base_rss": base,
        "interactions": ds.n_interactions, "users": ds.n_users, "items": ds.n_items,
        "fingerprint": fingerprint(ds),
    }))


def ensure_log(cache: Path, n: int, files: int, seed: int) -> tuple[Path, Path, float | None]:
    """The cached folder of parts and its single-file copy; generation seconds if made now."""
    import pyarrow.parquet as pq

    from shopaug.data import generate_log
    from shopaug.data._stream import log_parts

    folder = cache / f"beauty-{_label(n)}-seed{seed}-files{files}"
    single = cache / f"{folder.name}.parquet"
    made = None
    if not (folder / "_manifest.json").exists():
        if folder.exists():
            import shutil

            shutil.rmtree(folder)
        t0 = time.perf_counter()
        generate_log(folder, n, seed=seed, files=files, progress=True)
        made = time.perf_counter() - t0
    if not single.exists():
        parts = log_parts(folder)
        tmp = single.with_suffix(".tmp")
        with pq.ParquetWriter(tmp, pq.read_schema(parts[0])) as writer:
            for part in parts:
                for batch in pq.ParquetFile(part).iter_batches(batch_size=1 << 20):
                    writer.write_batch(batch)
        tmp.replace(single)
    return folder, single, made


def run(reader: str, path: Path) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    p = subprocess.run([sys.executable, __file__, "--child", reader, str(path)],
                       capture_output=True, text=True, env=env, check=False)
    if p.returncode != 0:
        raise SystemExit(f"{reader} on {path} failed:\n{p.stderr}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="1M,5M,20M")
    ap.add_argument("--cache", type=Path, default=Path("/tmp/shopaug-scale"))
    ap.add_argument("--files", type=int, default=16)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--readers", default="stream,memory")
    ap.add_argument("--out", type=Path, default=Path("docs/results/ingest.json"))
    ap.add_argument("--child", nargs=2, metavar=("READER", "PATH"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(*args.child)
        return

    readers = args.readers.split(",")
    unknown = set(readers) - set(READERS)
    if unknown:
        raise SystemExit(f"unknown readers {sorted(unknown)}; expected some of {READERS}")
    args.cache.mkdir(parents=True, exist_ok=True)
    rows: list[dict] = []
    for n in map(_size, args.sizes.split(",")):
        folder, single, made = ensure_log(args.cache, n, args.files, args.seed)
        disk = sum(p.stat().st_size for p in folder.glob("*.parquet"))
        prints = set()
        for reader in readers:
            path = folder if reader == "stream" else single
            runs = [run(reader, path) for _ in range(args.repeats)]
            prints |= {r["fingerprint"] for r in runs}
            peak = max(r["peak_rss"] for r in runs)
            base = statistics.median(r["base_rss"] for r in runs)
            row = {
                "interactions": n, "reader": reader, "path": str(path),
                "users": runs[0]["users"], "items": runs[0]["items"],
                "parquet_mb": disk / 2**20, "generate_s": made,
                "seconds_median": statistics.median(r["seconds"] for r in runs),
                "seconds": [r["seconds"] for r in runs],
                "peak_rss_mb": peak / 2**20, "base_rss_mb": base / 2**20,
                "bytes_per_interaction": (peak - base) / n,
                "fingerprint": runs[0]["fingerprint"],
            }
            rows.append(row)
            print(f"{_label(n):>4} {reader:<12} {row['seconds_median']:7.1f} s  "
                  f"peak {row['peak_rss_mb']:7.0f} MiB  (+{row['bytes_per_interaction']:.0f} B "
                  "per interaction over the baseline)", flush=True)
        if len(prints) != 1:
            raise SystemExit(f"readers disagree on the {_label(n)} log: fingerprints {prints}")

    print("\n| interactions | reader | median s | peak RSS MiB | B/interaction over baseline |"
          " time vs memory | peak vs memory |")
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        ref = next((r for r in rows if r["interactions"] == row["interactions"]
                    and r["reader"] == "memory"), None)
        t = f"{row['seconds_median'] / ref['seconds_median']:.2f}x" if ref else "-"
        m = f"{row['peak_rss_mb'] / ref['peak_rss_mb']:.2f}x" if ref else "-"
        print(f"| {_label(row['interactions'])} | {row['reader']} | {row['seconds_median']:.1f} "
              f"| {row['peak_rss_mb']:.0f} | {row['bytes_per_interaction']:.0f} | {t} | {m} |")

    import numpy as np
    import pyarrow as pa

    result = {
        "benchmark": "ingest",
        "date": datetime.date.today().isoformat(),
        "command": "python benchmarks/ingest.py " + " ".join(sys.argv[1:]),
        "machine": {
            "cpus": os.cpu_count(), "platform": platform.platform(),
            "python": platform.python_version(), "numpy": np.__version__,
            "pyarrow": pa.__version__,
            "ram_gib": os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30,
        },
        "settings": {"files": args.files, "seed": args.seed, "repeats": args.repeats},
        "rows": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
