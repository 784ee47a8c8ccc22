"""Tracking and tuning from the CLI: `train`/`ablate`/`tune` runs land in MLflow and Optuna
stores in the workspace, `runs list` shows them, and tracking never breaks a run.

In-process (typer's CliRunner) so MLflow is imported once; data is the first 300 Beauty users.
"""

import json

import pytest
from typer.testing import CliRunner

from shopaug import tracking
from shopaug.cli import app

pytestmark = pytest.mark.filterwarnings("ignore:.*noload.*")  # inside MLflow's sqlalchemy store





def cli(*args, ok=True):
    result = CliRunner().invoke(app, [str(a) for a in args])
    if ok and result.exit_code != 0:
        raise AssertionError(f"exit {result.exit_code}\nstdout:\n{result.stdout}\n"
                             f"stderr:\n{result.stderr}\n{result.exception!r}")
    return result


def train_small(data, cfg, out, *extra):
    return cli("train", "--data", data, "--preset", "sasrec", "--config", cfg, "--epochs", "2",
               "--out", out, "--no-progress", "--threads", "1", *extra)


def test_train_run_is_tracked_and_listed(beauty300, ws, tmp_path):
    from mlflow.tracking import MlflowClient

    data, cfg = beauty300
    out = tmp_path / "run"
    res = train_small(data, cfg, out, "--seed", "7")
    assert "tracked: MLflow run" in res.stderr
    saved = json.loads((out / "results.json").read_text())["models"]["sasrec"]
    rows = json.loads(cli("runs", "list", "--json").stdout)
    assert len(rows) == 1
    row = rows[0]
    assert (row["kind"], row["name"], row["model"], row["seed"]) == ("train", "run", "sasrec", "7")
    assert row["data"] == str(data.resolve()) and row["status"] == "FINISHED"
    assert row["test_ndcg10"] == pytest.approx(saved["test"]["exclude"]["NDCG@10"], abs=1e-12)
    assert row["valid_ndcg10"] == pytest.approx(saved["valid"]["NDCG@10"], abs=1e-12)
    assert row["metrics"]["test.keep.HR_at_10"] == pytest.approx(saved["test"]["keep"]["HR@10"])
    p = row["params"]
    assert (p["preset"], p["split"], p["epochs"], p["config.dim"]) == ("sasrec", "loo", "2", "8")
    client = MlflowClient(tracking_uri=tracking.tracking_uri())
    losses = client.get_metric_history(row["run_id"], "epoch.loss")
    assert [m.value for m in sorted(losses, key=lambda m: m.step)] == pytest.approx(
        [h["loss"] for h in saved["history"]])
    # artefacts: the run folder's files and the model, stored inside the workspace
    assert row["artifact_uri"].startswith((ws / "mlartifacts").resolve().as_uri())
    art = ws / "mlartifacts" / row["run_id"] / "artifacts"
    assert (art / "report.html").read_bytes() == (out / "report.html").read_bytes()
    assert (art / "model" / "weights.safetensors").read_bytes() == (
        out / "model" / "weights.safetensors").read_bytes()
    table = cli("runs", "list").stdout
    assert row["run_id"][:8] in table and "train" in table and "sasrec" in table


def test_tracking_off_creates_no_store(beauty300, ws, tmp_path, monkeypatch):
    data, cfg = beauty300
    res = train_small(data, cfg, tmp_path / "a", "--no-track")
    assert (tmp_path / "a" / "results.json").is_file() and "tracked" not in res.stderr
    monkeypatch.setenv("SHOPAUG_TRACKING", "0")
    train_small(data, cfg, tmp_path / "b")
    assert not ws.exists()
    assert "no runs tracked" in cli("runs", "list").stdout and not ws.exists()


def test_bad_tracking_uri_warns_and_keeps_the_run(beauty300, ws, tmp_path, monkeypatch):
    data, cfg = beauty300
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    uri = f"sqlite:///{blocker}/mlflow.db"
    monkeypatch.setenv("SHOPAUG_TRACKING_URI", uri)
    out = tmp_path / "run"
    res = train_small(data, cfg, out)  # exit code 0 is checked by cli()
    assert "warning: could not track" in res.stderr and uri in res.stderr
    for f in ("run.json", "results.json", "report.html", "model/weights.safetensors"):
        assert (out / f).is_file()
    assert json.loads((out / "results.json").read_text())["models"]["sasrec"]["test"]


def test_tune_itemknn_on_validation_only_resumes_and_is_tracked(
    beauty300, ws, tmp_path, monkeypatch
):
    import optuna

    import shopaug.tuning

    data, _ = beauty300
    seen = []
    real_fit = shopaug.tuning.fit_model

    def spy(rc, split, **kw):
        seen.append((len(split.test), len(split.valid)))
        return real_fit(rc, split, **kw)

    monkeypatch.setattr(shopaug.tuning, "fit_model", spy)
    res = cli("tune", "--data", data, "--model", "itemknn", "--trials", "3",
              "--budget-minutes", "5", "--seed", "1")
    assert seen == [(0, 300)] * 3  # every trial saw validation cases and no test case
    summary_line = next(ln for ln in res.stdout.splitlines() if ln.startswith("study "))
    name = summary_line.split()[1]
    study = optuna.load_study(study_name=name, storage=f"sqlite:///{ws / 'optuna.db'}")
    assert len(study.trials) == 3
    folder = ws / "tune" / name
    trials = json.loads((folder / "trials.json").read_text())
    assert trials["best_valid_ndcg10"] == pytest.approx(study.best_value)
    # the best config trains with `train --config`, and its validation NDCG@10 is the trial's
    run = tmp_path / "best"
    cli("train", "--data", data, "--model", "itemknn", "--config", folder / "best.toml",
        "--out", run, "--no-progress", "--no-track")
    rec = json.loads((run / "results.json").read_text())["models"]["itemknn"]
    assert rec["valid"]["NDCG@10"] == pytest.approx(study.best_value, abs=1e-12)
    assert rec["config"]["neighbors"] == study.best_params["neighbors"]
    rows = tracking.list_runs(kind="tune")
    assert len(rows) == 1 and rows[0]["valid_ndcg10"] == pytest.approx(study.best_value)
    assert rows[0]["metrics"]["trials.total"] == 3
    assert rows[0]["params"]["best.neighbors"] == str(study.best_params["neighbors"])
    # the same search again resumes the study
    cli("tune", "--data", data, "--model", "itemknn", "--trials", "1", "--seed", "1")
    assert len(optuna.load_study(study_name=name, storage=f"sqlite:///{ws / 'optuna.db'}")
               .trials) == 4
    assert len(tracking.list_runs(kind="tune")) == 2


def test_tune_sasrec_with_out_writes_a_trainable_config(beauty300, ws, tmp_path):
    import tomllib

    data, cfg = beauty300
    out = tmp_path / "tune"
    cli("tune", "--data", data, "--model", "sasrec", "--config", cfg, "--trials", "2",
        "--epochs", "1", "--out", out, "--no-track")
    assert (out / "study.db").is_file() and not ws.exists()
    best = tomllib.loads((out / "best.toml").read_text())
    assert best["model"] == "sasrec" and best["config"]["epochs"] == 1
    assert best["config"]["heads"] == 1 and best["train"] == {"patience": 5}
    run = tmp_path / "run"
    cli("train", "--data", data, "--model", "sasrec", "--config", out / "best.toml",
        "--out", run, "--no-progress", "--threads", "1", "--no-track")
    rec = json.loads((run / "results.json").read_text())["models"]["sasrec"]
    assert rec["epochs_run"] == 1 and rec["config"]["dim"] == best["config"]["dim"]
    trials = json.loads((out / "trials.json").read_text())
    assert rec["valid"]["NDCG@10"] == pytest.approx(trials["best_valid_ndcg10"], abs=1e-9)


def test_tune_refuses_a_model_without_hyperparameters(beauty300, ws):
    data, _ = beauty300
    res = cli("tune", "--data", data, "--model", "popularity", "--trials", "1", ok=False)
    assert res.exit_code != 0 and "tunable models" in str(res.exception)


def test_ablate_and_tune_augment_are_tracked(beauty300, ws, tmp_path):
    data, cfg = beauty300
    rec = tmp_path / "off.toml"
    rec.write_text('name = "off"\n[train]\nmode = "offline"\ncopies = 1\n'
                   '[augment]\nop = "mask"\nratio = 0.3\n')
    cli("ablate", "--data", data, "--model", "itemknn", "--recipes", rec, "--seeds", "1",
        "--out", tmp_path / "abl", "--no-progress")
    cli("tune-augment", "--data", data, "--preset", "sasrec", "--config", cfg, "--trials", "1",
        "--epochs", "1", "--out", tmp_path / "ta")
    kinds = {r["kind"]: r for r in tracking.list_runs()}
    assert set(kinds) == {"ablate", "tune-augment"}
    summary = json.loads((tmp_path / "abl" / "ablation.json").read_text())
    off = next(r for r in summary["table"] if r["arm"] == "off")
    assert kinds["ablate"]["metrics"]["arms.off.NDCG_at_10.mean"] == pytest.approx(
        off["NDCG@10"]["mean"])
    assert kinds["ablate"]["params"]["recipes"] == "none,off"
    trials = json.loads((tmp_path / "ta" / "trials.json").read_text())
    assert kinds["tune-augment"]["valid_ndcg10"] == pytest.approx(trials["best_valid_ndcg10"])
    art = ws / "mlartifacts" / kinds["tune-augment"]["run_id"] / "artifacts"
    assert (art / "best.toml").read_text() == (tmp_path / "ta" / "best.toml").read_text()
