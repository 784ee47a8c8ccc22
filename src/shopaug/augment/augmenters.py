"""Sequence augmenters: small classes over validated configs, composable and registered.

Every augmenter is a frozen ``Config`` dataclass plus a probability ``p``, constructed as
``Op(p=1.0, **params)``. ``fit(train)`` learns what an op needs from the training set
(neighbour tables, the mask token, the pool of noise items); ``op(batch, rng)`` augments a
left-padded batch, each row independently with probability ``p``; ``op.apply(batch, rng)``
does the same and also returns which op touched which row (:class:`Augmented`).

Ops are registered by a short name (``@register``) so that a recipe file round-trips:
``build(op.to_config()).to_config() == op.to_config()``. ``build`` also accepts a dotted path
(``"my_pkg.module:MyOp"``) to a user's own :class:`Augmenter` subclass.

Example:
    >>> from shopaug.augment import Crop, Mask, OneOf
    >>> aug = OneOf([Crop(ratio=0.6), Mask(ratio=0.3, token=99)], p=0.5)
    >>> aug.to_config()["children"][0]
    {'op': 'crop', 'p': 1.0, 'ratio': 0.6}
"""

from __future__ import annotations

import dataclasses
import importlib
import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Self

import numpy as np

from shopaug.augment import ops
from shopaug.augment.neighbors import cooccurrence_neighbors
from shopaug.data import TrainSet
from shopaug.exceptions import ConfigError, ShopaugError
from shopaug.random import RNGLike, make_rng

__all__ = [
    "AUGMENTERS",
    "Augmented",
    "Augmenter",
    "Compose",
    "Crop",
    "Identity",
    "Insert",
    "Mask",
    "Noise",
    "NotFittedError",
    "OneOf",
    "Reorder",
    "Substitute",
    "build",
    "register",
]


class NotFittedError(ShopaugError, RuntimeError):
    """An augmenter that learns from the training set was used before ``fit``."""


#: Augmenter classes by registered short name.
AUGMENTERS: dict[str, type[Augmenter]] = {}


def register(name_or_cls: str | type[Augmenter]) -> Any:
    """Register an Augmenter class under its ``name`` (``@register``) or a given name
    (``@register("crop")``). A name can be taken by one class only."""

    def add(cls: type[Augmenter], name: str) -> type[Augmenter]:
        if not name:
            raise ValueError(f"{cls.__qualname__} needs a non-empty name to be registered")
        if AUGMENTERS.get(name, cls) is not cls:
            raise ValueError(f"augmenter name {name!r} is already taken by {AUGMENTERS[name]}")
        cls.name = name
        AUGMENTERS[name] = cls
        return cls

    if isinstance(name_or_cls, str):
        return lambda cls: add(cls, name_or_cls)
    return add(name_or_cls, name_or_cls.name)


# --- config validation ---------------------------------------------------------------------


def _fail(op: str, field: str, expected: str, value: Any) -> ConfigError:
    return ConfigError(f"augmenter '{op}': '{field}' must be {expected}, got {value!r}")


def _float(
    op: str, field: str, value: Any, lo: float, hi: float, *, lo_open: bool = False
) -> float:
    """A real number in [lo, hi] (or (lo, hi] with ``lo_open``), returned as float."""
    expected = f"a number in {'(' if lo_open else '['}{lo}, {hi}]"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise _fail(op, field, expected, value)
    v = float(value)
    if not (lo < v <= hi if lo_open else lo <= v <= hi):
        raise _fail(op, field, expected, value)
    return v


def _int(op: str, field: str, value: Any, lo: int) -> int:
    expected = f"an integer >= {lo}"
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < lo:
        raise _fail(op, field, expected, value)
    return int(value)


def _set(config: Any, field: str, value: Any) -> None:
    object.__setattr__(config, field, value)  # normalise a frozen dataclass field


def _make_config(cls: type[Augmenter], params: dict[str, Any]) -> Any:
    names = [f.name for f in dataclasses.fields(cls.Config)]
    unknown = sorted(set(params) - set(names))
    if unknown:
        raise ConfigError(
            f"augmenter '{cls.name}': unknown option(s) {unknown}; known: {['p', *names]}"
        )
    return cls.Config(**params)


# --- provenance ----------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Augmented:
    """An augmented batch with the provenance of every row.

    Attributes:
        items: the augmented left-padded batch ``(B, L)``.
        applied: ``(B, n_ops)`` bool; ``applied[r, j]`` is True when op ``ops[j]`` was
            applied to row ``r``.
        ops: column labels of ``applied``, e.g. ``"crop(ratio=0.6)"``, in tree order.
    """

    items: np.ndarray
    applied: np.ndarray
    ops: tuple[str, ...]

    def row_labels(self, sep: str = "|") -> np.ndarray:
        """Per row, the labels of the ops applied to it joined by ``sep`` ("" for none)."""
        if len(self.applied) == 0:
            return np.empty(0, dtype=object)
        if self.applied.shape[1] == 0:
            return np.full(len(self.applied), "", dtype=object)
        patterns, inverse = np.unique(self.applied, axis=0, return_inverse=True)
        names = np.array(
            [sep.join(o for o, hit in zip(self.ops, pat, strict=True) if hit) for pat in patterns],
            dtype=object,
        )
        return names[inverse.ravel()]


# --- base class ----------------------------------------------------------------------------


class Augmenter:
    """Base of every augmenter: config handling, ``p``, validation and provenance.

    Subclasses set ``name`` and a frozen dataclass ``Config`` (validated in
    ``__post_init__``), implement ``_apply(batch, rng)`` on the rows selected by ``p``, and
    override ``fit`` when they learn from data (then set ``needs_fit`` and ``_fitted``).
    Learned state ends in ``_``.
    """

    name: ClassVar[str] = ""

    @dataclass(frozen=True)
    class Config:
        """No options."""

    def __init__(self, p: float = 1.0, **params: Any) -> None:
        self.p = _float(self.name or type(self).__name__, "p", p, 0.0, 1.0)
        self.config = _make_config(type(self), params)

    # learning ------------------------------------------------------------------------------
    def fit(self, train: TrainSet) -> Self:
        """Learn what the op needs from the training set; a no-op for most ops."""
        return self

    def _fitted(self) -> bool:
        return True

    def _check_fitted(self) -> None:
        if not self._fitted():
            raise NotFittedError(
                f"augmenter '{self.name}' learns from the training set; call fit(train) first"
            )

    # applying ------------------------------------------------------------------------------
    def __call__(self, batch: np.ndarray, rng: RNGLike) -> np.ndarray:
        """Augment a left-padded batch ``(B, L)``; each row independently with probability
        ``p``. Returns a new array; ``batch`` is not modified."""
        return self._run(_validate(batch), make_rng(rng), track=False)[0]

    def apply(self, batch: np.ndarray, rng: RNGLike) -> Augmented:
        """Like ``__call__`` (same random draws, same items) plus which op touched which
        row."""
        items, applied = self._run(_validate(batch), make_rng(rng), track=True)
        return Augmented(items, applied, self.labels())

    def _select(self, n_rows: int, rng: np.random.Generator) -> np.ndarray | None:
        """Rows picked by ``p`` (None: all rows)."""
        if self.p >= 1.0:
            return None
        return np.flatnonzero(rng.random(n_rows) < self.p)

    def _run(
        self, batch: np.ndarray, rng: np.random.Generator, track: bool
    ) -> tuple[np.ndarray, np.ndarray | None]:
        self._check_fitted()
        rows = self._select(len(batch), rng)
        if rows is None:
            out = self._apply(batch, rng)
        else:
            out = batch.copy()
            if len(rows):
                out[rows] = self._apply(batch[rows], rng)
        applied = None
        if track:
            applied = np.zeros((len(batch), 1), dtype=bool)
            applied[slice(None) if rows is None else rows] = True
        return out, applied

    def _apply(self, batch: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        raise NotImplementedError

    # describing ----------------------------------------------------------------------------
    def params(self) -> dict[str, Any]:
        """The config as plain values (lists for tuples), unset (None) options left out."""
        out = {}
        for f in dataclasses.fields(self.config):
            v = getattr(self.config, f.name)
            if v is not None:
                out[f.name] = list(v) if isinstance(v, tuple) else v
        return out

    def labels(self) -> tuple[str, ...]:
        """Provenance column labels, e.g. ``("crop(ratio=0.6)",)``."""
        args = ", ".join(f"{k}={v}" for k, v in self.params().items())
        return (f"{self.name}({args})",)

    def _op_name(self) -> str:
        if AUGMENTERS.get(self.name) is type(self):
            return self.name
        return f"{type(self).__module__}:{type(self).__qualname__}"

    def to_config(self) -> dict[str, Any]:
        """``{"op": name, "p": p, **params}``; ``build`` turns it back into an equal op."""
        return {"op": self._op_name(), "p": self.p, **self.params()}

    @classmethod
    def from_config(cls, config: dict[str, Any], where: str) -> Self:
        params = {k: v for k, v in config.items() if k not in ("op", "p")}
        return cls(p=config.get("p", 1.0), **params)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params().items())
        return f"{type(self).__name__}(p={self.p}{', ' if args else ''}{args})"


def _validate(batch: np.ndarray) -> np.ndarray:
    batch = ops._check(batch)  # 2-D integer ids
    if batch.size and bool(((batch[:, :-1] != 0) & (batch[:, 1:] == 0)).any()):
        raise ValueError("batch must be left-padded: a 0 (padding) follows a real item")
    return batch


# --- concrete ops --------------------------------------------------------------------------


@register
class Identity(Augmenter):
    """Returns a copy of the batch; a baseline and a "no change" branch of ``OneOf``."""

    name = "identity"

    def _apply(self, batch: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return batch.copy()


@register
class Crop(Augmenter):
    """Keep a random contiguous window of each row (CL4SRec "item crop")."""

    name = "crop"

    @dataclass(frozen=True)
    class Config:
        """Attributes:
        ratio: window length as a fraction of the row's length, in (0, 1]; at least one
            item is kept.
        """

        ratio: float = 0.6

        def __post_init__(self) -> None:
            _set(self, "ratio", _float("crop", "ratio", self.ratio, 0.0, 1.0, lo_open=True))

    def _apply(self, batch: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return ops.crop(batch, rng, self.config.ratio)


@register
class Reorder(Augmenter):
    """Shuffle a random contiguous window of each row (CL4SRec "item reorder")."""

    name = "reorder"

    @dataclass(frozen=True)
    class Config:
        """Attributes:
        ratio: window length as a fraction of the row's length, in [0, 1].
        """

        ratio: float = 0.3

        def __post_init__(self) -> None:
            _set(self, "ratio", _float("reorder", "ratio", self.ratio, 0.0, 1.0))

    def _apply(self, batch: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return ops.reorder(batch, rng, self.config.ratio)


@register
class Mask(Augmenter):
    """Replace a random subset of each row's items by the mask token (CL4SRec "item mask").

    ``fit`` sets the token to ``n_items + 1`` unless one is given; models that read masked
    sequences need an embedding row for it.
    """

    name = "mask"

    @dataclass(frozen=True)
    class Config:
        """Attributes:
        ratio: fraction of items masked, in [0, 1].
        token: mask id; None to take ``n_items + 1`` from the training set at ``fit``.
        """

        ratio: float = 0.3
        token: int | None = None

        def __post_init__(self) -> None:
            _set(self, "ratio", _float("mask", "ratio", self.ratio, 0.0, 1.0))
            if self.token is not None:
                _set(self, "token", _int("mask", "token", self.token, 1))

    def __init__(self, p: float = 1.0, **params: Any) -> None:
        super().__init__(p, **params)
        self.token_: int | None = self.config.token

    def fit(self, train: TrainSet) -> Self:
        self.token_ = self.config.token if self.config.token is not None else train.n_items + 1
        return self

    def _fitted(self) -> bool:
        return self.token_ is not None

    def _apply(self, batch: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return ops.mask(batch, rng, self.config.ratio, token=self.token_)


@dataclass(frozen=True)
class _NeighbourConfig:
    """Attributes:
    ratio: fraction of each row's items that get a neighbour, in [0, 1].
    k: neighbours kept per item in each neighbour table.
    window: largest distance (positions) of two co-occurring items.
    source: where neighbours come from: ``cooccurrence`` in the training sequences,
        ``text`` (most similar catalogue text by MiniLM vectors, among items seen in
        training), or ``both`` (a neighbour drawn from either table).
    """

    ratio: float = 0.2
    k: int = 10
    window: int = 3
    source: str = "cooccurrence"
    _op: ClassVar[str] = ""

    def __post_init__(self) -> None:
        if self.source not in ("cooccurrence", "text", "both"):
            raise _fail(self._op, "source", "'cooccurrence', 'text' or 'both'", self.source)
        _set(self, "ratio", _float(self._op, "ratio", self.ratio, 0.0, 1.0))
        _set(self, "k", _int(self._op, "k", self.k, 1))
        _set(self, "window", _int(self._op, "window", self.window, 1))


class _NeighbourOp(Augmenter):
    """Shared ``fit``: the neighbour table of the training partition (co-occurrence in the
    training sequences and/or text similarity restricted to items seen in training)."""

    def __init__(self, p: float = 1.0, **params: Any) -> None:
        super().__init__(p, **params)
        self.table_: np.ndarray | None = None

    def fit(self, train: TrainSet, encoder: Any = None) -> Self:
        cfg = self.config
        tables = []
        if cfg.source in ("cooccurrence", "both"):
            tables.append(
                cooccurrence_neighbors(train.sequences, train.n_items, k=cfg.k, window=cfg.window)
            )
        if cfg.source in ("text", "both"):
            from shopaug.augment.knowledge import item_embeddings, text_neighbors

            seen = train.item_counts() > 0
            text = text_neighbors(item_embeddings(train, encoder), cfg.k, candidates=seen)
            text[~seen] = 0  # an item the model never trained on gets no substitute either
            tables.append(text)
        self.table_ = np.concatenate(tables, axis=1)
        return self

    def _fitted(self) -> bool:
        return self.table_ is not None


@register
class Substitute(_NeighbourOp):
    """Replace a random subset of each row's items by a co-occurrence neighbour (CoSeRec
    "substitute"); items without neighbours stay."""

    name = "substitute"

    @dataclass(frozen=True)
    class Config(_NeighbourConfig):
        __doc__ = _NeighbourConfig.__doc__
        _op: ClassVar[str] = "substitute"

    def _apply(self, batch: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return ops.substitute(batch, rng, self.config.ratio, self.table_)


@register
class Insert(_NeighbourOp):
    """After a random subset of each row's items insert a co-occurrence neighbour (CoSeRec
    "insert"); rows keep their newest ``L`` items."""

    name = "insert"

    @dataclass(frozen=True)
    class Config(_NeighbourConfig):
        __doc__ = _NeighbourConfig.__doc__
        _op: ClassVar[str] = "insert"

    def _apply(self, batch: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return ops.insert(batch, rng, self.config.ratio, self.table_)


@register
class Noise(Augmenter):
    """Replace a random subset of each row's items by random training items.

    ``fit`` collects the items seen in training (never the whole catalogue: that would leak
    held-out items) and, with ``alpha``, popularity weights ``count ** alpha``.
    """

    name = "noise"

    @dataclass(frozen=True)
    class Config:
        """Attributes:
        ratio: fraction of items replaced, in [0, 1].
        alpha: draw items with probability proportional to ``count ** alpha``; None draws
            uniformly among training items.
        """

        ratio: float = 0.1
        alpha: float | None = None

        def __post_init__(self) -> None:
            _set(self, "ratio", _float("noise", "ratio", self.ratio, 0.0, 1.0))
            if self.alpha is not None:
                _set(self, "alpha", _float("noise", "alpha", self.alpha, 0.0, 10.0))

    def __init__(self, p: float = 1.0, **params: Any) -> None:
        super().__init__(p, **params)
        self.items_: np.ndarray | None = None
        self.probs_: np.ndarray | None = None

    def fit(self, train: TrainSet) -> Self:
        counts = train.item_counts()
        self.items_ = np.flatnonzero(counts > 0)
        self.probs_ = None
        if self.config.alpha is not None:
            w = counts[self.items_].astype(np.float64) ** self.config.alpha
            self.probs_ = w / w.sum() if len(w) else None
        return self

    def _fitted(self) -> bool:
        return self.items_ is not None

    def _apply(self, batch: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return ops.noise(batch, rng, self.config.ratio, self.items_, self.probs_)


# --- composition ---------------------------------------------------------------------------


class _Tree(Augmenter):
    """Shared parts of ops over children: fitting, labels and config."""

    def __init__(self, children: Sequence[Augmenter], p: float = 1.0, **params: Any) -> None:
        super().__init__(p, **params)
        children = list(children)
        if not children or not all(isinstance(c, Augmenter) for c in children):
            raise ConfigError(
                f"augmenter '{self.name}': 'children' must be a non-empty list of augmenters, "
                f"got {children!r}"
            )
        self.children = children

    def fit(self, train: TrainSet) -> Self:
        for child in self.children:
            child.fit(train)
        return self

    def _check_fitted(self) -> None:
        for child in self.children:
            child._check_fitted()

    def labels(self) -> tuple[str, ...]:
        return tuple(label for child in self.children for label in child.labels())

    def to_config(self) -> dict[str, Any]:
        return {**super().to_config(), "children": [c.to_config() for c in self.children]}

    @classmethod
    def from_config(cls, config: dict[str, Any], where: str) -> Self:
        children = config.get("children")
        if not isinstance(children, list) or not children:
            raise ConfigError(
                f"{where}: '{config.get('op')}' needs 'children', a non-empty list of ops"
            )
        built = [_build(c, f"{where}.children[{i}]") for i, c in enumerate(children)]
        params = {k: v for k, v in config.items() if k not in ("op", "p", "children")}
        return cls(built, p=config.get("p", 1.0), **params)

    def __repr__(self) -> str:
        inner = ", ".join(repr(c) for c in self.children)
        args = "".join(f", {k}={v!r}" for k, v in self.params().items())
        return f"{type(self).__name__}([{inner}], p={self.p}{args})"


@register
class Compose(_Tree):
    """Apply the children in order (to the rows picked by ``p``)."""

    name = "compose"

    def _run(
        self, batch: np.ndarray, rng: np.random.Generator, track: bool
    ) -> tuple[np.ndarray, np.ndarray | None]:
        self._check_fitted()
        rows = self._select(len(batch), rng)
        sub = batch if rows is None else batch[rows]
        parts = []
        for child in self.children:
            sub, applied = child._run(sub, rng, track)
            parts.append(applied)
        if rows is None:
            out = sub if sub is not batch else batch.copy()
        else:
            out = batch.copy()
            out[rows] = sub
        if not track:
            return out, None
        sub_applied = np.concatenate(parts, axis=1)
        if rows is None:
            return out, sub_applied
        applied = np.zeros((len(batch), sub_applied.shape[1]), dtype=bool)
        applied[rows] = sub_applied
        return out, applied


@register
class OneOf(_Tree):
    """Apply exactly one child per row (to the rows picked by ``p``), chosen per row at
    random, with probabilities ``weights`` (uniform when not given)."""

    name = "one_of"

    @dataclass(frozen=True)
    class Config:
        """Attributes:
        weights: relative weight of each child (normalised to sum to 1); None is uniform.
        """

        weights: tuple[float, ...] | None = None

        def __post_init__(self) -> None:
            if self.weights is None:
                return
            expected = "a list of numbers >= 0 with a positive sum"
            if isinstance(self.weights, str | bytes) or not isinstance(self.weights, Sequence):
                raise _fail("one_of", "weights", expected, self.weights)
            w = tuple(_float("one_of", "weights", x, 0.0, float("inf")) for x in self.weights)
            if not w or sum(w) <= 0:
                raise _fail("one_of", "weights", expected, self.weights)
            _set(self, "weights", w)

    def __init__(self, children: Sequence[Augmenter], p: float = 1.0, **params: Any) -> None:
        super().__init__(children, p, **params)
        w = self.config.weights
        if w is not None and len(w) != len(self.children):
            raise ConfigError(
                f"augmenter 'one_of': 'weights' must have one entry per child "
                f"({len(self.children)}), got {list(w)}"
            )
        self._probs = None if w is None else np.asarray(w) / sum(w)

    def _run(
        self, batch: np.ndarray, rng: np.random.Generator, track: bool
    ) -> tuple[np.ndarray, np.ndarray | None]:
        self._check_fitted()
        rows = self._select(len(batch), rng)
        if rows is None:
            rows = np.arange(len(batch))
        choice = rng.choice(len(self.children), size=len(rows), p=self._probs)
        out = batch.copy()
        widths = [len(c.labels()) for c in self.children]
        applied = np.zeros((len(batch), sum(widths)), dtype=bool) if track else None
        col = 0
        for i, child in enumerate(self.children):
            mine = rows[choice == i]
            if len(mine):
                items, sub_applied = child._run(batch[mine], rng, track)
                out[mine] = items
                if track:
                    applied[mine, col : col + widths[i]] = sub_applied
            col += widths[i]
        return out, applied


# --- building from configs -----------------------------------------------------------------


def _resolve(op: Any, where: str) -> type[Augmenter]:
    if not isinstance(op, str) or not op:
        raise ConfigError(f"{where}: 'op' must be an augmenter name, got {op!r}")
    if op in AUGMENTERS:
        return AUGMENTERS[op]
    if "." in op or ":" in op:
        module, _, attr = op.rpartition(":") if ":" in op else op.rpartition(".")
        try:
            cls = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError, ValueError):
            cls = None
        if isinstance(cls, type) and issubclass(cls, Augmenter):
            return cls
        raise ConfigError(f"{where}: {op!r} is not an importable Augmenter subclass")
    raise ConfigError(f"{where}: unknown augmenter {op!r}; available: {sorted(AUGMENTERS)}")


def _build(config: dict[str, Any] | list, where: str) -> Augmenter:
    if isinstance(config, list):
        return Compose([_build(c, f"{where}[{i}]") for i, c in enumerate(config)])
    if not isinstance(config, dict):
        raise ConfigError(f"{where}: expected a table/mapping with 'op', got {config!r}")
    cls = _resolve(config.get("op"), where)
    try:
        return cls.from_config(config, where)
    except ConfigError as e:
        if str(e).startswith(where):
            raise
        raise ConfigError(f"{where}: {e}") from None


def build(config: dict[str, Any] | list, *, where: str = "augment") -> Augmenter:
    """An augmenter tree from its config (``to_config`` output or a recipe's ``augment``).

    A list is a ``compose`` of its entries. ``where`` prefixes error messages (e.g. the file
    and key the config came from).
    """
    return _build(config, where)
