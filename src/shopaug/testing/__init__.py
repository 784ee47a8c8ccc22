"""Tiny datasets with known answers and contract checks every model must pass."""

from shopaug.testing._contracts import RecommenderContract
from shopaug.testing._tiny import checkerboard, planted, tiny_catalog

__all__ = ["RecommenderContract", "checkerboard", "planted", "tiny_catalog"]
