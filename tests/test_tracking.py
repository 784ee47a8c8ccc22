"""Experiment tracking (shopaug.tracking): names MLflow accepts, where runs go, and that a
missing MLflow, tracking off or a broken store never breaks the command."""

import json
import math
import sys

import pytest

from shopaug import tracking
from shopaug.exceptions import ConfigError

pytestmark = pytest.mark.filterwarnings("ignore:.*noload.*")  # inside MLflow's sqlalchemy store



def test_metric_names_are_valid_for_mlflow():
    from mlflow.utils.validation import _validate_metric_name, _validate_param_name

    assert tracking.metric_key("test.exclude.NDCG@10") == "test.exclude.NDCG_at_10"
    assert tracking.metric_key("arms.none.tail NDCG@10") == "arms.none.tail_NDCG_at_10"
    weird = ["HR@5", "a b:c", "x[1]", "é-ß/ok", "y" * 400, "pairs_by_source.template"]
    for name in weird:
        key = tracking.metric_key(name)
        _validate_metric_name(key)  # raises on a name MLflow refuses
        _validate_param_name(key)
        assert len(key) <= 250


def test_numeric_metrics_flatten_and_drop_what_is_not_a_number():
    got = tracking.numeric_metrics({
        "test": {"exclude": {"NDCG@10": 0.25, "history": "exclude", "n_cases": 300}},
        "flag": True, "missing": None, "nan": math.nan, "list": [1, 2],
    })
    assert got == {"test.exclude.NDCG_at_10": 0.25, "test.exclude.n_cases": 300.0}


def test_param_values_are_text_and_capped():
    got = tracking.param_values({"config": {"dim": 8, "ops": ["crop", "mask"]}, "preset": None,
                                 "long": "x" * 7000})
    assert got["config.dim"] == "8" and json.loads(got["config.ops"]) == ["crop", "mask"]
    assert got["preset"] == "None" and len(got["long"]) == 6000


def test_uri_order_workspace_then_settings(monkeypatch, tmp_path):
    monkeypatch.delenv("SHOPAUG_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("SHOPAUG_WORKSPACE", str(tmp_path / "w"))
    assert tracking.tracking_uri() == f"sqlite:///{tmp_path / 'w' / 'mlflow.db'}"
    assert tracking.sqlite_path(tracking.tracking_uri()) == tmp_path / "w" / "mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow.example:5000")
    assert tracking.tracking_uri() == "http://mlflow.example:5000"
    monkeypatch.setenv("SHOPAUG_TRACKING_URI", "sqlite:///other.db")
    assert tracking.tracking_uri() == "sqlite:///other.db"
    monkeypatch.delenv("SHOPAUG_WORKSPACE")
    monkeypatch.chdir(tmp_path)
    assert tracking.workspace() == tmp_path / ".shopaug"


@pytest.mark.parametrize(("env", "flag", "on"), [
    ("1", None, True), ("0", None, False), ("off", None, False), ("0", True, True),
    ("1", False, False),
])
def test_enabled_by_env_and_flag(monkeypatch, env, flag, on):
    monkeypatch.setenv("SHOPAUG_TRACKING", env)
    assert tracking.tracking_enabled(flag) is on


def test_track_logs_params_metrics_steps_and_artifacts(ws, tmp_path, capsys):
    from mlflow.tracking import MlflowClient

    report = tmp_path / "out" / "report.html"
    model = tmp_path / "out" / "model"
    model.mkdir(parents=True)
    report.write_text("<html>report</html>")
    (model / "weights.safetensors").write_bytes(b"\x00" * 16)
    run_id = tracking.track(
        "train", "my-run", params={"model": "sasrec", "seed": 3, "config": {"dim": 8}},
        metrics={"test": {"exclude": {"NDCG@10": 0.125}}, "fit_seconds": 2.5},
        steps={"epoch.loss": [(1, 3.0), (2, 2.0)]}, artifacts=[report, model],
        tags={"team": "search"}, start_time=1_700_000_000.0,
    )
    assert run_id is not None
    assert "tracked: MLflow run" in capsys.readouterr().err
    client = MlflowClient(tracking_uri=tracking.tracking_uri())
    run = client.get_run(run_id)
    assert run.data.params["config.dim"] == "8" and run.data.params["seed"] == "3"
    assert run.data.metrics["test.exclude.NDCG_at_10"] == 0.125
    assert run.data.tags[tracking.KIND_TAG] == "train" and run.data.tags["team"] == "search"
    assert run.info.status == "FINISHED" and run.info.start_time == 1_700_000_000_000
    losses = client.get_metric_history(run_id, "epoch.loss")
    assert sorted((m.step, m.value) for m in losses) == [(1, 3.0), (2, 2.0)]
    # artefacts live in the workspace, next to the sqlite store
    art = ws / "mlartifacts" / run_id / "artifacts"
    assert (art / "report.html").read_text() == "<html>report</html>"
    assert (art / "model" / "weights.safetensors").stat().st_size == 16
    rows = tracking.list_runs()
    assert [r["run_id"] for r in rows] == [run_id]
    assert rows[0]["test_ndcg10"] == 0.125 and rows[0]["valid_ndcg10"] is None
    assert rows[0]["model"] == "sasrec" and rows[0]["kind"] == "train"
    assert tracking.list_runs(kind="ablate") == []


def test_tracking_off_touches_nothing(ws, monkeypatch):
    monkeypatch.setenv("SHOPAUG_TRACKING", "0")

    def build():
        raise AssertionError("the record must not be built when tracking is off")

    assert tracking.log_record("train", build) is None
    assert not ws.exists()
    assert tracking.list_runs() == [] and not ws.exists()  # listing does not create a store


def test_missing_mlflow_prints_one_note(ws, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "mlflow", None)  # import mlflow -> ImportError
    monkeypatch.setattr(tracking, "_noted_missing", False)
    for _ in range(2):
        assert tracking.track("tune", "t", metrics={"x": 1.0}) is None
    err = capsys.readouterr().err
    assert err.count("note: experiment tracking is off") == 1 and "shopaug[track]" in err
    assert not ws.exists()


def test_broken_store_warns_with_uri_and_does_not_raise(ws, tmp_path, monkeypatch, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    uri = f"sqlite:///{blocker}/mlflow.db"
    monkeypatch.setenv("SHOPAUG_TRACKING_URI", uri)
    assert tracking.track("train", "r", metrics={"x": 1.0}) is None
    err = capsys.readouterr().err
    assert "warning: could not track" in err and uri in err and "run itself is complete" in err

    def broken_build():
        raise FileNotFoundError("results.json")

    monkeypatch.delenv("SHOPAUG_TRACKING_URI")
    assert tracking.log_record("train", broken_build) is None
    assert "results.json" in capsys.readouterr().err


def test_unknown_kind_is_a_config_error():
    with pytest.raises(ConfigError, match="tune-augment"):
        tracking.track("training", "x")
    with pytest.raises(ConfigError, match="kind"):
        tracking.list_runs("sqlite:///nowhere.db", kind="nope")


def test_finetune_record_logs_the_model_folder(ws, tmp_path):
    folder = tmp_path / "minilm-shop"
    folder.mkdir()
    (folder / "model.safetensors").write_bytes(b"\x01" * 8)
    (folder / "shopaug.json").write_text(json.dumps({
        "config": {"epochs": 1, "batch_size": 4}, "seed": 0, "pairs": 40, "steps": 10,
        "seconds": 1.5, "loss_first": 2.0, "loss_last": 1.0, "catalog": "c.tsv",
        "pairs_file": "p.tsv", "pairs_by_source": {"template": 40},
    }))
    run_id = tracking.log_record("search-finetune", lambda: tracking.finetune_record(folder))
    row = tracking.list_runs()[0]
    assert row["run_id"] == run_id and row["kind"] == "search-finetune"
    assert row["metrics"]["loss_last"] == 1.0 and row["metrics"]["pairs_by_source.template"] == 40
    assert row["params"]["config.batch_size"] == "4"
    art = ws / "mlartifacts" / run_id / "artifacts" / "model"
    assert (art / "model.safetensors").read_bytes() == b"\x01" * 8
