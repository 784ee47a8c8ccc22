"""Over- and under-sampling of training sequences (rows = users).

A resampler decides how often each training row is used in an epoch: ``resample(rng)``
returns row indices into ``train.sequences`` (with repetition, ascending), ``weights()``
the expected number of copies of each row. Only rows with at least two items take part,
since a shorter row holds no (history, target) pair.

Requirements:
    ``fit(train)`` on the training partition before ``resample`` / ``weights``.
Relations:
    The training loop draws batches from the returned rows; augmenters then act per batch.
    ``build(resampler.to_config())`` rebuilds an equal resampler.
References:
    imbalanced-learn's ``RandomOverSampler`` / ``RandomUnderSampler`` (used by
    ``balance_activity``).
Example:
    >>> short = create_resampler("oversample_short", factor=2.0).fit(train)  # doctest: +SKIP
    >>> rows = short.resample(np.random.default_rng(0))  # doctest: +SKIP
    >>> epoch = train.sequences.rows(rows)  # doctest: +SKIP
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Self

import numpy as np

from shopaug._registry import C, Registry, config_fields, resolve_config
from shopaug.data import TrainSet
from shopaug.exceptions import ConfigError, ShopaugError
from shopaug.random import derive_seed

__all__ = [
    "RESAMPLERS",
    "BalanceActivity",
    "OversampleShort",
    "Resampler",
    "UndersampleHead",
    "build",
    "create_resampler",
    "register",
]

#: Rows shorter than this hold no (history, target) pair and are never returned.
MIN_LENGTH = 2

# registry ------------------------------------------------------------------------------------
_REGISTRY: Registry[Resampler] = Registry("resampler", object)  # base is set after the class
RESAMPLERS = _REGISTRY.table


def register(name: str) -> Callable[[C], C]:
    """Class decorator: make a resampler available to ``create_resampler`` and ``build`` by name."""
    return _REGISTRY.register(name)


def _resolve(name: str) -> type[Resampler]:
    return _REGISTRY.resolve(name)


def create_resampler(name: str, **params: Any) -> Resampler:
    """A resampler by registered name (or dotted class path) with its config options."""
    return _resolve(name)(**params)


def build(config: Mapping[str, Any]) -> Resampler:
    """Rebuild a resampler from ``to_config()`` output (a mapping with a ``name`` key)."""
    if not isinstance(config, Mapping) or "name" not in config:
        raise ConfigError(f"a resampler config must be a mapping with a 'name' key, got {config!r}")
    params = dict(config)
    return _resolve(params.pop("name"))(**params)


def _require(ok: bool, resampler: str, field: str, expected: str, value: Any) -> None:
    if not ok:
        raise ConfigError(f"resampler '{resampler}': {field} must be {expected}, got {value!r}")


def _is_int(v: Any) -> bool:
    return isinstance(v, int | np.integer) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool)




# base ----------------------------------------------------------------------------------------
class Resampler:
    """Base class: a validated config, ``fit`` on the training partition, then per-row
    ``weights`` and random ``resample`` draws.

    Subclasses set ``Config`` and implement ``_weights`` (expected copies per row, learned in
    ``fit``); the default ``resample`` rounds each weight randomly (``floor(w)`` copies plus
    one more with probability ``w - floor(w)``), so the expected count equals the weight.

    Attributes:
        lengths_: training sequence length per row.
        eligible_: rows with at least two items.
        weights_: expected copies per row (0 for ineligible rows).
    """

    name: ClassVar[str] = ""
    Config: ClassVar[type] = object

    def __init__(self, config: Any = None, **params: Any) -> None:
        where = f"resampler '{self.name or type(self).__name__}'"
        self.config = resolve_config(self.Config, config, params, where=where)
        self.weights_: np.ndarray | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.config})"

    def to_config(self) -> dict[str, Any]:
        """``{"name": ..., **options}``; ``build`` turns it back into an equal resampler."""
        cls = type(self)
        registered = RESAMPLERS.get(self.name) is cls
        name = self.name if registered else f"{cls.__module__}.{cls.__qualname__}"
        return {"name": name, **config_fields(self.config)}

    def fit(self, train: TrainSet) -> Self:
        """Learn row lengths (and whatever the strategy needs) from the training partition."""
        self.lengths_ = np.asarray(train.sequences.lengths, dtype=np.int64)
        self.eligible_ = self.lengths_ >= MIN_LENGTH
        w = np.asarray(self._weights(train), dtype=np.float64)
        w[~self.eligible_] = 0.0
        self.weights_ = w
        return self

    def _weights(self, train: TrainSet) -> np.ndarray:
        raise NotImplementedError

    def _check_fitted(self) -> None:
        if self.weights_ is None:
            raise RuntimeError(f"resampler '{self.name}' is not fitted; call fit(train) first")

    def weights(self) -> np.ndarray:
        """Expected copies of each training row per epoch (float64, one per row)."""
        self._check_fitted()
        return self.weights_.copy()

    def resample(self, rng: np.random.Generator) -> np.ndarray:
        """Row indices into ``train.sequences`` (int64, ascending, with repetition)."""
        self._check_fitted()
        return _round_randomly(self.weights_, rng)


def _round_randomly(weights: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    base = np.floor(weights)
    copies = base.astype(np.int64) + (rng.random(len(weights)) < weights - base)
    return np.repeat(np.arange(len(weights), dtype=np.int64), copies)




# strategies ----------------------------------------------------------------------------------
_REGISTRY.base = Resampler

@register("oversample_short")
class OversampleShort(Resampler):
    """Repeat the rows of users with short histories, so cold users weigh more in training.

    A row with ``2 <= length <= max_len`` gets weight ``factor``; a fractional factor is met
    in expectation by random rounding (1.5: one copy, plus a second half of the time).
    """

    @dataclass(frozen=True)
    class Config:
        """Options of ``oversample_short``.

        Attributes:
            max_len: rows with at most this many items count as short.
            factor: weight of a short row relative to the others (>= 1).
        """

        max_len: int = 5
        factor: float = 2.0

        def __post_init__(self) -> None:
            _require(
                _is_int(self.max_len) and self.max_len >= MIN_LENGTH,
                "oversample_short",
                "max_len",
                f"an integer >= {MIN_LENGTH}",
                self.max_len,
            )
            _require(
                _is_number(self.factor) and math.isfinite(self.factor) and self.factor >= 1,
                "oversample_short",
                "factor",
                "a finite number >= 1",
                self.factor,
            )

    def _weights(self, train: TrainSet) -> np.ndarray:
        short = self.lengths_ <= self.config.max_len
        return np.where(short, float(self.config.factor), 1.0)


@register("undersample_head")
class UndersampleHead(Resampler):
    """Drop some rows whose target (last item) is a head item, so popular targets dominate
    the loss less.

    Head items are the ``head_share`` most-interacted training items (rounded up; equal
    counts rank the lower id first). Each row with a head target is kept with probability
    ``keep``.
    """

    @dataclass(frozen=True)
    class Config:
        """Options of ``undersample_head``.

        Attributes:
            head_share: share of training items (by count rank) that are head items.
            keep: probability of keeping a row whose target is a head item.
        """

        head_share: float = 0.2
        keep: float = 0.5

        def __post_init__(self) -> None:
            _require(
                _is_number(self.head_share) and 0 < self.head_share < 1,
                "undersample_head",
                "head_share",
                "a number in (0, 1)",
                self.head_share,
            )
            _require(
                _is_number(self.keep) and 0 <= self.keep <= 1,
                "undersample_head",
                "keep",
                "a number in [0, 1]",
                self.keep,
            )

    def _weights(self, train: TrainSet) -> np.ndarray:
        counts = train.item_counts()
        seen = np.flatnonzero(counts[1:]) + 1
        n_head = math.ceil(self.config.head_share * len(seen) - 1e-9)  # 0.3 * 10 is not 3
        order = np.lexsort((seen, -counts[seen]))  # most interactions first, then lower id
        head = np.zeros(len(counts), dtype=bool)
        head[seen[order[:n_head]]] = True
        self.head_items_ = np.sort(seen[order[:n_head]])
        seqs = train.sequences
        target = np.zeros(len(seqs), dtype=np.int64)
        nonempty = self.lengths_ > 0
        target[nonempty] = seqs.items[seqs.indptr[1:][nonempty] - 1]
        return np.where(head[target], float(self.config.keep), 1.0)


@register("balance_activity")
class BalanceActivity(Resampler):
    """Balance activity buckets with imbalanced-learn's random over- or under-sampler.

    Eligible rows are bucketed by history-length quantiles into ``buckets`` classes (equal
    lengths share a bucket, so fewer classes may result); ``RandomOverSampler`` repeats rows
    of the smaller buckets until every bucket matches the largest, ``RandomUnderSampler``
    (``mode="under"``) drops rows of the larger ones down to the smallest.

    Requirements: the ``imbalanced-learn`` package (imported on first use).
    """

    @dataclass(frozen=True)
    class Config:
        """Options of ``balance_activity``.

        Attributes:
            buckets: number of activity classes (length quantiles).
            mode: ``over`` repeats rows of small buckets, ``under`` drops rows of large ones.
        """

        buckets: int = 3
        mode: Literal["over", "under"] = "over"

        def __post_init__(self) -> None:
            _require(
                _is_int(self.buckets) and self.buckets >= 2,
                "balance_activity",
                "buckets",
                "an integer >= 2",
                self.buckets,
            )
            _require(
                self.mode in ("over", "under"),
                "balance_activity",
                "mode",
                "'over' or 'under'",
                self.mode,
            )

    def _weights(self, train: TrainSet) -> np.ndarray:
        lengths = self.lengths_[self.eligible_]
        labels = np.zeros(len(self.lengths_), dtype=np.int64)
        if len(lengths):
            inner = np.linspace(0, 1, self.config.buckets + 1)[1:-1]
            edges = np.unique(np.quantile(lengths, inner))
            labels = np.searchsorted(edges, self.lengths_, side="left")
        labels[~self.eligible_] = -1
        self.labels_ = labels
        sizes = np.bincount(labels[self.eligible_], minlength=self.config.buckets)
        w = np.zeros(len(labels), dtype=np.float64)
        present = sizes[sizes > 0]
        if len(present):
            target = present.max() if self.config.mode == "over" else present.min()
            w[self.eligible_] = target / sizes[labels[self.eligible_]]
        return w

    def resample(self, rng: np.random.Generator) -> np.ndarray:
        self._check_fitted()
        seed = derive_seed(rng)
        rows = np.flatnonzero(self.eligible_)
        labels = self.labels_[rows]
        if len(np.unique(labels)) < 2:
            return rows  # one bucket is balanced already
        sampler_cls = _imblearn_sampler(self.config.mode)
        x, _ = sampler_cls(random_state=seed).fit_resample(rows[:, None], labels)
        return np.sort(np.asarray(x[:, 0], dtype=np.int64))


def _imblearn_sampler(mode: str) -> type:
    try:
        if mode == "over":
            from imblearn.over_sampling import RandomOverSampler as cls
        else:
            from imblearn.under_sampling import RandomUnderSampler as cls
    except ImportError as e:
        raise ShopaugError(
            "resampler 'balance_activity' needs the package imbalanced-learn; install it "
            "with `pip install imbalanced-learn` "
            f"({e})"
        ) from None
    return cls
