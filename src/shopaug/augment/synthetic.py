"""Synthetic behaviour logs from generators fitted on the training partition only.

A generator learns from a :class:`~shopaug.data.TrainSet` (never from validation or test
targets) and samples whole sequences: ``gen.fit(train, rng).sample(n_users, rng)`` returns
:class:`~shopaug.data.Sequences`, one row per synthetic user, oldest item first.

* ``Markov``: the training length distribution, first-item counts and first-order item
  transition counts (scipy CSR), each step mixed with global popularity.
* ``DPMarkov``: the same statistics released under user-level epsilon-differential privacy
  (Laplace mechanism, contribution bounding, thresholded sparse release; see its docstring
  and ``accounting()`` for the exact guarantee).
* ``SASRecSampler``: lengths and first items as above, then next items drawn
  autoregressively from a trained SASRec's softmax (temperature, nucleus / top-p).
* ``TabularSynth``: CTGAN or TVAE (the optional ``ctgan`` package) over per-user and
  per-item side tables (``user_table``, ``item_table``).

``Markov`` and ``SASRecSampler`` draw only items that at least ``min_users`` (default 5)
training rows contain: an item few users bought marks them for a membership attack.
``SASRecSampler(min_pair_users=M)`` likewise never replays a consecutive pair that fewer
than M rows (but some) contain.

``write_synthetic`` writes sequences in the input's folder layout plus a provenance file,
``synthesize`` runs load -> leave-one-out split -> member selection -> fit -> sample -> write.

Requirements:
    numpy and scipy; torch for ``SASRecSampler``; ``pip install ctgan==0.12.1`` for
    ``TabularSynth`` (imported on first use).
Relations:
    Generators never see held-out items: every item they output occurs in the training
    partition they were fitted on (``DPMarkov`` is the exception its guarantee requires:
    a catalogue item can appear through noise; ``spurious`` bounds the expected number
    of such noise-only cells per histogram). ``synthetic.json`` lists the member users for
    the privacy report.
References:
    Dwork, McSherry, Nissim, Smith (2006), the Laplace mechanism; Cormode, Procopiuc,
    Srivastava, Tran (2012), "Differentially private summaries for sparse data" (sampling
    the zero cells' Laplace tail); Holtzman et al. (2020), nucleus sampling; Xu et al.
    (2019), CTGAN and TVAE.
Example:
    >>> from shopaug.augment import Markov
    >>> from shopaug.data import Sequences, TrainSet
    >>> train = TrainSet(Sequences.from_lists([[1, 2, 3]] * 5), n_items=3)
    >>> Markov(smoothing=0.0).fit(train).sample(2, rng=0).items.tolist()
    [1, 2, 3, 1, 2, 3]
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Self

import numpy as np

from shopaug._fs import write_dir_atomic
from shopaug._registry import C, Registry, config_from_dict, resolve_config
from shopaug.augment.augmenters import NotFittedError
from shopaug.data import Dataset, Sequences, TrainSet
from shopaug.exceptions import ConfigError, DataError
from shopaug.random import RNGLike, derive_seed, make_rng

if TYPE_CHECKING:
    import pandas as pd
    import scipy.sparse as sp

__all__ = [
    "GENERATORS",
    "METHODS",
    "DPMarkov",
    "Markov",
    "SASRecSampler",
    "SequenceGenerator",
    "TabularSynth",
    "create_generator",
    "item_table",
    "synthesize",
    "user_table",
    "write_synthetic",
]

#: Methods of ``synthesize``: sequence generators, and side-table synthesizers (whose
#: sequences come from ``markov``).
METHODS = ("markov", "dp-markov", "sasrec", "ctgan", "tvae")
TABULAR = ("ctgan", "tvae")
SYNTHETIC_FORMAT = 1
CTGAN_PIN = "ctgan==0.12.1"
#: The DP release refuses to materialise more spurious transition cells than this.
MAX_SPURIOUS_CELLS = 5_000_000

_REGISTRY: Registry[SequenceGenerator] = Registry("generator", object)  # base set below
GENERATORS = _REGISTRY.table


def register(name: str) -> Callable[[C], C]:
    """Class decorator: make a generator available to ``create_generator`` by name."""
    return _REGISTRY.register(name)


def create_generator(name: str, **params: Any) -> SequenceGenerator:
    """A generator by registered name (or dotted class path) with its config options."""
    return _REGISTRY.resolve(name)(**params)


# --- helpers -------------------------------------------------------------------------------


def _positions(seqs: Sequences) -> np.ndarray:
    """Position of every item within its row (0 = oldest)."""
    return np.arange(seqs.n_interactions) - np.repeat(seqs.indptr[:-1], seqs.lengths)


def _firsts(seqs: Sequences) -> np.ndarray:
    """First item of every non-empty row."""
    return seqs.items[seqs.indptr[:-1][seqs.lengths > 0]]


def _allowed(seqs: Sequences, n_items: int, min_users: int) -> np.ndarray:
    """``(n_items + 1,)`` mask of the items at least ``min_users`` rows contain (padding
    never). An item few users bought marks those users: a model trained on synthetic data
    knows it only if one of them was a member, which is what a membership attack reads."""
    rows_per_item = np.diff(seqs.to_csr(n_items + 1, binary=True).tocsc().indptr)
    allowed = rows_per_item >= min_users
    allowed[0] = False
    return allowed


def _pairs(seqs: Sequences) -> tuple[np.ndarray, np.ndarray]:
    """(source, target) of every two consecutive items of a row."""
    same_row = _positions(seqs)[1:] > 0  # item i + 1 does not start a row
    return seqs.items[:-1][same_row], seqs.items[1:][same_row]


def _pair_rows(seqs: Sequences) -> np.ndarray:
    """Row of every pair ``_pairs`` returns, in the same order."""
    return np.repeat(np.arange(len(seqs)), np.maximum(seqs.lengths - 1, 0))


def _rare_pairs(seqs: Sequences, n_items: int, min_rows: int) -> sp.csr_matrix:
    """``(n_items + 1, n_items + 1)`` 0/1 matrix of the consecutive pairs ``a -> b`` that at
    least one but fewer than ``min_rows`` rows contain."""
    import scipy.sparse as sp

    if min_rows <= 1:
        return sp.csr_matrix((n_items + 1, n_items + 1), dtype=np.float64)
    src, dst = _pairs(seqs)
    row = _pair_rows(seqs)
    pair = src * (n_items + 1) + dst
    order = np.lexsort((pair, row))
    row, pair = row[order], pair[order]
    first = np.ones(len(pair), dtype=bool)  # count a pair once per row
    first[1:] = (row[1:] != row[:-1]) | (pair[1:] != pair[:-1])
    pair = pair[first]
    m = sp.csr_matrix((np.ones(len(pair)), (pair // (n_items + 1), pair % (n_items + 1))),
                      shape=(n_items + 1, n_items + 1), dtype=np.float64)
    m.sum_duplicates()
    m.data = (m.data < min_rows).astype(np.float64)
    m.eliminate_zeros()
    return m


def _transition_counts(seqs: Sequences, n_items: int) -> sp.csr_matrix:
    import scipy.sparse as sp

    src, dst = _pairs(seqs)
    m = sp.csr_matrix(
        (np.ones(len(src)), (src, dst)), shape=(n_items + 1, n_items + 1), dtype=np.float64
    )
    m.sum_duplicates()
    return m


class _Categorical:
    """Inverse-CDF draws from non-negative weights; a zero-weight value is never drawn
    (draws are clipped to the last positive weight, not to the end, against rounding)."""

    def __init__(self, weights: np.ndarray) -> None:
        w = np.asarray(weights, dtype=np.float64)
        self.cdf = np.cumsum(w)
        if not self.cdf[-1] > 0:
            raise ValueError("need at least one positive weight")
        self.last = int(np.flatnonzero(w > 0)[-1])

    def draw(self, u: np.ndarray) -> np.ndarray:
        idx = np.searchsorted(self.cdf, u * self.cdf[-1], side="right")
        return np.minimum(idx, self.last).astype(np.int64)


def _mix(a: np.ndarray, b: np.ndarray, w: float) -> np.ndarray:
    """``(1 - w) * a / sum(a) + w * b / sum(b)``; either side alone when the other is empty."""
    sa, sb = float(a.sum()), float(b.sum())
    if sa <= 0:
        return b / sb
    if sb <= 0 or w == 0:
        return a / sa
    return (1 - w) * a / sa + w * b / sb


def _check_train(train: TrainSet) -> None:
    if not isinstance(train, TrainSet):
        raise TypeError(f"fit needs a TrainSet (the training partition), got {type(train)}")
    if train.sequences.n_interactions == 0:
        raise ValueError("the training set has no interactions")
    items = train.sequences.items
    if items.min() < 1 or items.max() > train.n_items:
        raise ValueError("training item ids must be in 1..n_items")


def _check_n(n_users: Any) -> int:
    if isinstance(n_users, bool) or not isinstance(n_users, int | np.integer) or n_users < 0:
        raise ValueError(f"n_users must be an integer >= 0, got {n_users!r}")
    return int(n_users)


def _from_rows(out: np.ndarray, lengths: np.ndarray) -> Sequences:
    """Rows of a left-aligned ``(n, L)`` array cut to ``lengths``."""
    keep = np.arange(out.shape[1])[None, :] < lengths[:, None]
    return Sequences(np.concatenate([[0], np.cumsum(lengths)]), out[keep])


# --- base ----------------------------------------------------------------------------------


class SequenceGenerator:
    """Base class: a validated config, ``fit`` on the training partition, ``sample``.

    Subclasses set ``name`` (by ``@register``) and ``Config``, and implement ``_fit`` and
    ``_sample``. ``fit`` validates the training set once and marks the generator fitted;
    ``sample`` checks that and the user count. Learned state ends in ``_``.
    """

    name: ClassVar[str] = ""
    Config: ClassVar[type] = object

    def __init__(self, config: Any = None, **params: Any) -> None:
        where = f"generator '{self.name or type(self).__name__}'"
        self.config = resolve_config(self.Config, config, params, where=where)
        self.n_items_: int | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.config})"

    def params(self) -> dict[str, Any]:
        """The config as JSON-ready values."""
        return json.loads(json.dumps(dataclasses.asdict(self.config)))

    def to_config(self) -> dict[str, Any]:
        """``{"name": ..., **options}``; ``create_generator(**...)`` rebuilds it."""
        return {"name": self.name, **self.params()}

    def fit(self, train: TrainSet, rng: RNGLike = None) -> Self:
        """Learn from the training partition; ``rng`` drives any randomness of fitting."""
        _check_train(train)
        self._fit(train, make_rng(rng))
        self.n_items_ = train.n_items
        return self

    def sample(self, n_users: int, rng: RNGLike) -> Sequences:
        """``n_users`` synthetic sequences (internal item ids, oldest first)."""
        return self._sample(self._ready(n_users), make_rng(rng))

    def _ready(self, n_users: int) -> int:
        if self.n_items_ is None:
            raise NotFittedError(f"generator '{self.name}' is not fitted; call fit(train)")
        return _check_n(n_users)

    def _fit(self, train: TrainSet, rng: np.random.Generator) -> None:
        raise NotImplementedError

    def _sample(self, n_users: int, rng: np.random.Generator) -> Sequences:
        raise NotImplementedError


_REGISTRY.base = SequenceGenerator


# --- Markov --------------------------------------------------------------------------------


def _check_unit(name: str, field_: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise ConfigError(f"generator '{name}': {field_} must be a number in [0, 1], got {value!r}")
    return float(value)


def _check_int(name: str, field_: str, value: Any, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ConfigError(f"generator '{name}': {field_} must be an integer >= {low}, "
                          f"got {value!r}")


@dataclass(frozen=True)
class MarkovConfig:
    """Attributes:
    smoothing: weight of global item popularity mixed into the first item's and every
        step's distribution, in [0, 1]. With 0 a step follows the training transitions of
        the current item alone; an item without any outgoing transition always falls back
        to popularity, so every step has a distribution.
    min_users: only items that at least this many training rows contain are drawn (first
        items, steps and popularity); 1 keeps every training item.
    """

    smoothing: float = 0.05
    min_users: int = 5

    def __post_init__(self) -> None:
        object.__setattr__(self, "smoothing", _check_unit("markov", "smoothing", self.smoothing))
        _check_int("markov", "min_users", self.min_users, 1)


@register("markov")
class Markov(SequenceGenerator):
    """First-order Markov chain over items with popularity smoothing.

    ``fit`` learns the length distribution of the non-empty training rows, first-item
    counts, item popularity and the transition counts of consecutive pairs (a CSR matrix
    ``(n_items + 1)^2`` built in one vectorised pass). ``sample`` draws a length and a first
    item per user, then walks the chain one step for all still-active users at once: a
    step draws from popularity with probability ``smoothing`` (or when the current item has
    no outgoing transition), otherwise from the current item's CSR row by a binary search
    in the global cumulative sum of the matrix's values.

    Attributes:
        lengths_: weight per sequence length (index = length).
        first_: weight per first item (index = item id; 0 is padding).
        popularity_: weight per item.
        transitions_: CSR ``(n_items + 1, n_items + 1)``, weight of ``row -> column``.
    """

    Config = MarkovConfig
    #: ``(n_items + 1, k)`` neighbour ids (0-padded) a step may draw from instead of the
    #: transitions (``DPMarkov``'s public text prior); ``None`` for none.
    prior_: np.ndarray | None = None
    prior_weight: float = 0.0

    def _fit(self, train: TrainSet, rng: np.random.Generator) -> None:
        import scipy.sparse as sp

        seqs, n = train.sequences, train.n_items
        lengths = seqs.lengths[seqs.lengths > 0]
        keep = _allowed(seqs, n, self.config.min_users).astype(np.float64)
        if not keep.any():
            raise ConfigError(f"generator 'markov': no item is in at least min_users = "
                              f"{self.config.min_users} training rows; lower min_users")
        self._learn(
            lengths=np.bincount(lengths).astype(np.float64),
            first=np.bincount(_firsts(seqs), minlength=n + 1) * keep,
            popularity=train.item_counts() * keep,
            transitions=_transition_counts(seqs, n) @ sp.diags(keep),
        )

    def _learn(
        self, *, lengths: np.ndarray, first: np.ndarray, popularity: np.ndarray,
        transitions: sp.csr_matrix,
    ) -> None:
        w = self.config.smoothing
        t = transitions.tocsr()
        t.eliminate_zeros()  # every stored value > 0: binary search never lands on a zero
        self.lengths_, self.first_, self.popularity_, self.transitions_ = (
            lengths, first, popularity, t)
        if first.sum() <= 0 and popularity.sum() <= 0:
            raise ValueError(
                f"generator '{self.name}': the fitted statistics hold no item (for dp-markov: "
                "epsilon is too small for this data; raise epsilon or spurious, or lower max_len)"
            )
        self._len = _Categorical(lengths)
        self._first = _Categorical(_mix(first, popularity, w))
        self._pop = _Categorical(popularity if popularity.sum() > 0 else first)
        self._cum = np.cumsum(t.data)
        cum0 = np.concatenate([[0.0], self._cum])
        self._start = cum0[t.indptr[:-1]]  # cumulative weight before each row
        self._rowsum = cum0[t.indptr[1:]] - self._start
        self._prior_n = (self.prior_ > 0).sum(1) if self.prior_ is not None else None

    def _draw_start(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        lengths = self._len.draw(rng.random(n))
        return lengths, self._first.draw(rng.random(n))

    def _sample(self, n_users: int, rng: np.random.Generator) -> Sequences:
        if n_users == 0:
            return Sequences.concat([])
        w, t = self.config.smoothing, self.transitions_
        lengths, first = self._draw_start(n_users, rng)
        out = np.zeros((n_users, int(lengths.max())), dtype=np.int64)
        out[:, 0] = first
        for s in range(1, out.shape[1]):
            act = np.flatnonzero(lengths > s)
            cur = out[act, s - 1]
            u, v = rng.random(len(act)), rng.random(len(act))
            row = self._rowsum[cur]
            pop = (v < w) | (row <= 0)
            nxt = np.empty(len(act), dtype=np.int64)
            near = np.zeros(len(act), dtype=bool)
            if self._prior_n is not None:
                # the prior replaces a transition with probability prior_weight and stands
                # in for an empty transition row; popularity when the item has no neighbour
                has = self._prior_n[cur] > 0
                near = has & (v >= w) & ((v < w + (1 - w) * self.prior_weight) | (row <= 0))
                j = (u[near] * self._prior_n[cur[near]]).astype(np.int64)
                nxt[near] = self.prior_[cur[near], j]
                pop &= ~near
            nxt[pop] = self._pop.draw(u[pop])
            chain = ~(pop | near)
            c = cur[chain]
            target = self._start[c] + u[chain] * row[chain]
            j = np.searchsorted(self._cum, target, side="right")
            j = np.clip(j, t.indptr[c], t.indptr[c + 1] - 1)  # rounding stays in the row
            nxt[chain] = t.indices[j]
            out[act, s] = nxt
        return _from_rows(out, lengths)


# --- DP Markov -----------------------------------------------------------------------------

_PARTS = ("lengths", "first_items", "transitions")


@dataclass(frozen=True)
class DPMarkovConfig:
    """Attributes:
    epsilon: total privacy budget (> 0) of the three releases together.
    max_len: each user's training sequence is cut to its first ``max_len`` items (>= 2),
        which bounds one user's contribution: 1 length, 1 first item, ``max_len - 1``
        transitions.
    split: shares of ``epsilon`` for the length histogram, the first-item counts and the
        transition counts (normalised to sum to 1; basic composition).
    smoothing: as for ``markov`` (post-processing: costs no privacy).
    spurious: expected number of released cells whose true count is 0, per histogram of
        more than ``2 * spurious`` cells; sets each threshold to ``b * ln(cells / (2 *
        spurious))`` for noise scale ``b``. Smaller keeps fewer noise-only items and pairs
        but also drops more rare true counts.
    transitions: at most this many transitions per user (drawn at random from the cut
        sequence), the transition release's sensitivity; ``None`` for all ``max_len - 1``.
        Separates the transition bound from the length bound: long sequences, little noise.
    text_prior: probability that a step draws a text neighbour of the current item instead
        of a released transition (items without a released transition always do). The
        neighbours come from MiniLM vectors of the public catalogue text, among items with
        released counts, so the prior costs no privacy budget. 0 turns it off.
    text_k: neighbours per item for ``text_prior``.
    """

    epsilon: float = 1.0
    max_len: int = 20
    split: tuple[float, float, float] = (0.1, 0.2, 0.7)
    smoothing: float = 0.05
    spurious: float = 1.0
    transitions: int | None = None
    text_prior: float = 0.0
    text_k: int = 10

    def __post_init__(self) -> None:
        def bad(field_: str, expected: str) -> ConfigError:
            value = getattr(self, field_)
            return ConfigError(f"generator 'dp-markov': {field_} must be {expected}, got {value!r}")

        if isinstance(self.epsilon, bool) or not isinstance(self.epsilon, int | float) or not (
                math.isfinite(self.epsilon) and self.epsilon > 0):
            raise bad("epsilon", "a finite number > 0")
        if isinstance(self.max_len, bool) or not isinstance(self.max_len, int) or self.max_len < 2:
            raise bad("max_len", "an integer >= 2")
        split = tuple(self.split) if isinstance(self.split, list | tuple) else ()
        if len(split) != 3 or not all(
                isinstance(s, int | float) and not isinstance(s, bool) and s > 0 for s in split):
            raise bad("split", "three positive numbers (lengths, first items, transitions)")
        total = float(sum(split))
        object.__setattr__(self, "split", tuple(float(s) / total for s in split))
        object.__setattr__(self, "epsilon", float(self.epsilon))
        object.__setattr__(
            self, "smoothing", _check_unit("dp-markov", "smoothing", self.smoothing))
        if isinstance(self.spurious, bool) or not isinstance(self.spurious, int | float) or not (
                self.spurious > 0):
            raise bad("spurious", "a number > 0")
        object.__setattr__(self, "spurious", float(self.spurious))
        if self.transitions is not None and (
                isinstance(self.transitions, bool) or not isinstance(self.transitions, int)
                or self.transitions < 1):
            raise bad("transitions", "an integer >= 1 or None")
        object.__setattr__(
            self, "text_prior", _check_unit("dp-markov", "text_prior", self.text_prior))
        if isinstance(self.text_k, bool) or not isinstance(self.text_k, int) or self.text_k < 1:
            raise bad("text_k", "an integer >= 1")


def _threshold(scale: float, cells: int, spurious: float) -> float:
    """Release threshold giving at most ``spurious`` expected noise-only cells among
    ``cells`` zero cells: ``cells * P(Laplace(scale) > t) = cells / 2 * exp(-t / scale)``."""
    ratio = cells / (2.0 * spurious)
    return scale * math.log(ratio) if ratio > 1 else 0.0


@register("dp-markov")
class DPMarkov(Markov):
    """``Markov`` whose statistics are released under user-level epsilon-DP.

    Privacy unit: one user's whole training sequence (add/remove neighbouring). Each
    sequence is cut to its first ``max_len`` items and at most ``transitions`` of its
    consecutive pairs count (all ``max_len - 1`` by default), so one user adds at most 1 to
    the length histogram (lengths 1..max_len), 1 to the first-item counts (every catalogue
    item) and ``k = min(transitions, max_len - 1)`` to the transition counts (every ordered
    pair of catalogue items): L1 sensitivities ``1, 1, k``. Each release gets ``epsilon * share``
    (basic sequential composition: the parts add up to ``epsilon``) and Laplace noise of
    scale ``b = sensitivity / epsilon_part`` on every cell of its domain; a cell is
    released as its noisy count when that exceeds the threshold ``t`` (0 for lengths,
    see ``spurious`` for the others) and as 0 otherwise, which also clips negatives.
    Popularity (for smoothing) is computed from the released counts: post-processing.

    Why the transition release is exact without touching every cell: the catalogue has
    ``n^2`` pairs (1.5e8 for Beauty), almost all with true count 0. For a zero cell the
    rule above releases ``Laplace(b)`` only when it exceeds ``t``, with probability
    ``p = exp(-t / b) / 2``, and given that its value is ``t + Exponential(b)``
    (memorylessness). So the code draws Laplace noise for the observed (non-zero) cells,
    the number of released zero cells as ``Binomial(n_zero, p)``, their positions
    uniformly without replacement among the zero cells, and their values as
    ``t + Exponential(b)``: the same distribution as noising all ``n^2`` cells and
    thresholding, hence the same guarantee. ``t`` depends only on public values (``n``,
    ``b``, ``spurious``).

    With ``text_prior`` a sampling step may move to a text neighbour of the current item
    (MiniLM vectors of the public catalogue text, neighbours among items whose released
    counts are positive): public data combined with the release, so it adds no privacy
    cost, and items without released transitions still get a plausible next item.

    Not covered: the item catalogue and side information (public), the number of
    synthetic users, and the seed: the noise comes from the rng given to ``fit``, so
    whoever knows the seed can subtract it. ``fit`` needs an explicit rng; pass a secret
    seed for a real release.

    Attributes:
        raw_: the clipped, noise-free counts (for tests and audits; never release them).
    """

    Config = DPMarkovConfig

    def fit(self, train: TrainSet, rng: RNGLike = None) -> Self:
        """Release the statistics of ``train`` with noise drawn from ``rng`` (required)."""
        if rng is None:
            raise ValueError("dp-markov draws its noise from rng: pass a seed or Generator")
        return super().fit(train, rng)

    def _bound(self) -> int:
        """Transitions one user contributes at most (the transition release's sensitivity)."""
        cfg = self.config
        return min(cfg.transitions or cfg.max_len - 1, cfg.max_len - 1)

    def _sens(self) -> tuple[float, float, float]:
        return (1.0, 1.0, float(self._bound()))

    def _scales(self) -> list[float]:
        cfg = self.config
        return [s / (cfg.epsilon * share)
                for s, share in zip(self._sens(), cfg.split, strict=True)]

    def _fit(self, train: TrainSet, rng: np.random.Generator) -> None:
        import scipy.sparse as sp

        cfg, n = self.config, train.n_items
        seqs = train.sequences
        seqs = seqs.keep(_positions(seqs) < cfg.max_len)  # contribution bound
        b_len, b_first, b_trans = self._scales()
        t_first = _threshold(b_first, n, cfg.spurious)
        t_trans = _threshold(b_trans, n * n, cfg.spurious)

        lens = seqs.lengths[seqs.lengths > 0]
        true_len = np.bincount(lens, minlength=cfg.max_len + 1)[1:]
        lengths = np.maximum(true_len + rng.laplace(0.0, b_len, cfg.max_len), 0.0)
        if lengths.sum() <= 0:
            lengths = np.ones(cfg.max_len)  # nothing survived: uniform over the public range
        lengths = np.concatenate([[0.0], lengths])

        true_first = np.bincount(_firsts(seqs), minlength=n + 1)[1:]
        first = true_first + rng.laplace(0.0, b_first, n)
        first = np.concatenate([[0.0], np.where(first > t_first, first, 0.0)])

        src, dst = _pairs(seqs)
        if self._bound() < cfg.max_len - 1:  # keep a random `transitions` pairs per user
            row = _pair_rows(seqs)
            order = np.lexsort((rng.random(len(row)), row))  # rows, pairs shuffled within
            grouped = row[order]
            rank = np.arange(len(row)) - np.searchsorted(grouped, grouped, side="left")
            keep_pair = np.zeros(len(row), dtype=bool)
            keep_pair[order] = rank < self._bound()
            src, dst = src[keep_pair], dst[keep_pair]
        cells, counts = np.unique((src - 1) * n + (dst - 1), return_counts=True)
        noisy = counts + rng.laplace(0.0, b_trans, len(cells))
        keep = noisy > t_trans
        n_zero = n * n - len(cells)
        p = 0.5 * math.exp(-t_trans / b_trans)
        if n * n * p > MAX_SPURIOUS_CELLS:  # public figures only: the check leaks nothing
            raise ValueError(
                f"dp-markov: about {n * n * p:.3g} noise-only transition cells would be "
                f"released (threshold {t_trans:.3g}); raise the threshold by lowering spurious"
            )
        k = int(rng.binomial(n_zero, p))
        ranks = rng.choice(n_zero, size=k, replace=False) if k else np.zeros(0, np.int64)
        # rank among the zero cells -> cell: skip the observed cells at or before it
        extra = ranks + np.searchsorted(cells - np.arange(len(cells)), ranks, side="right")
        values = np.concatenate([noisy[keep], t_trans + rng.exponential(b_trans, k)])
        where = np.concatenate([cells[keep], extra])
        trans = sp.csr_matrix(
            (values, (where // n + 1, where % n + 1)), shape=(n + 1, n + 1), dtype=np.float64)

        self.raw_ = {"lengths": true_len, "first_items": true_first, "transitions": counts,
                     "cells": cells}
        self._released = {"thresholds": (0.0, t_first, t_trans), "n": n,
                          "cells": (cfg.max_len, n, n * n), "spurious_max": n * n * p,
                          "released_cells": int(trans.nnz)}
        popularity = first + np.asarray(trans.sum(axis=0)).ravel()
        self.prior_ = None
        if cfg.text_prior > 0:  # public text among released items: post-processing
            from shopaug.augment.knowledge import item_embeddings, text_neighbors

            self.prior_ = text_neighbors(
                item_embeddings(train), cfg.text_k, candidates=popularity > 0)
            self.prior_weight = cfg.text_prior
        self._learn(lengths=lengths, first=first, popularity=popularity, transitions=trans)

    def accounting(self) -> dict[str, Any]:
        """The privacy accounting of the fitted release (see the class docstring)."""
        if self.n_items_ is None:
            raise NotFittedError("dp-markov: accounting() describes a release; call fit first")
        cfg, rel = self.config, self._released
        sens = self._sens()
        parts = {}
        for i, part in enumerate(_PARTS):
            parts[part] = {
                "epsilon": cfg.epsilon * cfg.split[i],
                "sensitivity": sens[i],
                "noise_scale": self._scales()[i],
                "threshold": rel["thresholds"][i],
                "cells": rel["cells"][i],
            }
        # only public or released figures: how many released cells are noise-only is not
        parts["transitions"]["released_cells"] = rel["released_cells"]
        parts["transitions"]["noise_only_cells_expected_max"] = rel["spurious_max"]
        n, m, k = rel["n"], cfg.max_len, self._bound()
        pairs = "" if k == m - 1 else f", of whose transitions at most {k} (drawn at random) count"
        prior = (" The text prior (neighbours of public catalogue text among released items) "
                 "is post-processing and costs nothing." if cfg.text_prior > 0 else "")
        guarantee = (
            f"The released length histogram, first-item counts and item-to-item transition "
            f"counts, and so every sequence sampled from them, are {cfg.epsilon:g}-"
            f"differentially private (delta = 0) with respect to adding or removing one "
            f"user's whole training sequence: each sequence is cut to its first {m} items"
            f"{pairs}, so one user changes the three histograms by at most 1, 1 and {k} in L1 "
            f"norm; "
            f"each gets Laplace noise of scale sensitivity / epsilon_part on every cell of "
            f"its full domain (lengths 1..{m}, {n} items, {n}x{n} item pairs; the zero "
            f"transition cells are drawn exactly from the Laplace tail above the threshold), "
            f"and counts at or below the threshold are released as 0. Not protected: the item "
            f"catalogue, the number of synthetic users, and the seed of the noise (keep it "
            f"and the member list in synthetic.json private).{prior}"
        )
        return {
            "mechanism": "laplace",
            "epsilon": cfg.epsilon,
            "delta": 0.0,
            "unit": "user",
            "neighbouring": "add or remove one user's training sequence",
            "composition": "basic sequential: epsilon = sum of the parts' epsilon",
            "max_len": m,
            "transitions_per_user": k,
            "text_prior": cfg.text_prior,
            "parts": parts,
            "guarantee": guarantee,
        }


# --- SASRec sampler ------------------------------------------------------------------------

#: SASRec options of a sampler's own model, under the user's ``model`` options.
SAMPLER_MODEL = {"dim": 64, "epochs": 20}


def _check_decoding(temperature: Any, top_p: Any) -> tuple[float, float]:
    if isinstance(temperature, bool) or not isinstance(temperature, int | float) or not (
            temperature >= 0):
        raise ValueError(f"temperature must be a number >= 0, got {temperature!r}")
    if isinstance(top_p, bool) or not isinstance(top_p, int | float) or not 0 < top_p <= 1:
        raise ValueError(f"top_p must be a number in (0, 1], got {top_p!r}")
    return float(temperature), float(top_p)


@dataclass(frozen=True)
class SASRecSamplerConfig:
    """Attributes:
    model: SASRec options of the model ``fit`` trains when none was given (merged over
        ``SAMPLER_MODEL``), e.g. ``{"dim": 32, "epochs": 2}``.
    temperature: softmax temperature ``sample`` uses by default; 0 takes the argmax.
    top_p: nucleus mass ``sample`` uses by default, in (0, 1]: only the most likely items
        whose probabilities first reach ``top_p`` together are kept (at least one).
    exclude_seen: never repeat an item within a synthetic sequence; ``auto`` does so when
        fewer than 1% of the training rows repeat an item (shops such as Beauty, where a
        repeat in synthetic data is an artefact that a model trained on it learns).
    batch_size: synthetic users decoded together.
    holdout: members whose last training item is held out while the sampler's own model
        trains: training stops when their mean log-likelihood stops rising (``patience``
        epochs) and the best epoch's weights are kept, so the model learns the data's
        structure rather than memorising its members' sequences. 0 trains every epoch.
    patience: epochs without a better held-out likelihood before training stops.
    min_users: only items that at least this many training rows contain may be drawn (also
        as first items); 1 allows every training item.
    min_pair_users: a step may not follow item ``a`` with item ``b`` when fewer than this
        many training rows (but at least one) contain ``a`` then ``b`` consecutively: such a
        pair marks its few buyers, while pairs no row contains (new) or many rows contain
        (shared taste) do not; 1 blocks nothing.
    """

    model: Mapping[str, Any] = field(default_factory=dict)
    temperature: float = 1.0
    top_p: float = 0.95
    exclude_seen: bool | Literal["auto"] = "auto"
    batch_size: int = 256
    holdout: int = 0
    patience: int = 2
    min_users: int = 5
    min_pair_users: int = 1

    def __post_init__(self) -> None:
        if not isinstance(self.model, Mapping):
            raise ConfigError(f"generator 'sasrec': model must be a mapping, got {self.model!r}")
        object.__setattr__(self, "model", dict(self.model))
        try:
            t, p = _check_decoding(self.temperature, self.top_p)
        except ValueError as e:
            raise ConfigError(f"generator 'sasrec': {e}") from None
        object.__setattr__(self, "temperature", t)
        object.__setattr__(self, "top_p", p)
        if self.exclude_seen not in (True, False, "auto"):
            raise ConfigError(f"generator 'sasrec': exclude_seen must be true, false or "
                              f"'auto', got {self.exclude_seen!r}")
        for f, low in (("batch_size", 1), ("holdout", 0), ("patience", 1), ("min_users", 1),
                         ("min_pair_users", 1)):
            _check_int("sasrec", f, getattr(self, f), low)


def _logits(model: Any, scores: np.ndarray) -> np.ndarray:
    """Scores as logits: the log of a model's probabilities (a SASRec ensemble, or one with
    a co-occurrence mixture), zero-probability items at -inf; other scores as they are."""
    if not getattr(model, "probability_scores", False):
        return scores
    with np.errstate(divide="ignore"):
        return np.log(np.maximum(scores, 0.0))


def _block_unless_empty(x: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """``x`` with cells ``(rows, cols)`` set to -inf, except in rows this would leave with
    no finite score (those keep theirs: a step must draw some item)."""
    y = x.copy()
    y[rows, cols] = -np.inf
    return np.where(np.isinf(y).all(1)[:, None], x, y)


def _repeat_share(seqs: Sequences) -> float:
    """Share of non-empty rows in which some item occurs more than once."""
    distinct = np.diff(seqs.to_csr(int(seqs.items.max(initial=0)) + 1).indptr)
    has = seqs.lengths > 0
    return float((distinct[has] < seqs.lengths[has]).mean()) if has.any() else 0.0


def _holdout(
    train: TrainSet, n: int, rng: np.random.Generator
) -> tuple[TrainSet, Callable[[Any], float] | None]:
    """``train`` without the last item of ``n`` random rows of at least 3 items, and a
    callback giving a model's mean log-probability of those items after their rows (the
    sampler's early-stopping figure: a generator should be likely on unseen data)."""
    seqs = train.sequences
    rows = np.flatnonzero(seqs.lengths >= 3)
    if n == 0 or not len(rows):
        return train, None
    rows = np.sort(rng.choice(rows, size=min(n, len(rows)), replace=False))
    keep = np.ones(seqs.n_interactions, dtype=bool)
    keep[seqs.indptr[rows + 1] - 1] = False
    fit_on = dataclasses.replace(train, sequences=seqs.keep(keep))
    history = fit_on.sequences.rows(rows)
    target = seqs.items[seqs.indptr[rows + 1] - 1]
    allowed = np.zeros(train.n_items + 1, dtype=bool)
    allowed[seqs.items] = True  # what the sampler may draw: the training partition's items

    def validate(model: Any) -> float:
        s = np.where(allowed, _logits(model, model.score(np.full(len(rows), -1), history)),
                     -np.inf)
        s = s - s.max(1, keepdims=True)
        logp = s[np.arange(len(rows)), target] - np.log(np.exp(s).sum(1))
        return float(np.mean(np.maximum(logp, -50.0)))  # an unseen target costs e^-50

    return fit_on, validate


@register("sasrec")
class SASRecSampler(SequenceGenerator):
    """Sequences decoded autoregressively from a next-item model's softmax.

    ``fit(train, rng)`` learns the length and first-item distributions of the training
    rows and trains a SASRec on ``train`` (seed drawn from ``rng``; early-stopped on the
    held-out last items of ``holdout`` rows) unless a fitted model was given, which the
    caller vouches was trained on this training partition only.
    ``sample`` draws lengths and first items, then, for batches of users sorted by length,
    scores every active user's prefix (``model.score``, no grad), applies temperature and
    top-p, and draws the next item by inverse CDF with uniforms from ``rng``.

    Only items that at least ``min_users`` rows of ``train`` contain can be drawn: a softmax
    gives every catalogue item some mass, also items the model never trained on (such as
    held-out targets of a split).

    Args:
        recommender: a fitted model with ``score(users, histories)`` (SASRec), or None to
            train one from the config's ``model`` options.
    """

    Config = SASRecSamplerConfig

    def __init__(self, recommender: Any = None, config: Any = None, **params: Any) -> None:
        super().__init__(config, **params)
        self.recommender = recommender

    def _fit(self, train: TrainSet, rng: np.random.Generator) -> None:
        seqs, n = train.sequences, train.n_items
        self._len = _Categorical(np.bincount(seqs.lengths[seqs.lengths > 0]))
        allowed = _allowed(seqs, n, self.config.min_users)
        first = np.bincount(_firsts(seqs), minlength=n + 1) * allowed
        if not first.any():
            raise ConfigError(f"generator 'sasrec': no first item is in at least min_users = "
                              f"{self.config.min_users} training rows; lower min_users")
        self._first = _Categorical(first)
        model = self.recommender
        if model is None:
            from shopaug.models.sasrec import SASRec
            from shopaug.training import TrainOptions

            model = SASRec(**{**SAMPLER_MODEL, **self.config.model})
            fit_on, validate = _holdout(train, self.config.holdout, rng)
            model.fit(fit_on, TrainOptions(seed=derive_seed(rng), progress=False,
                                           validate=validate, patience=self.config.patience))
        elif getattr(model, "n_items_", n) != n:
            raise ValueError(f"the model knows {model.n_items_} items, the training set {n}")
        self.model_ = model
        self.exclude_seen_ = self.config.exclude_seen
        if self.exclude_seen_ == "auto":
            self.exclude_seen_ = bool(_repeat_share(seqs) < 0.01)
        self.blocked_ = ~allowed
        self.rare_pairs_ = _rare_pairs(seqs, n, self.config.min_pair_users)

    def sample(
        self, n_users: int, rng: RNGLike, temperature: float | None = None,
        top_p: float | None = None,
    ) -> Sequences:
        """``n_users`` sequences; ``temperature`` and ``top_p`` default to the config's."""
        n = self._ready(n_users)
        cfg = self.config
        t, p = _check_decoding(cfg.temperature if temperature is None else temperature,
                               cfg.top_p if top_p is None else top_p)
        return self._decode(n, make_rng(rng), t, p)

    def _sample(self, n_users: int, rng: np.random.Generator) -> Sequences:
        return self._decode(n_users, rng, self.config.temperature, self.config.top_p)

    def _decode(
        self, n: int, rng: np.random.Generator, temperature: float, top_p: float
    ) -> Sequences:
        import torch

        if n == 0:
            return Sequences.concat([])
        lengths = self._len.draw(rng.random(n))
        out = np.zeros((n, int(lengths.max())), dtype=np.int64)
        out[:, 0] = self._first.draw(rng.random(n))
        order = np.argsort(-lengths, kind="stable")  # similar lengths decode together
        with torch.no_grad():
            for start in range(0, n, self.config.batch_size):
                rows = order[start : start + self.config.batch_size]
                for s in range(1, int(lengths[rows[0]])):
                    act = rows[lengths[rows] > s]
                    hist = out[act, :s]
                    scores = _logits(self.model_, self.model_.score(
                        np.full(len(act), -1), Sequences(np.arange(len(act) + 1) * s, hist.ravel())
                    ))
                    out[act, s] = self._pick(scores, hist, rng, temperature, top_p)
        return _from_rows(out, lengths)

    def _pick(
        self, scores: np.ndarray, hist: np.ndarray, rng: np.random.Generator,
        temperature: float, top_p: float,
    ) -> np.ndarray:
        """One next item per row of ``scores`` (rows, n_items + 1).

        The nucleus is cut by value: the kept items are those at least as likely as the
        last item of the smallest prefix (by probability) whose mass reaches ``top_p`` (ties
        at the cut all stay). Only the values are sorted (numpy's SIMD sort of float32, several
        times faster than an argsort), then the next item is drawn by inverse CDF over the kept
        items in id order."""
        x = np.array(scores, dtype=np.float64)  # a copy: scores may be a read-only view
        x[:, self.blocked_] = -np.inf
        if self.rare_pairs_.nnz:
            after = self.rare_pairs_[hist[:, -1]].tocoo()
            x = _block_unless_empty(x, after.row, after.col)
        if self.exclude_seen_:  # a row that has used up every item may repeat
            x = _block_unless_empty(
                x, np.repeat(np.arange(len(hist)), hist.shape[1]), hist.ravel())
        if temperature == 0:
            return x.argmax(1)
        p = np.exp((x - x.max(1, keepdims=True)) / temperature)  # exp(-inf) = 0
        p /= p.sum(1, keepdims=True)
        if top_p < 1:
            p32 = p.astype(np.float32)  # sorts twice as fast as float64
            desc = np.sort(p32, axis=1)[:, ::-1]
            before = np.cumsum(desc, axis=1, dtype=np.float64) - desc  # mass of likelier items
            kept = (before < top_p).sum(1)  # >= 1: nothing comes before the first
            p = np.where(p32 >= desc[np.arange(len(p)), kept - 1][:, None], p, 0.0)
        cum = np.cumsum(p, axis=1)
        u = rng.random(len(p)) * cum[:, -1]
        j = (cum <= u[:, None]).sum(1)  # the first item whose cumulative mass exceeds u
        last = p.shape[1] - 1 - np.argmax(p[:, ::-1] > 0, axis=1)
        return np.minimum(j, last)  # rounding never reaches a dropped item


# --- side tables ---------------------------------------------------------------------------


def item_table(train: TrainSet) -> dict[str, np.ndarray]:
    """Per catalogue item (ids 1..n_items, in order): ``popularity`` (training
    interactions), ``n_attrs``, ``text_words`` and ``first_attr`` (-1 when none)."""
    n = train.n_items
    attrs = train.item_attrs
    n_attrs = np.zeros(n, np.int64)
    first_attr = np.full(n, -1, np.int64)
    if attrs is not None:
        n_attrs = np.fromiter((len(a) for a in attrs[1:]), np.int64, n)
        first_attr = np.fromiter((a[0] if len(a) else -1 for a in attrs[1:]), np.int64, n)
    words = np.zeros(n, np.int64)
    if train.item_text is not None:
        words = np.fromiter((len(str(t).split()) for t in train.item_text[1:]), np.int64, n)
    return {"popularity": train.item_counts()[1:].astype(np.int64), "n_attrs": n_attrs,
            "text_words": words, "first_attr": first_attr}


def user_table(train: TrainSet) -> dict[str, np.ndarray]:
    """Per non-empty training row: ``seq_len``, ``mean_item_pop`` (mean training
    popularity of its items) and ``n_distinct_attrs`` (0 without attributes)."""
    seqs = train.sequences
    rows = np.flatnonzero(seqs.lengths > 0)
    seqs = seqs.rows(rows)
    lengths = seqs.lengths
    user = np.repeat(np.arange(len(seqs)), lengths)
    pop = train.item_counts().astype(np.float64)
    mean_pop = np.bincount(user, weights=pop[seqs.items], minlength=len(seqs)) / lengths
    distinct = np.zeros(len(seqs), np.int64)
    if train.item_attrs is not None:
        table = Sequences.from_lists(train.item_attrs)  # row = item id
        per_event = table.rows(seqs.items)  # attribute ids of every interaction
        owner = np.repeat(user, per_event.lengths)
        width = int(per_event.items.max()) + 2 if per_event.n_interactions else 1
        pairs = np.unique(owner * width + per_event.items)
        distinct = np.bincount(pairs // width, minlength=len(seqs))
    return {"seq_len": lengths.astype(np.int64), "mean_item_pop": mean_pop,
            "n_distinct_attrs": distinct.astype(np.int64)}


def _import_ctgan() -> Any:
    try:
        import ctgan
    except ImportError as e:
        raise ImportError(
            f"TabularSynth needs the ctgan package: run `pip install {CTGAN_PIN}`") from e
    return ctgan


@dataclass(frozen=True)
class TabularConfig:
    """Attributes:
    kind: ``ctgan`` (conditional GAN) or ``tvae`` (variational autoencoder).
    epochs: training epochs.
    batch_size: rows per step (a multiple of 10 for ``ctgan``, whose discriminator packs
        10 rows).
    discrete: columns modelled as categories (others as continuous), where present.
    """

    kind: Literal["ctgan", "tvae"] = "tvae"
    epochs: int = 10
    batch_size: int = 500
    discrete: tuple[str, ...] = ("first_attr",)

    def __post_init__(self) -> None:
        if self.kind not in TABULAR:
            raise ConfigError(f"tabular: kind must be 'ctgan' or 'tvae', got {self.kind!r}")
        for f in ("epochs", "batch_size"):
            v = getattr(self, f)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ConfigError(f"tabular: {f} must be an integer >= 1, got {v!r}")
        if self.kind == "ctgan" and self.batch_size % 10:
            raise ConfigError("tabular: ctgan needs batch_size to be a multiple of 10")
        object.__setattr__(self, "discrete", tuple(self.discrete))


class TabularSynth:
    """CTGAN or TVAE (``ctgan`` package) over one side table, e.g. ``user_table(train)``.

    ``fit(table, rng)`` trains on the columns of ``table`` (a mapping of equal-length arrays
    or a DataFrame); ``sample(n, rng)`` returns a DataFrame with the same columns, integer
    columns rounded and clipped to their training range. ``ctgan`` is imported on first use.
    """

    def __init__(self, config: TabularConfig | None = None, **params: Any) -> None:
        self.config = resolve_config(TabularConfig, config, params, where="tabular")
        self.model_: Any = None

    def __repr__(self) -> str:
        return f"TabularSynth({self.config})"

    def fit(self, table: Mapping[str, np.ndarray] | pd.DataFrame, rng: RNGLike) -> Self:
        ctgan = _import_ctgan()  # first: its absence is the error worth naming
        import pandas as pd

        cfg = self.config
        df = pd.DataFrame({k: np.asarray(v) for k, v in dict(table).items()})
        if df.empty:
            raise ValueError("tabular: the table has no rows")
        cls = ctgan.CTGAN if cfg.kind == "ctgan" else ctgan.TVAE
        model = cls(epochs=cfg.epochs, batch_size=cfg.batch_size, enable_gpu=False)
        model.set_random_state(derive_seed(make_rng(rng)))
        model.fit(df, discrete_columns=[c for c in cfg.discrete if c in df.columns])
        self.model_ = model
        self.columns_ = list(df.columns)
        self.ranges_ = {c: (df[c].min(), df[c].max()) for c in df.columns
                        if pd.api.types.is_integer_dtype(df[c])}
        return self

    def sample(self, n: int, rng: RNGLike) -> pd.DataFrame:
        """``n`` synthetic rows."""
        if self.model_ is None:
            raise NotFittedError("TabularSynth is not fitted; call fit(table, rng)")
        n = _check_n(n)
        self.model_.set_random_state(derive_seed(make_rng(rng)))
        out = self.model_.sample(n)[self.columns_]
        for c, (lo, hi) in self.ranges_.items():
            out[c] = np.clip(np.round(out[c].to_numpy(np.float64)), lo, hi).astype(np.int64)
        return out.reset_index(drop=True)


# --- writing -------------------------------------------------------------------------------


def _source_folder(ds: Dataset) -> Path | None:
    if ds.source.startswith("bundled:"):
        from shopaug.data import bundled_path

        return bundled_path(ds.source.split(":", 1)[1])
    p = Path(ds.source)
    return p if p.is_dir() else None


def _clean(text: Any) -> str:
    return " ".join(str(text).split())  # no tab or newline may break the TSV row


def write_synthetic(
    out: str | Path,
    seqs: Sequences,
    ds: Dataset,
    *,
    method: str,
    seed: int | None,
    params: Mapping[str, Any],
    members: Sequence[str] | np.ndarray,
    accounting: Mapping[str, Any] | None = None,
    side: Mapping[str, Any] | None = None,
) -> Path:
    """Write synthetic sequences in the folder layout ``shopaug.data.load`` reads.

    ``sequences.txt`` has one synthetic user a line, ids ``1..len(seqs)`` (the folder
    reader accepts integer ids only, and they have nothing to do with the source's user
    ids), items as the source's external ids. ``items.tsv`` and ``item_attributes.json``
    are copied from the source folder (``items.tsv`` only if it lists the whole catalogue),
    otherwise written from ``ds``, so the catalogue reads back the same. ``side`` maps
    file names (``users_side.csv``) to DataFrames. ``synthetic.json`` holds the provenance:
    method, seed, params, source and its fingerprint, DP accounting and ``members``, the
    external ids of the real users the generator was fitted on. It is private: with the
    members and (for DP) the seed it must never be published with the data.
    Written atomically.
    """
    from shopaug.data._folder import read_items_tsv
    from shopaug.experiment import fingerprint

    if seqs.n_interactions and (seqs.items.min() < 1 or seqs.items.max() > ds.n_items):
        raise ValueError(f"synthetic item ids must be in 1..{ds.n_items}")
    if (seqs.lengths == 0).any():
        raise ValueError("every synthetic sequence needs at least one item (the folder layout "
                         "has no empty users)")
    ext = ds.items.external
    if not all(str(e).isdigit() for e in ext):
        raise DataError("the folder layout needs integer item ids; this dataset's catalogue "
                        f"has ids such as {next(e for e in ext if not str(e).isdigit())!r}")
    src = _source_folder(ds)
    tokens = ds.items.to_external(seqs.items) if seqs.n_interactions else np.empty(0, object)
    lines = [f"{u + 1} " + " ".join(tokens[a:b])
             for u, (a, b) in enumerate(zip(seqs.indptr[:-1], seqs.indptr[1:], strict=True))]
    meta = {
        "format": SYNTHETIC_FORMAT,
        "method": method,
        "seed": seed,
        "params": dict(params),
        "source": ds.source if ds.source.startswith("bundled:") or src is None
        else str(Path(ds.source).resolve()),
        "source_name": ds.name,
        "fingerprint": fingerprint(ds),
        "users": len(seqs),
        "interactions": int(seqs.n_interactions),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "accounting": None if accounting is None else dict(accounting),
        "members": [str(m) for m in members],
        "note": "synthetic user ids 1..users are unrelated to the source's; 'members' are "
                "real user ids: keep this file private",
    }

    def fill(tmp: Path) -> None:
        (tmp / "sequences.txt").write_text("\n".join(lines) + ("\n" if lines else ""),
                                           encoding="utf-8")
        tsv = src / "items.tsv" if src is not None else None
        if tsv is not None and tsv.is_file() and set(ext) <= set(read_items_tsv(tsv)):
            shutil.copy2(tsv, tmp / "items.tsv")
        else:
            text = ds.item_text if ds.item_text is not None else np.full(len(ext) + 1, "")
            with open(tmp / "items.tsv", "w", encoding="utf-8", newline="") as f:
                f.write("item_id\ttext\n")
                f.writelines(f"{e}\t{_clean(t)}\n" for e, t in zip(ext, text[1:], strict=True))
        attrs = src / "item_attributes.json" if src is not None else None
        if attrs is not None and attrs.is_file():
            shutil.copy2(attrs, tmp / "item_attributes.json")
        elif ds.item_attrs is not None:
            data = {str(e): [int(a) for a in v]
                    for e, v in zip(ext, ds.item_attrs[1:], strict=True) if len(v)}
            (tmp / "item_attributes.json").write_text(json.dumps(data), encoding="utf-8")
        for name, table in (side or {}).items():
            _write_csv(tmp / name, table)
        (tmp / "synthetic.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")

    return write_dir_atomic(out, fill)


def _write_csv(path: Path, table: Any) -> None:
    if hasattr(table, "to_csv"):
        table.to_csv(path, index=False)
        return
    cols = {k: np.asarray(v) for k, v in dict(table).items()}
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(cols)
        w.writerows(zip(*(c.tolist() for c in cols.values()), strict=True))


# --- pipeline ------------------------------------------------------------------------------


def redraw_copies(
    gen: SequenceGenerator, seqs: Sequences, real: Sequences, rng: RNGLike,
    rounds: int = 20,
) -> tuple[Sequences, dict[str, int]]:
    """``seqs`` with every row that equals a row of ``real`` exactly replaced by a fresh
    draw from ``gen`` (up to ``rounds`` times; a row still copied after that is dropped).
    Returns the rows and counts: ``copies`` found, ``draws`` made, ``dropped``."""
    rng = make_rng(rng)
    rows = list(seqs)
    bad = np.flatnonzero(seqs.rows_in(real))
    found, draws = len(bad), 0
    for _ in range(rounds):
        if not len(bad):
            break
        draws += len(bad)
        fresh = gen.sample(len(bad), rng)
        for i, r in zip(bad, fresh, strict=True):
            rows[i] = r
        bad = bad[fresh.rows_in(real)]
    drop = set(bad.tolist())
    out = Sequences.from_lists([r for i, r in enumerate(rows) if i not in drop])
    return out, {"copies": found, "draws": draws, "dropped": len(bad)}


def synthesize(
    data: str | Path,
    method: str,
    *,
    out: str | Path,
    users: int | None = None,
    seed: int = 0,
    epsilon: float | None = None,
    member_frac: float = 1.0,
    params: Mapping[str, Any] | None = None,
    keep_copies: bool = False,
) -> dict[str, Any]:
    """Fit a generator on the members' training sequences and write a synthetic dataset.

    Loads ``data`` (``shopaug.data.load``), splits it leave-one-out, picks
    ``round(member_frac * n_users)`` members with a seeded draw (the others are the
    non-members of a membership-inference attack), fits ``method`` on the members'
    training rows only (their validation and test targets are never seen), samples
    ``users`` sequences (default: as many as members) and writes them with
    ``write_synthetic``.

    Args:
        data: a dataset folder, log file or ``bundled:NAME``.
        method: one of ``METHODS``. ``ctgan``/``tvae`` also write ``users_side.csv`` and
            ``items_side.csv`` (sampled independently of the sequences, which come from
            ``markov``).
        out: the output folder (replaced atomically).
        users: synthetic users to sample.
        seed: seeds member selection, fitting, sampling (separate streams). For
            ``dp-markov`` it seeds the noise: keep it secret for a real release.
        epsilon: privacy budget, for ``dp-markov`` only.
        member_frac: share of users whose training rows the generator sees, in (0, 1].
        params: generator options (for ``ctgan``/``tvae``: ``TabularConfig`` options).
        keep_copies: keep synthetic sequences that copy a member's training sequence
            exactly. By default they are redrawn (``redraw_copies``), except for
            ``dp-markov``, whose guarantee covers its output as released: a filter that
            reads the real rows would void it.

    Returns:
        A summary: output folder, counts, seconds per stage, and the DP accounting.
    """
    from shopaug.data import load
    from shopaug.evaluation import leave_one_out

    if method not in METHODS:
        raise ConfigError(f"unknown synthesis method {method!r}; expected one of {METHODS}")
    if epsilon is not None and method != "dp-markov":
        raise ConfigError(f"epsilon applies to dp-markov only, not {method!r}")
    if isinstance(member_frac, bool) or not 0 < member_frac <= 1:
        raise ConfigError(f"member_frac must be in (0, 1], got {member_frac!r}")
    params = dict(params or {})
    clock = time.perf_counter()
    seconds: dict[str, float] = {}

    def lap(stage: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        seconds[stage] = round(now - clock, 3)
        clock = now

    ds = load(data)
    split = leave_one_out(ds)
    lap("load")
    pick, fit_rng, sample_rng, side_rng = (
        np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(4))
    n_members = max(1, round(member_frac * ds.n_users))
    members = np.sort(pick.choice(ds.n_users, size=n_members, replace=False))
    train = TrainSet(split.train.sequences.rows(members), ds.n_items,
                     item_text=ds.item_text, item_attrs=ds.item_attrs)
    n_out = n_members if users is None else _check_n(users)

    if method in TABULAR:
        gen = create_generator("markov")
    elif method == "dp-markov":
        gen = create_generator(method, **({**params, "epsilon": epsilon} if epsilon is not None
                                          else params))
    else:
        gen = create_generator(method, **params)
    gen.fit(train, fit_rng)
    lap("fit")
    seqs = gen.sample(n_out, sample_rng)
    redrawn = None
    if not keep_copies and method != "dp-markov":
        seqs, redrawn = redraw_copies(gen, seqs, train.sequences, sample_rng)
    lap("sample")
    side = None
    run_params = {"generator": gen.to_config(), "users": n_out, "member_frac": member_frac,
                  "split": "leave-one-out", "copies_redrawn": redrawn}
    if method in TABULAR:
        cfg = config_from_dict(TabularConfig, {**params, "kind": method}, where="tabular")
        u_rng, i_rng = side_rng.spawn(2)
        side = {
            "users_side.csv": TabularSynth(cfg).fit(user_table(train), u_rng)
            .sample(n_out, u_rng),
            "items_side.csv": TabularSynth(cfg).fit(item_table(train), i_rng)
            .sample(train.n_items, i_rng),
        }
        run_params["tabular"] = json.loads(json.dumps(dataclasses.asdict(cfg)))
        lap("side_tables")
    accounting = gen.accounting() if isinstance(gen, DPMarkov) else None
    write_synthetic(out, seqs, ds, method=method, seed=seed, params=run_params,
                    members=ds.users.external[members], accounting=accounting, side=side)
    lap("write")
    return {
        "out": str(out),
        "method": method,
        "users": len(seqs),
        "interactions": int(seqs.n_interactions),
        "members": n_members,
        "non_members": ds.n_users - n_members,
        "copies_redrawn": redrawn,
        "seconds": {**seconds, "total": round(sum(seconds.values()), 3)},
        "accounting": accounting,
    }

