"""Most-popular items: the baseline every other model must beat."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Self

import numpy as np

from shopaug.data import Sequences, TrainSet
from shopaug.models._base import BaseRecommender
from shopaug.training import TrainOptions


@dataclass(frozen=True)
class PopularityConfig:
    """Popularity has nothing to tune."""


class Popularity(BaseRecommender):
    """Scores every item by its number of training interactions, the same for every user."""

    name = "popularity"
    Config = PopularityConfig

    def fit(self, train: TrainSet, options: TrainOptions | None = None) -> Self:
        self.counts_ = train.item_counts().astype(np.float32)
        self.n_items_ = train.n_items
        self.n_users_ = train.n_users
        return self

    def score(self, users: np.ndarray, histories: Sequences) -> np.ndarray:
        self._check_fitted()
        return np.broadcast_to(self.counts_, (len(histories), len(self.counts_)))

    def _state(self) -> dict[str, np.ndarray]:
        return {"counts": self.counts_}

    def _set_state(self, state: dict[str, np.ndarray]) -> None:
        self.counts_ = state["counts"]
