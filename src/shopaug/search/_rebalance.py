"""Re-balancing imbalanced relevance labels: resamplers, class weights and probability
re-calibration for a (query, product) relevance classifier, judged by macro-F1, AUC, NDCG
and calibration (Brier score, log loss).

Classes. Home Depot labels are the mean of at least three raters on 1..3 (3 exact, 2 partly
relevant, 1 irrelevant), so they take values such as 1.33, 2.33 and 2.67. With the default
edges (2.0, 2.6) the 52,231 bundled pairs fall into:

    low   relevance < 2     (1, 1.25, 1.33, 1.5, 1.67, 1.75)   8,400 pairs  16.1%
    mid   2 <= relevance < 2.6  (2, 2.25, 2.33, 2.5)           19,726 pairs  37.8%
    high  relevance >= 2.6  (2.67, 2.75, 3)                    24,105 pairs  46.2%

The binary task uses the project's "relevant" rule (:func:`evaluate_rankings`: gain >= 0.5,
that is relevance >= 2 on 1..3): 43,831 relevant pairs (83.9%) against 8,400. There the
minority class is "not relevant", so the majority that negative down-sampling thins is the
relevant one: :class:`RebalancedClassifier` always under-samples the larger class, and the
re-calibration is written for the probability of the smaller one.

Requirements:
    scikit-learn and imbalanced-learn (imported on first use); a text encoder with
    ``encode(texts) -> (n, dim)`` (default: the cached MiniLM :class:`~shopaug.lm.TextEncoder`).
Relations:
    Features use :class:`LexicalIndex` (BM25) and the encoder; NDCG comes from
    :func:`evaluate_rankings` in judged-pool mode (each held-out query's judged products are
    re-ranked, gains as there); the split is :meth:`Judgments.split` (by query).
References:
    Elkan (2001), "The foundations of cost-sensitive learning" (prior correction);
    Dal Pozzolo, Caelen, Johnson, Bontempi (2015), "Calibrating probability with
    undersampling for unbalanced classification"; Chawla et al. (2002), SMOTE.
Example:
    >>> table = compare_rebalancing(catalog, judgments, seed=0)  # doctest: +SKIP
    >>> table["methods"]["binary_downsample+recal"]["brier_relevant"]  # doctest: +SKIP
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Self

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sp

from shopaug.columns import EVENT_TYPES
from shopaug.exceptions import ShopaugError
from shopaug.random import derive_seed
from shopaug.search._catalog import Catalog, Judgments
from shopaug.search._lexical import LexicalIndex
from shopaug.search._metrics import evaluate_rankings

Method = Literal["none", "random_over", "smote", "random_under", "class_weight"]
#: Re-balancing methods of :class:`RebalancedClassifier`.
REBALANCE_METHODS: tuple[Method, ...] = (
    "none", "random_over", "smote", "random_under", "class_weight"
)
#: Rows of :func:`compare_rebalancing`: the methods on three classes, then the binary task
#: (relevant or not) without re-balancing and with down-sampling of its majority class.
COMPARE_METHODS: tuple[str, ...] = (*REBALANCE_METHODS, "binary_none", "binary_downsample")
_BINARY = {"binary_none": "none", "binary_downsample": "random_under"}
CLASS_NAMES = ("low", "mid", "high")
BINARY_NAMES = ("not_relevant", "relevant")
#: Columns of :attr:`PairFeatures.x`.
FEATURE_NAMES = ("bm25", "cosine", "query_terms", "title_terms", "overlap")
#: Columns of :func:`event_features`.
EVENT_FEATURES = ("item_count", "user_count", "position", "repeats")

# Labels such as 2.33 must not miss an edge by float rounding (as in _metrics.py).
_EPS = 1e-9
# log(0) guard for log loss.
_CLIP = 1e-15


@dataclass(frozen=True)
class RebalanceConfig:
    """How labels are classed, which classifier learns them and what the table reports.

    Attributes:
        edges: class boundaries: low < ``edges[0]`` <= mid < ``edges[1]`` <= high.
        relevant_at: relevance at which a pair is relevant in the binary task; one of
            ``edges``, so that P(relevant) of the 3-class model is a sum of its classes.
            2.0 is :func:`evaluate_rankings`' rule (gain >= 0.5 on 1..3).
        model: ``hgb`` (HistGradientBoosting, no early stopping: its validation split would
            hold copies of over-sampled rows) or ``logreg`` (LogisticRegression).
        max_iter: boosting rounds (hgb) or solver iterations (logreg).
        pca_dim: principal components of the query * title vector product appended to the
            features (0: none); the PCA is fit on training pairs only.
        under_ratio: minority / majority count after random under-sampling of a two-class
            task (1.0 balances); three classes are always under-sampled to the smallest.
        k_neighbors: SMOTE neighbours (capped at the smallest class size - 1).
        recalibrate: add a ``+recal`` row (prior correction) after every method that
            changes the class balance the model sees.
        ndcg_k: cut-off of NDCG.
    """

    edges: tuple[float, float] = (2.0, 2.6)
    relevant_at: float = 2.0
    model: Literal["hgb", "logreg"] = "hgb"
    max_iter: int = 200
    pca_dim: int = 8
    under_ratio: float = 1.0
    k_neighbors: int = 5
    recalibrate: bool = True
    ndcg_k: int = 10

    def __post_init__(self) -> None:
        if len(self.edges) != 2 or not self.edges[0] < self.edges[1]:
            raise ValueError(f"edges must be two increasing numbers, got {self.edges!r}")
        if not any(abs(self.relevant_at - e) < _EPS for e in self.edges):
            raise ValueError(f"relevant_at must be one of edges {self.edges}, got "
                             f"{self.relevant_at}")
        if self.model not in ("hgb", "logreg"):
            raise ValueError(f"model must be 'hgb' or 'logreg', got {self.model!r}")
        if self.max_iter < 1 or self.pca_dim < 0 or self.k_neighbors < 1 or self.ndcg_k < 1:
            raise ValueError("max_iter, k_neighbors and ndcg_k must be >= 1, pca_dim >= 0")
        if not 0.0 < self.under_ratio <= 1.0:
            raise ValueError(f"under_ratio must be in (0, 1], got {self.under_ratio}")


def relevance_classes(relevance: np.ndarray, edges: Sequence[float] = (2.0, 2.6)) -> np.ndarray:
    """Class per label (int64): 0 below ``edges[0]``, 1 up to ``edges[1]``, 2 from it on.

    A label within 1e-9 of an edge counts as reaching it.
    """
    return np.searchsorted(np.asarray(edges, float), np.asarray(relevance, float) + _EPS,
                           side="right").astype(np.int64)


def split_by_query(
    judgments: Judgments, held_frac: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Row positions ``(train, held)`` of :meth:`Judgments.split` (same held-out queries):
    no query has rows on both sides."""
    _, held = judgments.split(held_frac, seed)
    mask = np.asarray(pc.is_in(pa.array(judgments.query.tolist(), pa.string()),
                               value_set=pa.array(held.queries(), pa.string())), dtype=bool)
    return np.flatnonzero(~mask), np.flatnonzero(mask)


# --- features --------------------------------------------------------------------------


@dataclass(frozen=True)
class PairFeatures:
    """Features of judged (query, product) pairs, one row per judgment row.

    Attributes:
        x: ``(n, 5)`` float64, columns :data:`FEATURE_NAMES`: BM25 of the product for the
            query; cosine of the unit query and title vectors; analyzed terms in the query
            and in the title (repeats count); share of the query's distinct terms that the
            title holds (0 for a query without terms).
        product: ``(n, dim)`` float32 elementwise product of the unit query and title
            vectors (its row sum is the cosine); the input of the PCA features.
    """

    x: np.ndarray
    product: np.ndarray


def pair_features(
    catalog: Catalog,
    judgments: Judgments,
    *,
    encoder: Any,
    lexical: LexicalIndex | None = None,
) -> PairFeatures:
    """Compute :class:`PairFeatures` for every judgment row.

    Only the distinct judged queries and products are analyzed and encoded; pair rows are
    gathered from them.

    Args:
        catalog: holds every judged product.
        judgments: the pairs.
        encoder: ``encode(texts) -> (n, dim)``; rows are normalised here, so any scale works.
        lexical: BM25 already fitted on ``catalog.texts()`` (default: fitted here); its
            analyzer also gives the term counts and overlap.

    Raises:
        ValueError: for no judgments, or judged products the catalogue lacks.
    """
    if not len(judgments):
        raise ValueError("no judgments")
    pos = catalog.index_of(judgments.product_id)
    if (pos < 0).any():
        bad = judgments.product_id[pos < 0]
        raise ValueError(f"{len(bad)} judged products are not in the catalogue, e.g. {bad[0]!r}")
    queries, q_of = np.unique(judgments.query.astype(str), return_inverse=True)
    products, p_of = np.unique(pos, return_inverse=True)
    titles = [catalog.titles[i] for i in products]
    lexical = lexical or LexicalIndex().fit(catalog.texts())

    q_terms, t_terms = lexical.analyzer(queries.tolist()), lexical.analyzer(titles)
    q_len = np.array([len(t) for t in q_terms], dtype=np.float64)
    t_len = np.array([len(t) for t in t_terms], dtype=np.float64)
    q_set, t_set = _term_sets(q_terms, t_terms)
    shared = np.asarray(q_set[q_of].multiply(t_set[p_of]).sum(axis=1)).ravel()
    distinct = np.asarray(q_set.sum(axis=1)).ravel()[q_of]
    overlap = np.divide(shared, distinct, out=np.zeros(len(pos)), where=distinct > 0)

    qv, tv = _unit(encoder.encode(queries.tolist())), _unit(encoder.encode(titles))
    product = qv[q_of] * tv[p_of]
    x = np.column_stack([_bm25(lexical, queries, q_of, pos), product.sum(axis=1),
                         q_len[q_of], t_len[p_of], overlap]).astype(np.float64)
    return PairFeatures(x=x, product=product)


def _unit(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, dtype=np.float32)
    n = np.linalg.norm(v, axis=1, keepdims=True)
    return v / np.where(n == 0, 1, n)


def _term_sets(*groups: list[list[str]]) -> list[sp.csr_matrix]:
    """One binary text x term matrix per group, over a vocabulary shared by all groups."""
    vocab: dict[str, int] = {}
    coo = []
    for lists in groups:
        cols = np.array([vocab.setdefault(t, len(vocab)) for terms in lists for t in terms],
                        dtype=np.int64)
        rows = np.repeat(np.arange(len(lists)), [len(terms) for terms in lists])
        coo.append((rows, cols, len(lists)))
    out = []
    for rows, cols, n in coo:
        m = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, len(vocab)))
        m.sum_duplicates()
        m.data[:] = 1.0  # distinct terms: a repeated word counts once in the overlap
        out.append(m)
    return out


def _bm25(lexical: LexicalIndex, queries: np.ndarray, q_of: np.ndarray,
          pos: np.ndarray) -> np.ndarray:
    """BM25 per pair: each query's judged products as one padded candidate row."""
    counts = np.bincount(q_of, minlength=len(queries))
    order = np.argsort(q_of, kind="stable")
    rank = np.empty(len(q_of), dtype=np.int64)
    rank[order] = np.arange(len(q_of)) - np.repeat(np.cumsum(counts) - counts, counts)
    cand = np.full((len(queries), counts.max()), -1, dtype=np.int64)
    cand[q_of, rank] = pos
    return lexical.score(queries.tolist(), cand)[q_of, rank].astype(np.float64)


# --- re-balancing and re-calibration ---------------------------------------------------


def rebalance(
    x: np.ndarray,
    y: np.ndarray,
    method: Method,
    *,
    seed: int,
    under_ratio: float = 1.0,
    k_neighbors: int = 5,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Re-balance training rows with imbalanced-learn.

    ``random_over`` repeats rows of the smaller classes and ``smote`` interpolates new ones
    between same-class neighbours (both up to the largest class); ``random_under`` drops rows
    of the larger classes (to the smallest, or for two classes to ``under_ratio``);
    ``none`` and ``class_weight`` return the rows unchanged.

    Args:
        x: ``(n, d)`` features (SMOTE's neighbours are Euclidean: scale them first).
        y: class codes ``0..k-1``, every class present.
        method: one of :data:`REBALANCE_METHODS`.
        seed: random_state of the sampler.
        under_ratio: minority / majority after under-sampling two classes.
        k_neighbors: SMOTE neighbours, capped at the smallest class size - 1.

    Returns:
        ``(x, y, rates)``: the rows and, per class, how much more it weighs in training than
        in the data: count after / count before for the samplers, the "balanced" class
        weight ``n / (k * n_c)`` for ``class_weight``, ones for ``none``. Prior correction
        divides by these rates (:func:`prior_correct`).
    """
    y = np.asarray(y, dtype=np.int64)
    k = int(y.max()) + 1 if len(y) else 0
    counts = np.bincount(y, minlength=k)
    if k < 2 or (counts == 0).any():
        raise ValueError(f"y must hold every class 0..k-1 with k >= 2, got counts {counts}")
    if method == "none":
        return x, y, np.ones(k)
    if method == "class_weight":
        return x, y, len(y) / (k * counts)
    if method == "random_over":
        from imblearn.over_sampling import RandomOverSampler

        sampler: Any = RandomOverSampler(random_state=seed)
    elif method == "smote":
        from imblearn.over_sampling import SMOTE

        if counts.min() < 2:
            raise ValueError("SMOTE needs at least two rows of every class")
        sampler = SMOTE(random_state=seed, k_neighbors=min(k_neighbors, int(counts.min()) - 1))
    elif method == "random_under":
        from imblearn.under_sampling import RandomUnderSampler

        sampler = RandomUnderSampler(random_state=seed,
                                     sampling_strategy=under_ratio if k == 2 else "auto")
    else:
        raise ValueError(f"unknown method {method!r}; expected one of {REBALANCE_METHODS}")
    xr, yr = sampler.fit_resample(x, y)
    yr = np.asarray(yr, dtype=np.int64)
    return np.asarray(xr), yr, np.bincount(yr, minlength=k) / counts


def recalibrate(p_s: np.ndarray | float, beta: float) -> np.ndarray:
    """Dal Pozzolo et al. (2015): ``p = beta * p_s / (beta * p_s - p_s + 1)``.

    Undoes under-sampling of the majority ("negative") class: ``p_s`` is the probability of
    the minority class predicted by a model trained after keeping a fraction ``beta`` of the
    majority rows; ``p`` is the probability under the original class balance.
    """
    if not 0.0 < beta <= 1.0:
        raise ValueError(f"beta must be in (0, 1], got {beta}")
    p_s = np.asarray(p_s, dtype=np.float64)
    return beta * p_s / (beta * p_s - p_s + 1.0)


def prior_correct(proba: np.ndarray, rates: np.ndarray) -> np.ndarray:
    """Probabilities under the data's class balance: ``p_c ∝ p_s,c / rate_c`` (Elkan 2001).

    ``rates`` from :func:`rebalance`. For two classes whose majority kept a fraction
    ``beta`` (rates ``(beta, 1)``) this is :func:`recalibrate` of the minority probability.
    """
    q = np.asarray(proba, dtype=np.float64) / np.asarray(rates, dtype=np.float64)
    return q / q.sum(axis=1, keepdims=True)


class RebalancedClassifier:
    """A seeded classifier trained on re-balanced rows.

    ``fit`` standardises the features (statistics of the training rows), re-balances them
    with :func:`rebalance`, then fits the configured model (``class_weight="balanced"`` for
    the ``class_weight`` method). ``predict_proba(x, corrected=True)`` applies
    :func:`prior_correct` with the training rates, which maps the probabilities back to the
    class balance of the data.

    Args:
        method: one of :data:`REBALANCE_METHODS`.
        config: model and sampler options.
        seed: derives the sampler's and the model's random_state.

    Attributes:
        rates_: per-class training weight relative to the data (see :func:`rebalance`).
        counts_: rows per class after re-balancing.
    """

    def __init__(self, method: Method = "none", *, config: RebalanceConfig | None = None,
                 seed: int = 0) -> None:
        if method not in REBALANCE_METHODS:
            raise ValueError(f"unknown method {method!r}; expected one of {REBALANCE_METHODS}")
        self.method = method
        self.config = config or RebalanceConfig()
        self.seed = seed

    def fit(self, x: np.ndarray, y: np.ndarray) -> Self:
        from sklearn.preprocessing import StandardScaler

        rng = np.random.default_rng(self.seed)
        sampler_seed, model_seed = derive_seed(rng), derive_seed(rng)
        cfg = self.config
        self.scaler_ = StandardScaler().fit(x)
        xr, yr, self.rates_ = rebalance(
            self.scaler_.transform(x), y, self.method, seed=sampler_seed,
            under_ratio=cfg.under_ratio, k_neighbors=cfg.k_neighbors,
        )
        self.counts_ = np.bincount(yr, minlength=len(self.rates_))
        self.model_ = _model(cfg, model_seed, balanced=self.method == "class_weight")
        self.model_.fit(xr, yr)
        return self

    def predict_proba(self, x: np.ndarray, *, corrected: bool = False) -> np.ndarray:
        """``(n, k)`` class probabilities; ``corrected`` undoes the re-balancing."""
        p = self.model_.predict_proba(self.scaler_.transform(x))
        return prior_correct(p, self.rates_) if corrected else p


def _model(cfg: RebalanceConfig, seed: int, *, balanced: bool) -> Any:
    weight = "balanced" if balanced else None
    if cfg.model == "hgb":
        from sklearn.ensemble import HistGradientBoostingClassifier

        # Small leaves and a slow rate, fixed a priori (not tuned on held-out queries): the
        # defaults (31 leaves, rate 0.1) overfit into overconfident probabilities (3-class log
        # loss 1.6 on a 300-query sample, worse than the class prior's 1.0), which
        # would hide what re-balancing does to calibration.
        return HistGradientBoostingClassifier(
            max_iter=cfg.max_iter, learning_rate=0.05, max_leaf_nodes=15, min_samples_leaf=40,
            l2_regularization=1.0, early_stopping=False, class_weight=weight, random_state=seed,
        )
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(max_iter=cfg.max_iter, class_weight=weight, random_state=seed)


# --- metrics ---------------------------------------------------------------------------


def _auc(y: np.ndarray, score: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    y = np.asarray(y, dtype=bool)
    return float(roc_auc_score(y, score)) if 0 < y.sum() < len(y) else float("nan")


def _binary_metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    """Macro-F1 at p >= 0.5, AUC, Brier, log loss and mean p of a binary probability."""
    from sklearn.metrics import f1_score

    y = np.asarray(y, dtype=bool)
    p = np.clip(np.asarray(p, dtype=np.float64), 0.0, 1.0)
    q = np.clip(p, _CLIP, 1 - _CLIP)
    return {
        "macro_f1": float(f1_score(y, p >= 0.5, average="macro", labels=[False, True],
                                   zero_division=0)),
        "auc": _auc(y, p),
        "brier": float(np.mean((p - y) ** 2)),
        "log_loss": float(-np.mean(np.where(y, np.log(q), np.log(1 - q)))),
        "mean_p": float(p.mean()),
    }


def _multiclass_metrics(y: np.ndarray, proba: np.ndarray) -> dict[str, float]:
    """Macro-F1 of the argmax, one-vs-rest macro AUC, Brier (summed over classes) and log loss."""
    from sklearn.metrics import f1_score

    k = proba.shape[1]
    onehot = np.eye(k)[y]
    aucs = [_auc(y == c, proba[:, c]) for c in range(k)]
    return {
        "macro_f1": float(f1_score(y, proba.argmax(axis=1), average="macro",
                                   labels=list(range(k)), zero_division=0)),
        "auc_ovr_macro": float(np.mean(aucs)),
        "brier": float(np.mean(((proba - onehot) ** 2).sum(axis=1))),
        "log_loss": float(-np.mean(np.log(np.clip(proba[np.arange(len(y)), y], _CLIP, 1)))),
    }


def _rankings(held: Judgments, score: np.ndarray, tie: np.ndarray) -> dict[str, list[str]]:
    """Each query's judged products by descending score; ties broken by ``tie``."""
    names, q = np.unique(held.query.astype(str), return_inverse=True)
    order = np.lexsort((tie, -np.asarray(score, dtype=np.float64), q))
    bounds = np.flatnonzero(np.diff(q[order])) + 1
    groups = np.split(held.product_id[order], bounds)
    return {names[q[order[s]]]: g.tolist() for s, g in zip(np.r_[0, bounds], groups, strict=True)}


# --- comparison ------------------------------------------------------------------------


def compare_rebalancing(
    catalog: Catalog,
    judgments: Judgments,
    *,
    seed: int,
    held_frac: float = 0.2,
    methods: Sequence[str] = COMPARE_METHODS,
    config: RebalanceConfig | None = None,
    encoder: Any = None,
    lexical: LexicalIndex | None = None,
    features: PairFeatures | None = None,
) -> dict[str, Any]:
    """Train one relevance classifier per re-balancing method on the training queries and
    score it on held-out queries.

    Judgments are split by query (:func:`split_by_query`); scaling, PCA, re-balancing and
    the model see training rows only. 3-class rows report macro-F1 (argmax), one-vs-rest
    macro AUC, Brier and log loss over the three classes, and NDCG of each held-out query's
    judged pool ranked by expected relevance (class probabilities times the training mean
    relevance of each class). Every row also reports the binary view P(relevant): macro-F1
    at 0.5, AUC, Brier, log loss and its mean (compare with ``binary.held_rate``); binary
    rows rank by P(relevant). ``+recal`` rows use the same model with :func:`prior_correct`.

    Args:
        catalog: holds every judged product.
        judgments: graded pairs.
        seed: the split, the samplers, the models, the PCA and NDCG's tie-breaking.
        held_frac: share of queries held out.
        methods: rows to compute, from :data:`COMPARE_METHODS`.
        config: classes, model and sampler options.
        encoder: for :func:`pair_features` (default: cached MiniLM).
        lexical: BM25 fitted on ``catalog.texts()`` (default: fitted here).
        features: precomputed :func:`pair_features` of these judgments (skips the encoder).

    Returns:
        ``{"classes", "binary", "split", "features", "reference", "methods", "seconds"}``;
        ``methods`` maps a row name to its metrics and ``train_counts`` (rows per class the
        model was trained on); ``reference`` holds NDCG of ranking by BM25, by cosine and
        at random.
    """
    cfg = config or RebalanceConfig()
    unknown = [m for m in methods if m not in COMPARE_METHODS]
    if unknown:
        raise ValueError(f"unknown methods {unknown}; expected some of {COMPARE_METHODS}")
    t_start = time.perf_counter()
    if features is None:
        if encoder is None:
            from shopaug.lm import TextEncoder

            encoder = TextEncoder()
        features = pair_features(catalog, judgments, encoder=encoder, lexical=lexical)
    elif len(features.x) != len(judgments):
        raise ValueError(f"features has {len(features.x)} rows for {len(judgments)} judgments")
    t_features = time.perf_counter() - t_start
    train, held = split_by_query(judgments, held_frac, seed)
    if not len(train) or not len(held):
        raise ValueError(f"held_frac={held_frac} leaves no training or no held-out query")
    x, explained = _with_pca(features, train, cfg.pca_dim, seed)

    rel = judgments.relevance
    classes = relevance_classes(rel, cfg.edges)
    relevant = (rel >= cfg.relevant_at - _EPS).astype(np.int64)
    lower = np.array([-np.inf, *cfg.edges])
    rel_classes = np.flatnonzero(lower >= cfg.relevant_at - _EPS)
    train_counts = np.bincount(classes[train], minlength=3)
    if (train_counts == 0).any():
        raise ValueError(f"every class needs training pairs, got {_named(train_counts)}")
    class_mean = np.bincount(classes[train], weights=rel[train], minlength=3) / train_counts

    held_j = Judgments(query=judgments.query[held], product_id=judgments.product_id[held],
                       relevance=rel[held], source=judgments.source)
    scale = (float(rel.min()), float(rel.max()))
    tie = np.random.default_rng(seed).random(len(held))
    key = f"NDCG@{cfg.ndcg_k}"

    def ndcg(score: np.ndarray) -> float:
        r = evaluate_rankings(_rankings(held_j, score, tie), held_j, ndcg_k=cfg.ndcg_k,
                              scale=scale)
        return r[key]

    rows: dict[str, dict[str, Any]] = {}
    for method in methods:
        binary = method in _BINARY
        base: Method = _BINARY[method] if binary else method  # type: ignore[assignment]
        y = relevant if binary else classes
        t0 = time.perf_counter()
        clf = RebalancedClassifier(base, config=cfg, seed=seed).fit(x[train], y[train])
        fit_seconds = time.perf_counter() - t0
        variants = [(method, False)]
        if cfg.recalibrate and base != "none":
            variants.append((f"{method}+recal", True))
        for name, corrected in variants:
            p = clf.predict_proba(x[held], corrected=corrected)
            row: dict[str, Any] = {"task": "binary" if binary else "3-class"}
            if binary:
                p_rel, expected = p[:, 1], p[:, 1]
                row.update(macro_f1_3class=None, auc_ovr_macro=None, brier_3class=None,
                           log_loss_3class=None)
            else:
                p_rel, expected = p[:, rel_classes].sum(axis=1), p @ class_mean
                m = _multiclass_metrics(classes[held], p)
                row.update(macro_f1_3class=m["macro_f1"], auc_ovr_macro=m["auc_ovr_macro"],
                           brier_3class=m["brier"], log_loss_3class=m["log_loss"])
            b = _binary_metrics(relevant[held], p_rel)
            row.update({
                "macro_f1_binary": b["macro_f1"], "auc_relevant": b["auc"], key: ndcg(expected),
                "brier_relevant": b["brier"], "log_loss_relevant": b["log_loss"],
                "mean_p_relevant": b["mean_p"],
                "train_counts": _named(clf.counts_, BINARY_NAMES if binary else CLASS_NAMES),
                "rates": [float(r) for r in clf.rates_],
                "fit_seconds": fit_seconds,
            })
            rows[name] = row

    held_queries = set(judgments.query[held].tolist())
    return {
        "classes": {
            "names": list(CLASS_NAMES), "edges": list(cfg.edges),
            "counts": {"all": _named(np.bincount(classes, minlength=3)),
                       "train": _named(train_counts),
                       "held": _named(np.bincount(classes[held], minlength=3))},
            "train_mean_relevance": [float(v) for v in class_mean],
        },
        "binary": {
            "relevant_at": cfg.relevant_at,
            "counts": {part: _named(np.bincount(relevant[idx], minlength=2), BINARY_NAMES)
                       for part, idx in (("all", slice(None)), ("train", train), ("held", held))},
            "held_rate": float(relevant[held].mean()),
        },
        "split": {
            "seed": seed, "held_frac": held_frac,
            "train_queries": len(set(judgments.query[train].tolist())),
            "held_queries": len(held_queries), "train_pairs": len(train), "held_pairs": len(held),
            "shared_queries": len(held_queries & set(judgments.query[train].tolist())),
        },
        "features": {"names": [*FEATURE_NAMES, *(f"pca{i}" for i in range(x.shape[1] - 5))],
                     "pca_explained_variance": explained},
        "reference": {key: {"bm25": ndcg(features.x[held, 0]),
                            "cosine": ndcg(features.x[held, 1]),
                            "random": ndcg(np.zeros(len(held)))}},
        "methods": rows,
        "seconds": {"features": t_features, "total": time.perf_counter() - t_start},
    }


def _with_pca(features: PairFeatures, train: np.ndarray, dim: int,
              seed: int) -> tuple[np.ndarray, float]:
    """Scalar features plus PCA components of the vector product (fit on training rows)."""
    dim = min(dim, features.product.shape[1], len(train))
    if dim <= 0:
        return features.x.copy(), 0.0
    from sklearn.decomposition import PCA

    pca = PCA(n_components=dim, random_state=seed).fit(features.product[train])
    return (np.hstack([features.x, pca.transform(features.product)]),
            float(pca.explained_variance_ratio_.sum()))


def _named(counts: np.ndarray, names: Sequence[str] = CLASS_NAMES) -> dict[str, int]:
    return {n: int(c) for n, c in zip(names, counts, strict=True)}


# --- event types -----------------------------------------------------------------------


def event_features(dataset: Any, train_users: np.ndarray | None = None) -> np.ndarray:
    """``(n_interactions, 4)`` features per interaction (columns :data:`EVENT_FEATURES`),
    none of which reads the event labels.

    ``item_count``: log1p interactions with the item by ``train_users`` (all users when
    None); ``user_count``: log1p interactions of the user; ``position``: place in the
    user's time-ordered log, 0 first to 1 last; ``repeats``: log1p interactions of the
    user with this item.
    """
    user, item = dataset.user, dataset.item
    n = len(user)
    own = np.ones(n, dtype=bool) if train_users is None else np.isin(user, train_users)
    item_count = np.bincount(item[own], minlength=dataset.n_items + 1)[item]
    per_user = np.bincount(user, minlength=dataset.n_users)
    rank = np.arange(n) - (np.cumsum(per_user) - per_user)[user]  # rows sorted by user, time
    position = rank / np.maximum(per_user[user] - 1, 1)
    _, pair, repeats = np.unique(user * (dataset.n_items + 1) + item, return_inverse=True,
                                 return_counts=True)
    return np.column_stack([np.log1p(item_count), np.log1p(per_user[user]), position,
                            np.log1p(repeats[pair])]).astype(np.float64)


def compare_event_rebalancing(
    dataset: Any,
    *,
    seed: int,
    held_frac: float = 0.2,
    methods: Sequence[Method] = REBALANCE_METHODS,
    config: RebalanceConfig | None = None,
    positive: str = "purchase",
) -> dict[str, Any]:
    """The same re-balancing methods on a log's event types: ``positive`` vs the rest.

    Users are split at random (``held_frac`` held out); a classifier on
    :func:`event_features` (item counts from training users only) is trained per method
    and scored on held-out users' interactions (macro-F1 at 0.5, AUC, Brier, log loss and
    mean probability against ``held_rate``); ``+recal`` rows undo the re-balancing with
    :func:`prior_correct`.

    Raises:
        ShopaugError: when the log has no event types (the bundled Amazon Beauty log has
            none: every row is a review) or no ``positive`` events in training.
    """
    if dataset.event is None:
        raise ShopaugError(f"dataset {dataset.name!r} has no event types (Amazon Beauty has "
                           f"none); expected a log with an event column ({', '.join(EVENT_TYPES)})")
    cfg = config or RebalanceConfig()
    rng = np.random.default_rng(seed)
    users = rng.permutation(dataset.n_users)
    n_held = round(held_frac * dataset.n_users)
    held_mask = np.isin(dataset.user, users[:n_held])
    train, held = np.flatnonzero(~held_mask), np.flatnonzero(held_mask)
    x = event_features(dataset, train_users=users[n_held:])
    y = (dataset.event == EVENT_TYPES.index(positive)).astype(np.int64)
    if not 0 < y[train].sum() < len(train):
        raise ShopaugError(f"training users need both {positive!r} and other events")

    rows: dict[str, dict[str, Any]] = {}
    for method in methods:
        clf = RebalancedClassifier(method, config=cfg, seed=seed).fit(x[train], y[train])
        variants = [(method, False)]
        if cfg.recalibrate and method != "none":
            variants.append((f"{method}+recal", True))
        for name, corrected in variants:
            p = clf.predict_proba(x[held], corrected=corrected)[:, 1]
            rows[name] = {**_binary_metrics(y[held], p),
                          "train_counts": _named(clf.counts_, ("rest", positive))}
    events = np.bincount(dataset.event, minlength=len(EVENT_TYPES))
    return {
        "positive": positive,
        "events": _named(events, EVENT_TYPES),
        "split": {"train_interactions": len(train), "held_interactions": len(held),
                  "held_users": n_held},
        "train_rate": float(y[train].mean()),
        "held_rate": float(y[held].mean()) if len(held) else float("nan"),
        "features": list(EVENT_FEATURES),
        "methods": rows,
    }
