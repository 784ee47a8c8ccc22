"""Shared test settings: one torch thread per test process keeps timings stable on 2 cores."""

import os
import tempfile

os.environ.setdefault("MPLBACKEND", "Agg")
# language-model caches of a test run start empty and never touch the user's cache
os.environ["SHOPAUG_CACHE"] = tempfile.mkdtemp(prefix="shopaug-test-cache-")

import torch

torch.set_num_threads(1)
