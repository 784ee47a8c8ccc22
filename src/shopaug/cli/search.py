"""shopaug search: index a catalogue, query it, generate training queries, fine-tune, evaluate."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="Product search over a catalogue.", no_args_is_help=True)

Catalogue = Annotated[str, typer.Option(
    "--catalog", help="Product file (CSV/TSV/Parquet: product_id,title[,description,brand,"
    "category]) or bundled:homedepot-search/products.tsv.")]


def _catalog(spec: str):
    from shopaug.data._bundled import resolve_file
    from shopaug.search._catalog import read_catalog

    return read_catalog(resolve_file(spec))


def _judgments(spec: str):
    from shopaug.data._bundled import resolve_file
    from shopaug.search._catalog import read_judgments

    return read_judgments(resolve_file(spec))


@app.command("index")
def index(
    catalog: Catalogue,
    out: Annotated[Path, typer.Option(help="Index folder to write (replaced atomically).")],
    method: Annotated[str, typer.Option(
        help="bm25, dense (MiniLM + faiss), hybrid (both, fused) or best (hybrid on a MiniLM "
             "fine-tuned on synthetic queries, trained or loaded from the cache).")] = "hybrid",
    model: Annotated[Path | None, typer.Option(
        help="Encoder folder from `search finetune` (dense/hybrid).")] = None,
    fusion: Annotated[str, typer.Option(help="weighted or rrf (hybrid).")] = "weighted",
    weight: Annotated[float | None, typer.Option(help="Dense share of the weighted sum.")]
    = None,
    gemma_products: Annotated[int | None, typer.Option(
        help="best: products given Gemma queries (default 3000).")] = None,
    gemma_minutes: Annotated[float | None, typer.Option(
        help="best: Gemma time budget in minutes (default 20).")] = None,
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
) -> None:
    """Index a catalogue for retrieval over all its products."""
    from dataclasses import replace

    from shopaug.search._index import IndexConfig, SearchIndex
    from shopaug.search._pipeline import BEST_WEIGHT, BestConfig, build_best, write_pairs

    if method not in ("bm25", "dense", "hybrid", "best"):
        raise typer.BadParameter("--method must be bm25, dense, hybrid or best")
    if weight is not None and not 0 <= weight <= 1:
        raise typer.BadParameter("--weight must be in [0, 1]")
    cat = _catalog(catalog)
    if method == "best":
        cfg = BestConfig()
        aug = cfg.augment
        if gemma_products is not None:
            aug = replace(aug, gemma_products=gemma_products)
        if gemma_minutes is not None:
            aug = replace(aug, gemma_minutes=gemma_minutes)
        cfg = replace(cfg, augment=aug, weight=BEST_WEIGHT if weight is None else weight)
        idx, report = build_best(cat, config=cfg, progress=progress)
        pairs = report.pop("pairs")
        idx.save(out, record={"best": report},
                 extra=lambda tmp: write_pairs(pairs, cat, tmp / "queries.tsv"))
        print(f"indexed {len(cat)} products (best: {len(pairs)} synthetic pairs) -> {out}",
              file=sys.stderr)
        return
    else:
        cfg_i = IndexConfig(method=method, fusion=fusion,  # type: ignore[arg-type]
                            weight=0.5 if weight is None else weight,
                            model=str(model) if model else None)
        idx = SearchIndex.build(cat, cfg_i, progress=progress)
    idx.save(out)
    print(f"indexed {len(cat)} products ({method}) -> {out}", file=sys.stderr)


@app.command("query")
def query(
    index_dir: Annotated[Path, typer.Argument(help="Folder written by `search index`.")],
    text: Annotated[str, typer.Argument(help="The query.")],
    k: Annotated[int, typer.Option(help="Results to show.")] = 10,
    method: Annotated[str | None, typer.Option(help="Override: bm25, dense or hybrid.")]
    = None,
    run: Annotated[Path | None, typer.Option(
        help="A run folder (shopaug train/demo) whose model re-ranks for --user.")] = None,
    user: Annotated[str | None, typer.Option(
        help="Re-rank by this user's recommendation state (needs --run).")] = None,
    boost_weight: Annotated[float, typer.Option(help="Weight of the user's scores.")] = 0.5,
    json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Search an index and print the top products, optionally personalised for a user."""
    from shopaug.cli._common import print_json
    from shopaug.search._index import SearchIndex

    if k < 1:
        raise typer.BadParameter("--k must be >= 1")
    if (run is None) != (user is None):
        raise typer.BadParameter("--run and --user go together")
    idx = SearchIndex.load(index_dir)
    extra = {}
    if run is not None and user is not None:
        from shopaug.exceptions import ShopaugError
        from shopaug.experiment import load_run
        from shopaug.search._personal import user_scores

        ds, _, model, _ = load_run(run)
        uid = ds.users.get(user)
        if uid is None:
            raise ShopaugError(f"user {user!r} is not in the data of {run}")
        history = [str(x) for x in ds.items.to_external(ds.sequences()[uid])]
        extra = {"boost": user_scores(model, ds, history, idx.catalog, user=user),
                 "boost_weight": boost_weight}
    hits = idx.query(text, k, method=method, **extra)  # type: ignore[arg-type]
    if json:
        print_json({"query": text, "results": hits})
        return
    for i, h in enumerate(hits, 1):
        print(f"{i:>3}. {h['score']:.3f}  {h['product_id']}  {h['title']}")


@app.command("augment")
def augment(
    catalog: Catalogue,
    out: Annotated[Path, typer.Option(help="TSV of kept pairs: query, product_id, source.")],
    generator: Annotated[str, typer.Option(help="template, gemma or both.")] = "both",
    products: Annotated[int | None, typer.Option(
        help="Products given template queries (default all).")] = None,
    gemma_products: Annotated[int, typer.Option(help="Products given Gemma queries.")] = 1000,
    gemma_per_product: Annotated[int, typer.Option(help="Gemma queries per product.")] = 1,
    gemma_minutes: Annotated[float | None, typer.Option(help="Gemma time budget.")] = None,
    top_k: Annotated[int, typer.Option(
        help="Keep a pair only if BM25 ranks its product in this top k (0 = no check).")] = 20,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
) -> None:
    """Generate synthetic training queries (InPars-style) and filter them."""
    from shopaug.cli._common import print_json
    from shopaug.search._pipeline import AugmentConfig, augment_queries, write_pairs
    from shopaug.search._queries import QueryFilter

    if generator not in ("template", "gemma", "both"):
        raise typer.BadParameter("--generator must be template, gemma or both")
    cat = _catalog(catalog)
    cfg = AugmentConfig(
        template_products=0 if generator == "gemma" else products,
        gemma_products=0 if generator == "template" else gemma_products,
        gemma_per_product=gemma_per_product, gemma_minutes=gemma_minutes,
        filter=QueryFilter(top_k=top_k), seed=seed,
    )
    pairs, report = augment_queries(cat, cfg, progress=progress)
    write_pairs(pairs, cat, out)
    print_json(report)


@app.command("finetune")
def finetune(
    catalog: Catalogue,
    out: Annotated[Path, typer.Option(help="Model folder to write (safetensors + JSON).")],
    pairs: Annotated[Path | None, typer.Option(
        help="Training pairs from `search augment` (query, product_id).")] = None,
    judgments: Annotated[str | None, typer.Option(
        help="Train on real judged pairs instead (the supervised ceiling).")] = None,
    min_relevance: Annotated[float, typer.Option(
        help="With --judgments: pairs at or above this label are positives.")] = 2.33,
    epochs: Annotated[int, typer.Option(help="Passes over the pairs.")] = 1,
    batch_size: Annotated[int, typer.Option(help="Pairs per step.")] = 64,
    max_pairs: Annotated[int | None, typer.Option(help="Train on a sample this big.")] = None,
    minutes: Annotated[float | None, typer.Option(help="Time budget.")] = None,
    perturb: Annotated[bool, typer.Option(
        help="Edit half the training queries (typos, synonyms, word drops).")] = True,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
    track: Annotated[bool | None, typer.Option(
        "--track/--no-track", help="Log the model to MLflow (default: $SHOPAUG_TRACKING).")]
    = None,
) -> None:
    """Fine-tune MiniLM with in-batch and BM25-mined hard negatives."""
    import time

    import numpy as np

    from shopaug.search._finetune import FinetuneConfig
    from shopaug.search._pipeline import judged_pairs, read_pairs, train_encoder
    from shopaug.tracking import finetune_record, log_record

    started = time.time()
    if (pairs is None) == (judgments is None):
        raise typer.BadParameter("give exactly one of --pairs or --judgments")
    cat = _catalog(catalog)
    data = (read_pairs(pairs, cat) if pairs is not None
            else judged_pairs(_judgments(judgments), cat, min_relevance=min_relevance))
    if max_pairs is not None:
        data = data.sample(max_pairs, np.random.default_rng(seed))
    cfg = FinetuneConfig(epochs=epochs, batch_size=batch_size, time_budget_minutes=minutes)
    train_encoder(cat, data, out, config=cfg, seed=seed, perturb=perturb, progress=progress,
                  record={"pairs_file": str(pairs or judgments)})
    print(f"fine-tuned on {len(data)} pairs -> {out}", file=sys.stderr)
    log_record("search-finetune", lambda: finetune_record(out), start_time=started,
               enabled=track)


@app.command("evaluate")
def evaluate(
    index_dir: Annotated[Path, typer.Argument(help="Folder written by `search index`.")],
    judgments: Annotated[str, typer.Option(
        help="CSV/TSV with query,product_id,relevance (any numeric scale).")],
    mode: Annotated[str, typer.Option(
        help="full: retrieve over the whole catalogue; pool: re-rank judged products.")]
    = "full",
    method: Annotated[str | None, typer.Option(help="Override: bm25, dense or hybrid.")]
    = None,
    perturb: Annotated[str | None, typer.Option(
        help="Evaluate on perturbed queries: comma-separated ops (typo,swap,drop_char,"
             "synonym,drop_word,reorder) or 'all'.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the perturbations.")] = 0,
    json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """NDCG@10, MRR@10 and Recall@100 of an index (unjudged products count as non-relevant)."""
    import numpy as np

    from shopaug.cli._common import print_json
    from shopaug.search._index import SearchIndex
    from shopaug.search._pipeline import evaluate_index

    if mode not in ("full", "pool"):
        raise typer.BadParameter("--mode must be full or pool")
    judg = _judgments(judgments)
    idx = SearchIndex.load(index_dir)
    queries = None
    if perturb:
        from shopaug.search._perturb import OPS, Perturber

        ops = tuple(OPS) if perturb == "all" else tuple(o.strip() for o in perturb.split(","))
        queries = Perturber(ops=ops)(judg.queries(), np.random.default_rng(seed))
    res = evaluate_index(idx, judg, mode=mode, method=method, queries=queries)  # type: ignore[arg-type]
    if perturb:
        res["perturb"] = perturb
    if json:
        print_json(res)
        return
    for key in ("NDCG@10", "MRR@10", "Recall@100", "queries", "skipped_queries", "seconds"):
        print(f"{key:<18}{res[key]}")
