"""shopaug synth and shopaug synth report end to end on a small Beauty subset."""

import json

from test_cli import run


def _small(tmp_path, users=600):
    from shopaug.data._bundled import bundled_path

    src = bundled_path("amazon-beauty")
    out = tmp_path / "real"
    out.mkdir()
    lines = (src / "sequences.txt").read_text().splitlines()[:users]
    (out / "sequences.txt").write_text("\n".join(lines) + "\n")
    (out / "items.tsv").write_text((src / "items.tsv").read_text())
    return out


def test_synth_then_report_json(tmp_path):
    real = _small(tmp_path)
    syn = tmp_path / "syn"
    p = run("synth", "--data", real, "--method", "dp-markov", "--epsilon", "4", "--out", syn,
            "--member-frac", "0.5", "--seed", "3")
    summary = json.loads(p.stdout)
    assert summary["members"] == 300 and summary["accounting"]["epsilon"] == 4
    meta = json.loads((syn / "synthetic.json").read_text())
    assert meta["method"] == "dp-markov" and len(meta["members"]) == 300
    # the same layout: every command reads it
    assert run("data", "check", syn, "--json").returncode == 0
    p = run("synth", "report", syn, "--real", real, "--json", "--epochs", "1")
    rep = json.loads(p.stdout)
    for key in ("tstr_ndcg10", "real_ndcg10", "exact_copy_rate", "mia_auc",
                "real_plus_synthetic_ndcg10", "real_members_ndcg10", "tstr_ratio_members",
                "drawn_share"):
        assert key in rep
    # the like-for-like reference was trained on the members' real rows
    assert rep["real_members_ndcg10"] == rep["train_on_real_members"]["NDCG@10"]
    if rep["real_members_ndcg10"]:
        assert rep["tstr_ratio_members"] == round(
            rep["tstr_ndcg10"] / rep["real_members_ndcg10"], 4)
    assert 0 <= rep["exact_copy_rate"] <= 1 and 0 <= rep["mia_auc"] <= 1
    assert rep["members"] == 300 and rep["non_members"] == 300
    assert (syn / "report.html").read_text().startswith("<!doctype html>")


def test_synth_errors(tmp_path):
    real = _small(tmp_path, users=50)
    p = run("synth", "--data", real, "--method", "nope", "--out", tmp_path / "x", check=False)
    assert p.returncode == 2 and "nope" in p.stderr
    p = run("synth", "--data", real, "--out", tmp_path / "x", check=False)
    assert p.returncode == 2 and "--method" in p.stderr
    p = run("synth", "report", real, "--real", real, check=False)
    assert p.returncode == 2 and "synthetic.json" in p.stderr
    p = run("synth", "report", real, "--real", real, "--recipe", "nope", check=False)
    assert p.returncode == 2 and "nope" in p.stderr
    p = run("synth", "--data", real, "--method", "dp-markov", "--epsilon", "4", "--out",
            tmp_path / "x", "--param", "transitions", check=False)
    assert p.returncode == 2 and "KEY=VALUE" in p.stderr
    p = run("synth", "--data", real, "--method", "dp-markov", "--epsilon", "4", "--out",
            tmp_path / "x", "--param", "transitions=0", check=False)
    assert p.returncode == 2 and "transitions" in p.stderr
    assert not (tmp_path / "x").exists()


def test_synth_passes_generator_options(tmp_path):
    real = _small(tmp_path, users=200)
    syn = tmp_path / "syn"
    p = run("synth", "--data", real, "--method", "dp-markov", "--epsilon", "8", "--out", syn,
            "--param", "transitions=1", "--param", "split=[0.1, 0.6, 0.3]")
    acc = json.loads(p.stdout)["accounting"]
    assert acc["transitions_per_user"] == 1
    assert acc["parts"]["transitions"]["sensitivity"] == 1
    assert acc["parts"]["first_items"]["epsilon"] == 8 * 0.6
    meta = json.loads((syn / "synthetic.json").read_text())
    assert meta["params"]["generator"]["transitions"] == 1
