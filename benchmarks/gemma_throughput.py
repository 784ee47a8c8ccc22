"""Gemma 3 270M generation throughput: single-stream vs batched greedy decoding on CPU.

Builds item-enrichment prompts (``shopaug.lm.prompts.enrichment_prompt``) from the first item
texts of the bundled Beauty catalogue, then generates them with the result cache disabled,
one prompt at a time and in left-padded batches. Prints the model load time, new tokens per
second for both (prompt prefill included in the time: the few-shot prompts are long), and
whether both give identical texts; writes the figures as JSON. Other busy processes on the
machine distort the figures badly, more so with OMP_NUM_THREADS > 1.

    OMP_NUM_THREADS=2 python benchmarks/gemma_throughput.py [--prompts 16] [--batch-size 8]
        [--max-new-tokens 32] [--out docs/results/gemma_throughput.json]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import time
from pathlib import Path

import torch

from shopaug.lm import Generator
from shopaug.lm.prompts import enrichment_prompt

ITEMS = Path(__file__).resolve().parents[1] / "src/shopaug/data/datasets/amazon_beauty/items.tsv"


def item_texts(n: int) -> list[str]:
    with open(ITEMS, encoding="utf-8", newline="") as f:
        rows = csv.DictReader(f, delimiter="\t")
        return [row["text"] for _, row in zip(range(n), rows, strict=False)]


def run(gen: Generator, prompts: list[str], max_new_tokens: int) -> tuple[list, dict]:
    texts = gen.generate(prompts, max_new_tokens=max_new_tokens)
    stats = {
        "batch_size": gen.batch_size,
        "new_tokens": gen.generated_tokens_,
        "seconds": round(gen.seconds_, 2),
        "tokens_per_s": round(gen.generated_tokens_ / gen.seconds_, 2),
        "prompts_per_s": round(len(prompts) / gen.seconds_, 3),
    }
    return texts, stats


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--prompts", type=int, default=16, help="enrichment prompts (first items)")
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--max-new-tokens", type=int, default=32)
    ap.add_argument("--out", type=Path, default=Path("docs/results/gemma_throughput.json"))
    args = ap.parse_args()
    threads = int(os.environ.get("OMP_NUM_THREADS", "1"))
    torch.set_num_threads(threads)
    if not ITEMS.exists():
        raise SystemExit(f"missing {ITEMS}")
    prompts = [enrichment_prompt(t) for t in item_texts(args.prompts)]

    t0 = time.perf_counter()
    single = Generator(cache_dir=False, batch_size=1).load()
    load_s = time.perf_counter() - t0
    single.generate(["Lipstick is"], max_new_tokens=2)  # warm-up, not timed below
    single.generated_tokens_, single.seconds_ = 0, 0.0

    single_texts, single_stats = run(single, prompts, args.max_new_tokens)
    batched = Generator(cache_dir=False, batch_size=args.batch_size)
    batched_texts, batched_stats = run(batched, prompts, args.max_new_tokens)

    summary = {
        "benchmark": "gemma_throughput",
        "model": Generator.model_id,
        "omp_num_threads": threads,
        "prompts": len(prompts),
        "mean_prompt_tokens": round(
            sum(len(ids) for ids in single._tok(prompts)["input_ids"]) / len(prompts), 1),
        "max_new_tokens": args.max_new_tokens,
        "stop": "\\n",
        "load_seconds": round(load_s, 1),
        "single": single_stats,
        "batched": batched_stats,
        "speedup": round(batched_stats["tokens_per_s"] / single_stats["tokens_per_s"], 2),
        "identical_texts": sum(a == b for a, b in zip(single_texts, batched_texts, strict=True)),
        "examples": [{"title": t, "output": o}
                     for t, o in zip(item_texts(4), single_texts[:4], strict=True)],
    }
    print(f"load {summary['load_seconds']} s | single {single_stats['tokens_per_s']} tok/s | "
          f"batch {args.batch_size} {batched_stats['tokens_per_s']} tok/s | "
          f"speedup {summary['speedup']}x | identical {summary['identical_texts']}/{len(prompts)}")
    line = json.dumps(summary)
    print(line)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(line + "\n")


if __name__ == "__main__":
    main()
