"""Explicit randomness: every random step takes a seed or a ``np.random.Generator``."""

from __future__ import annotations

import numpy as np

RNGLike = int | np.random.Generator | np.random.SeedSequence | None


def make_rng(seed: RNGLike) -> np.random.Generator:
    """Return a Generator; an existing Generator is passed through unchanged."""
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)


def derive_seed(rng: np.random.Generator) -> int:
    """Draw a seed for a library that wants an integer (torch, sklearn)."""
    return int(rng.integers(0, 2**31 - 1))
