"""Search jobs behind the CLI: generate training queries, fine-tune, build the best index,
evaluate an index over the whole catalogue or a judged pool.

Flow (never back): catalogue -> BM25 -> synthetic queries (template + Gemma) -> filter by
BM25 consistency -> BM25-mined hard negatives -> fine-tuned MiniLM -> hybrid index.
Every expensive step is cached: Gemma outputs and vectors by the LM caches, the fine-tuned
model under ``cache_dir/search-models/<digest of its pairs and settings>``.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.compute as pc

from shopaug.search._catalog import Catalog, Judgments
from shopaug.search._finetune import FinetuneConfig, finetune, mine_negatives
from shopaug.search._index import IndexConfig, SearchIndex
from shopaug.search._lexical import Analyzer, LexicalIndex
from shopaug.search._metrics import evaluate_rankings
from shopaug.search._queries import QueryFilter, QueryPairs, TemplateQueries, gemma_queries

# Tuned on 80% of the Home Depot development queries (benchmarks/search_methods.py); the
# other 20% only report. Used for any catalogue.
BEST_WEIGHT = 0.3
BEST_B = 0.5  # BM25 length normalisation: +1.5% NDCG@10 on dev over the usual 0.75


@dataclass(frozen=True)
class AugmentConfig:
    """Which synthetic queries to generate and keep.

    Args:
        template_products: products given template queries (``None`` = all).
        template_per_product: template queries per product.
        gemma_products: products given Gemma queries (a random sample; 0 = none).
        gemma_per_product: Gemma queries per product (the first greedy, then sampled).
        gemma_minutes: stop starting Gemma batches after this long (``None`` = no limit).
        filter: the consistency, text and duplicate checks.
        max_pairs: keep at most this many pairs after filtering (a random sample).
        seed: sampling of products, template spans and Gemma sampling.
    """

    template_products: int | None = None
    template_per_product: int = 1
    gemma_products: int = 0
    gemma_per_product: int = 1
    gemma_minutes: float | None = None
    filter: QueryFilter = field(default_factory=QueryFilter)
    max_pairs: int | None = None
    seed: int = 0


def augment_queries(
    catalog: Catalog,
    config: AugmentConfig | None = None,
    *,
    lexical: LexicalIndex | None = None,
    generator: Any = None,
    progress: bool = False,
) -> tuple[QueryPairs, dict[str, Any]]:
    """Generate, filter and sample synthetic (query, product) pairs for ``catalog``.

    Returns the kept pairs and a report (generated, kept, rejections by reason, timings,
    Gemma throughput).
    """
    cfg = config or AugmentConfig()
    rng = np.random.default_rng(cfg.seed)
    texts = catalog.texts()
    titles = [t if t else texts[i] for i, t in enumerate(catalog.titles)]
    n = len(catalog)
    t0 = time.perf_counter()
    if lexical is None:
        lexical = LexicalIndex(analyzer=Analyzer()).fit(texts)
    pairs = QueryPairs()
    report: dict[str, Any] = {"products": n}
    order = rng.permutation(n)
    m = n if cfg.template_products is None else min(n, cfg.template_products)
    if m and cfg.template_per_product:
        pos = np.sort(order[:m])
        tq = TemplateQueries(per_product=cfg.template_per_product)
        pairs.add(tq([titles[i] for i in pos], rng), pos, "template")
    report["template_pairs"] = len(pairs)
    if cfg.gemma_products:
        from shopaug.lm.generator import Generator

        gen = generator or Generator(progress=progress)
        pos = np.sort(rng.permutation(n)[: min(n, cfg.gemma_products)])
        t1 = time.perf_counter()
        tokens0 = gen.generated_tokens_
        qs = gemma_queries(
            [titles[i] for i in pos], gen, per_product=cfg.gemma_per_product, seed=cfg.seed,
            time_budget=None if cfg.gemma_minutes is None else 60 * cfg.gemma_minutes,
        )
        before = len(pairs)
        pairs.add(qs, pos, "gemma")
        report["gemma"] = {
            "products": len(pos), "pairs": len(pairs) - before,
            "answered_products": int(sum(bool(q) for q in qs)),
            "seconds": round(time.perf_counter() - t1, 1),
            "load_seconds": round(gen.load_seconds_, 1),
            "new_tokens": gen.generated_tokens_ - tokens0,
            "tokens_per_second": round((gen.generated_tokens_ - tokens0)
                                       / max(gen.seconds_, 1e-9), 2),
        }
    report["generated"] = len(pairs)
    keep, why = cfg.filter(pairs.queries, np.array(pairs.products, dtype=np.int64), titles,
                           rank=lambda q, k: lexical.search(q, k)[0])
    pairs = pairs.select(keep)
    report["rejected"] = why
    if cfg.max_pairs is not None:
        pairs = pairs.sample(cfg.max_pairs, rng)
    report["kept"] = len(pairs)
    report["kept_by_source"] = pairs.counts()
    report["seconds"] = round(time.perf_counter() - t0, 1)
    return pairs, report


def write_pairs(pairs: QueryPairs, catalog: Catalog, path: str | Path) -> Path:
    """``query<TAB>product_id<TAB>source`` lines with a header, written atomically."""
    from shopaug._fs import write_file_atomic

    def fill(tmp: Path) -> None:
        with open(tmp, "w", encoding="utf-8", newline="") as f:
            # no quoting and no escapes: the TSV readers take every character literally, so
            # an inch mark (4" x 4") must be written as is; whitespace in queries is already
            # single spaces, and an id holding a tab makes csv raise instead of corrupting
            w = csv.writer(f, delimiter="\t", quoting=csv.QUOTE_NONE, quotechar=None,
                           lineterminator="\n")
            w.writerow(["query", "product_id", "source"])
            for q, p, s in zip(pairs.queries, pairs.products, pairs.sources, strict=True):
                w.writerow([" ".join(q.split()), catalog.ids[p], s])

    return write_file_atomic(path, fill)


def read_pairs(path: str | Path, catalog: Catalog) -> QueryPairs:
    """Read pairs written by :func:`write_pairs` (or any ``query,product_id[,source]``
    CSV/TSV/Parquet), with the catalogue readers' checks and error locations, plus: every
    product must be in ``catalog`` and every query non-empty."""
    from shopaug.search._catalog import _first, _ids, _Problems, _read_table, _strings

    path = Path(path)
    columns = {"query": ("query",), "product_id": ("product_id", "item_id"),
               "source": ("source",)}
    cols, names, where = _read_table(path, columns, ("query", "product_id"),
                                     "columns query and product_id (optionally source)")
    problems = _Problems(where)
    query = _strings(cols["query"], names["query"], where)
    problems.add(_first(pc.equal(pc.utf8_length(query), 0)), names["query"],
                 "empty query; expected text")
    ids = _ids(cols["product_id"], names["product_id"], where, problems)
    pos = catalog.index_of(ids.to_numpy(zero_copy_only=False).astype(object))
    unknown = _first(pos < 0)
    if unknown is not None:
        problems.add(unknown, names["product_id"],
                     f"product {ids[unknown].as_py()!r} is not in the catalogue {catalog.source}")
    problems.raise_first()
    sources = (_strings(cols["source"], names["source"], where).to_pylist()
               if "source" in cols else ["file"] * len(pos))
    return QueryPairs(query.to_pylist(), [int(p) for p in pos], sources)


def judged_pairs(judgments: Judgments, catalog: Catalog, *, min_relevance: float) -> QueryPairs:
    """Real (query, product) pairs with relevance >= ``min_relevance``: the ceiling's data."""
    pos = catalog.index_of(judgments.product_id)
    ok = (pos >= 0) & (judgments.relevance >= min_relevance)
    out = QueryPairs()
    out.queries = [str(q) for q in judgments.query[ok]]
    out.products = [int(p) for p in pos[ok]]
    out.sources = ["judgments"] * int(ok.sum())
    return out


def train_encoder(
    catalog: Catalog,
    pairs: QueryPairs,
    out: str | Path,
    *,
    config: FinetuneConfig | None = None,
    seed: int = 0,
    lexical: LexicalIndex | None = None,
    perturb: bool = False,
    progress: bool = False,
    record: dict[str, Any] | None = None,
) -> Path:
    """Fine-tune MiniLM on ``pairs`` with BM25-mined hard negatives; with ``perturb`` half the
    training queries get one seeded typo/synonym/word edit (robustness augmentation)."""
    cfg = config or FinetuneConfig()
    texts = catalog.texts()
    rng = np.random.default_rng(seed)
    if lexical is None:
        lexical = LexicalIndex().fit(texts)
    queries = list(pairs.queries)
    products = np.array(pairs.products, dtype=np.int64)
    negatives = mine_negatives(lexical, queries, products, rng, same_text=texts)
    if perturb:
        from shopaug.search._perturb import Perturber

        half = rng.random(len(queries)) < 0.5
        edited = Perturber()([queries[i] for i in np.flatnonzero(half)], rng)
        for i, q in zip(np.flatnonzero(half), edited, strict=True):
            queries[i] = q
    rec = {"pairs_by_source": pairs.counts(),
           "perturbed_queries": bool(perturb), "catalog": catalog.source, **(record or {})}
    return finetune(
        queries, [texts[p] for p in products], out,
        negatives=[texts[n] if n >= 0 else None for n in negatives],
        config=cfg, seed=seed, progress=progress, record=rec,
    )


@dataclass(frozen=True)
class BestConfig:
    """The ``best`` index: hybrid BM25 + MiniLM fine-tuned on synthetic queries."""

    augment: AugmentConfig = field(default_factory=lambda: AugmentConfig(
        template_products=None, gemma_products=2000, gemma_minutes=15.0, max_pairs=16000))
    finetune: FinetuneConfig = field(default_factory=lambda: FinetuneConfig(
        time_budget_minutes=18.0))
    weight: float = BEST_WEIGHT
    b: float = BEST_B
    spell: bool = True
    perturb: bool = True
    seed: int = 0


def build_best(
    catalog: Catalog,
    *,
    config: BestConfig | None = None,
    cache_dir: str | Path | None = None,
    progress: bool = False,
    generator: Any = None,
) -> tuple[SearchIndex, dict[str, Any]]:
    """Build the strongest index: generate and filter queries, fine-tune (or reuse the cached
    model of the same pairs and settings), then a hybrid index on the fine-tuned encoder.

    The report holds the kept ``pairs`` (a :class:`QueryPairs`), generation and filter
    counts, and timings."""
    from shopaug.lm._cache import default_dir, digest

    cfg = config or BestConfig()
    t0 = time.perf_counter()
    texts = catalog.texts()
    lexical = LexicalIndex(b=cfg.b).fit(texts)
    pairs, rep = augment_queries(catalog, cfg.augment, lexical=lexical, generator=generator,
                                 progress=progress)
    key = digest("search-model", 1, asdict(cfg.finetune), cfg.perturb, cfg.seed,
                 pairs.queries, [texts[p] for p in pairs.products])[:16]
    root = Path(cache_dir) if cache_dir else default_dir()
    model_dir = root / "search-models" / key
    t1 = time.perf_counter()
    reused = (model_dir / "shopaug.json").is_file()
    if not reused:
        train_encoder(catalog, pairs, model_dir, config=cfg.finetune, seed=cfg.seed,
                      lexical=lexical, perturb=cfg.perturb, progress=progress,
                      record={"generation": {k: v for k, v in rep.items() if k != "rejected"}})
    t2 = time.perf_counter()
    index = SearchIndex.build(
        catalog, IndexConfig(method="hybrid", weight=cfg.weight, b=cfg.b, spell=cfg.spell,
                             model=str(model_dir)),
        texts=texts, lexical=lexical, progress=progress,
    )
    report = {
        "augment": rep, "model": str(model_dir), "model_reused": reused, "pairs": pairs,
        "timings": {"augment_seconds": round(t1 - t0, 1), "finetune_seconds": round(t2 - t1, 1),
                    "index_seconds": round(time.perf_counter() - t2, 1),
                    "total_seconds": round(time.perf_counter() - t0, 1)},
    }
    return index, report


def evaluate_index(
    index: SearchIndex,
    judgments: Judgments,
    *,
    mode: str = "full",
    method: str | None = None,
    queries: Sequence[str] | None = None,
    per_query: bool = False,
    k: int = 100,
) -> dict[str, Any]:
    """NDCG@10, MRR@10 and Recall@100 of the index on ``judgments``.

    ``mode = "full"`` retrieves over the whole catalogue (unjudged = non-relevant);
    ``"pool"`` only re-ranks each query's judged products. ``queries`` replaces the text
    sent to the index (e.g. perturbed queries), aligned with ``judgments.queries()``.
    """
    asked = judgments.queries()
    sent = list(queries) if queries is not None else asked
    if len(sent) != len(asked):
        raise ValueError("queries must align with judgments.queries()")
    known = set(str(i) for i in index.catalog.ids)
    t0 = time.perf_counter()
    if mode == "full":
        top, _ = index.search(sent, k, method=method)  # type: ignore[arg-type]
        rankings = _rankings(index, asked, top)
    elif mode == "pool":
        rankings = _pool_rankings(index, judgments, asked, sent, method)
    else:
        raise ValueError(f"mode must be full or pool, got {mode!r}")
    seconds = time.perf_counter() - t0
    res = evaluate_rankings(rankings, judgments, recall_k=k, known=known, per_query=per_query)
    res["mode"] = mode
    res["method"] = method or index.config.method
    res["seconds"] = round(seconds, 2)
    return res


def _pool_rankings(index: SearchIndex, judgments: Judgments, asked: list[str],
                   sent: list[str], method: str | None) -> dict[str, list[str]]:
    """Judged products of each query ordered by the index's fused score over that pool."""
    pos = index.catalog.index_of(judgments.product_id)
    by_query: dict[str, list[int]] = {}
    for q, p in zip(judgments.query, pos, strict=True):
        if p >= 0:
            by_query.setdefault(str(q), []).append(int(p))
    width = max((len(v) for v in by_query.values()), default=1)
    cand = np.full((len(asked), width), -1, dtype=np.int64)
    for i, q in enumerate(asked):
        row = by_query.get(q, [])
        cand[i, : len(row)] = row
    scores = index.score(sent, cand, method=method)  # type: ignore[arg-type]  # -inf at -1
    order = np.argsort(-scores, axis=1, kind="stable")
    return _rankings(index, asked, np.take_along_axis(cand, order, axis=1))


def _rankings(index: SearchIndex, asked: list[str], top: np.ndarray) -> dict[str, list[str]]:
    """Query -> product ids from a ``(n_queries, k)`` position matrix (``-1`` skipped)."""
    ids = index.catalog.ids
    return {q: [str(ids[p]) for p in row if p >= 0] for q, row in zip(asked, top, strict=True)}
