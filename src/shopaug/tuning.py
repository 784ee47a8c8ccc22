"""Tuning on validation only: one Optuna layer for model and augmentation-policy search.

A study lives in a sqlite file inside the workspace, so a search can be stopped and resumed
(the same ``--out``) and inspected with Optuna's own tools. Trials report validation
NDCG@10 after every epoch and the median pruner stops unpromising ones early. The test
targets are removed from the split before the first trial, so no trial can look at them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from shopaug.data import Sequences, load
from shopaug.evaluation import Split, Targets, evaluate
from shopaug.exceptions import ConfigError, ShopaugError
from shopaug.experiment import (
    RunConfig,
    _json_default,
    _source,
    fingerprint,
    fit_model,
    make_split,
    resolve,
)
from shopaug.training import epochs_run

#: Operators the policy search may use, with the range of their strength.
SEARCH_OPS: dict[str, tuple[str, float, float]] = {
    "crop": ("ratio", 0.5, 0.95),
    "mask": ("ratio", 0.05, 0.5),
    "reorder": ("ratio", 0.05, 0.5),
    "substitute": ("ratio", 0.05, 0.5),
    "insert": ("ratio", 0.05, 0.5),
}


def _optuna():
    try:
        import optuna
    except ImportError:  # pragma: no cover - a pinned dependency
        raise ShopaugError("tuning needs optuna: pip install optuna") from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


def without_test(split: Split) -> Split:
    """The split with its test targets removed: what a tuner may see."""
    empty = Targets(
        users=split.test.users[:0],
        history=Sequences(np.zeros(1, np.int64), np.empty(0, np.int64)),
        target=split.test.target[:0],
    )
    return dataclasses.replace(split, test=empty)


def run_study(
    objective: Callable[[Any, Callable[[int, float], None]], float],
    *,
    storage: Path,
    name: str,
    budget_minutes: float | None,
    trials: int | None,
    seed: int = 0,
) -> Any:
    """Maximise ``objective(trial, report)`` where ``report(step, value)`` feeds the median
    pruner (and raises ``TrialPruned`` when the trial should stop). Stops after ``trials``
    trials or ``budget_minutes`` minutes, whichever comes first."""
    optuna = _optuna()
    if budget_minutes is None and trials is None:
        raise ConfigError("give a time budget (--budget-minutes) or a number of trials")
    storage.parent.mkdir(parents=True, exist_ok=True)
    study = optuna.create_study(
        study_name=name,
        storage=f"sqlite:///{storage}",
        direction="maximize",
        load_if_exists=True,
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=2),
    )

    def wrapped(trial: Any) -> float:
        def report(step: int, value: float) -> None:
            trial.report(value, step)
            if trial.should_prune():
                raise optuna.TrialPruned()

        return objective(trial, report)

    study.optimize(
        wrapped,
        n_trials=trials,
        timeout=None if budget_minutes is None else budget_minutes * 60,
        catch=(),
    )
    return study


def suggest_recipe(trial: Any) -> dict[str, Any]:
    """A recipe mapping drawn from the policy search space: which operators (at least one),
    their strengths, how often rows are augmented, online vs contrastive use, and how much
    label weight goes to co-occurrence neighbours."""
    children = []
    for op, (param, lo, hi) in SEARCH_OPS.items():
        if trial.suggest_categorical(f"use_{op}", [True, False]):
            children.append({"op": op, param: trial.suggest_float(f"{op}_{param}", lo, hi)})
    if not children:
        children.append({"op": "crop", "ratio": trial.suggest_float("crop_ratio", 0.5, 0.95)})
    mode = trial.suggest_categorical("mode", ["online", "contrastive"])
    train: dict[str, Any] = {"mode": mode}
    soft = trial.suggest_float("soft_labels", 0.0, 0.3)
    if soft > 0.01:
        train["soft_labels"] = soft
    p = trial.suggest_float("p", 0.1, 1.0) if mode == "online" else 1.0
    if mode == "contrastive":
        train["cl_weight"] = trial.suggest_float("cl_weight", 0.01, 0.5, log=True)
        train["cl_temperature"] = trial.suggest_float("cl_temperature", 0.05, 1.0, log=True)
        train["cl_similarity"] = "cos"
    augment = {"op": "one_of", "p": p, "children": children}
    return {"name": f"trial-{trial.number}", "description": "", "train": train,
            "augment": augment}


def tune_augment(
    data: str | Path,
    out: str | Path,
    *,
    budget_minutes: float | None = 30,
    trials: int | None = None,
    model: str | None = None,
    preset: str | None = None,
    config_file: str | Path | None = None,
    epochs: int | None = None,
    seed: int = 0,
    split: str = "loo",
    progress: bool = False,
    echo: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Search augmentation policies on validation NDCG@10 and write the best recipe.

    ``out`` is a folder: ``best.toml`` (the recipe), ``study.db`` (Optuna, resumable) and
    ``trials.json``. Each trial trains the model with the recipe on the training partition
    and validates on the validation targets; the test targets are never loaded into a trial.
    """
    from shopaug.augment import Recipe, write_recipe

    if model is None and preset is None:
        model = "sasrec"
    base = resolve(model=model, preset=preset, config_file=config_file)
    ds = load(data)
    sp = without_test(make_split(ds, split))
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)

    def objective(trial: Any, report: Callable[[int, float], None]) -> float:
        recipe = Recipe.from_dict(suggest_recipe(trial), where=f"trial {trial.number}")
        rc = dataclasses.replace(base, recipe=recipe.to_dict())
        echo(f"[tune-augment] trial {trial.number}: {json.dumps(trial.params)}")
        best = -1.0

        def log(record: dict) -> None:
            nonlocal best
            if "valid" in record:
                best = max(best, record["valid"])
                report(record["epoch"], record["valid"])

        _, seconds = fit_model(rc, sp, seed=seed, epochs=epochs, progress=progress, log=log)
        trial.set_user_attr("recipe", recipe.to_dict())
        trial.set_user_attr("seconds", seconds)
        echo(f"[tune-augment] trial {trial.number}: valid NDCG@10 {best:.4f}")
        return best

    study = run_study(objective, storage=out / "study.db", name="tune-augment",
                      budget_minutes=budget_minutes, trials=trials, seed=seed)
    done = [t for t in study.trials if t.value is not None and "recipe" in t.user_attrs]
    if not done:
        raise ShopaugError("no trial finished within the budget; raise --budget-minutes")
    best = max(done, key=lambda t: t.value)
    data_best = dict(best.user_attrs["recipe"])
    data_best["name"] = "tuned"
    data_best["description"] = (
        f"found by tune-augment: valid NDCG@10 {best.value:.4f} (trial {best.number} of "
        f"{len(study.trials)})"
    )
    recipe = Recipe.from_dict(data_best)
    write_recipe(recipe, out / "best.toml")
    summary = {
        "best_trial": best.number,
        "best_valid_ndcg10": best.value,
        "recipe": recipe.to_dict(),
        "data": _source(data), "fingerprint": fingerprint(ds), "split": split, "seed": seed,
        "model": base.model, "preset": base.preset, "epochs": epochs,
        "budget_minutes": budget_minutes, "n_trials": trials, "study": "tune-augment",
        "storage": str(out / "study.db"),
        "trials": trial_rows(study),
    }
    _write_json(out / "trials.json", summary)
    return summary


def trial_rows(study: Any) -> list[dict[str, Any]]:
    """Every trial of a study: number, state, value, params and user attributes."""
    return [
        {"number": t.number, "state": t.state.name, "value": t.value, "params": t.params,
         **({"attrs": t.user_attrs} if t.user_attrs else {})}
        for t in study.trials
    ]


def _write_json(path: Path, obj: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2, default=_json_default) + "\n")
    tmp.replace(path)


#: Models with a hyper-parameter search space (``suggest_config``).
TUNABLE = ("sasrec", "bpr", "itemknn")


def suggest_config(model: str, trial: Any, base: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Model config values drawn from ``model``'s search space (``base`` is the config they
    go on top of: SASRec's ``dim`` choices keep ``base["heads"]`` a divisor).

    * ``sasrec``: dim {32, 64, 128}, layers 1-3, dropout 0.1-0.7, lr 1e-4-1e-2 (log),
      weight_decay 1e-6-0.1 (log), batch_size {64, 128, 256}, max_len {20, 50};
    * ``bpr``: dim {16, 32, 64, 128}, lr 5e-4-5e-2 (log), reg 1e-6-0.1 (log),
      batch_size {512, 1024, 2048, 4096};
    * ``itemknn``: neighbors 10-1000 (log), shrink 0-100, recency 0.3-1.
    """
    base = base or {}
    if model == "sasrec":
        heads = int(base.get("heads", 2))
        dims = [d for d in (32, 64, 128) if d % heads == 0] or [16 * heads]
        return {
            "dim": trial.suggest_categorical("dim", dims),
            "layers": trial.suggest_int("layers", 1, 3),
            "dropout": trial.suggest_float("dropout", 0.1, 0.7),
            "lr": trial.suggest_float("lr", 1e-4, 1e-2, log=True),
            "weight_decay": trial.suggest_float("weight_decay", 1e-6, 0.1, log=True),
            "batch_size": trial.suggest_categorical("batch_size", [64, 128, 256]),
            "max_len": trial.suggest_categorical("max_len", [20, 50]),
        }
    if model == "bpr":
        return {
            "dim": trial.suggest_categorical("dim", [16, 32, 64, 128]),
            "lr": trial.suggest_float("lr", 5e-4, 5e-2, log=True),
            "reg": trial.suggest_float("reg", 1e-6, 0.1, log=True),
            "batch_size": trial.suggest_categorical("batch_size", [512, 1024, 2048, 4096]),
        }
    if model == "itemknn":
        return {
            "neighbors": trial.suggest_int("neighbors", 10, 1000, log=True),
            "shrink": trial.suggest_float("shrink", 0.0, 100.0),
            "recency": trial.suggest_float("recency", 0.3, 1.0),
        }
    raise _not_tunable(model)


def _not_tunable(model: str) -> ConfigError:
    return ConfigError(f"model {model!r} has no hyper-parameters to tune; tunable models: "
                       f"{list(TUNABLE)}")


def study_name(rc: RunConfig, data_fingerprint: str, split: str, seed: int) -> str:
    """``tune-<model>-<split>-<data fingerprint>-<settings hash>``: re-running the same
    search resumes its study, while other data or fixed settings start a new one."""
    fixed = json.dumps([dataclasses.asdict(rc), seed], sort_keys=True, default=str)
    digest = hashlib.sha256(fixed.encode()).hexdigest()[:8]
    return f"tune-{rc.model}-{split}-{data_fingerprint[:12]}-{digest}"


def tune_model(
    data: str | Path,
    out: str | Path | None = None,
    *,
    model: str | None = None,
    preset: str | None = None,
    config_file: str | Path | None = None,
    budget_minutes: float | None = 30,
    trials: int | None = None,
    epochs: int | None = None,
    seed: int = 0,
    split: str = "loo",
    progress: bool = False,
    echo: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Search a model's hyper-parameters (``suggest_config``) on validation NDCG@10 and
    write the best configuration.

    The study lives in ``<workspace>/optuna.db`` (``shopaug.tracking.workspace``) under
    ``study_name(...)``, or in ``out/study.db`` when ``out`` is given; re-running resumes it.
    ``out`` (default ``<workspace>/tune/<study>``) receives ``best.toml`` (a config file for
    ``shopaug train --model M --config best.toml``) and ``trials.json``. Each trial trains on
    the training partition with ``epochs`` (written into the config, so ``best.toml``
    trains the same way), reports validation NDCG@10 per epoch to the pruner and is scored
    on all validation targets; test targets are removed before the first trial. Training of
    a trial stops when the time budget runs out."""
    from shopaug.models import MODELS
    from shopaug.tracking import workspace

    if model is None and preset is None:
        model = "sasrec"
    if trials is not None and trials < 1:
        raise ConfigError(f"--trials must be >= 1, got {trials}")
    if budget_minutes is not None and budget_minutes <= 0:
        raise ConfigError(f"--budget-minutes must be > 0, got {budget_minutes}")
    base = resolve(model=model, preset=preset, config_file=config_file)
    if base.model not in TUNABLE:
        raise _not_tunable(base.model)
    config_cls = MODELS[base.model].Config
    fields = {f.name for f in dataclasses.fields(config_cls)}
    if epochs is not None:
        if epochs < 1:
            raise ConfigError(f"--epochs must be >= 1, got {epochs}")
        if "epochs" in fields:
            base = dataclasses.replace(base, config={**base.config, "epochs": epochs})
    ds = load(data)
    sp = without_test(make_split(ds, split))
    name = study_name(base, fingerprint(ds), split, seed)
    if out is None:
        out, storage = workspace() / "tune" / name, workspace() / "optuna.db"
    else:
        out = Path(out)
        storage = out / "study.db"
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    deadline = None if budget_minutes is None else time.monotonic() + budget_minutes * 60

    def objective(trial: Any, report: Callable[[int, float], None]) -> float:
        config = {**base.config, **suggest_config(base.model, trial, base.config)}
        rc = dataclasses.replace(base, config=config)
        if deadline is not None:  # a trial's training ends with the search's budget
            left = max(deadline - time.monotonic(), 1.0) / 60
            cap = min(float(base.train.get("time_budget_minutes", left)), left)
            rc = dataclasses.replace(rc, train={**base.train, "time_budget_minutes": cap})
        echo(f"[tune] trial {trial.number}: {json.dumps(trial.params)}")

        def log(record: dict) -> None:
            if "valid" in record:
                report(record["epoch"], record["valid"])

        fitted, seconds = fit_model(rc, sp, seed=seed, progress=progress, log=log)
        value = float(evaluate(fitted, sp, "valid", beyond=False)["NDCG@10"])
        trial.set_user_attr("config", config)
        trial.set_user_attr("seconds", round(seconds, 2))
        trial.set_user_attr("epochs_run", epochs_run(getattr(fitted, "history_", []) or []))
        echo(f"[tune] trial {trial.number}: valid NDCG@10 {value:.4f} ({seconds:.0f}s)")
        return value

    study = run_study(objective, storage=storage, name=name, budget_minutes=budget_minutes,
                      trials=trials, seed=seed)
    done = [t for t in study.trials if t.value is not None and "config" in t.user_attrs]
    if not done:
        raise ShopaugError("no trial finished within the budget; raise --budget-minutes")
    best = max(done, key=lambda t: t.value)
    config = {k: v for k, v in dataclasses.asdict(config_cls(**best.user_attrs["config"])).items()
              if v is not None}
    best_file = {"model": base.model, "description": (
        f"tuned by shopaug tune: valid NDCG@10 {best.value:.4f} (trial {best.number} of "
        f"{len(study.trials)})"), "config": config}
    if base.train:
        best_file["train"] = dict(base.train)
    if base.recipe:
        best_file["recipe"] = _recipe_ref(base.recipe, out)
    _write_best_toml(best_file, out / "best.toml", data=_source(data), split=split, seed=seed,
                     study=name)
    summary = {
        "best_trial": best.number,
        "best_valid_ndcg10": best.value,
        "config": config,
        "data": _source(data), "fingerprint": fingerprint(ds), "split": split, "seed": seed,
        "model": base.model, "preset": base.preset, "epochs": epochs,
        "budget_minutes": budget_minutes, "n_trials": trials, "study": name,
        "storage": str(Path(storage).resolve()),
        "trials": trial_rows(study),
    }
    _write_json(out / "trials.json", summary)
    summary["out"] = str(out)
    return summary


def _recipe_ref(recipe: dict[str, Any], out: Path) -> str:
    """A shipped recipe by name when unchanged, else the recipe written to out/recipe.toml
    (by absolute path, as config files name recipes)."""
    from shopaug.augment import Recipe, load_recipe, recipes, write_recipe

    name = recipe.get("name")
    if name in recipes() and load_recipe(name).to_dict() == recipe:
        return str(name)
    path = write_recipe(Recipe.from_dict(recipe), out / "recipe.toml")
    return str(path.resolve())


def _write_best_toml(content: dict[str, Any], path: Path, **facts: Any) -> None:
    """``content`` as TOML after comment lines saying where it came from and how to use it."""
    from shopaug._fs import write_file_atomic
    from shopaug.augment.recipe import dumps_toml

    where = ", ".join(f"{k} {v}" for k, v in facts.items())
    head = (f"# {content['description']}\n# {where}\n"
            f"# shopaug train --data DATA --model {content['model']} --config {path.name} "
            "--out RUN\n")
    text = head + dumps_toml(content)
    write_file_atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
