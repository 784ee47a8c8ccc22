"""SASRec: self-attentive sequential recommendation (Kang & McAuley, 2018).

Causal self-attention over the last ``max_len`` items; the output at each position scores
the next item against the (tied) item embeddings. Trained on every non-padding position of
each sequence in one pass, or on every prefix as a separate sample (``samples``, as RecBole
trains; the ``sasrec`` preset's choice), with full-softmax cross-entropy (default) or binary
cross-entropy on sampled negatives (the original paper's loss).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Self

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from shopaug.data import Sequences, TrainSet
from shopaug.models._base import BaseRecommender, fit_sampler
from shopaug.models._torch import numpy_to_state, state_to_numpy
from shopaug.random import make_rng
from shopaug.training import TrainOptions
from shopaug.training.loop import run_epochs


@dataclass(frozen=True)
class SASRecConfig:
    """SASRec settings.

    Attributes:
        dim: embedding and hidden size.
        layers: self-attention blocks.
        heads: attention heads per block.
        ffn: feed-forward width as a multiple of ``dim``.
        dropout: dropout on embeddings, attention and feed-forward outputs.
        max_len: items of history the model reads (older items are cut).
        loss: ``ce`` (full softmax over all items), ``bce`` (binary cross-entropy on sampled
            negatives, the paper's loss) or ``sampled`` (softmax over the positive and
            ``negatives`` items shared by the batch, with logQ correction).
        negatives: negatives per position for ``bce``; per batch for ``sampled``.
        sampler: negative sampler for ``bce``/``sampled`` (see
            ``shopaug.augment.negatives.SAMPLERS``; ``hard`` mines them from an ItemKNN
            model fitted on the same training data).
        epochs: maximum epochs (early stopping on validation may end sooner).
        batch_size: sequences per step.
        lr: Adam learning rate.
        weight_decay: AdamW weight decay.
        norm_first: pre-LayerNorm blocks (True) or post-LayerNorm blocks as in the SASRec
            paper and RecBole (False).
        scale_emb: multiply item embeddings by sqrt(dim) as the SASRec paper does.
        label_smoothing: cross-entropy label smoothing.
        positions: count positions from the ``start`` of the (cut) sequence, so that every
            position of one-pass training sees what inference on that prefix sees, or from
            the ``end`` (the newest item always at ``max_len - 1``, as in the paper's code).
        schedule: learning rate ``constant`` or ``cosine`` decay to zero over ``epochs``.
        samples: ``positions`` trains every position of a sequence in one pass (one dropout
            draw per sequence); ``prefixes`` makes every prefix a separate sample whose last
            position alone is trained, as RecBole does: the same targets, but each with its
            own dropout draw and batch company, at the cost of more attention work.
            ``batch_size`` counts sequences or prefixes accordingly.
        text: use the items' catalogue text (frozen MiniLM vectors, see
            ``shopaug.augment.knowledge``): ``fuse`` adds a learned projection of each item's
            text vector to its ID embedding (LLM-ESR's dual view, simplified), so items with
            few or no training interactions still get a meaningful representation; ``init``
            starts the ID embeddings from the text vectors' principal components; ``none``
            ignores text.
        text_dropout: dropout on the projected text vectors while training (``fuse``).
        text_blend: late fusion at scoring time (``fuse``): each row's scores plus this
            weight times the cosine of every item's text vector with the history's text
            profile (``profile_embeddings``), both standardised per row. ``auto`` picks the
            weight from ``BLEND_GRID`` on the validation callback after training (never on
            test); 0 turns it off.
        cooc_blend: mixes the next-item distribution (softmax of the standardised scores,
            after any text blend) with ItemKNN's co-occurrence distribution for the same
            history (its scores over the catalogue, normalised to sum to 1):
            ``score = (1 - w) * p_model + w * p_cooc``, a probability (> 0, so the ``zero``
            history convention still ranks history items last). Co-occurrence reaches items
            the transformer under-ranks, most of all rarely bought ones. ``auto`` picks ``w``
            from ``COOC_GRID`` on the validation callback after training; 0 turns it off.
        attributes: add the mean of learned embeddings of each item's attributes (brand,
            category: ``TrainSet.item_attrs``) to its representation, as FDSA and S3-Rec use
            side information: an item bought rarely or never shares what it learns with the
            items of its brand and category. Data without attributes warns and trains
            without.
        members: train this many networks one after another and average their next-item
            distributions (each member's ``score`` as a probability: after its own late
            fusions, or the softmax of its standardised scores without them). Member 0 trains
            with the run's seed, member ``i`` with a seed derived from it and ``i``; each picks
            its epochs and late-fusion weights on validation; a time budget is shared out
            among the members not yet trained. Costs ``members`` times the training and
            scoring; ensembles are not vector-scorable (no ANN serving, no quantisation).
    """

    dim: int = 64
    layers: int = 2
    heads: int = 2
    ffn: int = 4
    dropout: float = 0.5
    max_len: int = 50
    loss: Literal["ce", "bce", "sampled"] = "ce"
    negatives: int = 1
    sampler: str = "uniform"
    epochs: int = 200
    batch_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 0.0
    norm_first: bool = True
    scale_emb: bool = True
    label_smoothing: float = 0.0
    positions: Literal["start", "end"] = "start"
    schedule: Literal["constant", "cosine"] = "constant"
    samples: Literal["positions", "prefixes"] = "positions"
    text: Literal["none", "fuse", "init"] = "none"
    text_dropout: float = 0.0
    text_blend: float | Literal["auto"] = 0.0
    cooc_blend: float | Literal["auto"] = 0.0
    attributes: bool = False
    members: int = 1

    def __post_init__(self) -> None:
        if not isinstance(self.members, int) or isinstance(self.members, bool):
            raise ValueError("members must be an integer >= 1")
        for f in ("dim", "layers", "heads", "ffn", "max_len", "negatives", "epochs", "batch_size",
                  "members"):
            if getattr(self, f) < 1:
                raise ValueError(f"{f} must be >= 1")
        if self.dim % self.heads:
            raise ValueError("dim must be divisible by heads")
        if not 0 <= self.dropout < 1:
            raise ValueError("dropout must be in [0, 1)")
        if self.schedule not in ("constant", "cosine"):
            raise ValueError("schedule must be 'constant' or 'cosine'")
        if self.samples not in ("positions", "prefixes"):
            raise ValueError("samples must be 'positions' or 'prefixes'")
        if self.positions not in ("start", "end"):
            raise ValueError("positions must be 'start' or 'end'")
        if self.loss not in ("ce", "bce", "sampled"):
            raise ValueError("loss must be 'ce', 'bce' or 'sampled'")
        if self.text not in ("none", "fuse", "init"):
            raise ValueError("text must be 'none', 'fuse' or 'init'")
        if not 0 <= self.text_dropout < 1:
            raise ValueError("text_dropout must be in [0, 1)")
        if self.text_blend != "auto" and not (
            isinstance(self.text_blend, int | float) and self.text_blend >= 0
        ):
            raise ValueError("text_blend must be a number >= 0 or 'auto'")
        if self.cooc_blend != "auto" and not (
            isinstance(self.cooc_blend, int | float) and 0 <= self.cooc_blend < 1
        ):
            raise ValueError("cooc_blend must be a number in [0, 1) or 'auto'")
        if self.lr <= 0 or self.weight_decay < 0:
            raise ValueError("lr must be > 0 and weight_decay >= 0")


class _Block(nn.Module):
    def __init__(self, dim: int, heads: int, ffn: int, dropout: float, norm_first: bool) -> None:
        super().__init__()
        self.heads = heads
        self.norm_first = norm_first
        self.norm1 = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim)
        self.ff = nn.Sequential(
            nn.Linear(dim, ffn * dim), nn.GELU(), nn.Dropout(dropout), nn.Linear(ffn * dim, dim)
        )
        self.drop = nn.Dropout(dropout)
        self.p = dropout

    def attend(self, x: torch.Tensor, mask: torch.Tensor, last: bool) -> torch.Tensor:
        b, t, d = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, self.heads, d // self.heads).unbind(2)
        if last:  # only the newest position asks; every position still answers
            q, mask = q[:, -1:], mask[..., -1:, :]
        a = F.scaled_dot_product_attention(
            q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2),
            attn_mask=mask, dropout_p=self.p if self.training else 0.0,
        )
        return self.drop(self.out(a.transpose(1, 2).reshape(b, q.shape[1], d)))

    def forward(self, x: torch.Tensor, mask: torch.Tensor, last: bool = False) -> torch.Tensor:
        """Outputs for every position, or with ``last`` for the newest one only (B, 1, dim)."""
        res = x[:, -1:] if last else x
        if self.norm_first:
            x = res + self.attend(self.norm1(x), mask, last)
            return x + self.drop(self.ff(self.norm2(x)))
        x = self.norm1(res + self.attend(x, mask, last))
        return self.norm2(x + self.drop(self.ff(x)))


class _Net(nn.Module):
    def __init__(
        self,
        n_items: int,
        cfg: SASRecConfig,
        extra: int = 0,
        text: torch.Tensor | None = None,
        attrs: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> None:
        super().__init__()
        self.max_len = cfg.max_len
        self.from_start = cfg.positions == "start"
        # ``extra`` rows after the items hold tokens such as augmentation's mask id
        self.item = nn.Embedding(n_items + 1 + extra, cfg.dim, padding_idx=0)
        self.pos = nn.Embedding(cfg.max_len, cfg.dim)
        self.drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(
            _Block(cfg.dim, cfg.heads, cfg.ffn, cfg.dropout, cfg.norm_first)
            for _ in range(cfg.layers)
        )
        # pre-LN needs a final norm; post-LN normalises the embeddings instead
        self.norm = nn.LayerNorm(cfg.dim)
        self.norm_first = cfg.norm_first
        self.scale = math.sqrt(cfg.dim) if cfg.scale_emb else 1.0
        self.fuse = text is not None and cfg.text == "fuse"
        if self.fuse:
            # frozen text vectors (a buffer: saved with the weights, never trained)
            rows = n_items + 1 + extra
            pad = torch.zeros(rows - len(text), text.shape[1])
            self.register_buffer("text", torch.cat([text.float(), pad]))
            self.proj = nn.Linear(text.shape[1], cfg.dim, bias=False)
            self.text_drop = nn.Dropout(cfg.text_dropout)
        self.attr: nn.EmbeddingBag | None = None
        if attrs is not None:
            # (attribute ids 0..A-1 of all items, one offset per table row): buffers, so the
            # item -> attribute map is saved with the weights
            ids, offsets = attrs
            self.register_buffer("attr_ids", ids.long())
            self.register_buffer("attr_offsets", offsets.long())
            self.attr = nn.EmbeddingBag(int(ids.max()) + 1 if len(ids) else 1, cfg.dim,
                                        mode="mean")
        self.apply(self._init)
        if text is not None and cfg.text == "init":
            with torch.no_grad():
                self.item.weight[: len(text)] = _pca_init(text.float(), cfg.dim)

    def table(self) -> torch.Tensor:
        """Item representations (rows = ids; row 0 pads): ID embedding plus, with ``fuse``,
        the projected text vector and, with attributes, their mean embedding (0 for items
        without any)."""
        out = self.item.weight
        if self.fuse:
            out = out + self.text_drop(self.proj(self.text))
        if self.attr is not None:
            out = out + self.attr(self.attr_ids, self.attr_offsets)
        return out

    @staticmethod
    def _init(m: nn.Module) -> None:
        if isinstance(m, nn.Linear | nn.Embedding | nn.EmbeddingBag):
            nn.init.normal_(m.weight, std=0.02)
        if isinstance(m, nn.Linear) and m.bias is not None:
            nn.init.zeros_(m.bias)
        if isinstance(m, nn.Embedding) and m.padding_idx is not None:
            with torch.no_grad():
                m.weight[m.padding_idx].zero_()

    def forward(
        self, seq: torch.Tensor, table: torch.Tensor | None = None, last: bool = False
    ) -> torch.Tensor:
        """Hidden states (B, T, dim) for left-padded ids (B, T), T <= max_len, or with
        ``last`` of the newest position only (B, 1, dim): the last block then skips the
        others. ``table`` is ``self.table()`` when the caller already has it (a training step
        computes it once for the inputs, the views and the output layer)."""
        t = seq.shape[1]
        valid = seq > 0
        if self.from_start:
            pos = (valid.cumsum(1) - 1).clamp(min=0)  # (B, T): 0 at each oldest real item
        else:
            pos = torch.arange(self.max_len - t, self.max_len)[None]  # newest at max_len - 1
        table = self.table() if table is None else table
        x = table[seq] * self.scale + self.pos(pos)
        x = self.drop(x if self.norm_first else self.norm(x))
        causal = torch.ones(t, t, dtype=torch.bool).tril()
        # attend to earlier real items; padding rows attend to themselves (avoids NaN)
        mask = (causal[None] & valid[:, None, :]) | torch.eye(t, dtype=torch.bool)[None]
        mask = mask[:, None]
        for i, block in enumerate(self.blocks):
            if last and i == len(self.blocks) - 1:
                x = block(x, mask, last=True) * valid[:, -1:, None]
            else:
                x = block(x, mask) * valid[..., None]
        return self.norm(x) if self.norm_first else x


class _Forward(nn.Module):
    """One training forward pass as a module, so data-parallel training can wrap it."""

    def __init__(self, net: _Net) -> None:
        super().__init__()
        self.net = net

    def forward(self, seq: torch.Tensor, last: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        table = self.net.table()  # once per step: with text, a projection of every item
        return self.net(seq, table, last), table


def _attr_bags(train: TrainSet, rows: int) -> tuple[torch.Tensor, torch.Tensor] | None:
    """The items' attributes as EmbeddingBag input: attribute ids renumbered 0..A-1 and one
    offset per table row (rows past the catalogue and items without attributes get empty
    bags). None, with a warning, when the data has no attributes."""
    if train.item_attrs is None or not any(len(a) for a in train.item_attrs[1:]):
        warnings.warn("the training data has no item attributes (item_attributes.json): "
                      "attributes = true has nothing to use, so this SASRec trains without",
                      UserWarning, stacklevel=3)
        return None
    per = [np.unique(np.asarray([] if a is None else a, dtype=np.int64))
           for a in train.item_attrs[: train.n_items + 1]]
    per[0] = per[0][:0]  # row 0 pads
    sizes = np.zeros(rows, dtype=np.int64)
    sizes[: len(per)] = [len(a) for a in per]
    _, ids = np.unique(np.concatenate(per), return_inverse=True)
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    return torch.from_numpy(ids.astype(np.int64)), torch.from_numpy(offsets)


def _zscore(x: torch.Tensor) -> torch.Tensor:
    """Standardise each row (scores of two sources share no scale otherwise)."""
    return (x - x.mean(1, keepdim=True)) / (x.std(1, keepdim=True) + 1e-6)


def _distribution(s: torch.Tensor) -> torch.Tensor:
    """A next-item distribution from scores over the real items: the softmax of each row
    standardised (what the co-occurrence mixture and ensemble averaging work on)."""
    return torch.softmax(_zscore(s), dim=1)


def _pca_init(text: torch.Tensor, dim: int) -> torch.Tensor:
    """Text vectors reduced to ``dim`` principal components, scaled to the std (0.02) of a
    fresh embedding; rows without text stay 0."""
    has = text.abs().sum(1) > 0
    x = text[has] - text[has].mean(0)
    _, _, v = torch.linalg.svd(x, full_matrices=False)
    z = x @ v[:dim].T
    if z.shape[1] < dim:
        z = torch.cat([z, torch.zeros(len(z), dim - z.shape[1])], 1)
    out = torch.zeros(len(text), dim)
    out[has] = z / z.std().clamp(min=1e-8) * 0.02
    return out


def _windows(seqs: Sequences, max_len: int) -> np.ndarray:
    """Left-padded training windows of ``max_len + 1`` items (inputs ``[:-1]``, targets
    ``[1:]``): the newest window of every sequence, plus older windows of sequences longer
    than one window, so every item but each user's first is a target exactly once."""
    width = max_len + 1
    rows = np.flatnonzero(seqs.lengths >= 2)
    parts = [seqs.padded(width, rows)]
    extra = []
    for r in np.flatnonzero(seqs.lengths > width):  # few users; not a hot path
        items = seqs[r]
        for end in range(len(items) - max_len, 1, -max_len):
            extra.append(items[max(0, end - width) : end])
    if extra:
        parts.append(Sequences.from_lists(extra).padded(width))
    return np.concatenate(parts)


def _prefix_samples(lengths: np.ndarray, max_len: int) -> tuple[np.ndarray, np.ndarray]:
    """Every target of left-padded windows (``lengths`` targets each, the newest in column
    ``max_len``) as (row, column) pairs."""
    rows = np.repeat(np.arange(len(lengths)), lengths)
    first = np.repeat(np.cumsum(lengths) - lengths, lengths)
    cols = max_len + 1 - lengths[rows] + (np.arange(len(rows)) - first)
    return rows, cols


def _prefix_windows(
    padded: np.ndarray, rows: np.ndarray, cols: np.ndarray, t: int, max_len: int
) -> np.ndarray:
    """Windows of ``t`` inputs plus the target for samples ``(rows, cols)``, cut from
    windows left-padded by ``max_len`` more columns (``padded``)."""
    c = cols[:, None] + max_len
    return padded[rows[:, None], c - t + np.arange(t + 1)]


class _Views:
    """How a recipe reaches training: ``online`` augments each batch's windows before the
    next-item loss; ``contrastive`` adds an InfoNCE loss between two augmented views of each
    input (CL4SRec) or, with ``supervised``, between an input and another training window
    with the same final target (DuoRec's supervised positives)."""

    def __init__(self, recipe: Any, train: TrainSet) -> None:
        opts = recipe.train
        self.mode = opts.get("mode", "online")
        self.weight = float(opts.get("cl_weight", 0.1))
        self.temperature = float(opts.get("cl_temperature", 1.0))
        self.similarity = str(opts.get("cl_similarity", "dot"))
        self.supervised = bool(opts.get("supervised", False))
        self.soft = float(opts.get("soft_labels", 0.0))
        self.neighbors = None
        if self.soft > 0:
            from shopaug.augment import cooccurrence_neighbors

            # label augmentation: part of each target's mass goes to its co-occurrence
            # neighbours in the training sequences
            self.neighbors = torch.from_numpy(
                cooccurrence_neighbors(train.sequences, train.n_items, k=10, window=3))
        self.aug = None
        if recipe.augment:
            from shopaug.augment import build

            self.aug = build(recipe.augment).fit(train)

    @classmethod
    def from_recipe(cls, recipe: Any, train: TrainSet) -> _Views | None:
        if recipe is None or recipe.train.get("mode", "online") == "offline":
            return None  # offline recipes were applied to the training set already
        if (recipe.train.get("mode", "online") == "online" and not recipe.train.get(
                "soft_labels") and recipe.augment.get("op") == "identity"):
            return None  # nothing to do per batch (e.g. a knowledge-only recipe)
        return cls(recipe, train)

    def prepare(self, fetch: Callable[[np.ndarray, int], np.ndarray], n: int) -> None:
        """For supervised positives: ``fetch(samples, t)`` gives training samples as windows
        of ``t`` inputs plus their final target; ``n`` samples in all."""
        self.fetch = fetch
        last = fetch(np.arange(n), 0)[:, -1]
        self.order = np.argsort(last, kind="stable")
        sorted_last = last[self.order]
        self.start = np.searchsorted(sorted_last, last, side="left")
        self.count = np.searchsorted(sorted_last, last, side="right") - self.start
        self.last = last

    def soft_ce(self, logits: torch.Tensor, tgt: torch.Tensor) -> torch.Tensor:
        """Cross-entropy against ``(1 - soft)`` on the target plus ``soft`` spread evenly
        over its training co-occurrence neighbours (column j is item j + 1)."""
        logp = F.log_softmax(logits, dim=-1)
        hard = -logp.gather(1, (tgt - 1)[:, None])[:, 0]
        nb = self.neighbors[tgt]  # (n, k), 0 = no neighbour
        has = nb > 0
        nb_logp = logp.gather(1, (nb - 1).clamp(min=0)) * has
        soft = -nb_logp.sum(1) / has.sum(1).clamp(min=1)
        w = self.soft * has.any(1)
        return ((1 - w) * hard + w * soft).mean()

    def augment(self, w: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return self.aug(w, rng)

    def loss(
        self, net: _Net, idx: np.ndarray, w: np.ndarray, h_all: torch.Tensor,
        rng: np.random.Generator, table: torch.Tensor,
    ) -> torch.Tensor:
        from shopaug.training.contrastive import info_nce

        inp = w[:, :-1]
        groups = torch.from_numpy(self.last[idx])
        if self.supervised:
            # another window with the same target (itself when it is the only one)
            pick = self.start[idx] + (rng.random(len(idx)) * self.count[idx]).astype(np.int64)
            other = self.order[pick]
            t = inp.shape[1]
            a = h_all[:, -1]
            # partners are cut to this batch's width (their newest items)
            b = net(torch.from_numpy(self.fetch(other, t)[:, :-1]), table, last=True)[:, -1]
        else:
            a = net(torch.from_numpy(self.aug(inp, rng)), table, last=True)[:, -1]
            b = net(torch.from_numpy(self.aug(inp, rng)), table, last=True)[:, -1]
        return info_nce(
            a, b, temperature=self.temperature, similarity=self.similarity, groups=groups
        )


BLEND_GRID = (0.0, 0.1, 0.2, 0.3, 0.5)
COOC_GRID = (0.0, 0.05, 0.1, 0.15, 0.2)
# the co-occurrence expert of ``cooc_blend``: the ``itemknn`` preset's settings
COOC_KNN = {"neighbors": 200, "recency": 0.6}


class SASRec(BaseRecommender):
    """Transformer next-item model; see the module docstring."""

    name = "sasrec"
    Config = SASRecConfig
    blend_: float = 0.0
    mix_: float = 0.0
    cooc_: Any = None
    members_: tuple[SASRec, ...] = ()  # the trained networks when ``members > 1``
    _desc = "sasrec"  # progress bar label

    @property
    def vector_scoring(self) -> bool:
        """Whether ``score`` is ``query_vectors @ item_vectors.T`` (no late fusion, one
        member), so an ANN index over the item vectors ranks as ``score`` does."""
        return not (self.blend_ or self.mix_ or self.members_)

    @property
    def probability_scores(self) -> bool:
        """Whether ``score`` returns probabilities (``cooc_blend`` on, or an ensemble)
        rather than logits."""
        return bool(self.mix_ or self.members_)

    def fit(self, train: TrainSet, options: TrainOptions | None = None) -> Self:
        options = options or TrainOptions()
        # a refit validates its epochs (and its text blend) as a first fit does: without the
        # previous fit's late fusions
        self.blend_, self.mix_, self.cooc_ = 0.0, 0.0, None
        if options.recipe is not None and "text" in options.recipe.train:
            # a recipe's knowledge source becomes part of the model (and of its saved config)
            self.config = dataclasses.replace(self.config, text=options.recipe.train["text"])
        if self.config.members > 1:
            return self._fit_members(train, options)
        self.members_ = ()
        cfg = self.config
        dist = options.dist
        rng = make_rng(options.seed)
        # data-parallel ranks share the epoch plan (``plan``) but draw their own augmentation
        # and negatives (``rng``); a single process keeps one stream for both
        plan = rng if dist is None else make_rng(np.random.SeedSequence([options.seed, 0xD1]))
        if dist is not None:
            rng = make_rng(np.random.SeedSequence([options.seed, 0xD2, dist.rank]))
        torch.manual_seed(options.seed)  # same initial weights on every rank
        warm = options.warm_start and getattr(self, "net_", None) is not None
        if warm and self.n_items_ != train.n_items:
            raise ValueError(f"warm start needs the same catalogue: the model has "
                             f"{self.n_items_} items, the training set {train.n_items}")
        self.n_items_, self.n_users_ = train.n_items, train.n_users
        n = train.n_items
        views = _Views.from_recipe(options.recipe, train)
        if not warm:
            text = None
            if cfg.text != "none":
                from shopaug.augment.knowledge import item_embeddings, item_texts

                if (item_texts(train)[1:] != "").any():
                    text = torch.from_numpy(item_embeddings(train, options.encoder))
                else:
                    warnings.warn(f"the training data has no item text (items.tsv 'text' "
                                  f"column): text = '{cfg.text}' has nothing to use, so this "
                                  "SASRec learns from item ids only", UserWarning,
                                  stacklevel=2)
            extra = 1 if views is not None else 0
            self.net_ = _Net(n, cfg, extra=extra, text=text,
                             attrs=_attr_bags(train, n + 1 + extra) if cfg.attributes else None)
        forward: nn.Module = _Forward(self.net_)
        if dist is not None:
            forward = dist.wrap(forward)
        opt = torch.optim.AdamW(self.net_.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        sampler = fit_sampler(cfg.sampler, train, options) if cfg.loss != "ce" else None
        windows = _windows(train.sequences, cfg.max_len)
        lengths = (windows > 0).sum(1) - 1
        prefixes = cfg.samples == "prefixes"
        if prefixes:
            # one sample per target, kept as (window row, target column) index pairs rather
            # than materialised prefixes (max_len times the memory at scale); left padding of
            # max_len lets a prefix be cut to any width by one fancy index
            rows, cols = _prefix_samples(lengths, cfg.max_len)
            lengths = cols - (cfg.max_len - lengths[rows])  # input items of each prefix
            padded = np.pad(windows, ((0, 0), (cfg.max_len, 0)))

        def fetch(idx: np.ndarray, t: int) -> np.ndarray:
            """Samples ``idx`` as windows of their newest ``t`` inputs plus the target."""
            if prefixes:
                return _prefix_windows(padded, rows[idx], cols[idx], t, cfg.max_len)
            return windows[idx, -(t + 1) :]

        if views is not None:
            views.prepare(fetch, len(lengths))

        # data-parallel ranks each take 1/world of a batch: the averaged gradient is that of
        # one batch of ``batch_size``, and an epoch has as many steps as in one process
        bs = cfg.batch_size if dist is None else max(1, cfg.batch_size // dist.world)

        def batches(epoch: int) -> list:
            # Bucket by length so each batch is padded only to its own longest sequence.
            order = plan.permutation(len(lengths))
            chunk = cfg.batch_size * 64
            out = []
            for s in range(0, len(order), chunk):
                part = order[s : s + chunk]
                part = part[np.argsort(lengths[part], kind="stable")]
                out += [part[i : i + bs] for i in range(0, len(part), bs)]
            out = [out[i] for i in plan.permutation(len(out))]
            return out if dist is None else dist.shard(out)

        def step(idx: np.ndarray) -> torch.Tensor:
            t = int(lengths[idx].max())
            w_np = fetch(idx, t)
            if views is not None and views.mode == "online":
                w_np = views.augment(w_np, rng)
            w = torch.from_numpy(w_np)
            inp, tgt = w[:, :-1], w[:, 1:].clone()
            tgt[tgt > n] = 0  # a masked item is never a target
            if prefixes:
                tgt = tgt[:, -1:]  # a prefix trains its last position only
            h_all, table = forward(inp, last=prefixes)
            loss = next_item_loss(h_all, tgt, table[: n + 1])
            if views is not None and views.mode == "contrastive":
                loss = loss + views.weight * views.loss(self.net_, idx, w_np, h_all, rng, table)
            return loss

        def next_item_loss(
            h_all: torch.Tensor, tgt: torch.Tensor, emb: torch.Tensor
        ) -> torch.Tensor:
            real = tgt > 0
            h, tgt_real = h_all[real], tgt[real]
            if not len(tgt_real):
                return h_all.sum() * 0.0
            if cfg.loss == "ce" and views is not None and views.neighbors is not None:
                return views.soft_ce(h @ emb[1:].T, tgt_real)
            if cfg.loss == "ce":
                # score real items only (column j is item j + 1), so padding never competes
                return F.cross_entropy(
                    h @ emb[1:].T, tgt_real - 1, label_smoothing=cfg.label_smoothing
                )
            tgt = tgt_real
            tgt_np = tgt.numpy()
            if cfg.loss == "sampled":
                from shopaug.augment.negatives import sampled_softmax_logits

                pick = tgt_np[rng.integers(len(tgt_np), size=1)]
                shared = sampler.sample(pick, cfg.negatives, rng)[0]
                neg_items = np.broadcast_to(shared, (len(tgt_np), cfg.negatives))
                logits = sampled_softmax_logits(
                    (h * emb[tgt]).sum(-1), h @ emb[torch.from_numpy(shared)].T,
                    tgt_np, neg_items, sampler,
                )
                return F.cross_entropy(logits, torch.zeros(len(tgt), dtype=torch.long))
            neg = torch.from_numpy(sampler.sample(tgt_np, cfg.negatives, rng))
            pos_logit = (h * emb[tgt]).sum(-1)
            neg_logit = torch.einsum("nd,nkd->nk", h, emb[neg])
            return F.binary_cross_entropy_with_logits(
                pos_logit, torch.ones_like(pos_logit)
            ) + F.binary_cross_entropy_with_logits(neg_logit, torch.zeros_like(neg_logit))

        epochs = options.epochs or cfg.epochs
        sched = None
        if cfg.schedule == "cosine":
            sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
        self.history_ = run_epochs(
            model=self, module=self.net_, optimizer=opt, batches=batches, step=step,
            epochs=epochs, options=options, desc=self._desc, scheduler=sched,
        )
        if self.net_.fuse or self.net_.attr is not None:
            # items without training interactions only ever got pushed down as negatives;
            # clearing their ID rows leaves them represented by their text and attributes
            unseen = torch.from_numpy(np.flatnonzero(train.item_counts() == 0))
            with torch.no_grad():
                self.net_.item.weight[unseen[unseen > 0]] = 0.0
        if self.net_.fuse:
            if self.config.text_blend != "auto":
                self.blend_ = float(self.config.text_blend)
            elif options.validate is not None:
                self.choose_blend(options.validate)
        if self.config.cooc_blend != 0:
            from shopaug.models.itemknn import ItemKNN

            self.cooc_ = ItemKNN(**COOC_KNN).fit(train)
            if self.config.cooc_blend != "auto":
                self.mix_ = float(self.config.cooc_blend)
            elif options.validate is not None:
                self.choose_mix(options.validate)
        return self

    def _fit_members(self, train: TrainSet, options: TrainOptions) -> Self:
        """Train ``config.members`` single networks (see ``SASRecConfig.members``)."""
        k = self.config.members
        one = dataclasses.replace(self.config, members=1)
        warm = options.warm_start and len(self.members_) == k
        members = list(self.members_) if warm else [SASRec(one) for _ in range(k)]
        start = time.perf_counter()
        self.history_ = []
        for i, m in enumerate(members):
            budget = options.time_budget
            if budget is not None:  # what is left, shared by the members still to train
                budget = max(0.0, budget - (time.perf_counter() - start)) / (k - i)
            ckpt = options.checkpoint_dir
            m.config = one
            m._desc = f"sasrec {i + 1}/{k}:"
            log = options.log
            m.fit(train, dataclasses.replace(
                options, seed=member_seed(options.seed, i), time_budget=budget,
                checkpoint_dir=None if ckpt is None else Path(ckpt) / f"member{i}",
                log=None if log is None else functools.partial(_tag, log, i),
            ))
            self.history_ += [{**h, "member": i} for h in m.history_]
        self.members_ = tuple(members)
        self.n_items_, self.n_users_ = train.n_items, train.n_users
        return self

    def _score_members(self, users: np.ndarray, histories: Sequences) -> np.ndarray:
        """The mean of the members' next-item distributions (column 0 and empty histories
        score 0, as a single model's do)."""
        out = np.zeros((len(histories), self.n_items_ + 1), dtype=np.float32)
        for m in self.members_:
            s = torch.from_numpy(m.score(users, histories)[:, 1:])
            p = s if m.probability_scores else _distribution(s)
            out[:, 1:] += p.numpy() / len(self.members_)
        out[histories.lengths == 0] = 0.0
        return out

    def choose_mix(
        self, validate: Any, grid: tuple[float, ...] = COOC_GRID
    ) -> dict[float, float]:
        """Set the co-occurrence mixture weight (``cooc_blend``) to the best of ``grid`` by
        ``validate(model)``, as ``choose_blend`` does for the text blend; ``fit`` calls it
        with ``auto`` after choosing the text blend."""
        self._check_fitted()
        if self.cooc_ is None:
            raise ValueError("choose_mix needs a model fitted with cooc_blend != 0")
        return self._choose("mix_", "cooc_blend", validate, grid)

    def choose_blend(
        self, validate: Any, grid: tuple[float, ...] = BLEND_GRID
    ) -> dict[float, float]:
        """Set the late-fusion weight (``text_blend``) to the best of ``grid`` by
        ``validate(model)`` (validation NDCG@10; ties go to the smaller weight) and return
        every weight's figure. Needs a ``fuse`` model; ``fit`` calls it with ``auto``."""
        self._check_fitted()
        if not self.net_.fuse:
            raise ValueError("text_blend needs a model trained with text='fuse'")
        return self._choose("blend_", "text_blend", validate, grid)

    def _choose(
        self, attr: str, option: str, validate: Any, grid: tuple[float, ...]
    ) -> dict[float, float]:
        """Try each weight of ``grid`` in ``attr``, keep the best by ``validate`` (ties go
        to the smaller weight) and record every figure in ``history_`` under ``option``."""
        figures = {}
        for w in grid:
            setattr(self, attr, w)
            figures[w] = float(validate(self))
        setattr(self, attr, max(grid, key=lambda w: (figures[w], -w)))
        self.history_.append({option: {str(w): f for w, f in figures.items()},
                              "chosen": getattr(self, attr)})
        return figures

    def score(self, users: np.ndarray, histories: Sequences) -> np.ndarray:
        self._check_fitted()
        if self.members_:
            return self._score_members(users, histories)
        out = np.zeros((len(histories), self.n_items_ + 1), dtype=np.float32)
        has = np.flatnonzero(histories.lengths > 0)  # empty histories score 0 everywhere
        if not len(has):
            return out
        # Sort by length and pad each chunk to its own longest history: most users are short.
        has = has[np.argsort(histories.lengths[has], kind="stable")]
        self.net_.eval()
        blend = self.blend_ if self.net_.fuse else 0.0
        with torch.no_grad():
            full = self.net_.table()
            table = full[: self.n_items_ + 1]
            for start in range(0, len(has), 256):
                rows = has[start : start + 256]
                t = int(min(histories.lengths[rows].max(), self.config.max_len))
                inp = torch.from_numpy(histories.padded(t, rows))
                h = self.net_(inp, full, last=True)[:, -1]
                s = h @ table.T
                if blend > 0 or self.mix_ > 0:
                    chunk = histories.rows(rows)
                if blend > 0:
                    s = _zscore(s) + blend * _zscore(self._text_scores(chunk))
                if self.mix_ > 0:
                    s = self._mix(s, chunk)
                out[rows] = s.numpy()
        return out

    def _mix(self, s: torch.Tensor, histories: Sequences) -> torch.Tensor:
        """``(1 - w) p_model + w p_cooc`` over the real items (column 0 is padding). Kept as a
        probability, not its log: every score stays > 0, above the 0 that the ``zero``
        history convention gives history items, as with the unmixed model's top items."""
        w = self.mix_
        p = _distribution(s[:, 1:])
        k = torch.from_numpy(self.cooc_.score(None, histories)[:, 1:]).clamp(min=0)
        k = k / k.sum(1, keepdim=True).clamp(min=1e-12)
        out = torch.empty_like(s)
        out[:, 0] = s[:, 0]
        out[:, 1:] = (1 - w) * p + w * k
        return out

    def item_vectors(self) -> np.ndarray:
        """(n_items + 1, dim) item vectors: ``score = query_vectors @ item_vectors.T`` when
        ``vector_scoring`` (serving retrieves top items from them by ANN). An ensemble's are
        its members' side by side: with its ``query_vectors`` their product is the members'
        mean logit."""
        self._check_fitted()
        if self.members_:
            return np.concatenate([m.item_vectors() for m in self.members_], axis=1)
        with torch.no_grad():
            return self.net_.table()[: self.n_items_ + 1].numpy().copy()

    def query_vectors(self, histories: Sequences) -> np.ndarray:
        """(len(histories), dim) last hidden state per history (zeros for empty ones); an
        ensemble's are its members' side by side, divided by their number."""
        self._check_fitted()
        if self.members_:
            k = len(self.members_)
            return np.concatenate([m.query_vectors(histories) / k for m in self.members_], axis=1)
        out = np.zeros((len(histories), self.config.dim), dtype=np.float32)
        has = np.flatnonzero(histories.lengths > 0)
        if not len(has):
            return out
        if self.net_.training:
            self.net_.eval()
        with torch.inference_mode():
            full = self.net_.table()
            for start in range(0, len(has), 256):
                rows = has[start : start + 256]
                t = int(min(histories.lengths[rows].max(), self.config.max_len))
                inp = torch.from_numpy(histories.padded(t, rows))
                out[rows] = self.net_(inp, full, last=True)[:, -1]
        return out

    def log_likelihood(self, histories: Sequences, batch: int = 256) -> np.ndarray:
        """Mean log-probability of each next item given the items before it, per history
        (the last ``max_len`` items; NaN for histories shorter than 2). Membership-inference
        attacks threshold on it: a model tends to give its training sequences higher
        likelihood than unseen ones. An ensemble gives its members' mean."""
        self._check_fitted()
        if self.members_:
            return np.mean([m.log_likelihood(histories, batch) for m in self.members_], axis=0)
        out = np.full(len(histories), np.nan)
        has = np.flatnonzero(histories.lengths > 1)
        if self.net_.training:
            self.net_.eval()
        with torch.inference_mode():
            full = self.net_.table()
            table = full[: self.n_items_ + 1]
            for start in range(0, len(has), batch):
                rows = has[start : start + batch]
                t = int(min(histories.lengths[rows].max(), self.config.max_len + 1))
                w = torch.from_numpy(histories.padded(t, rows))
                inp, tgt = w[:, :-1], w[:, 1:]
                logp = torch.log_softmax(self.net_(inp, full) @ table[1:].T, dim=-1)
                real = (tgt > 0) & (inp > 0)  # a next item after at least one real item
                got = logp.gather(2, (tgt - 1).clamp(min=0)[..., None])[..., 0] * real
                out[rows] = (got.sum(1) / real.sum(1).clamp(min=1)).numpy()
        return out

    def _text_scores(self, histories: Sequences) -> torch.Tensor:
        from shopaug.augment.knowledge import profile_embeddings

        text = self.net_.text[: self.n_items_ + 1]
        prof = profile_embeddings(histories, text.numpy())
        return torch.from_numpy(prof) @ text.T

    def _state(self) -> dict[str, np.ndarray]:
        if self.members_:
            return {f"member{i}.{k}": v for i, m in enumerate(self.members_)
                    for k, v in m._state().items()}
        state = state_to_numpy(self.net_)
        if self.blend_:
            state["text_blend"] = np.array([self.blend_], dtype=np.float64)
        if self.mix_:
            state["cooc_blend"] = np.array([self.mix_], dtype=np.float64)
            state.update({f"cooc.{k}": v for k, v in self.cooc_._state().items()})
        return state

    def _set_state(self, state: dict[str, np.ndarray]) -> None:
        state = dict(state)
        self.members_ = ()
        if self.config.members > 1:
            one = dataclasses.replace(self.config, members=1)
            members = []
            for i in range(self.config.members):
                m = SASRec(one)
                m.n_items_, m.n_users_ = self.n_items_, self.n_users_
                prefix = f"member{i}."
                m._set_state({k[len(prefix):]: v for k, v in state.items()
                              if k.startswith(prefix)})
                members.append(m)
            self.members_ = tuple(members)
            return
        self.blend_ = float(state.pop("text_blend", np.zeros(1))[0])
        self.mix_ = float(state.pop("cooc_blend", np.zeros(1))[0])
        cooc = {k[5:]: state.pop(k) for k in list(state) if k.startswith("cooc.")}
        self.cooc_ = None
        if self.mix_:
            from shopaug.models.itemknn import ItemKNN

            self.cooc_ = ItemKNN(**COOC_KNN)
            self.cooc_.n_items_, self.cooc_.n_users_ = self.n_items_, self.n_users_
            self.cooc_._set_state(cooc)
        extra = state["item.weight"].shape[0] - (self.n_items_ + 1)
        text = None
        if "text" in state:
            text = torch.from_numpy(state["text"][: self.n_items_ + 1])
        attrs = None
        if "attr_ids" in state:
            attrs = (torch.from_numpy(state["attr_ids"]), torch.from_numpy(state["attr_offsets"]))
        self.net_ = _Net(self.n_items_, self.config, extra=extra, text=text, attrs=attrs)
        self.net_.load_state_dict(numpy_to_state(state))
        self.net_.eval()


def member_seed(seed: int, i: int) -> int:
    """Seed of ensemble member ``i``: the run's own for member 0 (so a one-member model and
    the first member of an ensemble train alike), a derived one for the others."""
    if i == 0:
        return seed
    return int(np.random.SeedSequence([seed, 0xE5, i]).generate_state(1)[0] >> 1)


def _tag(log: Callable[[dict], None], member: int, record: dict) -> None:
    log({**record, "member": member})
