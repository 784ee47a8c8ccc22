"""Engines: sharded steps give the same samples and metrics locally and on a real local Ray
cluster; data-parallel training on Ray (2 DDP workers) agrees with local training."""

from __future__ import annotations

import dataclasses

import numpy as np
import pyarrow as pa
import pytest

from shopaug.augment import load_recipe
from shopaug.augment.negatives import create_sampler
from shopaug.data import load
from shopaug.engine import LocalEngine, augment, negatives, rank_cases, sequence_blocks
from shopaug.engine._ops import augment_block
from shopaug.evaluation import evaluate
from shopaug.evaluation._protocol import rank_cases as rank_one_process
from shopaug.exceptions import ConfigError, ShopaugError
from shopaug.experiment import fit_and_evaluate, make_split, resolve
from shopaug.testing import checkerboard, planted

ROWS = 400  # small shards so a few hundred users make several of them


@pytest.fixture(scope="module")
def beauty_split():
    return make_split(load("bundled:amazon-beauty").head(1500), "loo")


@pytest.fixture(scope="module")
def ray_engine():
    from shopaug.engine import get_engine

    eng = get_engine("ray")
    yield eng
    eng.close()


def test_sharded_augment_is_reproducible_and_keeps_sources(beauty_split):
    train = beauty_split.train
    aug = load_recipe("recommended").build().fit(train)
    a = augment(train, aug, 5, copies=2, rows=ROWS)
    b = augment(train, aug, 5, copies=2, rows=ROWS)
    c = augment(train, aug, 6, copies=2, rows=ROWS)
    assert a.equals(b) and not a.equals(c)
    originals = a.filter(pa.compute.equal(a["copy"], 0))
    src = originals["source"].to_numpy()
    # every non-empty training row once, in order, unchanged
    assert np.array_equal(src, np.flatnonzero(train.sequences.lengths > 0))
    first = originals["items"][len(src) // 2].as_py()
    assert first == train.sequences[src[len(src) // 2]].tolist()


def test_a_split_shard_is_refused(beauty_split):
    train = beauty_split.train
    aug = load_recipe("recommended").build().fit(train)
    block = sequence_blocks(train.sequences, ROWS)[0]
    with pytest.raises(ShopaugError, match="arrived split"):
        augment_block(block.slice(0, 10), augmenter=aug, n_items=train.n_items, seed=0,
                      copies=1, max_len=50)


def test_sharded_negatives_never_propose_held_out_items():
    ds, canaries = planted(n_users=40, n_items=200)
    sp = make_split(ds, "loo")
    neg = negatives(sp.train, create_sampler("uniform").fit(sp.train), 8, 0, rows=7)
    drawn = np.asarray(neg["negatives"].combine_chunks().flatten())
    assert len(drawn) == 8 * sp.train.sequences.n_interactions
    assert not set(drawn.tolist()) & canaries


def test_sharded_ranking_equals_one_process(beauty_split):
    from shopaug.models import create

    model = create("itemknn").fit(beauty_split.train)
    cases = beauty_split.test
    r1, t1 = rank_one_process(model, cases, history="exclude", k=20)
    r2, t2 = rank_cases(model, cases, history="exclude", rows=ROWS, engine=LocalEngine())
    assert np.array_equal(r1, r2) and np.array_equal(t1, t2)


def test_unknown_engine_and_local_address_are_refused():
    from shopaug.engine import get_engine

    with pytest.raises(ConfigError, match="unknown engine"):
        get_engine("spark")
    with pytest.raises(ConfigError, match="--engine ray"):
        get_engine("local", address="10.0.0.1:6379")


# --- a real local Ray cluster (num_cpus = cores) -------------------------------------------

def test_ray_augment_and_negatives_equal_local(ray_engine, beauty_split):
    train = beauty_split.train
    aug = load_recipe("recommended").build().fit(train)
    local = augment(train, aug, 11, copies=2, rows=ROWS)
    on_ray = augment(train, aug, 11, copies=2, rows=ROWS, engine=ray_engine)
    assert on_ray.num_rows > len(train.sequences) and on_ray.equals(local)
    sampler = create_sampler("popularity").fit(train)
    assert negatives(train, sampler, 4, 3, rows=ROWS, engine=ray_engine).equals(
        negatives(train, sampler, 4, 3, rows=ROWS))


def test_ray_evaluation_equals_local_exactly(ray_engine):
    from shopaug.models import create

    sp = make_split(checkerboard(n_users=900, n_items=120, length=8), "loo")
    model = create("itemknn").fit(sp.train)
    local = evaluate(model, sp, "test")
    on_ray = rank_cases(model, sp.test, rows=ROWS, engine=ray_engine)
    assert np.array_equal(on_ray[0], rank_one_process(model, sp.test, k=20)[0])
    on_ray = evaluate(model, sp, "test", engine=ray_engine)  # default shards: one here
    assert local["NDCG@10"] > 0.01  # a real figure, not an empty case set
    assert on_ray == local


def test_ray_train_ddp_agrees_with_local(ray_engine):
    """2 DDP workers vs one process on a dataset with a learnable rule (item i -> i + 2):
    both must learn it (far above chance) and agree within 0.1 NDCG@10."""
    sp = make_split(checkerboard(n_users=600, n_items=200, length=10), "loo")
    rc = resolve(model="sasrec")
    rc = dataclasses.replace(rc, config={"dim": 32, "lr": 5e-3, "dropout": 0.1,
                                         "batch_size": 64})
    _, local = fit_and_evaluate(rc, sp, seed=0, epochs=6, progress=False)
    model, on_ray = fit_and_evaluate(rc, sp, seed=0, epochs=6, progress=False,
                                     engine=ray_engine)
    a, b = local["test"]["exclude"]["NDCG@10"], on_ray["test"]["exclude"]["NDCG@10"]
    assert on_ray["engine"] == "ray" and model.history_ and len(model.history_) <= 6
    assert a > 0.3 and b > 0.3, (a, b)
    assert abs(a - b) < 0.1, (a, b)


def test_ray_refuses_models_without_data_parallel_training(ray_engine, beauty_split):
    with pytest.raises(ConfigError, match="data-parallel"):
        fit_and_evaluate(resolve(model="itemknn"), beauty_split, engine=ray_engine)


def test_cli_on_a_running_cluster_writes_what_local_writes(ray_engine, beauty300, tmp_path):
    """augment, negatives and evaluate with ``--engine ray --address auto`` (joining the
    cluster this module started) give the same files and figures as the local engine."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    import pyarrow.parquet as pq

    data, _ = beauty300
    exe = [str(Path(sys.executable).parent / "shopaug")]
    ray_args = ["--engine", "ray", "--address", "auto"]

    def run(*args):
        p = subprocess.run([*exe, *map(str, args)], capture_output=True, text=True,
                           env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=600)
        assert p.returncode == 0, p.stderr[-2000:]
        return p.stdout

    for cmd, extra in (("augment", ["--recipe", "recommended", "--copies", "2"]),
                       ("negatives", ["--sampler", "popularity", "--k", "4"])):
        a, b = tmp_path / f"{cmd}-local.parquet", tmp_path / f"{cmd}-ray.parquet"
        run(cmd, "--data", data, "--out", a, "--seed", "2", *extra)
        run(cmd, "--data", data, "--out", b, "--seed", "2", *extra, *ray_args)
        ta, tb = pq.read_table(a), pq.read_table(b)
        assert ta.num_rows > 300 and ta.equals(tb), cmd
    neg = pq.read_table(tmp_path / "negatives-ray.parquet")
    assert b'"engine": "ray"' in neg.schema.metadata[b"shopaug.negatives"]

    run_dir = tmp_path / "run"
    run("train", "--data", data, "--model", "itemknn", "--out", run_dir, "--no-progress")
    local = json.loads(run("evaluate", run_dir, "--json"))
    on_ray = json.loads(run("evaluate", run_dir, "--json", *ray_args))
    assert local["n_cases"] == 300 and on_ray == local
