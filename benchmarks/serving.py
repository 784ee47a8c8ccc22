"""Serving under load, across kill -9, and the int8 path's quality loss.

    python benchmarks/serving.py --run runs/demo [--seconds 60] [--kills 5]
        [--out docs/results/serving.json]

Starts ``shopaug serve`` on the run in a child process (a store built afresh in a temporary
folder, so the run is not touched), waits until the cache warm-up is done, then drives fixed
request rates with the open-loop client of ``shopaug.serving._loadgen`` (client and server
share the machine's cores):

* ``GET /recommend/{user}`` at 300 requests/s, users drawn uniformly from all users;
* the same with the warm-up off (every first request per user scores the model);
* ``GET /search`` at 100 requests/s, queries cut from item titles (1-3 words), anonymous and
  personalised (``user_id``);
* ``POST /events`` at 50 requests/s (each one a committed DuckDB transaction).

Then ``--kills`` durability rounds (4 writers, SIGKILL after a random number of
acknowledged events, restart, check) and, on the run's own split, test NDCG@10 and query
encoding time of the float32 model against the int8 path (``--quantize int8``).
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from shopaug.serving._loadgen import drive, kill_round, start_server

KEY = "bench-key"


def _queries(ds, n: int, rng: np.random.Generator) -> list[str]:
    from urllib.parse import quote

    titles = [t for t in ds.item_text[1:] if t]
    out = []
    for j in rng.integers(0, len(titles), n):
        w = titles[j].split()
        m = min(len(w), int(rng.integers(1, 4)))
        s = int(rng.integers(0, len(w) - m + 1))
        out.append(quote(" ".join(w[s : s + m])))
    return out


def _wait_warm(url: str, timeout: float = 600) -> float:
    import httpx

    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        h = httpx.get(f"{url}/health", timeout=5).json()
        if h["cached_users"] >= h["users"] - 50:  # users without history are not cached
            return time.perf_counter() - t0
        time.sleep(1)
    raise TimeoutError("cache warm-up did not finish")


def _load(run: Path, port: int, seconds: float, rng: np.random.Generator, ds) -> dict:
    url = f"http://127.0.0.1:{port}"
    users = [str(u) for u in ds.users.to_external(np.arange(len(ds.users)))]
    pick = rng.integers(0, len(users), 1_000_000)
    queries = _queries(ds, 100_000, rng)
    items = [str(i) for i in ds.items.to_external(np.arange(1, ds.n_items + 1))]
    out: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        for warm in (True, False):
            store = Path(tmp) / f"store-{warm}.duckdb"
            extra = ["--store", str(store)] + ([] if warm else ["--no-warm-cache"])
            proc = start_server(run, port, api_key=KEY, extra=extra)
            try:
                if warm:
                    out["warm_up_seconds"] = round(_wait_warm(url), 1)
                drive(url, lambda i: ("GET", "/recommend/1", None), rate=50, seconds=2)
                key = "recommend" if warm else "recommend_no_warm_cache"
                out[key] = drive(url, lambda i: ("GET", f"/recommend/{users[pick[i]]}?k=10",
                                                 None), rate=300, seconds=seconds)
                print(key, out[key], flush=True)
                if not warm:
                    continue
                out["search"] = drive(url, lambda i: ("GET", f"/search?q={queries[i]}&k=10",
                                                      None), rate=100, seconds=seconds)
                print("search", out["search"], flush=True)
                out["search_personalised"] = drive(
                    url, lambda i: ("GET", f"/search?q={queries[i]}&k=10&user_id="
                                    f"{users[pick[i]]}", None), rate=100, seconds=seconds / 2)
                print("search_personalised", out["search_personalised"], flush=True)
                out["events"] = drive(
                    url, lambda i: ("POST", "/events", {
                        "user_id": users[pick[i]], "item_id": items[i % len(items)],
                        "type": "click"}), rate=50, seconds=seconds / 2,
                    headers={"X-API-Key": KEY})
                print("events", out["events"], flush=True)
            finally:
                proc.terminate()
                proc.wait(60)
    return out


def _kills(run: Path, port: int, kills: int, rng: np.random.Generator) -> dict:
    rounds = []
    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp) / "store.duckdb"
        for r in range(kills):
            after = int(rng.integers(50, 1000))
            res = kill_round(run, port, api_key=KEY, writers=4, after=after, prefix=f"k{r}",
                             extra=["--store", str(store), "--no-warm-cache"])
            rounds.append({"kill_after": after, **res})
            print("kill round", rounds[-1], flush=True)
    return {"kills": kills, "rounds": rounds,
            "acknowledged": sum(x["acknowledged"] for x in rounds),
            "lost": sum(x["lost"] for x in rounds),
            "duplicated": sum(x["duplicated"] for x in rounds)}


def _int8(run: Path) -> dict:
    import torch

    from shopaug.data import Sequences
    from shopaug.evaluation import evaluate
    from shopaug.experiment import load_run
    from shopaug.serving._quantize import Int8Recommender

    torch.set_num_threads(1)
    ds, split, model, _ = load_run(run)
    q8 = Int8Recommender(model)
    res = {}
    for name, m in (("float32", model), ("int8", q8)):
        t0 = time.perf_counter()
        ndcg = evaluate(m, split, "test")["NDCG@10"]
        hists = [ds.sequences()[u] for u in range(200)]
        times = []
        for h in hists:
            t = time.perf_counter()
            m.query_vectors(Sequences.from_lists([h]))
            times.append((time.perf_counter() - t) * 1000)
        res[name] = {"test_NDCG@10": round(float(ndcg), 5),
                     "query_ms_median": round(float(np.median(times)), 3),
                     "eval_seconds": round(time.perf_counter() - t0, 1)}
    res["ndcg_loss_relative"] = round(1 - res["int8"]["test_NDCG@10"] /
                                      res["float32"]["test_NDCG@10"], 4)
    res["item_memory_bytes"] = q8.memory_bytes()
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--run", type=Path, default=Path("runs/demo"))
    ap.add_argument("--port", type=int, default=8799)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--kills", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=Path("docs/results/serving.json"))
    args = ap.parse_args()

    from shopaug.experiment import load_run

    rng = np.random.default_rng(args.seed)
    ds = load_run(args.run)[0]
    with tempfile.TemporaryDirectory() as tmp:
        # a private copy: the servers write stores and nothing may touch the user's run
        run = Path(tmp) / "run"
        shutil.copytree(args.run, run, ignore=shutil.ignore_patterns("store.duckdb*",
                                                                     "updates"))
        result = {
            "benchmark": "serving", "run": str(args.run), "seconds": args.seconds,
            "date": time.strftime("%Y-%m-%d"), "machine": {
                "cpus": __import__("os").cpu_count(), "python": platform.python_version()},
            "load": _load(run, args.port, args.seconds, rng, ds),
            "durability": _kills(run, args.port, args.kills, rng),
            "int8": _int8(run),
        }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps({k: v for k, v in result.items() if k != "durability"}, indent=2))
    print(f"durability: {result['durability']['kills']} kills, "
          f"{result['durability']['acknowledged']} acknowledged, "
          f"{result['durability']['lost']} lost, {result['durability']['duplicated']} duplicated")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
