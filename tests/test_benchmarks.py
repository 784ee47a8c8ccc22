"""The synthetic-data benchmark runs on a dataset other than bundled Beauty (same layout)."""

import json
import os
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).parent.parent / "benchmarks" / "synthetic.py"


def _bench(*args):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    p = subprocess.run([sys.executable, str(BENCH), *map(str, args)], capture_output=True,
                       text=True, env=env, timeout=600)
    assert p.returncode == 0, f"exit {p.returncode}\n{p.stdout}\n{p.stderr}"
    return p.stdout


def test_synthetic_benchmark_on_other_data(tmp_path, beauty300):
    folder, _ = beauty300
    out = tmp_path / "half.json"
    _bench("--data", folder, "--epochs", "1", "--methods", "markov,dp-markov", "--epsilons", "8",
           "--users", "40", "--gen-params", '{"markov": {"min_users": 2}}', "--out", out)
    res = json.loads(out.read_text())
    row = res["rows"][0]
    # the second report reuses train-on-real, its figure and its per-case gains
    assert [r["train_on_real"] for r in res["rows"]] == [res["train_on_real"]] * 2
    assert all(0 <= r["drawn_share"] <= 1 for r in res["rows"])
    assert res["data"] == str(folder) and res["users"] == 40
    assert row["summary"]["members"] == 150 and row["summary"]["users"] == 40
    assert 0 <= row["mia_auc"] <= 1 and row["train_on_real_members"]["NDCG@10"] >= 0

    # every user a member: utility against train-on-real on the same data, no attack
    out = tmp_path / "full.json"
    stdout = _bench("--data", folder, "--epochs", "1", "--methods", "markov",
                    "--member-frac", "1", "--out", out)
    row = json.loads(out.read_text())["rows"][0]
    assert row["summary"]["members"] == 300 and row["mia_auc"] is None
    assert row["tstr_ratio_members"] is None and "no non-members" in stdout
