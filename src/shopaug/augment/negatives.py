"""Negative sampling: the items a model contrasts each positive with.

Every model that trains on sampled negatives (BPR, sampled-softmax SASRec, ...) takes one
``NegativeSampler``. A sampler is fitted on the training partition only and draws from the
items seen there, so a validation- or test-only item can never become a negative.

Requirements:
    ``fit(train)`` before ``sample``; ``hard`` also needs a fitted model and ``users=``.
Inputs:
    ``positives``: int array (n,) of internal item ids (``1..n_items``; 0 is padding).
Outputs:
    ``sample`` returns int64 (n, k) ids of training items, never 0; ``log_q`` the log
    probability with which the sampler proposes each item, for logQ correction.
Relations:
    ``sampled_softmax_logits`` combines model logits with ``log_q``; ``MixedSampler``
    combines samplers; ``build(sampler.to_config())`` rebuilds an equal sampler.
References:
    Yi et al., "Sampling-Bias-Corrected Neural Modeling for Large Corpus Item
    Recommendations", RecSys 2019 (logQ correction). Robinson et al., "Contrastive Learning
    with Hard Negative Samples", ICLR 2021 (hard negatives, false-negative risk).
Example:
    >>> sampler = create_sampler("popularity", alpha=0.75).fit(split.train)  # doctest: +SKIP
    >>> negs = sampler.sample(targets, 8, np.random.default_rng(0))  # doctest: +SKIP
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, Self

import numpy as np

from shopaug._registry import C, Registry, config_fields, resolve_config
from shopaug.data import Sequences, TrainSet
from shopaug.exceptions import ConfigError, DataError

if TYPE_CHECKING:
    import torch

__all__ = [
    "SAMPLERS",
    "HardSampler",
    "InBatchSampler",
    "MixedSampler",
    "NegativeSampler",
    "PopularitySampler",
    "Scorer",
    "UniformSampler",
    "build",
    "create_sampler",
    "register",
    "sampled_softmax_logits",
]

#: Rounds of redrawing the slots that hit the row's own positive (uniform, popularity).
_REJECT_ROUNDS = 8


class Scorer(Protocol):
    """Anything that scores items for users, as every shopaug ``Recommender`` does."""

    def score(self, users: np.ndarray, histories: Sequences) -> np.ndarray: ...


# registry ------------------------------------------------------------------------------------
_REGISTRY: Registry[NegativeSampler] = Registry("sampler", object)  # base is set after the class
SAMPLERS = _REGISTRY.table


def register(name: str) -> Callable[[C], C]:
    """Class decorator: make a sampler available to ``create_sampler`` and ``build`` by name."""
    return _REGISTRY.register(name)


def _resolve(name: str) -> type[NegativeSampler]:
    return _REGISTRY.resolve(name)


def create_sampler(name: str, **params: Any) -> NegativeSampler:
    """A sampler by registered name (or dotted class path) with its config options.

    ``create_sampler("hard", model=knn, top=50)`` passes the model like any option.
    """
    return _resolve(name)(**params)


def build(config: Mapping[str, Any], *, model: Scorer | None = None) -> NegativeSampler:
    """Rebuild a sampler from ``to_config()`` output (a mapping with a ``name`` key).

    Args:
        config: ``{"name": ..., **options}``, e.g. read from a recipe file.
        model: the fitted model for ``hard`` samplers (also inside ``mixed``); models are
            objects, not configuration, so they never appear in the mapping.
    """
    if not isinstance(config, Mapping) or "name" not in config:
        raise ConfigError(f"a sampler config must be a mapping with a 'name' key, got {config!r}")
    params = dict(config)
    cls = _resolve(params.pop("name"))
    if cls.uses_model:
        params["model"] = model
    return cls(**params)


# config helpers ------------------------------------------------------------------------------
def _require(ok: bool, sampler: str, field: str, expected: str, value: Any) -> None:
    if not ok:
        raise ConfigError(f"sampler '{sampler}': {field} must be {expected}, got {value!r}")


def _is_int(v: Any) -> bool:
    return isinstance(v, int | np.integer) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool)


def _plain(v: Any) -> Any:
    """Config values as YAML/JSON-friendly data (tuples become lists)."""
    if isinstance(v, Mapping):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_plain(x) for x in v]
    return v


@dataclass(frozen=True)
class _NoOptions:
    """This sampler has no options."""


# base ----------------------------------------------------------------------------------------
class NegativeSampler:
    """Base class: a validated config, ``fit`` on the training partition, ``sample``.

    Subclasses set ``Config`` and implement ``_sample``; they may override ``_fit`` (learned
    state ends in ``_``) and ``_proposal`` (the item distribution ``log_q`` reports, by
    default uniform over training items).

    Attributes:
        name: the registered short name.
        config: the frozen options.
        n_items_: catalogue size seen at ``fit``.
        counts_: training interactions per item id (index 0 is 0).
        items_: ids of the items seen in training, ascending; the only ids ever sampled.
        q_: proposal probability per item id (0 for padding and unseen items).
    """

    name: ClassVar[str] = ""
    Config: ClassVar[type] = _NoOptions
    #: Whether ``build`` passes the ``model=`` keyword (hard negatives, or mixtures of them).
    uses_model: ClassVar[bool] = False

    def __init__(self, config: Any = None, **params: Any) -> None:
        where = f"sampler '{self.name or type(self).__name__}'"
        self.config = resolve_config(self.Config, config, params, where=where)
        self.n_items_: int | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.config})"

    def to_config(self) -> dict[str, Any]:
        """``{"name": ..., **options}``; ``build`` turns it back into an equal sampler."""
        cls = type(self)
        registered = SAMPLERS.get(self.name) is cls
        name = self.name if registered else f"{cls.__module__}.{cls.__qualname__}"
        return {"name": name, **_plain(config_fields(self.config))}

    # fitting ---------------------------------------------------------------------------------
    def fit(self, train: TrainSet) -> Self:
        """Learn item counts from the training partition (never from the full dataset)."""
        counts = np.asarray(train.item_counts(), dtype=np.int64).copy()
        counts[0] = 0
        if not counts.any():
            raise DataError(f"sampler '{self.name}': the training partition has no interactions")
        self.n_items_ = int(train.n_items)
        self.counts_ = counts
        self.items_ = np.flatnonzero(counts)
        self.seen_ = counts > 0
        self._fit(train)
        q = np.asarray(self._proposal(), dtype=np.float64)
        self.q_ = q / q.sum()
        with np.errstate(divide="ignore"):
            self.log_q_ = np.log(self.q_)
        self.cdf_ = np.cumsum(self.q_[self.items_])
        return self

    def _fit(self, train: TrainSet) -> None:
        """Extra learned state; the default needs none."""

    def _proposal(self) -> np.ndarray:
        """Unnormalised probability per item id 0..n_items; zero outside training items."""
        return self.seen_.astype(np.float64)

    def _check_fitted(self) -> None:
        if self.n_items_ is None:
            raise RuntimeError(f"sampler '{self.name}' is not fitted; call fit(train) first")

    # sampling --------------------------------------------------------------------------------
    def sample(
        self,
        positives: np.ndarray,
        k: int,
        rng: np.random.Generator,
        *,
        users: np.ndarray | None = None,
    ) -> np.ndarray:
        """``k`` negatives per positive: int64 (len(positives), k) training item ids.

        Args:
            positives: internal item ids (n,), the items the negatives are contrasted with.
            k: negatives per positive.
            rng: the only source of randomness; the same seed gives the same negatives.
            users: internal user ids (n,) of the positives' rows (needed by ``hard``).
        """
        self._check_fitted()
        positives = np.asarray(positives)
        if positives.ndim != 1 or not (
            positives.size == 0 or np.issubdtype(positives.dtype, np.integer)
        ):
            raise ValueError(
                f"positives must be a 1-d integer array, got {positives.dtype}"
                f" with shape {positives.shape}"
            )
        positives = positives.astype(np.int64, copy=False)
        if not _is_int(k) or k < 0:
            raise ValueError(f"k must be a non-negative integer, got {k!r}")
        if users is not None:
            users = np.asarray(users).astype(np.int64, copy=False)
            if users.shape != positives.shape:
                raise ValueError(
                    f"users must have one entry per positive, got {users.shape} "
                    f"for {positives.shape}"
                )
        if len(positives) == 0 or k == 0:
            return np.zeros((len(positives), int(k)), dtype=np.int64)
        out = self._sample(positives, int(k), rng, users)
        return np.ascontiguousarray(out, dtype=np.int64)

    def _sample(
        self, positives: np.ndarray, k: int, rng: np.random.Generator, users: np.ndarray | None
    ) -> np.ndarray:
        raise NotImplementedError

    def log_q(self, items: np.ndarray) -> np.ndarray:
        """Log proposal probability of each item id (``-inf`` for padding and unseen items),
        the term logQ correction subtracts from sampled-softmax logits."""
        self._check_fitted()
        items = np.asarray(items, dtype=np.int64)
        inside = (items >= 0) & (items <= self.n_items_)
        out = np.full(items.shape, -np.inf)
        out[inside] = self.log_q_[items[inside]]
        return out

    # shared vectorized draws -----------------------------------------------------------------
    def _draw_q(self, size: int | tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        """Independent draws from the proposal ``q_`` (inverse CDF over training items)."""
        u = rng.random(size) * self.cdf_[-1]
        idx = np.minimum(np.searchsorted(self.cdf_, u, side="right"), len(self.items_) - 1)
        return self.items_[idx]

    def _draw_rejecting(
        self, positives: np.ndarray, k: int, rng: np.random.Generator
    ) -> np.ndarray:
        """(n, k) draws from ``q_``; slots equal to the row's positive are redrawn for a
        bounded number of rounds (a positive that is the only training item stays)."""
        out = self._draw_q((len(positives), k), rng)
        for _ in range(_REJECT_ROUNDS):
            hit = out == positives[:, None]
            n_hit = int(hit.sum())
            if n_hit == 0:
                break
            out[hit] = self._draw_q(n_hit, rng)
        return out






# samplers ------------------------------------------------------------------------------------
_REGISTRY.base = NegativeSampler

@register("uniform")
class UniformSampler(NegativeSampler):
    """Each negative uniform over the items seen in training, the row's positive excluded.

    Requirements: ``fit``. Relations: the baseline every other sampler is compared with.
    """

    @dataclass(frozen=True)
    class Config:
        """Uniform sampling has no options."""

    def _draw_q(self, size: int | tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        return self.items_[rng.integers(0, len(self.items_), size=size)]

    def _sample(self, positives, k, rng, users):
        return self._draw_rejecting(positives, k, rng)


@register("popularity")
class PopularitySampler(NegativeSampler):
    """Each negative drawn with probability proportional to ``count ** alpha`` (word2vec's
    smoothed unigram), the row's positive excluded.

    Relations: ``alpha=0`` is ``uniform``; ``alpha=1`` follows the training unigram, as
    in-batch negatives do.
    """

    @dataclass(frozen=True)
    class Config:
        """Popularity sampling options.

        Attributes:
            alpha: exponent on training counts; below 1 flattens the head, 0 is uniform.
        """

        alpha: float = 0.75

        def __post_init__(self) -> None:
            _require(
                _is_number(self.alpha) and math.isfinite(self.alpha) and self.alpha >= 0,
                "popularity",
                "alpha",
                "a finite number >= 0",
                self.alpha,
            )

    def _proposal(self) -> np.ndarray:
        q = np.zeros(len(self.counts_), dtype=np.float64)
        q[self.items_] = self.counts_[self.items_].astype(np.float64) ** self.config.alpha
        return q

    def _sample(self, positives, k, rng, users):
        return self._draw_rejecting(positives, k, rng)


@register("in_batch")
class InBatchSampler(NegativeSampler):
    """Negatives are the other positives of the same batch (each draw uniform over the other
    positions), never the row's own positive when the batch holds another distinct item.

    Positives that were not seen in training are left out of the pool. A batch whose
    positives are all one item falls back to the training unigram. In-batch negatives follow
    item popularity, so ``log_q`` is the log training unigram frequency.
    """

    @dataclass(frozen=True)
    class Config:
        """In-batch sampling has no options."""

    def _proposal(self) -> np.ndarray:
        return self.counts_.astype(np.float64)

    def _sample(self, positives, k, rng, users):
        n = len(positives)
        inside = (positives >= 1) & (positives <= self.n_items_)
        usable = np.zeros(n, dtype=bool)
        usable[inside] = self.seen_[positives[inside]]
        pool = np.sort(positives[usable])
        # Draw uniformly among pool positions not holding the row's own item: skip its block.
        lo = np.searchsorted(pool, positives, side="left")
        own = np.searchsorted(pool, positives, side="right") - lo
        avail = len(pool) - own
        r = (rng.random((n, k)) * avail[:, None]).astype(np.int64)
        idx = np.where(r < lo[:, None], r, r + own[:, None])
        out = np.empty((n, k), dtype=np.int64)
        ok = avail > 0
        if ok.any():
            out[ok] = pool[idx[ok]]
        if not ok.all():
            out[~ok] = self._draw_rejecting(positives[~ok], k, rng)
        return out


@register("mixed")
class MixedSampler(NegativeSampler):
    """A mixture: each of the ``k`` slots comes from a child sampler chosen per slot.

    Args:
        samplers: child samplers, as instances, names or config mappings.
        weights: the chance of each child per slot (normalised; default equal).
        model: passed on to children that need one (``hard``).

    Relations: ``log_q`` is the mixture ``log sum_c w_c q_c``.
    """

    uses_model = True

    @dataclass(frozen=True)
    class Config:
        """Mixture options.

        Attributes:
            samplers: child sampler configs (``{"name": ..., **options}``).
            weights: per-child probability of filling a slot; None means equal weights.
        """

        samplers: tuple[Mapping[str, Any], ...]
        weights: tuple[float, ...] | None = None

        def __post_init__(self) -> None:
            s = self.samplers
            _require(
                isinstance(s, list | tuple)
                and len(s) > 0
                and all(isinstance(c, Mapping) and "name" in c for c in s),
                "mixed",
                "samplers",
                "a non-empty list of sampler configs with a 'name'",
                s,
            )
            object.__setattr__(self, "samplers", tuple(dict(c) for c in s))
            w = self.weights
            if w is None:
                return
            _require(
                isinstance(w, list | tuple)
                and len(w) == len(s)
                and all(_is_number(x) and math.isfinite(x) and x >= 0 for x in w)
                and sum(w) > 0,
                "mixed",
                "weights",
                f"{len(s)} finite numbers >= 0 (one per sampler) with a positive sum",
                w,
            )
            object.__setattr__(self, "weights", tuple(float(x) for x in w))

    def __init__(self, config: Any = None, *, model: Scorer | None = None, **params: Any) -> None:
        children = None
        given = params.get("samplers")
        if isinstance(given, list | tuple):
            children = [_as_sampler(c, model) for c in given]
            params["samplers"] = tuple(c.to_config() for c in children)
        super().__init__(config, **params)
        if children is None:
            children = [build(c, model=model) for c in self.config.samplers]
        self.children: list[NegativeSampler] = children
        w = np.ones(len(children)) if self.config.weights is None else np.array(self.config.weights)
        self.weights_ = w / w.sum()

    def _fit(self, train: TrainSet) -> None:
        for child in self.children:
            child.fit(train)

    def _proposal(self) -> np.ndarray:
        return sum(w * c.q_ for w, c in zip(self.weights_, self.children, strict=True))

    def _sample(self, positives, k, rng, users):
        n = len(positives)
        which = np.searchsorted(np.cumsum(self.weights_), rng.random((n, k)), side="right")
        which = np.minimum(which, len(self.children) - 1)
        out = np.empty((n, k), dtype=np.int64)
        for c, child in enumerate(self.children):
            mask = which == c
            per_row = mask.sum(axis=1)
            need = int(per_row.max())
            if need == 0:
                continue
            # Only as many draws per row as the most demanding row needs from this child.
            draws = child.sample(positives, need, rng, users=users)
            slot = np.cumsum(mask, axis=1) - 1
            rows = np.broadcast_to(np.arange(n)[:, None], (n, k))
            out[mask] = draws[rows[mask], slot[mask]]
        return out


def _as_sampler(spec: Any, model: Scorer | None) -> NegativeSampler:
    if isinstance(spec, NegativeSampler):
        return spec
    if isinstance(spec, str):
        return build({"name": spec}, model=model)
    if isinstance(spec, Mapping):
        return build(spec, model=model)
    raise ConfigError(
        f"sampler 'mixed': samplers must hold samplers, names or configs, got {spec!r}"
    )


@register("hard")
class HardSampler(NegativeSampler):
    """Hard negatives mined from a trained model: uniform over the candidates ranked
    ``[skip, skip + top)`` by the model's scores for the user.

    Candidates are training items other than the positive and the user's training history.
    The ``skip`` best of them are passed over because top-scored unobserved items are often
    positives the log never recorded (false negatives). Equal scores rank the lower id first.
    A row with at most ``skip`` candidates draws from all of them; a row with none draws
    uniformly from training items.

    Args:
        model: anything with ``score(users, histories) -> (n, n_items + 1)``, fitted on the
            same training partition; it is an object, not part of ``to_config()``.

    Requirements: ``sample(..., users=...)`` with internal user ids of the training set.
    Relations: ``log_q`` reports the uniform proposal (the pool depends on the user, not only
    the item), so logQ correction with it is a constant shift.
    """

    uses_model = True

    @dataclass(frozen=True)
    class Config:
        """Hard-negative options.

        Attributes:
            top: size of the candidate pool per row.
            skip: best-scored candidates never drawn (false-negative filter).
            chunk: rows scored per model call (bounds memory at chunk x n_items floats).
        """

        top: int = 100
        skip: int = 5
        chunk: int = 256

        def __post_init__(self) -> None:
            _require(
                _is_int(self.top) and self.top >= 1, "hard", "top", "an integer >= 1", self.top
            )
            _require(
                _is_int(self.skip) and self.skip >= 0, "hard", "skip", "an integer >= 0", self.skip
            )
            _require(
                _is_int(self.chunk) and self.chunk >= 1,
                "hard",
                "chunk",
                "an integer >= 1",
                self.chunk,
            )

    def __init__(self, config: Any = None, *, model: Scorer | None = None, **params: Any) -> None:
        super().__init__(config, **params)
        if model is None or not callable(getattr(model, "score", None)):
            raise ConfigError(
                "sampler 'hard': model must be a fitted model with "
                f"score(users, histories), got {model!r}; pass it as model=..."
            )
        self.model = model

    def _fit(self, train: TrainSet) -> None:
        self.sequences_ = train.sequences

    def _sample(self, positives, k, rng, users):
        if users is None:
            raise ValueError("sampler 'hard' needs users= (internal user ids, one per positive)")
        n_users = len(self.sequences_)
        if ((users < 0) | (users >= n_users)).any():
            raise ValueError(f"sampler 'hard': users must be training user ids in [0, {n_users})")
        out = np.empty((len(positives), k), dtype=np.int64)
        step = self.config.chunk
        for start in range(0, len(positives), step):
            sl = slice(start, start + step)
            out[sl] = self._sample_chunk(positives[sl], users[sl], k, rng)
        return out

    def _sample_chunk(
        self, positives: np.ndarray, users: np.ndarray, k: int, rng: np.random.Generator
    ) -> np.ndarray:
        m, n_cols = len(positives), self.n_items_ + 1
        uniq, inv = np.unique(users, return_inverse=True)
        raw = np.asarray(self.model.score(uniq, self.sequences_.rows(uniq)), dtype=np.float32)
        if raw.shape != (len(uniq), n_cols):
            raise ValueError(
                f"sampler 'hard': model.score returned shape {raw.shape}, expected "
                f"({len(uniq)}, {n_cols}); was the model fitted on this training set?"
            )
        scores = raw[inv]  # a copy, one row per positive
        scores[~np.isfinite(scores)] = -np.inf
        scores[:, ~self.seen_] = -np.inf  # padding and items never seen in training
        hist = self.sequences_.rows(users)
        scores[np.repeat(np.arange(m), hist.lengths), hist.items] = -np.inf
        inside = (positives >= 0) & (positives < n_cols)
        scores[np.flatnonzero(inside), positives[inside]] = -np.inf

        skip = self.config.skip
        depth = min(skip + self.config.top, n_cols)
        part = np.argpartition(-scores, depth - 1, axis=1)[:, :depth]
        vals = np.take_along_axis(scores, part, axis=1)
        order = np.lexsort((part, -vals), axis=1)
        ranked = np.take_along_axis(part, order, axis=1)
        n_valid = np.isfinite(np.take_along_axis(vals, order, axis=1)).sum(axis=1)

        lo = np.where(n_valid > skip, skip, 0)
        width = n_valid - lo
        idx = lo[:, None] + (rng.random((m, k)) * width[:, None]).astype(np.int64)
        out = np.take_along_axis(ranked, np.minimum(idx, depth - 1), axis=1)
        none = n_valid == 0
        if none.any():
            out[none] = self._draw_rejecting(positives[none], k, rng)
        return out


# sampled softmax -----------------------------------------------------------------------------
def sampled_softmax_logits(
    pos_logit: torch.Tensor,
    neg_logit: torch.Tensor,
    pos_items: Any,
    neg_items: Any,
    sampler: NegativeSampler,
    *,
    remove_accidental_hits: bool = True,
) -> torch.Tensor:
    """Logits (n, 1 + k) for a cross-entropy with label 0, with logQ correction.

    Each logit has ``sampler.log_q`` of its item subtracted (Yi et al. 2019; as TensorFlow's
    ``sampled_softmax_loss`` with ``subtract_log_q``), which undoes the sampler's preference
    for popular items so the loss estimates the full softmax.

    Args:
        pos_logit: (n,) model logits of the positives.
        neg_logit: (n, k) model logits of the sampled negatives.
        pos_items: (n,) item ids of the positives (array or tensor).
        neg_items: (n, k) item ids of the negatives.
        sampler: the fitted sampler that drew ``neg_items``.
        remove_accidental_hits: mask negatives equal to the row's positive to the lowest
            finite value, so an item is never pushed down against itself.
    """
    import torch

    pos_ids = _as_numpy(pos_items).astype(np.int64)
    neg_ids = _as_numpy(neg_items).astype(np.int64)
    if pos_logit.ndim != 1 or neg_logit.ndim != 2 or neg_logit.shape[0] != pos_logit.shape[0]:
        raise ValueError(
            f"need pos_logit (n,) and neg_logit (n, k), got {tuple(pos_logit.shape)} and "
            f"{tuple(neg_logit.shape)}"
        )
    if pos_ids.shape != tuple(pos_logit.shape) or neg_ids.shape != tuple(neg_logit.shape):
        raise ValueError("pos_items and neg_items must match the shapes of the logits")
    lq_pos, lq_neg = sampler.log_q(pos_ids), sampler.log_q(neg_ids)
    bad = ~np.isfinite(lq_pos)
    if bad.any() or not np.isfinite(lq_neg).all():
        items = sorted(set(pos_ids[bad].tolist()) | set(neg_ids[~np.isfinite(lq_neg)].tolist()))
        raise ValueError(
            f"items {items[:10]} have zero probability under sampler "
            f"'{sampler.name}'; logQ correction needs training items"
        )
    as_t = {"dtype": neg_logit.dtype, "device": neg_logit.device}
    logits = torch.cat(
        [
            (pos_logit - torch.as_tensor(lq_pos, **as_t))[:, None],
            neg_logit - torch.as_tensor(lq_neg, **as_t),
        ],
        dim=1,
    )
    if remove_accidental_hits:
        hits = torch.as_tensor(neg_ids == pos_ids[:, None], device=neg_logit.device)
        if bool(hits.any()):
            pad = torch.zeros(hits.shape[0], 1, dtype=torch.bool, device=neg_logit.device)
            logits = logits.masked_fill(
                torch.cat([pad, hits], dim=1), torch.finfo(logits.dtype).min
            )
    return logits


def _as_numpy(x: Any) -> np.ndarray:
    if hasattr(x, "detach"):  # a torch tensor
        return x.detach().cpu().numpy()
    return np.asarray(x)
