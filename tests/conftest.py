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
