"""Runs: train a configured model on a dataset, evaluate it, write a run folder and report.

This is the bottom of the data flow (ingest -> dataset -> train -> evaluate -> report); the CLI
is a thin layer over it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import platform
import resource
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from shopaug._fs import read_mapping, write_dir_atomic
from shopaug.data import Dataset, Sequences, TrainSet, load
from shopaug.evaluation import (
    HISTORY_CONVENTIONS,
    Split,
    cold_items,
    evaluate,
    leave_one_out,
    temporal_split,
)
from shopaug.exceptions import ConfigError, ShopaugError
from shopaug.training import TrainOptions, epochs_run

RUN_FORMAT = 1
DEMO_MODELS = ("popularity", "itemknn", "bpr", "sasrec")
MASK_ID = "<mask>"  # external id of augmentation's mask token in expanded files
ONLINE_MODELS = {"sasrec"}  # models whose fit applies a recipe to each batch
TRAIN_KEYS = {"patience", "eval_every", "time_budget_minutes", "threads", "valid_users"}


@dataclass(frozen=True)
class RunConfig:
    """What to train: a model name, its config, and run settings.

    Attributes:
        model: registered model name.
        config: model config overrides (validated by the model's config class).
        train: run settings: ``patience``, ``eval_every``, ``time_budget_minutes``,
            ``threads``, ``valid_users`` (validation cases used for early stopping; 0 for
            none: fixed epochs, as in throughput benchmarks).
        description: one line for reports.
        preset: the preset this came from, if any.
        recipe: the augmentation recipe (``Recipe.to_dict()``), or None for none.
    """

    model: str
    config: dict[str, Any] = field(default_factory=dict)
    train: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    preset: str | None = None
    recipe: dict[str, Any] | None = None


def presets() -> dict[str, Path]:
    """Shipped presets by name."""
    folder = resources.files("shopaug") / "presets"
    return {
        Path(str(p)).stem: Path(str(p)) for p in folder.iterdir() if str(p).endswith(".toml")
    }


def read_config_file(path: str | Path) -> dict[str, Any]:
    """Read a TOML, YAML or JSON config file into a dict, with the file named on errors."""
    return read_mapping(path, "config")


def _merge(base: RunConfig, data: dict[str, Any], where: str) -> RunConfig:
    unknown = set(data) - {"model", "config", "train", "description", "recipe"}
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {sorted(unknown)}; expected model, config, train, "
            "description, recipe"
        )
    for key in ("config", "train"):
        if key in data and not isinstance(data[key], dict):
            raise ConfigError(f"{where}: '{key}' must be a table/mapping")
    bad_train = set(data.get("train", {})) - TRAIN_KEYS
    if bad_train:
        raise ConfigError(f"{where}: unknown train option(s) {sorted(bad_train)}; known: "
                          f"{sorted(TRAIN_KEYS)}")
    model = data.get("model", base.model)
    config = dict(base.config) if model == base.model else {}
    config.update(data.get("config", {}))
    return RunConfig(
        model=model,
        config=config,
        train={**base.train, **data.get("train", {})},
        description=data.get("description", base.description),
        preset=base.preset,
        recipe=_recipe(data["recipe"], where) if "recipe" in data else base.recipe,
    )


def _recipe(spec: Any, where: str) -> dict[str, Any] | None:
    """A recipe given by shipped name or file path (``"none"`` for no augmentation)."""
    from shopaug.augment import load_recipe

    if spec is None or spec == "none":
        return None
    if not isinstance(spec, str):
        raise ConfigError(f"{where}: 'recipe' must be a recipe name or file path")
    return load_recipe(spec).to_dict()


def resolve(
    *,
    model: str | None = None,
    preset: str | None = None,
    config_file: str | Path | None = None,
    recipe: str | Path | None = None,
) -> RunConfig:
    """A RunConfig from a model name or a preset, with a config file's values on top and
    then ``recipe`` (a shipped recipe name, a recipe file, or ``none``)."""
    from shopaug.models import MODELS

    if (model is None) == (preset is None):
        raise ConfigError("give exactly one of --model NAME or --preset NAME")
    if preset is not None:
        known = presets()
        if preset not in known:
            raise ConfigError(f"unknown preset {preset!r}; available: {sorted(known)}")
        rc = _merge(RunConfig(model="", preset=preset), tomllib.loads(known[preset].read_text()),
                    f"preset {preset}")
    else:
        rc = RunConfig(model=str(model))
    if config_file is not None:
        rc = _merge(rc, read_config_file(config_file), str(config_file))
    if recipe is not None:
        rc = dataclasses.replace(rc, recipe=_recipe(str(recipe), "--recipe"))
    if rc.model not in MODELS:
        raise ConfigError(f"unknown model {rc.model!r}; available: {sorted(MODELS)}")
    if rc.recipe and rc.recipe["train"]["mode"] != "offline" and rc.model not in ONLINE_MODELS:
        raise ConfigError(
            f"model {rc.model!r} takes only offline recipes (mode = \"offline\"); "
            f"online and contrastive recipes need one of {sorted(ONLINE_MODELS)}"
        )
    try:
        MODELS[rc.model](**rc.config)  # validate now, before any data is loaded
    except ConfigError as e:
        source = config_file if config_file is not None else f"preset {preset}"
        raise ConfigError(f"{source}: {e}") from None
    return rc


def fingerprint(ds: Dataset) -> str:
    """A short hash of the interactions, so a run is never evaluated on other data."""
    h = hashlib.sha256()
    for arr in (ds.user, ds.item, ds.time):
        h.update(np.ascontiguousarray(arr).tobytes())
    h.update(str(ds.n_items).encode())
    return h.hexdigest()[:16]


SPLITS = ("loo", "temporal", "cold")


def make_split(ds: Dataset, protocol: str) -> Split:
    """``loo`` (leave-one-out), ``temporal``, or ``cold`` (leave-one-out with 10 % of the
    items removed from training entirely: the cold-item protocol, seed 0)."""
    if protocol in ("loo", "leave-one-out"):
        return leave_one_out(ds)
    if protocol == "temporal":
        return temporal_split(ds)
    if protocol in ("cold", "cold-items"):
        return cold_items(ds)
    raise ConfigError(f"unknown split {protocol!r}; expected one of {list(SPLITS)}")


def _source(data: str | Path) -> str:
    s = str(data)
    return s if s.startswith("bundled:") else str(Path(s).resolve())


def machine() -> dict[str, Any]:
    import torch

    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "platform": platform.platform(),
    }


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def fit_model(
    rc: RunConfig,
    split: Split,
    *,
    seed: int = 0,
    epochs: int | None = None,
    progress: bool = True,
    log=None,
    checkpoint_dir: Path | None = None,
    dist: Any = None,
):
    """Fit the configured model on ``split.train`` (with its recipe: resampling and offline
    expansion first, online or contrastive use inside ``fit``), early-stopping on the
    validation targets. Returns (model, fit_seconds); ``split.test`` is never read.
    ``dist`` makes this one rank of data-parallel training (see ``shopaug.engine``)."""
    from shopaug.models import create

    model = create(rc.model, **rc.config)
    train_set, recipe = apply_recipe(rc.recipe, split.train, seed, progress=progress)
    tr = rc.train
    valid_cases = split.valid
    n_valid = tr.get("valid_users")
    es_split = split
    if n_valid and n_valid < len(valid_cases):
        rows = np.sort(np.random.default_rng(seed).choice(len(valid_cases), n_valid, replace=False))
        es_split = dataclasses.replace(split, valid=valid_cases.rows(rows))

    def validate(m) -> float:
        return float(evaluate(m, es_split, "valid", beyond=False)["NDCG@10"])

    budget = tr.get("time_budget_minutes")
    options = TrainOptions(
        seed=seed,
        epochs=epochs,
        patience=int(tr.get("patience", 10)),
        eval_every=int(tr.get("eval_every", 1)),
        time_budget=None if budget is None else float(budget) * 60,
        threads=tr.get("threads"),
        progress=progress,
        validate=None if n_valid == 0 else validate,  # 0: no validation, no early stop
        log=log,
        checkpoint_dir=checkpoint_dir,
        recipe=recipe,
        dist=dist,
    )
    t0 = time.perf_counter()
    model.fit(train_set, options)
    return model, time.perf_counter() - t0


def apply_recipe(
    spec: dict[str, Any] | None, train: TrainSet, seed: int, *, progress: bool = True
) -> tuple[TrainSet, Any]:
    """A recipe's data-level part applied to ``train`` (resampling, LM enrichment, offline
    expansion) and the recipe itself for ``TrainOptions.recipe`` (online or contrastive use
    inside ``fit``). ``spec`` is ``Recipe.to_dict()`` or None."""
    if not spec:
        return train, None
    from shopaug.augment import Recipe

    recipe = Recipe.from_dict(spec)
    if "resample" in recipe.train:
        train = resample_train(train, recipe.train["resample"], seed)
    if recipe.train.get("enrich"):
        train = enrich_train(train, progress=progress)
    if recipe.mode == "offline":
        # the grown set is the augmentation; models still read the recipe's knowledge
        # options (``text``) and skip its augmenter
        train = expand_train(train, recipe, seed)
    return train, recipe


def fit_and_evaluate(
    rc: RunConfig,
    split: Split,
    *,
    seed: int = 0,
    epochs: int | None = None,
    progress: bool = True,
    log=None,
    checkpoint_dir: Path | None = None,
    engine: Any = None,
):
    """Fit the configured model on ``split.train`` and evaluate it. Returns (model, record).

    On a Ray ``engine`` the model trains with Ray Train and evaluation is sharded there."""
    if getattr(engine, "name", "local") == "ray":
        model, fit_seconds = engine.fit(rc, split, seed=seed, epochs=epochs, log=log)
    else:
        model, fit_seconds = fit_model(
            rc, split, seed=seed, epochs=epochs, progress=progress, log=log,
            checkpoint_dir=checkpoint_dir,
        )
    record: dict[str, Any] = {
        "model": rc.model,
        "preset": rc.preset,
        "description": rc.description,
        "recipe": rc.recipe,
        "config": dataclasses.asdict(model.config),
        "train": rc.train,
        "seed": seed,
        "fit_seconds": round(fit_seconds, 2),
        "epochs_run": epochs_run(model.history_),
        "history": model.history_,
        "valid": evaluate(model, split, "valid", beyond=False, engine=engine),
        "test": {h: evaluate(model, split, "test", history=h, engine=engine)
                 for h in HISTORY_CONVENTIONS},
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "engine": getattr(engine, "name", "local"),
    }
    return model, record


def resample_train(train: TrainSet, spec: dict[str, Any], seed: int) -> TrainSet:
    """Over/under-sample training rows with a resampler: each user keeps its row if drawn at
    least once (else it becomes empty), and further copies are appended as extra rows."""
    from shopaug.augment.resample import build as build_resampler
    from shopaug.random import make_rng

    rows = build_resampler(spec).fit(train).resample(make_rng(np.random.SeedSequence([seed, 0xB5])))
    seqs = train.sequences
    drawn = np.bincount(rows, minlength=len(seqs))
    extra = np.repeat(np.arange(len(seqs)), np.maximum(drawn - 1, 0))
    grown = seqs.rows(np.concatenate([np.arange(len(seqs)), extra]))
    # a user's own row is emptied when it was not drawn; copies are whole
    kept = np.concatenate([drawn > 0, np.ones(len(extra), dtype=bool)])
    return dataclasses.replace(train, sequences=grown.keep(np.repeat(kept, grown.lengths)))


def enrich_train(
    train: TrainSet, *, generator: Any = None, time_budget: float | None = None,
    progress: bool = False,
) -> TrainSet:
    """The training set with Gemma-enriched item texts: titles shorter than four words get
    keyphrases, category and use appended (``shopaug.lm.enrich_items``; cached on disk, so
    only the first run pays for generation)."""
    from shopaug.augment.knowledge import item_texts
    from shopaug.lm import Generator, enrich_items

    if train.item_text is None:
        return train
    generator = generator or Generator(progress=progress)
    texts = item_texts(train)
    enriched = enrich_items(texts[1:], generator, time_budget=time_budget)
    return dataclasses.replace(
        train, item_text=np.array(["", *enriched], dtype=object)
    )


def expand_train(train: TrainSet, recipe: Any, seed: int) -> TrainSet:
    """The training set grown by an offline recipe: every sequence plus ``copies``
    augmented copies as extra rows (after the real users, so user ids keep their rows)."""
    import pyarrow.compute as pc

    from shopaug.augment import expand
    from shopaug.augment.expand import samples
    from shopaug.random import make_rng

    aug = recipe.build().fit(train)
    rng = make_rng(np.random.SeedSequence([seed, 0xA6]))
    table = expand(train, aug, rng, copies=int(recipe.train.get("copies", 1)))
    table = table.filter(pc.greater(table["copy"], 0))
    copies = samples(table)
    # a stored sequence holds catalogue items only: a masked item is dropped instead
    copies = copies.keep(copies.items <= train.n_items)
    # a copy equal to its source (an op that left the row alone, such as pseudo on a long
    # history) would only re-weight that user, so it is dropped
    changed = ~_same_rows(copies, train.sequences.rows(table["source"].to_numpy()))
    copies = copies.rows(np.flatnonzero(changed))
    return dataclasses.replace(train, sequences=Sequences.concat([train.sequences, copies]))


def _same_rows(a: Sequences, b: Sequences) -> np.ndarray:
    """Per row, whether ``a`` and ``b`` hold the same items in the same order."""
    same = a.lengths == b.lengths
    rows = np.flatnonzero(same & (a.lengths > 0))
    if len(rows):
        ea, eb = a.rows(rows), b.rows(rows)
        diff = np.add.reduceat((ea.items != eb.items).astype(np.int64), ea.indptr[:-1])
        same[rows] = diff == 0
    return same


def _write_json(path: Path, obj: Any) -> None:
    path.write_text(json.dumps(obj, indent=2, default=_json_default) + "\n")


def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def _results(name: str, ds: Dataset, split: Split, records: dict[str, dict], primary: str) -> dict:
    return {
        "name": name,
        "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "data": {"source": ds.source, "fingerprint": fingerprint(ds), "stats": ds.stats()},
        "protocol": {
            "split": split.protocol,
            "ranking": "full",
            "history_conventions": list(HISTORY_CONVENTIONS),
            "default_history": "exclude",
        },
        "machine": machine(),
        "primary": primary,
        "models": records,
    }


def train_run(
    data: str | Path,
    rc: RunConfig,
    out: str | Path,
    *,
    seed: int = 0,
    epochs: int | None = None,
    split: str = "loo",
    progress: bool = True,
    log=None,
    checkpoint_dir: str | Path | None = None,
    engine: Any = None,
) -> dict:
    """Train one model and write RUN_DIR: run.json, model/, results.json, report.html.

    With ``checkpoint_dir``, the best weights so far are kept there during training
    (safetensors), so a long run that is stopped still leaves its best epoch behind."""
    from shopaug.evaluation.report import write_report

    out = Path(out)
    ds = load(data)
    sp = make_split(ds, split)
    model, record = fit_and_evaluate(
        rc, sp, seed=seed, epochs=epochs, progress=progress, log=log,
        checkpoint_dir=None if checkpoint_dir is None else Path(checkpoint_dir), engine=engine,
    )
    results = _results(out.name, ds, sp, {rc.model: record}, rc.model)

    def fill(tmp: Path) -> None:
        model.save(tmp / "model")
        _write_json(tmp / "run.json", {
            "format": RUN_FORMAT, "kind": "single", "data": _source(data),
            "fingerprint": fingerprint(ds), "split": split, "seed": seed,
            "model": rc.model, "models": {rc.model: "model"}, "primary": rc.model,
            "run_config": dataclasses.asdict(rc),
        })
        _write_json(tmp / "results.json", results)
        write_report(results, tmp / "report.html")

    write_dir_atomic(out, fill)
    return results


def demo(
    out_root: str | Path = "runs",
    *,
    name: str | None = None,
    data: str | Path = "bundled:amazon-beauty",
    quick: bool = False,
    seed: int = 0,
    progress: bool = True,
    log=None,
    echo=print,
) -> dict:
    """Train Popularity, ItemKNN, BPR-MF and SASRec; write results.json and report.html.

    ``quick`` uses the first 2,000 users and a few epochs: a smoke run for tests.
    """
    from shopaug.evaluation.report import write_report

    name = name or ("demo-quick" if quick else "demo")
    out = Path(out_root) / name
    ds = load(data)
    if quick:
        ds = ds.head(2000)
    sp = make_split(ds, "loo")
    records: dict[str, dict] = {}
    models = {}
    for m in DEMO_MODELS:
        rc = resolve(preset=m)
        if quick:
            small = {"sasrec": {"dim": 32, "epochs": 3}, "bpr": {"dim": 16, "epochs": 3}}
            rc = dataclasses.replace(rc, config={**rc.config, **small.get(m, {})})
        echo(f"[{name}] training {m} ...")
        model, rec = fit_and_evaluate(rc, sp, seed=seed, progress=progress, log=log)
        models[m], records[m] = model, rec
        echo(f"[{name}] {m}: test NDCG@10 {rec['test']['exclude']['NDCG@10']:.4f} "
             f"HR@10 {rec['test']['exclude']['HR@10']:.4f} ({rec['fit_seconds']:.0f}s)")
    results = _results(name, ds, sp, records, "sasrec")

    def fill(tmp: Path) -> None:
        for m, model in models.items():
            model.save(tmp / "models" / m)
        _write_json(tmp / "run.json", {
            "format": RUN_FORMAT, "kind": "multi", "data": _source(data),
            "subset_users": 2000 if quick else None, "fingerprint": fingerprint(ds),
            "split": "loo", "seed": seed, "models": {m: f"models/{m}" for m in models},
            "primary": "sasrec",
        })
        _write_json(tmp / "results.json", results)
        write_report(results, tmp / "report.html")

    write_dir_atomic(out, fill)
    return results


def read_run(run_dir: str | Path) -> dict:
    path = Path(run_dir) / "run.json"
    if not path.is_file():
        raise ShopaugError(f"{path}: not found; expected a run folder written by "
                           "'shopaug train' or 'shopaug demo'")
    meta = json.loads(path.read_text())
    if meta.get("format") != RUN_FORMAT:
        raise ShopaugError(f"{path}: unsupported run format {meta.get('format')!r}")
    return meta


def load_run(run_dir: str | Path, model: str | None = None):
    """The dataset, split and model of a run folder, checked against its fingerprint."""
    from shopaug.models import load_model

    run_dir = Path(run_dir)
    meta = read_run(run_dir)
    name = model or meta["primary"]
    if name not in meta["models"]:
        raise ShopaugError(f"{run_dir}: no model {name!r}; it has {sorted(meta['models'])}")
    ds = load(meta["data"])
    if meta.get("subset_users"):
        ds = ds.head(int(meta["subset_users"]))
    if fingerprint(ds) != meta["fingerprint"]:
        raise ShopaugError(f"{meta['data']}: the data changed since {run_dir} was trained "
                           "(fingerprint differs); retrain the run")
    sp = make_split(ds, meta["split"])
    return ds, sp, load_model(run_dir / meta["models"][name]), name


def evaluate_run(
    run_dir: str | Path, *, which: str = "test", history: str = "exclude",
    model: str | None = None, engine: Any = None,
) -> dict:
    """Re-evaluate a saved run: one flat dict of metrics for the chosen split and convention
    (ranked on ``engine``, sharded by users, when given)."""
    if history not in HISTORY_CONVENTIONS:
        raise ConfigError(f"history must be one of {HISTORY_CONVENTIONS}, got {history!r}")
    if which not in ("valid", "test"):
        raise ConfigError(f"split must be 'valid' or 'test', got {which!r}")
    _, sp, m, name = load_run(run_dir, model)
    out = evaluate(m, sp, which, history=history, engine=engine)  # type: ignore[arg-type]
    return {"model": name, "protocol": sp.protocol, **out}


def augment_dataset(
    data: str | Path,
    recipe: str | Path,
    out: str | Path,
    *,
    copies: int | None = None,
    seed: int = 0,
    split: str = "loo",
    max_len: int = 50,
    engine: Any = None,
) -> dict[str, int]:
    """Expand the training partition of ``data`` with ``recipe`` and write Parquet to ``out``.

    Columns: ``user``/``source``/``copy``/``items``/``ops`` (internal ids, see
    ``shopaug.augment.expand``) plus ``user_id`` and ``item_ids`` in the data's own ids.
    The recipe, seed and data fingerprint are stored in the file's metadata."""
    import pyarrow as pa

    from shopaug.augment import load_recipe, write_expanded
    from shopaug.engine import augment as sharded_augment

    rec = load_recipe(recipe)
    ds = load(data)
    sp = make_split(ds, split)
    aug = rec.build().fit(sp.train)
    n_copies = copies if copies is not None else int(rec.train.get("copies", 1))
    if n_copies < 1:
        raise ConfigError(f"--copies must be >= 1, got {n_copies}")
    # sharded by users, each shard seeded from (seed, shard): any engine, same samples
    table = sharded_augment(sp.train, aug, seed, copies=n_copies, max_len=max_len, engine=engine)
    col = table["items"].combine_chunks()
    flat = np.asarray(col.flatten(), dtype=np.int64)
    ext = np.full(len(flat), MASK_ID, dtype=object)  # the mask token has no external id
    real = flat <= ds.n_items
    ext[real] = ds.items.to_external(flat[real]).astype(str)
    ext_items = pa.ListArray.from_arrays(col.offsets, pa.array(ext.tolist(), type=pa.string()))
    users = table["user"].to_numpy()
    table = table.append_column("user_id", pa.array(ds.users.to_external(users).astype(str)))
    table = table.append_column("item_ids", ext_items)
    write_expanded(table, out, {
        "recipe": rec.to_dict(), "seed": seed, "copies": n_copies, "split": split,
        "data": _source(data), "fingerprint": fingerprint(ds), "max_len": max_len,
        "engine": getattr(engine, "name", "local"),
    })
    n_orig = int(np.sum(table["copy"].to_numpy() == 0))
    return {"originals": n_orig, "augmented": table.num_rows - n_orig, "items": len(flat)}


def extract_knowledge(
    data: str | Path,
    out: str | Path,
    *,
    split: str = "loo",
    enrich: bool = False,
    quantize: str | None = None,
    neighbors: int = 10,
    time_budget_minutes: float | None = None,
    progress: bool = True,
    echo: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Extract language-model knowledge of a dataset into folder ``out``.

    Writes ``knowledge.safetensors`` (``item_vectors`` per internal item id, ``text_neighbors``
    among items seen in training, ``user_profiles`` pooled from each user's TRAINING history),
    ``items.tsv`` (external id, text and, with ``enrich``, the Gemma-enriched text) and
    ``manifest.json`` (models, counts and wall times). The encoder and generator caches make a
    second run fast; the manifest says how much was computed versus served from cache.
    """
    from safetensors.numpy import save_file

    from shopaug.augment.knowledge import (
        item_embeddings,
        item_texts,
        profile_embeddings,
        text_neighbors,
    )
    from shopaug.lm import TextEncoder

    t0 = time.perf_counter()
    ds = load(data)
    sp = make_split(ds, split)
    train = sp.train
    timings: dict[str, float] = {}
    texts = item_texts(train)
    gen_stats: dict[str, Any] = {}
    if enrich:
        from shopaug.lm import Generator

        t = time.perf_counter()
        gen = Generator(progress=progress)
        budget = None if time_budget_minutes is None else time_budget_minutes * 60
        train = enrich_train(train, generator=gen, time_budget=budget)
        timings["enrich_seconds"] = time.perf_counter() - t
        gen_stats = {"model": gen.model_id, "generated_tokens": gen.generated_tokens_,
                     "generation_seconds": gen.seconds_}
        echo(f"[knowledge] enriched short item texts in {timings['enrich_seconds']:.0f}s "
             f"({gen.generated_tokens_} new tokens)")
    t = time.perf_counter()
    enc = TextEncoder(quantize=quantize, progress=progress)  # type: ignore[arg-type]
    vectors = item_embeddings(train, enc)
    timings["encode_seconds"] = time.perf_counter() - t
    echo(f"[knowledge] {ds.n_items} item vectors in {timings['encode_seconds']:.1f}s "
         f"({enc.encoded_} encoded, the rest from cache)")
    t = time.perf_counter()
    seen = train.item_counts() > 0
    table = text_neighbors(vectors, neighbors, candidates=seen)
    profiles = profile_embeddings(train.sequences, vectors)
    timings["neighbors_profiles_seconds"] = time.perf_counter() - t
    timings["total_seconds"] = time.perf_counter() - t0
    final = item_texts(train)
    manifest = {
        "data": _source(data), "fingerprint": fingerprint(ds), "split": split,
        "encoder": {"model": enc.model_id, "dim": int(vectors.shape[1]),
                    "encoded": enc.encoded_, "encode_seconds": enc.seconds_},
        "generator": gen_stats or None,
        "items": ds.n_items, "users": ds.n_users,
        "enriched_items": int(np.sum(final != texts)),
        "neighbors": neighbors, "timings": timings,
    }

    def fill(tmp: Path) -> None:
        save_file({"item_vectors": vectors, "text_neighbors": table,
                   "user_profiles": profiles}, str(tmp / "knowledge.safetensors"))
        ids = ds.items.to_external(np.arange(1, ds.n_items + 1)).astype(str)
        with open(tmp / "items.tsv", "w", encoding="utf-8") as f:
            f.write("item_id\ttext\tenriched_text\n")
            for i, a, b in zip(ids, texts[1:], final[1:], strict=True):
                f.write(f"{i}\t{_tsv(a)}\t{_tsv(b)}\n")
        _write_json(tmp / "manifest.json", manifest)

    write_dir_atomic(out, fill)
    return manifest


def _tsv(text: str) -> str:
    return " ".join(str(text).split())  # no tabs or newlines inside a field


def negatives_dataset(
    data: str | Path,
    sampler: str,
    out: str | Path,
    *,
    k: int = 8,
    seed: int = 0,
    split: str = "loo",
    engine: Any = None,
) -> dict[str, Any]:
    """Draw ``k`` negatives for every TRAINING interaction of ``data`` with a sampler fitted
    on the training partition, sharded by users (same samples on every engine), and write
    Parquet: ``user``/``position``/``item``/``negatives`` (internal ids) plus ``user_id``,
    ``item_id`` and ``negative_ids`` in the data's own ids; the sampler, seed and data
    fingerprint in the file's metadata (key ``shopaug.negatives``)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from shopaug._fs import write_file_atomic
    from shopaug.engine import negatives
    from shopaug.models._base import fit_sampler

    if k < 1:
        raise ConfigError(f"--k must be >= 1, got {k}")
    ds = load(data)
    sp = make_split(ds, split)
    fitted = fit_sampler(sampler, sp.train, TrainOptions(seed=seed, progress=False))
    table = negatives(sp.train, fitted, k, seed, engine=engine)
    neg = np.asarray(table["negatives"].combine_chunks().flatten(), dtype=np.int64)
    ext = pa.array(ds.items.to_external(neg).astype(str))
    table = table.append_column(
        "user_id", pa.array(ds.users.to_external(table["user"].to_numpy()).astype(str)))
    table = table.append_column(
        "item_id", pa.array(ds.items.to_external(table["item"].to_numpy()).astype(str)))
    table = table.append_column("negative_ids", pa.FixedSizeListArray.from_arrays(ext, k))
    meta = {"sampler": fitted.to_config(), "k": k, "seed": seed, "split": split,
            "data": _source(data), "fingerprint": fingerprint(ds),
            "engine": getattr(engine, "name", "local")}
    table = table.replace_schema_metadata(
        {b"shopaug.negatives": json.dumps(meta, sort_keys=True, default=_json_default).encode()})
    write_file_atomic(Path(out), lambda tmp: pq.write_table(table, tmp))
    return {"rows": table.num_rows, "k": k, "users": int(np.unique(table["user"]).size)}
