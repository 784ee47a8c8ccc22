"""Experiment tracking: record finished runs in MLflow, never at the cost of the run.

Every ``train``, ``ablate``, ``tune``, ``tune-augment`` and ``search finetune`` command logs
one MLflow run (experiment ``shopaug``, tag ``shopaug.kind``) after its output folder is
written: parameters, metrics, per-epoch or per-trial step metrics and the folder's files as
artefacts. By default the store is a sqlite file in the workspace:

* workspace: ``$SHOPAUG_WORKSPACE``, else ``.shopaug`` under the current directory;
* tracking URI: ``$SHOPAUG_TRACKING_URI``, else ``$MLFLOW_TRACKING_URI``, else
  ``sqlite:///<workspace>/mlflow.db`` (artefacts under ``<workspace>/mlartifacts``; a sqlite
  store elsewhere keeps them in ``mlartifacts`` next to its file);
* ``SHOPAUG_TRACKING=0`` turns tracking off (``--track/--no-track`` on a command wins).

MLflow is optional (``pip install 'shopaug[track]'``) and imported only when a run is
logged. Tracking is best effort by design: without MLflow one note is printed, and any
failure of the store prints a warning naming its URI while the command still succeeds.

MLflow names allow letters, digits and ``_ - . / space``; shopaug's metric names are mapped
by ``metric_key``: ``@`` becomes ``_at_`` and anything else outside ``[A-Za-z0-9_.-/]``
becomes ``_``, so ``test.exclude.NDCG@10`` is logged as ``test.exclude.NDCG_at_10``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import re
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from shopaug.exceptions import ConfigError, ShopaugError

EXPERIMENT = "shopaug"
#: Tag holding which command produced a run.
KIND_TAG = "shopaug.kind"
KINDS = ("train", "ablate", "tune", "tune-augment", "search-finetune")
OFF_VALUES = {"0", "false", "no", "off"}
INSTALL_HINT = "pip install 'shopaug[track]'"
#: Headline metrics of ``list_runs``: output name -> logged names, first found wins.
HEADLINES = {
    "valid_ndcg10": ("valid.NDCG_at_10", "best.valid.NDCG_at_10"),
    "test_ndcg10": ("test.exclude.NDCG_at_10",),
}
_BAD_CHARS = re.compile(r"[^A-Za-z0-9_.\-/]")
_MAX_KEY = 250  # MLflow's limit for param and metric names
_MAX_VALUE = 6000  # and for param values
_noted_missing = False


def workspace() -> Path:
    """The folder holding shopaug's stores: ``$SHOPAUG_WORKSPACE`` or ``./.shopaug``."""
    return Path(os.environ.get("SHOPAUG_WORKSPACE") or Path.cwd() / ".shopaug")


def tracking_uri() -> str:
    """The MLflow URI runs are logged to (see the module docstring for the order)."""
    for var in ("SHOPAUG_TRACKING_URI", "MLFLOW_TRACKING_URI"):
        if os.environ.get(var):
            return os.environ[var]
    return f"sqlite:///{(workspace() / 'mlflow.db').resolve()}"


def tracking_enabled(flag: bool | None = None) -> bool:
    """Whether to track: ``flag`` when given (``--track/--no-track``), else on unless
    ``$SHOPAUG_TRACKING`` is ``0``/``false``/``no``/``off``."""
    if flag is not None:
        return flag
    return os.environ.get("SHOPAUG_TRACKING", "1").strip().lower() not in OFF_VALUES


def metric_key(name: str) -> str:
    """``name`` as a valid, portable MLflow metric or param name (``NDCG@10`` ->
    ``NDCG_at_10``)."""
    return _BAD_CHARS.sub("_", name.replace("@", "_at_"))[:_MAX_KEY]


def flatten(values: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested mappings as one level with dotted keys: ``{"test": {"NDCG@10": .1}}`` ->
    ``{"test.NDCG@10": .1}``. Other values (lists included) are kept as they are."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, name + "."))
        else:
            out[name] = value
    return out


def numeric_metrics(values: Mapping[str, Any]) -> dict[str, float]:
    """The finite numbers of a nested mapping, flattened, under ``metric_key`` names
    (booleans, strings, lists and NaN are left out)."""
    out = {}
    for key, value in flatten(values).items():
        if isinstance(value, int | float) and not isinstance(value, bool):
            if math.isfinite(value):
                out[metric_key(key)] = float(value)
    return out


def param_values(values: Mapping[str, Any]) -> dict[str, str]:
    """A nested mapping as MLflow params: flattened, keys via ``metric_key``, values as
    text (lists as JSON, None as ``None``), cut to MLflow's 6,000 characters."""
    out = {}
    for key, value in flatten(values).items():
        if isinstance(value, list | tuple):
            text = json.dumps(value, default=str)
        else:
            text = str(value)
        out[metric_key(key)] = text[:_MAX_VALUE]
    return out


@dataclass
class Record:
    """One run to log.

    Attributes:
        name: the run's name (usually its output folder's name).
        params: nested mapping of settings (flattened by ``param_values``).
        metrics: nested mapping of results (flattened by ``numeric_metrics``).
        steps: step metrics, name -> ``[(step, value), ...]`` (per epoch, per trial).
        artifacts: ``(local path, artifact folder)`` pairs; folder None puts a file at the
            root and a folder under its own name.
        tags: extra run tags.
    """

    name: str
    params: Mapping[str, Any] = field(default_factory=dict)
    metrics: Mapping[str, Any] = field(default_factory=dict)
    steps: Mapping[str, Sequence[tuple[int, float]]] = field(default_factory=dict)
    artifacts: Sequence[tuple[Path, str | None]] = ()
    tags: Mapping[str, str] = field(default_factory=dict)


def track(
    kind: str,
    name: str,
    *,
    params: Mapping[str, Any] | None = None,
    metrics: Mapping[str, Any] | None = None,
    steps: Mapping[str, Sequence[tuple[int, float]]] | None = None,
    artifacts: Sequence[str | Path] = (),
    tags: Mapping[str, str] | None = None,
    start_time: float | None = None,
    enabled: bool | None = None,
    uri: str | None = None,
) -> str | None:
    """Log one finished run to MLflow; returns its run id, or None when tracking is off,
    MLflow is missing or the store failed (a note or warning is printed; never raises).

    ``kind`` is one of ``KINDS``; files in ``artifacts`` land at the artefact root and
    folders under their own name. ``start_time`` is the command's start (``time.time()``).
    """
    return log_record(
        kind,
        lambda: Record(name=name, params=params or {}, metrics=metrics or {},
                       steps=steps or {}, artifacts=[(Path(a), None) for a in artifacts],
                       tags=tags or {}),
        start_time=start_time, enabled=enabled, uri=uri,
    )


def log_record(
    kind: str,
    build: Callable[[], Record],
    *,
    start_time: float | None = None,
    enabled: bool | None = None,
    uri: str | None = None,
) -> str | None:
    """Like ``track``, with the record built by ``build()`` only when tracking is on (a
    failure to build it, such as an unreadable output file, is reported the same way)."""
    if kind not in KINDS:
        raise ConfigError(f"unknown run kind {kind!r}; expected one of {list(KINDS)}")
    if not tracking_enabled(enabled) or not _have_mlflow():
        return None
    uri = uri or tracking_uri()
    try:
        with _quiet_mlflow():
            run_id = _log(uri, kind, build(), start_time)
    except Exception as e:  # tracking is best effort: the run folder is already written
        reason = (str(e).strip().splitlines() or [""])[0][:300]
        print(f"warning: could not track this {kind} run in MLflow at {uri}: "
              f"{type(e).__name__}: {reason} (the run itself is complete)", file=sys.stderr)
        return None
    print(f"tracked: MLflow run {run_id} ({kind}) in {uri}", file=sys.stderr)
    return run_id


def list_runs(
    uri: str | None = None, *, kind: str | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    """Tracked runs, newest first: run id, kind, name, status, start time (UTC, ISO 8601),
    the ``data``/``model``/``seed`` params, headline metrics ``valid_ndcg10`` and
    ``test_ndcg10`` (None when the kind has none), artefact URI, and all params and
    metrics. An absent default store gives an empty list (it is not created)."""
    if kind is not None and kind not in KINDS:
        raise ConfigError(f"unknown run kind {kind!r}; expected one of {list(KINDS)}")
    if limit < 1:
        raise ConfigError(f"--limit must be >= 1, got {limit}")
    uri = uri or tracking_uri()
    db = sqlite_path(uri)
    if db is not None and not db.is_file():
        return []
    if not _have_mlflow(note=False):
        raise ShopaugError(f"listing runs needs MLflow: {INSTALL_HINT}")
    try:
        with _quiet_mlflow():
            from mlflow.tracking import MlflowClient

            client = MlflowClient(tracking_uri=uri)
            exp = client.get_experiment_by_name(EXPERIMENT)
            if exp is None:
                return []
            runs = client.search_runs(
                [exp.experiment_id],
                filter_string=f"tags.`{KIND_TAG}` = '{kind}'" if kind else "",
                max_results=limit,
                order_by=["attributes.start_time DESC"],
            )
    except Exception as e:
        reason = (str(e).strip().splitlines() or [""])[0][:300]
        raise ShopaugError(f"cannot read runs from {uri}: {type(e).__name__}: {reason}") from None
    return [_row(r) for r in runs]


def sqlite_path(uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` URI (relative to the current directory with
    three slashes, absolute with four), else None."""
    if not uri.startswith("sqlite:///"):
        return None
    return Path(unquote(uri[len("sqlite:///"):].split("?", 1)[0]))


# ---------------------------------------------------------------- records of shopaug outputs


def train_record(run_dir: str | Path, *, epochs: int | None = None) -> Record:
    """The record of a ``train`` run folder (run.json + results.json): params model, preset,
    recipe, data, fingerprint, split, seed, epochs and the model's config and run settings;
    metrics valid, test (every history convention), fit seconds; ``epoch.*`` step metrics;
    every file of the folder and the model folder as artefacts."""
    run_dir = Path(run_dir)
    meta = _read_json(run_dir / "run.json")
    results = _read_json(run_dir / "results.json")
    rec = results["models"][meta["primary"]]
    rc = meta.get("run_config") or {}
    params = {
        "data": meta["data"], "fingerprint": meta["fingerprint"], "split": meta["split"],
        "seed": meta["seed"], "model": meta["primary"], "preset": rc.get("preset"),
        "recipe": (rec.get("recipe") or {}).get("name", "none"), "epochs": epochs,
        "engine": rec.get("engine", "local"), "config": rec.get("config", {}),
        "train": rec.get("train", {}),
    }
    metrics = {
        "valid": rec.get("valid", {}), "test": rec.get("test", {}),
        "fit_seconds": rec.get("fit_seconds"), "epochs_run": rec.get("epochs_run"),
        "peak_rss_mb": rec.get("peak_rss_mb"),
    }
    return Record(
        name=run_dir.name, params=params, metrics=metrics,
        steps=epoch_steps(rec.get("history") or []), artifacts=_folder_artifacts(run_dir),
        tags={"shopaug.folder": str(run_dir.resolve())},
    )


def ablation_record(out: str | Path, *, epochs: int | None = None) -> Record:
    """The record of an ``ablate`` folder: params data, model, preset, split, seeds, recipes
    and the baseline's config; metrics ``arms.<arm>.*`` (mean/std over seeds, slices, the
    paired gain against ``none`` with its interval); the folder's files as artefacts."""
    out = Path(out)
    summary = _read_json(out / "ablation.json")
    results = _read_json(out / "results.json")
    base = results["models"].get(results.get("primary", ""), {})
    params = {
        "data": results["data"]["source"], "fingerprint": results["data"]["fingerprint"],
        "split": summary["split"], "seeds": summary["seeds"], "model": summary["model"],
        "preset": summary.get("preset"), "recipes": ",".join(summary["recipes"]),
        "epochs": epochs, "config": base.get("config", {}), "train": base.get("train", {}),
    }
    arms = {row["arm"]: {k: v for k, v in row.items() if k != "arm"}
            for row in summary["table"]}
    metrics = {"arms": arms, "n_cases": summary.get("n_cases")}
    return Record(name=out.name, params=params, metrics=metrics,
                  artifacts=_folder_artifacts(out),
                  tags={"shopaug.folder": str(out.resolve())})


def tuning_record(out: str | Path) -> Record:
    """The record of a ``tune`` or ``tune-augment`` folder (trials.json): the search's
    settings and the best trial's params as ``best.*``; metrics best valid NDCG@10 and
    trial counts; ``trial.valid.NDCG@10`` per trial number; best.toml and trials.json (and
    a written recipe) as artefacts."""
    out = Path(out)
    summary = _read_json(out / "trials.json")
    trials = summary.get("trials", [])
    best = next((t for t in trials if t["number"] == summary["best_trial"]), {})
    states = [t["state"] for t in trials]
    settings = {k: summary.get(k) for k in (
        "data", "fingerprint", "split", "seed", "model", "preset", "epochs", "budget_minutes",
        "n_trials", "study", "storage")}
    params = {**settings, "best": best.get("params", {})}
    metrics = {
        "best": {"valid": {"NDCG@10": summary["best_valid_ndcg10"]},
                 "trial": summary["best_trial"]},
        "trials": {"total": len(trials), "complete": states.count("COMPLETE"),
                   "pruned": states.count("PRUNED")},
    }
    steps = {metric_key("trial.valid.NDCG@10"): [
        (int(t["number"]), float(t["value"])) for t in trials
        if t.get("value") is not None and t["state"] == "COMPLETE"]}
    files = [out / f for f in ("best.toml", "recipe.toml", "trials.json")]
    tags = {"shopaug.folder": str(out.resolve())}
    if summary.get("study"):
        tags["optuna.study"] = str(summary["study"])
    return Record(name=out.name, params=params, metrics=metrics, steps=steps,
                  artifacts=[(f, None) for f in files if f.is_file()], tags=tags)


def finetune_record(model_dir: str | Path) -> Record:
    """The record of a ``search finetune`` model folder (shopaug.json): params catalogue,
    pairs file, base model, seed and fine-tuning config; metrics pairs, steps, seconds and
    first/last loss; the model folder as the ``model`` artefact."""
    model_dir = Path(model_dir)
    meta = _read_json(model_dir / "shopaug.json")
    params = {k: meta.get(k) for k in (
        "catalog", "pairs_file", "base", "seed", "perturbed_queries", "stopped_by_time_budget")}
    params["config"] = meta.get("config", {})
    metrics = {k: meta.get(k) for k in ("pairs", "steps", "seconds", "loss_first", "loss_last")}
    metrics["pairs_by_source"] = meta.get("pairs_by_source", {})
    return Record(name=model_dir.name, params=params, metrics=metrics,
                  artifacts=[(model_dir, "model")],
                  tags={"shopaug.folder": str(model_dir.resolve())})


def epoch_steps(history: Sequence[Mapping[str, Any]]) -> dict[str, list[tuple[int, float]]]:
    """Per-epoch training records (``{"epoch", "loss", "valid", "seconds"}``) as step
    metrics ``epoch.loss``, ``epoch.valid_NDCG_at_10`` and ``epoch.seconds``."""
    names = {"loss": "epoch.loss", "valid": "epoch.valid_NDCG@10", "seconds": "epoch.seconds"}
    steps: dict[str, list[tuple[int, float]]] = {}
    for rec in history:
        for key, name in names.items():
            value = rec.get(key)
            if isinstance(value, int | float) and math.isfinite(value):
                steps.setdefault(metric_key(name), []).append((int(rec["epoch"]), float(value)))
    return steps


# ------------------------------------------------------------------------------ internals


def _have_mlflow(*, note: bool = True) -> bool:
    global _noted_missing
    try:
        import mlflow  # noqa: F401
    except Exception as e:  # ImportError, or a broken install
        if note and not _noted_missing:
            _noted_missing = True
            print(f"note: experiment tracking is off: MLflow is not available ({e}); "
                  f"{INSTALL_HINT}", file=sys.stderr)
        return False
    return True


@contextlib.contextmanager
def _quiet_mlflow() -> Iterator[None]:
    """MLflow and alembic log INFO lines (database creation, migrations) to stderr."""
    loggers = [logging.getLogger(n) for n in ("mlflow", "alembic")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


def _read_json(path: Path) -> Any:
    if not path.is_file():
        raise ShopaugError(f"{path}: not found")
    return json.loads(path.read_text())


def _folder_artifacts(folder: Path) -> list[tuple[Path, str | None]]:
    return [(p, None) for p in sorted(folder.iterdir()) if not p.name.startswith(".")]


def _artifact_root(uri: str) -> str | None:
    db = sqlite_path(uri)
    return None if db is None else (db.parent / "mlartifacts").resolve().as_uri()


def _experiment(client: Any, uri: str) -> str:
    exp = client.get_experiment_by_name(EXPERIMENT)
    if exp is None:
        try:
            return client.create_experiment(EXPERIMENT, artifact_location=_artifact_root(uri))
        except Exception:  # created meanwhile by another process
            exp = client.get_experiment_by_name(EXPERIMENT)
            if exp is None:
                raise
    if exp.lifecycle_stage == "deleted":
        client.restore_experiment(exp.experiment_id)
    return exp.experiment_id


def _log(uri: str, kind: str, record: Record, start_time: float | None) -> str:
    from mlflow.entities import Metric, Param
    from mlflow.tracking import MlflowClient

    import shopaug

    db = sqlite_path(uri)
    if db is not None:
        db.parent.mkdir(parents=True, exist_ok=True)
    client = MlflowClient(tracking_uri=uri)
    exp_id = _experiment(client, uri)
    now = int(time.time() * 1000)
    tags = {KIND_TAG: kind, "shopaug.version": shopaug.__version__,
            "mlflow.source.name": f"shopaug {kind.replace('search-', 'search ')}",
            **record.tags}
    run = client.create_run(
        exp_id, start_time=now if start_time is None else int(start_time * 1000),
        tags=tags, run_name=record.name,
    )
    run_id = run.info.run_id
    try:
        params = [Param(k, v) for k, v in param_values(record.params).items()]
        for i in range(0, len(params), 100):  # MLflow takes 100 params per batch
            client.log_batch(run_id, params=params[i : i + 100])
        metrics = [Metric(k, v, now, 0) for k, v in numeric_metrics(record.metrics).items()]
        for name, series in record.steps.items():
            metrics += [Metric(metric_key(name), float(v), now, int(s)) for s, v in series]
        for i in range(0, len(metrics), 1000):
            client.log_batch(run_id, metrics=metrics[i : i + 1000])
        for path, folder in record.artifacts:
            if path.is_dir():
                client.log_artifacts(run_id, str(path), folder or path.name)
            elif path.is_file():
                client.log_artifact(run_id, str(path), folder)
    except BaseException:
        with contextlib.suppress(Exception):
            client.set_terminated(run_id, "FAILED")
        raise
    client.set_terminated(run_id, "FINISHED")
    return run_id


def _row(run: Any) -> dict[str, Any]:
    info, data = run.info, run.data
    metrics = dict(data.metrics)
    row: dict[str, Any] = {
        "run_id": info.run_id,
        "kind": data.tags.get(KIND_TAG),
        "name": info.run_name,
        "status": info.status,
        "start_time": _iso(info.start_time),
        "end_time": _iso(info.end_time),
        "data": data.params.get("data"),
        "model": data.params.get("model"),
        "seed": data.params.get("seed"),
    }
    for out, names in HEADLINES.items():
        row[out] = next((metrics[n] for n in names if n in metrics), None)
    row.update({"artifact_uri": info.artifact_uri, "params": dict(data.params),
                "metrics": metrics})
    return row


def _iso(ms: int | None) -> str | None:
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
