"""Recommendation models behind one ``Recommender`` protocol."""

from __future__ import annotations

from pathlib import Path

from shopaug.exceptions import ConfigError
from shopaug.models._base import BaseRecommender, Recommender, read_meta
from shopaug.models.bpr import BPR, BPRConfig
from shopaug.models.coldstart import Fallback, TextProfile
from shopaug.models.itemknn import ItemKNN, ItemKNNConfig
from shopaug.models.popularity import Popularity, PopularityConfig
from shopaug.models.sasrec import SASRec, SASRecConfig

MODELS: dict[str, type[BaseRecommender]] = {
    m.name: m for m in (Popularity, ItemKNN, BPR, SASRec)
}

__all__ = [
    "BPR",
    "MODELS",
    "BPRConfig",
    "BaseRecommender",
    "Fallback",
    "ItemKNN",
    "ItemKNNConfig",
    "Popularity",
    "PopularityConfig",
    "Recommender",
    "SASRec",
    "SASRecConfig",
    "TextProfile",
    "create",
    "load_model",
]


def create(name: str, **config) -> BaseRecommender:
    """A model by registered name with config overrides."""
    if name not in MODELS:
        raise ConfigError(f"unknown model {name!r}; available: {sorted(MODELS)}")
    return MODELS[name](**config)


def load_model(path: str | Path) -> BaseRecommender:
    """Load any saved model folder (``config.json`` + ``weights.safetensors``)."""
    meta = read_meta(Path(path))
    if meta["model"] not in MODELS:
        raise ConfigError(f"{path}: unknown model {meta['model']!r}")
    return MODELS[meta["model"]].load(path)
