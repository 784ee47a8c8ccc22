"""The Recommender protocol, a base class with the shared parts, and model persistence."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, ClassVar, Protocol, Self, runtime_checkable

import numpy as np

from shopaug._fs import write_dir_atomic
from shopaug._registry import config_from_dict
from shopaug.data import Sequences, TrainSet
from shopaug.exceptions import ConfigError
from shopaug.training import TrainOptions

FORMAT_VERSION = 1


@runtime_checkable
class Recommender(Protocol):
    """What every shopaug model offers.

    ``score`` returns an array (n_users, n_items + 1) of float32 scores for internal item ids
    (column 0 is padding); ``users`` may include ids the model never saw (-1 or beyond its
    training users), in which case only the history is used.
    """

    name: ClassVar[str]

    def fit(self, train: TrainSet, options: TrainOptions | None = None) -> Self: ...

    def score(self, users: np.ndarray, histories: Sequences) -> np.ndarray: ...

    def recommend(
        self, users: np.ndarray, histories: Sequences, k: int = 10, *, exclude_history: bool = True
    ) -> tuple[np.ndarray, np.ndarray]: ...

    def save(self, path: str | Path) -> None: ...

    @classmethod
    def load(cls, path: str | Path) -> Self: ...


class BaseRecommender:
    """Shared parts: config handling, ``recommend`` and safetensors persistence.

    Subclasses set ``name`` and ``Config``, implement ``fit``, ``score``, ``_state`` (arrays
    to save) and ``_set_state``.
    """

    name: ClassVar[str] = ""
    Config: ClassVar[type] = object

    def __init__(self, config: Any = None, **overrides: Any) -> None:
        if config is None:
            config = config_from_dict(self.Config, overrides, where=f"model '{self.name}'")
        elif overrides:
            config = dataclasses.replace(config, **overrides)
        self.config = config
        self.n_items_: int | None = None
        self.n_users_: int = 0
        self.history_: list[dict] = []

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.config})"

    def _check_fitted(self) -> None:
        if self.n_items_ is None:
            raise RuntimeError(f"{self.name} is not fitted; call fit() first")

    def fit(self, train: TrainSet, options: TrainOptions | None = None) -> Self:
        raise NotImplementedError

    def score(self, users: np.ndarray, histories: Sequences) -> np.ndarray:
        raise NotImplementedError

    def recommend(
        self, users: np.ndarray, histories: Sequences, k: int = 10, *, exclude_history: bool = True
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` internal item ids and their scores per user, best first."""
        return top_items(self.score(np.asarray(users), histories), histories, k,
                         exclude_history=exclude_history)

    # persistence ---------------------------------------------------------------------------
    def _state(self) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def _set_state(self, state: dict[str, np.ndarray]) -> None:
        raise NotImplementedError

    def save(self, path: str | Path) -> None:
        """Write ``config.json`` and ``weights.safetensors`` into folder ``path`` atomically."""
        from safetensors.numpy import save_file

        self._check_fitted()
        meta = {
            "format": FORMAT_VERSION,
            "model": self.name,
            "config": dataclasses.asdict(self.config),
            "n_items": self.n_items_,
            "n_users": self.n_users_,
            "history": self.history_,
        }
        state = {k: np.ascontiguousarray(v) for k, v in self._state().items()}

        def fill(tmp: Path) -> None:
            (tmp / "config.json").write_text(json.dumps(meta, indent=2))
            save_file(state, str(tmp / "weights.safetensors"))

        write_dir_atomic(path, fill)

    @classmethod
    def load(cls, path: str | Path) -> Self:
        from safetensors.numpy import load_file

        path = Path(path)
        meta = read_meta(path)
        if meta["model"] != cls.name:
            raise ConfigError(f"{path}: holds a '{meta['model']}' model, not '{cls.name}'")
        model = cls(config_from_dict(cls.Config, meta["config"], where=str(path / "config.json")))
        model.n_items_ = int(meta["n_items"])
        model.n_users_ = int(meta["n_users"])
        model.history_ = list(meta.get("history", []))
        model._set_state(load_file(str(path / "weights.safetensors")))
        return model


def top_items(
    scores: np.ndarray, histories: Sequences, k: int, *, exclude_history: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Top-``k`` item ids and scores per row of ``scores`` (n_rows, n_items + 1), best first,
    ties to the smaller id; padding (and, with ``exclude_history``, history items) never
    ranks. Works on a copy: models may return read-only views."""
    scores = np.array(scores, dtype=np.float32, copy=True)
    scores[:, 0] = -np.inf
    if exclude_history:
        rows = np.repeat(np.arange(len(histories)), histories.lengths)
        scores[rows, histories.items] = -np.inf
    k = min(k, scores.shape[1] - 1)
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    vals = np.take_along_axis(scores, part, axis=1)
    order = np.lexsort((part, -vals), axis=1)
    return np.take_along_axis(part, order, axis=1), np.take_along_axis(vals, order, axis=1)


def read_meta(path: Path) -> dict[str, Any]:
    cfg = path / "config.json"
    if not cfg.is_file():
        raise ConfigError(f"{cfg}: not found; expected a model folder written by save()")
    try:
        meta = json.loads(cfg.read_text())
    except json.JSONDecodeError as e:
        raise ConfigError(f"{cfg}: invalid JSON at line {e.lineno}: {e.msg}") from None
    if meta.get("format") != FORMAT_VERSION or "model" not in meta:
        raise ConfigError(f"{cfg}: not a shopaug model (format {FORMAT_VERSION} expected)")
    return meta


def gather_history_matrix(histories: Sequences, n_cols: int, weights: np.ndarray | None = None):
    """CSR (n_rows, n_cols) of history items, with optional per-element weights."""
    import scipy.sparse as sp

    data = np.ones(len(histories.items), np.float32) if weights is None else weights
    return sp.csr_matrix(
        (data.astype(np.float32), histories.items, histories.indptr),
        shape=(len(histories), n_cols),
    )


def fit_sampler(name: str, train: TrainSet, options: TrainOptions) -> Any:
    """A negative sampler fitted on the training partition; ``hard`` mines negatives from an
    ItemKNN model fitted on the same data (cheap, and never sees held-out items)."""
    from shopaug.augment.negatives import SAMPLERS, create_sampler

    if name not in SAMPLERS:
        raise ConfigError(f"unknown sampler {name!r}; available: {sorted(SAMPLERS)}")
    if name == "hard":
        from shopaug.models.itemknn import ItemKNN

        miner = ItemKNN().fit(train, TrainOptions(seed=options.seed, progress=False))
        return create_sampler(name, model=miner).fit(train)
    return create_sampler(name).fit(train)
