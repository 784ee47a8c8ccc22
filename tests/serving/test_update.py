"""Incremental updates: the CLI from a store file or from a running server (hot swap), and
the run's augmentation recipe applied again to the grown data."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys

import httpx
import numpy as np

KEY = {"X-API-Key": "test-key"}  # the key conftest's live server runs with


def _cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "shopaug.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=600,
                          env={**os.environ, **(env or {})})


def test_update_from_a_store_file(run_copy):
    from shopaug.knowledge import Store
    from shopaug.serving._engine import Engine
    from shopaug.serving._settings import Settings

    Engine(Settings(run=run_copy, warm_cache=False)).close()  # creates RUN/store.duckdb
    with Store(run_copy / "store.duckdb") as st:
        for i, item in enumerate(["21", "22", "23", "24"]):
            st.add_event(f"u{i % 2}", item, "purchase")
    p = _cli("update", "--run", run_copy, "--no-progress")
    assert p.returncode == 0, p.stderr
    record = json.loads(p.stdout)
    assert record["version"] == 1 and record["events"] == 4 and record["new_users"] == 2
    assert record["warm_start"] and record["users"] == 1502
    saved = json.loads((run_copy / "updates" / "v0001" / "update.json").read_text())
    assert saved["events_upto_seq"] == record["events_upto_seq"]
    assert (run_copy / "updates" / "v0001" / "model" / "weights.safetensors").is_file()
    again = _cli("update", "--run", run_copy, "--no-progress")
    assert again.returncode == 2 and "no new events" in again.stderr
    eng = Engine(Settings(run=run_copy, warm_cache=False))
    try:
        assert eng.bundle.version == "sasrec@v1"
    finally:
        eng.close()


def test_update_through_a_running_server_swaps_its_model(live):
    with httpx.Client(base_url=live.url, headers=KEY, timeout=30) as c:
        for item in ("31", "32", "33"):
            assert c.post("/events", json={"user_id": "9", "item_id": item,
                                           "type": "cart"}).status_code == 201
        run = live.server.config.app.state.engine.settings.run
        p = _cli("update", "--run", run, "--server", live.url, "--no-progress",
                 env={"SHOPAUG_API_KEY": "test-key"})
        assert p.returncode == 0, p.stderr
        record = json.loads(p.stdout)
        assert record["events"] == 3 and record["reload"]["version"] == "sasrec@v1"
        assert c.get("/health").json()["version"] == "sasrec@v1"
        assert c.get("/recommend/9").json()["version"] == "sasrec@v1"
        bad = _cli("update", "--run", run, "--server", live.url, env={"SHOPAUG_API_KEY": "x"})
        assert bad.returncode == 2 and "401" in bad.stderr


def test_update_reapplies_the_runs_recipe(tiny_run, tmp_path):
    """A run trained with a contrastive recipe (CL4SRec views) is fine-tuned with it again."""
    from shopaug.experiment import read_run, resolve, train_run
    from shopaug.serving._update import update_run

    data = read_run(tiny_run)["data"]
    rc = resolve(preset="sasrec", recipe="crop-mask-reorder")
    rc = dataclasses.replace(rc, config={**rc.config, "dim": 32, "epochs": 1})
    train_run(data, rc, tmp_path / "run", epochs=1, progress=False)
    rec = update_run(tmp_path / "run", [{"user_id": "1", "item_id": "5", "seq": 10**6}],
                     progress=False)
    assert rec["recipe"] == "crop-mask-reorder" and rec["recipe_mode"] == "contrastive"
    assert rec["warm_start"] and rec["events"] == 1


def test_a_two_member_model_is_served_and_updated_member_by_member(tiny_run, tmp_path):
    """An ensemble (``members = 2``, as preset ``best`` trains) is not vector-scorable: the
    service ranks with its averaged distribution and an update warm-starts both members."""
    from shopaug.experiment import read_run, resolve, train_run
    from shopaug.models import load_model
    from shopaug.serving._engine import Engine
    from shopaug.serving._settings import Settings
    from shopaug.serving._update import update_run

    data = read_run(tiny_run)["data"]
    rc = resolve(preset="sasrec")
    rc = dataclasses.replace(rc, config={**rc.config, "dim": 32, "epochs": 1, "members": 2})
    run = tmp_path / "run"
    train_run(data, rc, run, epochs=1, progress=False)
    eng = Engine(Settings(run=run, warm_cache=False))
    try:
        assert eng.bundle.item_vecs is None  # no ANN over an average of distributions
        rec = eng.recommend("1", k=5)
        scores = [i["score"] for i in rec["items"]]
        assert len(scores) == 5 and scores == sorted(scores, reverse=True)
        assert 0 < scores[-1] and sum(scores) <= 1  # probabilities
        assert eng.similar(rec["items"][0]["item_id"], k=3)["method"] == "next-item scores"
    finally:
        eng.close()
    record = update_run(run, [{"user_id": "1", "item_id": "5", "seq": 10**6}], progress=False)
    assert record["warm_start"]
    before = load_model(run / read_run(run)["models"]["sasrec"])
    after = load_model(run / "updates" / "v0001" / "model")
    assert len(after.members_) == 2
    for b, a in zip(before.members_, after.members_, strict=True):
        assert not np.allclose(b.item_vectors(), a.item_vectors())
