"""Shared test settings: one torch thread per test process keeps timings stable on 2 cores."""

import os

os.environ.setdefault("MPLBACKEND", "Agg")

import torch

torch.set_num_threads(1)
