"""Cost and quality of language-model knowledge on Beauty.

    python benchmarks/knowledge_cost.py [--items 3000] [--enrich-minutes M] [--out JSON]

* MiniLM encoding throughput (items/s) in fp32 and torch dynamic int8, on the first
  ``--items`` catalogue titles with the cache disabled, and what int8 costs in quality:
  mean cosine to fp32, top-10 text-neighbour overlap, and test NDCG@10 of the text-only
  profile scorer (``TextProfile``: full ranking, history excluded) with each precision.
* Knowledge extraction wall time (``shopaug knowledge``: item vectors, text neighbours,
  training-history profiles) with a cold cache, then warm, in a fresh cache folder; with
  ``--enrich-minutes`` also Gemma enrichment of short titles under that time budget.

Prints a table and one JSON line; ``--out`` also writes the JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", default="bundled:amazon-beauty")
    ap.add_argument("--items", type=int, default=3000)
    ap.add_argument("--enrich-minutes", type=float, default=None)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    os.environ["SHOPAUG_CACHE"] = tempfile.mkdtemp(prefix="shopaug-bench-cache-")

    import torch

    from shopaug.augment.knowledge import item_embeddings, item_texts, text_neighbors
    from shopaug.data import load
    from shopaug.evaluation import evaluate, leave_one_out
    from shopaug.experiment import extract_knowledge
    from shopaug.lm import TextEncoder
    from shopaug.models.coldstart import TextProfile

    ds = load(args.data)
    sp = leave_one_out(ds)
    texts = [t for t in item_texts(sp.train)[1:] if t.strip()][: args.items]
    out: dict = {"benchmark": "knowledge_cost", "data": args.data,
                 "threads": torch.get_num_threads()}
    vectors = {}
    for q in (None, "int8"):
        enc = TextEncoder(quantize=q, cache_dir=False)
        enc.encode(texts[:64])  # load and warm up
        t0 = time.perf_counter()
        enc.encode(texts)
        dt = time.perf_counter() - t0
        name = q or "fp32"
        out[f"{name}_items_per_s"] = len(texts) / dt
        emb = item_embeddings(sp.train, TextEncoder(quantize=q))  # whole catalogue (cached)
        vectors[name] = emb
        ndcg = evaluate(TextProfile(emb), sp, "test", beyond=False)["NDCG@10"]
        out[f"{name}_text_profile_ndcg10"] = ndcg
        print(f"{name}: {len(texts) / dt:.0f} items/s, text-profile test NDCG@10 {ndcg:.4f}",
              flush=True)
    a, b = vectors["fp32"][1:], vectors["int8"][1:]
    has = np.abs(a).sum(1) > 0
    out["int8_mean_cosine"] = float((a[has] * b[has]).sum(1).mean())
    na, nb = text_neighbors(vectors["fp32"], 10), text_neighbors(vectors["int8"], 10)
    overlap = [len(set(x) & set(y)) / 10 for x, y in zip(na[1:][has], nb[1:][has], strict=True)]
    out["int8_top10_overlap"] = float(np.mean(overlap))
    out["int8_speedup"] = out["int8_items_per_s"] / out["fp32_items_per_s"]
    out["int8_ndcg_change"] = (out["int8_text_profile_ndcg10"]
                               / out["fp32_text_profile_ndcg10"] - 1)
    print(f"int8: {out['int8_speedup']:.2f}x faster, cosine to fp32 "
          f"{out['int8_mean_cosine']:.3f}, top-10 overlap {out['int8_top10_overlap']:.2f}, "
          f"text-profile NDCG@10 {out['int8_ndcg_change']:+.1%}", flush=True)

    # extraction, cold then warm, in a cache folder of its own
    os.environ["SHOPAUG_CACHE"] = tempfile.mkdtemp(prefix="shopaug-bench-cache-")
    with tempfile.TemporaryDirectory() as tmp:
        for phase in ("cold", "warm"):
            t0 = time.perf_counter()
            m = extract_knowledge(args.data, Path(tmp) / phase, enrich=args.enrich_minutes
                                  is not None, time_budget_minutes=args.enrich_minutes,
                                  progress=False, echo=lambda s: None)
            out[f"extract_{phase}_seconds"] = time.perf_counter() - t0
            out[f"extract_{phase}_encoded"] = m["encoder"]["encoded"]
            if m["generator"]:
                out[f"extract_{phase}_generated_tokens"] = m["generator"]["generated_tokens"]
                out["enriched_items"] = m["enriched_items"]
            print(f"extraction ({phase} cache): {out[f'extract_{phase}_seconds']:.1f}s, "
                  f"{m['encoder']['encoded']} texts encoded", flush=True)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
