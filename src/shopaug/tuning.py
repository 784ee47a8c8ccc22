"""Tuning on validation only: one Optuna layer for model and augmentation-policy search.

A study lives in a sqlite file inside the workspace, so a search can be stopped and resumed
(the same ``--out``) and inspected with Optuna's own tools. Trials report validation
NDCG@10 after every epoch and the median pruner stops unpromising ones early. The test
targets are removed from the split before the first trial, so no trial can look at them.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from shopaug.data import Sequences, load
from shopaug.evaluation import Split, Targets
from shopaug.exceptions import ConfigError, ShopaugError
from shopaug.experiment import _json_default, fit_model, make_split, resolve

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
        "trials": [
            {"number": t.number, "state": t.state.name, "value": t.value, "params": t.params}
            for t in study.trials
        ],
    }
    tmp = out / "trials.json.tmp"
    tmp.write_text(json.dumps(summary, indent=2, default=_json_default))
    tmp.replace(out / "trials.json")
    return summary
