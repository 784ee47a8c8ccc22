"""The scale-test log generator: exact size, reproducible, Beauty-like, sequential."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from shopaug.data import Dataset, LogProfile, generate_log, load, read_log_stream
from shopaug.data._stream import log_parts
from shopaug.exceptions import ConfigError


def table(folder: Path) -> pa.Table:
    return pa.concat_tables([pq.read_table(p) for p in log_parts(folder)])


def sorted_rows(t: pa.Table) -> list[tuple]:
    return sorted(zip(*(t[c].to_pylist() for c in t.column_names), strict=True))


def shares(ds: Dataset) -> tuple[float, float]:
    """Interaction shares of the top 1% and top 10% items."""
    c = np.sort(ds.item_counts()[1:])[::-1]
    return c[: len(c) // 100].sum() / c.sum(), c[: len(c) // 10].sum() / c.sum()


def test_exact_size_columns_and_order(tmp_path: Path) -> None:
    log = generate_log(tmp_path / "g", 12_345, seed=0, files=4, events=True)
    assert log.interactions == 12_345 and log.files == 4
    assert [p.name for p in log_parts(log.path)] == [f"part-0000{k}.parquet" for k in range(4)]
    t = table(log.path)
    assert t.num_rows == 12_345
    assert t.column_names == ["user_id", "item_id", "timestamp", "event"]
    assert t["user_id"][0].as_py().startswith("u") and len(t["user_id"][0].as_py()) == 8
    assert t["item_id"][0].as_py().startswith("i") and len(t["item_id"][0].as_py()) == 7
    manifest = json.loads((log.path / "_manifest.json").read_text())
    assert manifest["interactions"] == 12_345 and manifest["seed"] == 0

    ds = read_log_stream(log.path)  # nothing is a duplicate: times increase per user
    assert ds.n_interactions == 12_345 and ds.n_users == log.users
    assert ds.n_items <= log.items
    seq_time = np.diff(ds.time)[np.diff(ds.user) == 0]
    assert (seq_time > 0).all()
    same_user = np.diff(ds.user) == 0
    assert not (same_user & (np.diff(ds.item) == 0)).any()  # no item twice in a row
    assert set(np.unique(ds.event)) == {0, 1, 2, 3}


def test_reproducible_from_seed(tmp_path: Path) -> None:
    a = table(generate_log(tmp_path / "a", 5_000, seed=7, files=3).path)
    b = table(generate_log(tmp_path / "b", 5_000, seed=7, files=3).path)
    assert a.equals(b)
    rng = table(generate_log(tmp_path / "r", 5_000, seed=np.random.default_rng(7), files=3).path)
    assert rng.equals(a)
    # the number of parts only changes how rows are split
    one = table(generate_log(tmp_path / "one", 5_000, seed=7, files=1).path)
    assert sorted_rows(one) == sorted_rows(a)
    other = table(generate_log(tmp_path / "c", 5_000, seed=8, files=3).path)
    assert sorted_rows(other) != sorted_rows(a)


def test_beauty_like_statistics(tmp_path: Path) -> None:
    beauty = load("bundled:amazon-beauty")
    log = generate_log(tmp_path / "g", 300_000, seed=1, files=2)
    ds = read_log_stream(log.path)
    real, fake = beauty.sequences().lengths, ds.sequences().lengths
    assert np.median(fake) == np.median(real) == 6
    assert abs((fake == 5).mean() - (real == 5).mean()) < 0.02  # .320 in Beauty
    assert abs(fake.mean() - real.mean()) < 0.4  # 8.88
    assert fake.max() <= real.max()
    assert abs(ds.n_interactions / log.items - 198_502 / 12_101) < 0.1
    for got, want in zip(shares(ds), shares(beauty), strict=True):  # .105, .428
        assert abs(got - want) < 0.02


def transition_concentration(folder: Path) -> float:
    """Share of consecutive pairs that are among the 10% most frequent distinct pairs."""
    ds = read_log_stream(folder)
    same = np.diff(ds.user) == 0
    pairs = ds.item[:-1][same] * (ds.n_items + 1) + ds.item[1:][same]
    counts = np.sort(np.unique(pairs, return_counts=True)[1])[::-1]
    return counts[: len(counts) // 10].sum() / counts.sum()


def test_sequential_structure(tmp_path: Path) -> None:
    plain = generate_log(tmp_path / "plain", 100_000, seed=2, profile=LogProfile(stay=0.0))
    seq = generate_log(tmp_path / "seq", 100_000, seed=2)
    # staying in a category makes next items far more predictable than popularity alone
    assert transition_concentration(seq.path) > 1.5 * transition_concentration(plain.path)


def test_given_users_and_items(tmp_path: Path) -> None:
    log = generate_log(tmp_path / "g", 10_000, seed=0, users=500, items=300)
    ds = read_log_stream(log.path)
    assert ds.n_interactions == 10_000
    assert ds.n_users <= 500 and log.items == 300 and ds.n_items <= 300


def test_bad_arguments(tmp_path: Path) -> None:
    generate_log(tmp_path / "g", 100, seed=0)
    with pytest.raises(ConfigError, match="already holds Parquet files"):
        generate_log(tmp_path / "g", 100, seed=0)
    with pytest.raises(ConfigError, match="interactions"):
        generate_log(tmp_path / "h", 0, seed=0)
    with pytest.raises(ConfigError, match="stay"):
        LogProfile(stay=1.5)


def test_cli_generate(tmp_path: Path) -> None:
    out = tmp_path / "cli"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    p = subprocess.run(
        [sys.executable, "-m", "shopaug.cli", "data", "generate", "--interactions", "2000",
         "--out", str(out), "--files", "2", "--seed", "5", "--no-progress"],
        capture_output=True, text=True, env=env, timeout=120,
    )
    assert p.returncode == 0, p.stderr
    assert "wrote 2000 interactions" in p.stdout
    assert table(out).num_rows == 2000
    assert table(out).equals(table(generate_log(tmp_path / "lib", 2000, seed=5, files=2).path))
