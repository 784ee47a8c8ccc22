"""The CLI end to end: real subprocesses, real files, exit codes and JSON output."""

import json
import os
import subprocess
import sys

import pytest

SHOPAUG = [sys.executable, "-m", "shopaug.cli"]
KEYS = ["HR@5", "HR@10", "HR@20", "NDCG@5", "NDCG@10", "NDCG@20", "MRR@10", "coverage@10"]


def run(*args, cwd=None, check=True):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    p = subprocess.run([*SHOPAUG, *map(str, args)], capture_output=True, text=True, cwd=cwd,
                       env=env, timeout=600)
    if check and p.returncode != 0:
        raise AssertionError(f"exit {p.returncode}\nstdout:\n{p.stdout}\nstderr:\n{p.stderr}")
    return p


@pytest.fixture(scope="module")
def quick_demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    p = run("demo", "--quick", "--out", root, "--no-progress")
    return root / "demo-quick", p


def test_quick_demo_writes_results_and_report(quick_demo):
    folder, p = quick_demo
    results = json.loads((folder / "results.json").read_text())
    assert set(results["models"]) == {"popularity", "itemknn", "bpr", "sasrec"}
    for rec in results["models"].values():
        assert set(rec["test"]) == {"exclude", "zero", "keep"}
        for key in KEYS:
            assert 0.0 <= rec["test"]["exclude"][key] <= 1.0
    html = (folder / "report.html").read_text()
    assert html.count("data:image/png;base64,") >= 5
    assert "sasrec" in p.stdout and "NDCG@10" in p.stdout
    assert results["primary"] == "sasrec" and results["protocol"]["ranking"] == "full"
    assert len(results["models"]["sasrec"]["history"]) == 3  # the quick run's epochs
    assert not list(folder.parent.glob(".*"))  # no temporary folders left behind


@pytest.mark.parametrize("history", ["exclude", "zero", "keep"])
def test_evaluate_json_matches_results(quick_demo, history):
    folder, _ = quick_demo
    p = run("evaluate", folder, "--model", "itemknn", "--history", history, "--json")
    out = json.loads(p.stdout)
    for key in KEYS:
        assert key in out
    assert out["history"] == history and out["split"] == "test"
    saved = json.loads((folder / "results.json").read_text())["models"]["itemknn"]["test"]
    assert out["NDCG@10"] == pytest.approx(saved[history]["NDCG@10"], abs=1e-9)


def test_evaluate_valid_split_of_primary_model(quick_demo):
    folder, _ = quick_demo
    out = json.loads(run("evaluate", folder, "--split", "valid", "--json").stdout)
    assert out["model"] == "sasrec" and out["split"] == "valid"


def test_train_and_evaluate_a_log_file(tmp_path):
    log = tmp_path / "log.csv"
    rows = ["user_id,item_id,timestamp,event"]
    for u in range(60):
        for j in range(6):
            rows.append(f"user{u},sku{(u * 3 + j * 2) % 40},{1000 + u + j * 100},view")
    log.write_text("\n".join(rows) + "\n")
    out = tmp_path / "run"
    run("train", "--data", log, "--model", "itemknn", "--out", out, "--no-progress")
    meta = json.loads((out / "run.json").read_text())
    assert meta["model"] == "itemknn" and (out / "model" / "weights.safetensors").is_file()
    ev = json.loads(run("evaluate", out, "--json").stdout)
    assert ev["n_cases"] == 60
    t = tmp_path / "run-temporal"
    run("train", "--data", log, "--model", "popularity", "--split", "temporal", "--out", t,
        "--no-progress")
    assert json.loads(run("evaluate", t, "--json").stdout)["protocol"] == "temporal"


def test_train_with_preset_and_config_file(tmp_path):
    cfg = tmp_path / "small.toml"
    cfg.write_text("[config]\ndim = 8\nheads = 1\n\n[train]\npatience = 1\n")
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "sequences.txt").write_text(
        "\n".join(f"{u} " + " ".join(str((u + j) % 30 + 1) for j in range(7)) for u in range(1, 50))
    )
    out = tmp_path / "sas"
    ckpt = tmp_path / "ckpt"
    run("train", "--data", folder, "--preset", "sasrec", "--config", cfg, "--epochs", "2",
        "--out", out, "--no-progress", "--threads", "1", "--checkpoint-dir", ckpt)
    assert (ckpt / "best.safetensors").is_file()
    assert json.loads((ckpt / "best.json").read_text())["epoch"] in (1, 2)
    conf = json.loads((out / "model" / "config.json").read_text())
    assert conf["model"] == "sasrec" and conf["config"]["dim"] == 8
    assert len(conf["history"]) == 2


def test_bad_input_gives_clear_error_and_exit_2(tmp_path):
    bad = tmp_path / "log.csv"
    bad.write_text("user_id,item_id,timestamp\nu1,i1,10\nu2,i2,-5\n")
    p = run("data", "check", bad, check=False)
    assert p.returncode == 2
    assert "log.csv" in p.stderr and "line 3" in p.stderr and "timestamp" in p.stderr
    out = tmp_path / "never"
    p = run("train", "--data", bad, "--model", "popularity", "--out", out, check=False)
    assert p.returncode == 2 and not out.exists()


def test_unknown_model_and_missing_run(tmp_path):
    p = run("train", "--data", "bundled:amazon-beauty", "--model", "nope", "--out",
            tmp_path / "x", check=False)
    assert p.returncode == 2 and "unknown model 'nope'" in p.stderr
    p = run("train", "--data", "bundled:beauty", "--model", "popularity", "--out",
            tmp_path / "z", check=False)
    assert p.returncode == 2 and "unknown bundled dataset 'beauty'" in p.stderr
    assert "Traceback" not in p.stderr and not (tmp_path / "z").exists()
    p = run("evaluate", tmp_path, "--json", check=False)
    assert p.returncode == 2 and "run.json" in p.stderr
    bad_cfg = tmp_path / "bad.toml"
    bad_cfg.write_text("[config]\ndimension = 3\n")
    p = run("train", "--data", "bundled:amazon-beauty", "--preset", "sasrec", "--config",
            bad_cfg, "--out", tmp_path / "y", check=False)
    assert p.returncode == 2 and "dimension" in p.stderr and "bad.toml" in p.stderr


def test_data_check_bundled_json():
    stats = json.loads(run("data", "check", "bundled:amazon-beauty", "--json").stdout)
    assert (stats["users"], stats["items"], stats["interactions"]) == (22363, 12101, 198502)


def test_help_lists_commands():
    p = run("--help")
    for cmd in ("demo", "train", "evaluate", "data", "presets", "augment", "ablate",
                "tune-augment"):
        assert cmd in p.stdout


def test_serve_answers_every_endpoint_on_the_demo_run(quick_demo, tmp_path):
    """`shopaug serve` on a demo run (4 models, primary sasrec) with no store file: it builds
    one from the run's dataset and answers every endpoint."""
    import shutil
    import socket

    import httpx

    from shopaug.serving._loadgen import start_server

    run_dir = tmp_path / "demo"
    shutil.copytree(quick_demo[0], run_dir)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = start_server(run_dir, port, api_key="k")
    try:
        key = {"X-API-Key": "k"}
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as c:
            assert c.get("/health").json()["model"] == "sasrec"
            rec = c.get("/recommend/1").json()["items"]
            item = rec[0]["item_id"]
            checks = {
                "/recommend/1?k=3": 200, "/search?q=nail%20polish&user_id=1": 200,
                f"/items/{item}": 200, f"/items/{item}/similar": 200,
                f"/explain/1/{item}": 200, "/metrics": 200, "/docs": 200, "/ui": 200,
                "/ui/recommend": 200, "/ui/search": 200, "/ui/samples": 200, "/samples": 200,
                "/openapi.json": 200,
            }
            for path, code in checks.items():
                assert c.get(path).status_code == code, path
            assert c.post("/recommend", json={"history": [item]}).status_code == 200
            ev = {"user_id": "1", "item_id": item, "type": "purchase"}
            assert c.post("/events", json=ev, headers=key).status_code == 201
            assert c.get("/users/1/events", headers=key).json()["events"][-1]["item_id"] == item
        assert (run_dir / "store.duckdb").is_file()
    finally:
        proc.terminate()
        proc.wait(30)
