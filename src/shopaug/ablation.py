"""Ablations: train one model with and without each augmentation recipe over several seeds,
and say how much each recipe helps, with a paired bootstrap over users.

Each arm (``none`` plus one per recipe) is trained once per seed on the same split. Test
figures use full ranking with history excluded. The per-user NDCG@10 of each arm is averaged
over seeds and compared with the baseline's on the same users (a paired bootstrap), so the
interval reflects which users the data happens to hold as well as seed noise.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from shopaug._fs import write_dir_atomic
from shopaug.data import load
from shopaug.evaluation import SHORT_MAX, TAIL_MAX, Split, ndcg_per_case, rank_cases
from shopaug.exceptions import ConfigError
from shopaug.experiment import (
    RunConfig,
    _json_default,
    _results,
    fit_and_evaluate,
    make_split,
    resolve,
)
from shopaug.training import epochs_run

BASELINE = "none"
METRICS = ("NDCG@10", "HR@10", "NDCG@20", "HR@20", "MRR@10")


def recipe_paths(spec: str | Path | Sequence[str | Path]) -> list[str]:
    """Recipes named by a folder (every .toml/.yaml/.yml/.json in it), files, or shipped
    names."""
    specs = [spec] if isinstance(spec, str | Path) else list(spec)
    out: list[str] = []
    for s in specs:
        p = Path(s)
        if p.is_dir():
            files = sorted(
                f for f in p.iterdir() if f.suffix in (".toml", ".yaml", ".yml", ".json")
            )
            if not files:
                raise ConfigError(f"{p}: no recipe files (.toml, .yaml, .json) in this folder")
            out += [str(f) for f in files]
        else:
            out.append(str(s))
    return out


def paired_bootstrap(
    arm: np.ndarray, base: np.ndarray, rng: np.random.Generator, n_boot: int = 2000
) -> dict[str, float]:
    """Relative gain of ``mean(arm)`` over ``mean(base)`` on paired per-user values, with a
    95% percentile interval and the share of resamples where the arm does not beat the base
    (a one-sided bootstrap p-value)."""
    n = len(arm)
    if n == 0 or base.mean() == 0:
        return {"gain": 0.0, "ci_low": 0.0, "ci_high": 0.0, "p": 1.0}
    means_a = np.empty(n_boot)
    means_b = np.empty(n_boot)
    for s in range(0, n_boot, 100):  # 100 resamples at a time bounds memory on large data
        idx = rng.integers(0, n, size=(min(100, n_boot - s), n))
        means_a[s : s + len(idx)] = arm[idx].mean(1)
        means_b[s : s + len(idx)] = base[idx].mean(1)
    gains = means_a / np.maximum(means_b, 1e-12) - 1
    return {
        "gain": float(arm.mean() / base.mean() - 1),
        "ci_low": float(np.percentile(gains, 2.5)),
        "ci_high": float(np.percentile(gains, 97.5)),
        "p": float(np.mean(means_a <= means_b)),
    }


def _run_arm(
    rc: RunConfig, split: Split, seed: int, epochs: int | None, progress: bool, log
) -> tuple[dict, np.ndarray]:
    model, record = fit_and_evaluate(rc, split, seed=seed, epochs=epochs, progress=progress,
                                     log=log)
    ranks, _ = rank_cases(model, split.test, history="exclude")
    record.pop("history", None)
    return record, ranks


def ablate(
    data: str | Path,
    recipes: str | Path | Sequence[str | Path],
    out: str | Path,
    *,
    model: str | None = None,
    preset: str | None = None,
    config_file: str | Path | None = None,
    seeds: int = 3,
    epochs: int | None = None,
    split: str = "loo",
    progress: bool = True,
    log=None,
    echo: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Train ``model``/``preset`` without augmentation and with each recipe, for ``seeds``
    seeds; write ``out``/ablation.json, results.json and report.html. Returns the summary."""
    from shopaug.evaluation.report import write_report

    if seeds < 1:
        raise ConfigError(f"--seeds must be >= 1, got {seeds}")
    if model is None and preset is None:
        model = "sasrec"
    base = resolve(model=model, preset=preset, config_file=config_file)
    arms: dict[str, RunConfig] = {BASELINE: dataclasses.replace(base, recipe=None)}
    for r in recipe_paths(recipes):
        rc = resolve(model=model, preset=preset, config_file=config_file, recipe=r)
        name = rc.recipe["name"] if rc.recipe else BASELINE
        if name in arms:
            raise ConfigError(f"{r}: two recipes are named {name!r}; names must differ")
        arms[name] = rc
    ds = load(data)
    sp = make_split(ds, split)
    per_case: dict[str, np.ndarray] = {}
    runs: dict[str, list[dict]] = {}
    for name, rc in arms.items():
        gains = []
        runs[name] = []
        for seed in range(seeds):
            echo(f"[ablate] {name} seed {seed} ...")
            record, ranks = _run_arm(rc, sp, seed, epochs, progress, log)
            runs[name].append(record)
            gains.append(ndcg_per_case(ranks))
            echo(f"[ablate] {name} seed {seed}: test NDCG@10 "
                 f"{record['test']['exclude']['NDCG@10']:.4f} ({record['fit_seconds']:.0f}s)")
        per_case[name] = np.mean(gains, axis=0)
    summary = {
        "data": str(data),
        "split": split,
        "history": "exclude",
        "seeds": seeds,
        "model": base.model,
        "preset": base.preset,
        "recipes": {n: rc.recipe for n, rc in arms.items()},
        **compare(runs, per_case, sp),
    }
    results = _results(Path(out).name, ds, sp, arm_records(runs), BASELINE)
    results["ablation"] = summary

    def fill(tmp: Path) -> None:
        (tmp / "ablation.json").write_text(json.dumps(summary, indent=2, default=_json_default))
        (tmp / "results.json").write_text(json.dumps(results, indent=2, default=_json_default))
        (tmp / "ablation.md").write_text(format_ablation(summary) + "\n")
        write_report(results, tmp / "report.html")

    write_dir_atomic(out, fill)
    return summary


def compare(
    runs: dict[str, list[dict]], per_case: dict[str, np.ndarray], split: Split,
    baseline: str = BASELINE,
) -> dict[str, Any]:
    """The ablation table: per arm, mean ± std over seeds of the test metrics (all three
    history conventions), NDCG@10 on tail targets and short histories, time per epoch and,
    against ``baseline``, the paired bootstrap gain overall and in both slices.

    ``runs`` holds each arm's per-seed records (as ``fit_and_evaluate`` returns them) and
    ``per_case`` its per-user test NDCG@10 averaged over seeds, in ``split.test`` order."""
    tail = split.train.item_counts()[split.test.target] <= TAIL_MAX
    short = split.test.history.lengths <= SHORT_MAX
    rng = np.random.default_rng(12345)

    def stat(vals: list[float]) -> dict[str, float]:
        a = np.array(vals)
        return {"mean": float(a.mean()), "std": float(a.std(ddof=1)) if len(a) > 1 else 0.0}

    table = []
    for name, recs in runs.items():
        row: dict[str, Any] = {"arm": name, "seeds": len(recs)}
        for m in METRICS:
            row[m] = stat([r["test"]["exclude"][m] for r in recs])
        for conv in ("zero", "keep"):  # the literature's other conventions, for comparison
            for m in ("NDCG@10", "HR@10"):
                row[f"{conv} {m}"] = stat([r["test"][conv][m] for r in recs])
        for sl, sel in (("tail", tail), ("short", short)):
            row[f"{sl} NDCG@10"] = float(per_case[name][sel].mean()) if sel.any() else 0.0
        row["fit_seconds"] = float(np.mean([r["fit_seconds"] for r in recs]))
        row["seconds_per_epoch"] = float(np.mean(
            [r["fit_seconds"] / max(epochs_run(r["history"]) if "history" in r
                                    else r["epochs_run"], 1) for r in recs]))
        row["peak_rss_mb"] = float(np.max([r["peak_rss_mb"] for r in recs]))
        if name != baseline:
            base = per_case[baseline]
            row["vs_none"] = paired_bootstrap(per_case[name], base, rng)
            row["vs_none_tail"] = paired_bootstrap(per_case[name][tail], base[tail], rng)
            row["vs_none_short"] = paired_bootstrap(per_case[name][short], base[short], rng)
        table.append(row)
    return {"n_cases": len(split.test), "n_tail": int(tail.sum()),
            "n_short": int(short.sum()), "table": table}


def arm_records(runs: dict[str, list[dict]]) -> dict[str, dict]:
    """One record per arm in the shape of a training run's (its first seed's, with
    seed-mean test metrics), so the report's usual plots apply to an ablation."""
    out = {}
    for name, recs in runs.items():
        rec = dict(recs[0])
        rec["test"] = {h: mean_metrics([r["test"][h] for r in recs]) for h in recs[0]["test"]}
        out[name] = rec
    return out


def mean_metrics(items: list[dict]) -> dict:
    out = dict(items[0])
    for k, v in items[0].items():
        if isinstance(v, float):
            out[k] = float(np.mean([i[k] for i in items]))
    return out


def format_ablation(summary: dict[str, Any]) -> str:
    """A Markdown table of the ablation: mean ± std over seeds and the paired gain."""
    head = ["arm", "NDCG@10", "HR@10", "tail NDCG@10", "short NDCG@10", "gain", "95% CI", "p",
            "s/epoch"]
    lines = [
        f"test, full ranking, history excluded, {summary['seeds']} seeds; "
        f"{summary['n_cases']} users ({summary['n_tail']} tail targets, "
        f"{summary['n_short']} short histories)",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for row in summary["table"]:
        vs = row.get("vs_none")
        cells = [
            row["arm"],
            f"{row['NDCG@10']['mean']:.4f} ± {row['NDCG@10']['std']:.4f}",
            f"{row['HR@10']['mean']:.4f} ± {row['HR@10']['std']:.4f}",
            f"{row['tail NDCG@10']:.4f}",
            f"{row['short NDCG@10']:.4f}",
            "" if vs is None else f"{vs['gain']:+.1%}",
            "" if vs is None else f"[{vs['ci_low']:+.1%}, {vs['ci_high']:+.1%}]",
            "" if vs is None else f"{vs['p']:.3f}",
            f"{row['seconds_per_epoch']:.1f}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
