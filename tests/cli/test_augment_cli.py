"""Augmentation from the CLI: offline expansion, training with recipes, ablation, tuning."""

import json

import numpy as np
import pyarrow.parquet as pq
import pytest
from test_cli import run  # tests/cli is on sys.path (pytest's prepend mode)

from shopaug.augment import read_expanded


def test_augment_writes_provenance_and_is_reproducible(beauty300, tmp_path):
    data, _ = beauty300
    a, b = tmp_path / "a.parquet", tmp_path / "b.parquet"
    for out in (a, b):
        p = run("augment", "--data", data, "--recipe", "recommended", "--copies", "2",
                "--out", out, "--seed", "3")
        assert "augmented" in p.stdout
    ta, tb = pq.read_table(a), pq.read_table(b)
    assert ta.equals(tb)
    rows = ta.to_pylist()
    originals = [r for r in rows if r["copy"] == 0]
    assert len(rows) == 3 * len(originals)
    assert all(r["ops"] == "" for r in originals)
    assert any(r["ops"] for r in rows if r["copy"] > 0)
    # external ids: the user's original row matches the file's training part
    text = (data / "sequences.txt").read_text()
    lines = {ln.split()[0]: ln.split()[1:] for ln in text.split("\n") if ln}
    for r in originals[:20]:
        assert r["item_ids"] == lines[r["user_id"]][:-2]  # minus validation and test items
    _, _, meta = read_expanded(a)
    assert meta["recipe"]["name"] == "recommended" and meta["seed"] == 3


@pytest.mark.parametrize("recipe", ["recommended", "crop-mask-reorder"])
def test_train_with_recipe_records_it(beauty300, tmp_path, recipe):
    data, cfg = beauty300
    out = tmp_path / "run"
    run("train", "--data", data, "--preset", "sasrec", "--config", cfg, "--epochs", "2",
        "--recipe", recipe, "--out", out, "--no-progress", "--threads", "1")
    meta = json.loads((out / "run.json").read_text())
    assert meta["run_config"]["recipe"]["name"] == recipe
    res = json.loads((out / "results.json").read_text())
    assert res["models"]["sasrec"]["recipe"]["name"] == recipe
    p = run("evaluate", out, "--json")
    assert json.loads(p.stdout)["NDCG@10"] >= 0


def test_online_recipe_rejected_for_models_without_it(beauty300, tmp_path):
    data, _ = beauty300
    p = run("train", "--data", data, "--model", "itemknn", "--recipe", "recommended",
            "--out", tmp_path / "r", check=False)
    assert p.returncode == 2 and "offline" in p.stderr


def test_offline_recipe_for_itemknn(beauty300, tmp_path):
    data, _ = beauty300
    rec = tmp_path / "off.toml"
    rec.write_text('name = "off"\n[train]\nmode = "offline"\ncopies = 2\n'
                   '[augment]\nop = "mask"\nratio = 0.3\n')
    out = tmp_path / "knn"
    run("train", "--data", data, "--model", "itemknn", "--recipe", rec, "--out", out)
    assert json.loads((out / "run.json").read_text())["run_config"]["recipe"]["name"] == "off"


def test_ablate_writes_table_and_report(beauty300, tmp_path):
    data, cfg = beauty300
    out = tmp_path / "abl"
    p = run("ablate", "--data", data, "--preset", "sasrec", "--config", cfg, "--recipes",
            "recommended", "--seeds", "2", "--epochs", "2", "--out", out, "--no-progress")
    summary = json.loads((out / "ablation.json").read_text())
    arms = [r["arm"] for r in summary["table"]]
    assert arms == ["none", "recommended"]
    rec = summary["table"][1]
    assert rec["NDCG@10"]["std"] >= 0 and rec["seeds"] == 2
    lo, hi = rec["vs_none"]["ci_low"], rec["vs_none"]["ci_high"]
    assert lo <= rec["vs_none"]["gain"] <= hi
    html = (out / "report.html").read_text()
    assert "Augmentation ablation" in html and "data:image/png;base64" in html
    assert "| recommended |" in p.stdout


def test_tune_augment_writes_a_usable_recipe(beauty300, tmp_path):
    data, cfg = beauty300
    out = tmp_path / "tune"
    run("tune-augment", "--data", data, "--preset", "sasrec", "--config", cfg, "--trials", "2",
        "--epochs", "1", "--out", out)
    trials = json.loads((out / "trials.json").read_text())
    assert len(trials["trials"]) == 2
    run("train", "--data", data, "--preset", "sasrec", "--config", cfg, "--epochs", "1",
        "--recipe", out / "best.toml", "--out", tmp_path / "r", "--no-progress")
    # resuming the study adds trials instead of starting over
    run("tune-augment", "--data", data, "--preset", "sasrec", "--config", cfg, "--trials", "1",
        "--epochs", "1", "--out", out)
    assert len(json.loads((out / "trials.json").read_text())["trials"]) == 3


def test_paired_bootstrap_hand_example():
    from shopaug.ablation import ndcg_per_case, paired_bootstrap

    ranks = np.array([0, 1, 9, 10])
    assert np.allclose(ndcg_per_case(ranks), [1.0, 1 / np.log2(3), 1 / np.log2(11), 0.0])
    base = np.array([0.5, 0.5, 0.5, 0.5])
    out = paired_bootstrap(base * 1.2, base, np.random.default_rng(0), n_boot=200)
    assert out["gain"] == pytest.approx(0.2)
    assert out["ci_low"] == pytest.approx(0.2) and out["p"] == 0.0


def test_bad_recipe_gives_clear_error_and_writes_nothing(beauty300, tmp_path):
    data, _ = beauty300
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "bad"\n[augment]\nop = "shuffle-everything"\n')
    out = tmp_path / "never.parquet"
    p = run("augment", "--data", data, "--recipe", bad, "--out", out, check=False)
    assert p.returncode == 2
    assert str(bad) in p.stderr and "shuffle-everything" in p.stderr
    assert not out.exists()
    bad.write_text('name = "bad"\n[train]\nmode = "sideways"\n[augment]\nop = "crop"\n')
    p = run("train", "--data", data, "--model", "sasrec", "--recipe", bad, "--out",
            tmp_path / "r", check=False)
    assert p.returncode == 2 and "mode" in p.stderr and str(bad) in p.stderr
