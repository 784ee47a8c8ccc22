"""Shared test settings: one torch thread per test process keeps timings stable on 2 cores."""

import os
import tempfile

os.environ.setdefault("MPLBACKEND", "Agg")
# language-model caches of a test run start empty and never touch the user's cache
os.environ["SHOPAUG_CACHE"] = tempfile.mkdtemp(prefix="shopaug-test-cache-")
# no MLflow tracking unless a test turns it on (tests/test_tracking.py, test_tune_runs_cli.py),
# and never into the user's workspace or tracking server
os.environ["SHOPAUG_TRACKING"] = "0"
os.environ["SHOPAUG_WORKSPACE"] = tempfile.mkdtemp(prefix="shopaug-test-workspace-")
os.environ.pop("SHOPAUG_TRACKING_URI", None)
os.environ.pop("MLFLOW_TRACKING_URI", None)

import torch

torch.set_num_threads(1)

import pytest  # noqa: E402

#: Tiny SASRec settings for CLI runs on ``beauty300``.
SMALL_CONFIG = "[config]\ndim = 8\nheads = 1\nbatch_size = 64\n\n[train]\npatience = 5\n"


@pytest.fixture(scope="session")
def beauty300(tmp_path_factory):
    """The first 300 users of bundled Beauty as a dataset folder, and a small config file."""
    from shopaug.data import bundled_path

    folder = tmp_path_factory.mktemp("beauty300")
    lines = (bundled_path("amazon-beauty") / "sequences.txt").read_text().splitlines()[:300]
    (folder / "sequences.txt").write_text("\n".join(lines) + "\n")
    cfg = folder.parent / "small.toml"
    cfg.write_text(SMALL_CONFIG)
    return folder, cfg


@pytest.fixture
def ws(tmp_path, monkeypatch):
    """MLflow tracking on (the suite's default is off), into this test's own workspace."""
    monkeypatch.setenv("SHOPAUG_TRACKING", "1")
    monkeypatch.setenv("SHOPAUG_WORKSPACE", str(tmp_path / "ws"))
    monkeypatch.delenv("SHOPAUG_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return tmp_path / "ws"
