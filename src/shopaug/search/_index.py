"""A search index over a product catalogue: BM25, dense (faiss), hybrid fusion.

``bm25`` ranks by BM25 alone, ``dense`` by the inner product of MiniLM vectors in a faiss
flat index (exact; 55k x 384 floats search in milliseconds), ``hybrid`` takes the top
``candidates`` of both, scores EVERY candidate with both (the "cross-score": a product found
only lexically still gets its dense score and vice versa), normalises each score per query
(min-max over the candidates) and ranks by ``weight * dense + (1 - weight) * lexical``, or
by reciprocal rank fusion with ``fusion = "rrf"``. A user's recommendation state re-ranks the
fused candidates when given (``boost``).

An index folder holds ``index.json`` (format, config, catalogue facts), ``products.parquet``
(ids and titles), ``lexical.*``, ``dense.faiss`` and, for a fine-tuned encoder, ``model/``.
Nothing is pickled.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np

from shopaug.exceptions import ShopaugError
from shopaug.lm.encoder import _require
from shopaug.search._catalog import Catalog
from shopaug.search._lexical import Analyzer, LexicalIndex
from shopaug.search._spell import SpellCorrector

FORMAT = 1
Method = Literal["bm25", "dense", "hybrid"]


@dataclass(frozen=True)
class IndexConfig:
    """How an index retrieves.

    Args:
        method: ``bm25``, ``dense`` or ``hybrid``.
        fusion: ``weighted`` (normalised cross-scores) or ``rrf`` (reciprocal rank fusion).
        weight: dense share of the weighted sum (the rest is BM25).
        rrf_k: the constant of reciprocal rank fusion.
        candidates: products taken from each retriever before fusion.
        k1: BM25 term-frequency saturation.
        b: BM25 length normalisation.
        model: the encoder: ``None`` for stock MiniLM, else a folder saved by
            ``search finetune`` (copied into the index as ``model/``).
        spell: correct query words unknown to the catalogue before retrieval.
    """

    method: Method = "hybrid"
    fusion: Literal["weighted", "rrf"] = "weighted"
    weight: float = 0.5
    rrf_k: int = 60
    candidates: int = 100
    k1: float = 1.2
    b: float = 0.75
    model: str | None = None
    spell: bool = False

    def __post_init__(self) -> None:
        if self.method not in ("bm25", "dense", "hybrid"):
            raise ValueError(f"method must be bm25, dense or hybrid, got {self.method!r}")
        if self.fusion not in ("weighted", "rrf"):
            raise ValueError(f"fusion must be weighted or rrf, got {self.fusion!r}")
        if not 0.0 <= self.weight <= 1.0:
            raise ValueError("weight must be in [0, 1]")
        if self.candidates < 1:
            raise ValueError("candidates must be >= 1")


def _minmax(x: np.ndarray, valid: np.ndarray) -> np.ndarray:
    lo = np.where(valid, x, np.inf).min(axis=1, keepdims=True)
    hi = np.where(valid, x, -np.inf).max(axis=1, keepdims=True)
    span = np.where(np.isfinite(hi - lo) & (hi > lo), hi - lo, 1.0)
    return np.where(valid, (x - np.where(np.isfinite(lo), lo, 0.0)) / span, 0.0)


def _dedupe(cand: np.ndarray) -> np.ndarray:
    """``-1`` for repeats of a product within a row (keeps the first occurrence)."""
    out = cand.copy()
    order = np.argsort(cand, axis=1, kind="stable")
    s = np.take_along_axis(cand, order, axis=1)
    rep = np.zeros_like(s, dtype=bool)
    rep[:, 1:] = s[:, 1:] == s[:, :-1]
    rows = np.repeat(np.arange(len(cand)), cand.shape[1]).reshape(cand.shape)
    out[rows[rep], order[rep]] = -1
    return out


class SearchIndex:
    """Retrieve products of a catalogue for text queries.

    Build with :meth:`build`, or read a saved folder with :meth:`load`.
    """

    def __init__(self, catalog: Catalog, config: IndexConfig) -> None:
        self.catalog = catalog
        self.config = config
        self.lexical: LexicalIndex | None = None
        self.vectors: np.ndarray | None = None  # (n_products, dim) unit rows
        self._faiss: Any = None
        self._encoder: Any = None
        self.spell: SpellCorrector | None = None
        self.folder: Path | None = None
        self.timings_: dict[str, float] = {}

    # -- building ---------------------------------------------------------------------------
    @classmethod
    def build(
        cls,
        catalog: Catalog,
        config: IndexConfig | None = None,
        *,
        texts: Sequence[str] | None = None,
        lexical_texts: Sequence[str] | None = None,
        lexical: LexicalIndex | None = None,
        encoder: Any = None,
        progress: bool = False,
    ) -> SearchIndex:
        """Index ``catalog``.

        Args:
            texts: the text of each product (default ``catalog.texts()``).
            lexical_texts: BM25's text when it differs (doc2query expansion: see
                :func:`~shopaug.search.expand_texts`).
            lexical: a BM25 index already fitted on these texts with the config's ``k1``
                and ``b`` (reused instead of fitting another).
            encoder: an object with ``encode(texts) -> (n, dim)`` unit vectors; default a
                cached :class:`~shopaug.lm.TextEncoder` for ``config.model``.
        """
        cfg = config or IndexConfig()
        index = cls(catalog, cfg)
        texts = list(texts) if texts is not None else catalog.texts()
        if len(texts) != len(catalog):
            raise ValueError("texts must have one entry per product")
        t0 = time.perf_counter()
        if lexical is not None and (lexical.k1, lexical.b, lexical.n_docs) != (
                cfg.k1, cfg.b, len(catalog)):
            raise ValueError("lexical must be fitted on this catalogue with the config's k1, b")
        index.lexical = lexical or LexicalIndex(k1=cfg.k1, b=cfg.b, analyzer=Analyzer()).fit(
            list(lexical_texts) if lexical_texts is not None else texts
        )
        if cfg.spell:
            index.spell = SpellCorrector().fit(texts)
        index.timings_["lexical_seconds"] = time.perf_counter() - t0
        if cfg.method != "bm25":
            t0 = time.perf_counter()
            index._encoder = encoder if encoder is not None else _encoder(cfg.model, progress)
            index.vectors = np.ascontiguousarray(index._encoder.encode(texts), dtype=np.float32)
            index.timings_["dense_seconds"] = time.perf_counter() - t0
        return index

    # -- retrieval --------------------------------------------------------------------------
    def encoder(self) -> Any:
        if self._encoder is None:  # a loaded index's config.model is its own model/ folder
            self._encoder = _encoder(self.config.model, False)
        return self._encoder

    def _prepare(self, queries: Sequence[str]) -> list[str]:
        queries = [str(q) for q in queries]
        return self.spell(queries) if self.spell is not None else queries

    def _need_vectors(self) -> np.ndarray:
        if self.vectors is None:
            raise ShopaugError("this index has no dense vectors: rebuild it with "
                               "--method dense, hybrid or best")
        return self.vectors

    def _flat(self) -> Any:
        """The faiss flat (exact inner product) index of the vectors, built once."""
        if self._faiss is None:
            faiss = _require("faiss", "faiss-cpu")
            vectors = self._need_vectors()
            self._faiss = faiss.IndexFlatIP(vectors.shape[1])
            self._faiss.add(vectors)
        return self._faiss

    def _dense_search(self, qv: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        s, i = self._flat().search(np.ascontiguousarray(qv, dtype=np.float32), k)
        return i.astype(np.int64), s

    def search(
        self,
        queries: Sequence[str],
        k: int = 10,
        *,
        method: Method | None = None,
        boost: np.ndarray | None = None,
        boost_weight: float = 0.0,
        query_vectors: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` product positions and scores per query, best first (``-1`` pads).

        Args:
            method: override the index's method (``bm25`` always works; ``dense`` and
                ``hybrid`` need an index built with vectors).
            boost: per-query, per-product user scores ``(n_queries, n_products)`` or one row
                for all queries (e.g. a recommender's scores for the searching user); added to
                the fused, normalised score with ``boost_weight`` after min-max scaling over
                the candidates.
            query_vectors: pre-computed query vectors (skips encoding).
        """
        queries = self._prepare(queries)
        method = method or self.config.method
        if method != "bm25":
            self._need_vectors()
        assert self.lexical is not None
        n_docs = len(self.catalog)
        if method == "bm25" and boost is None:
            return self.lexical.search(queries, min(k, n_docs))
        cfg = self.config
        c = min(max(cfg.candidates, k), n_docs)
        if method != "bm25":
            qv = query_vectors if query_vectors is not None else self.encoder().encode(queries)
        if method == "dense" and boost is None:
            return self._dense_search(qv, min(k, n_docs))
        parts = []
        if method in ("bm25", "hybrid"):
            parts.append(self.lexical.search(queries, c)[0])
        if method in ("dense", "hybrid"):
            parts.append(self._dense_search(qv, c)[0])
        cand = _dedupe(np.concatenate(parts, axis=1))
        fused = self._score(queries, cand, method, boost, boost_weight,
                            None if method == "bm25" else qv)
        kk = min(k, cand.shape[1])
        order = np.argsort(-fused, axis=1, kind="stable")[:, :kk]
        top = np.take_along_axis(cand, order, axis=1)
        val = np.take_along_axis(fused, order, axis=1).astype(np.float32)
        top[~np.isfinite(val)] = -1
        return top, val

    def score(
        self,
        queries: Sequence[str],
        candidates: np.ndarray,
        *,
        method: Method | None = None,
        boost: np.ndarray | None = None,
        boost_weight: float = 0.0,
        query_vectors: np.ndarray | None = None,
    ) -> np.ndarray:
        """The fused score of given products: ``candidates`` is ``(n_queries, c)`` positions
        (``-1`` = none, scored ``-inf``). Each signal is scored exactly for every candidate
        and min-max normalised over the row; ``rrf`` fuses the ranks of those scores."""
        return self._score(self._prepare(queries), candidates, method or self.config.method,
                           boost, boost_weight, query_vectors)

    def _score(
        self,
        queries: list[str],
        candidates: np.ndarray,
        method: Method,
        boost: np.ndarray | None,
        boost_weight: float,
        query_vectors: np.ndarray | None,
    ) -> np.ndarray:
        """:meth:`score` of queries already spell-corrected (``search`` did it once)."""
        cfg = self.config
        assert self.lexical is not None
        valid = candidates >= 0
        safe = np.where(valid, candidates, 0)
        signals: list[tuple[float, np.ndarray]] = []
        if method in ("bm25", "hybrid"):
            w = 1.0 if method == "bm25" else 1.0 - cfg.weight
            signals.append((w, self.lexical.score(queries, candidates).astype(np.float64)))
        if method in ("dense", "hybrid"):
            vectors = self._need_vectors()
            qv = query_vectors if query_vectors is not None else self.encoder().encode(queries)
            ds = np.einsum("qd,qcd->qc", qv, vectors[safe]).astype(np.float64)
            signals.append((1.0 if method == "dense" else cfg.weight, ds))
        fused = np.zeros(candidates.shape, dtype=np.float64)
        if method == "hybrid" and cfg.fusion == "rrf":
            for _, sig in signals:
                sig = np.where(valid, sig, -np.inf)
                ranks = np.argsort(np.argsort(-sig, axis=1, kind="stable"), axis=1) + 1
                fused += 1.0 / (cfg.rrf_k + ranks)
            fused = _minmax(fused, valid)
        else:
            for w, sig in signals:
                fused += w * _minmax(sig, valid)
        if boost is not None and boost_weight:
            b = np.asarray(boost, dtype=np.float64)
            b = np.broadcast_to(b if b.ndim == 2 else b[None, :], (len(queries), len(self.catalog)))
            fused = fused + boost_weight * _minmax(np.take_along_axis(b, safe, axis=1), valid)
        fused[~valid] = -np.inf
        return fused

    def query(self, text: str, k: int = 10, **kwargs: Any) -> list[dict[str, Any]]:
        """One query's results as ``{"product_id", "title", "score"}`` dicts."""
        top, val = self.search([text], k, **kwargs)
        return [
            {"product_id": str(self.catalog.ids[p]), "title": self.catalog.titles[p],
             "score": float(s)}
            for p, s in zip(top[0], val[0], strict=True) if p >= 0
        ]

    # -- persistence ------------------------------------------------------------------------
    def save(
        self,
        out: str | Path,
        *,
        record: dict[str, Any] | None = None,
        extra: Callable[[Path], None] | None = None,
    ) -> Path:
        """Write the index folder atomically; returns it. ``extra(tmp)`` may add files
        (e.g. the synthetic queries of a ``best`` build) before the folder is moved in."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        from shopaug._fs import write_dir_atomic

        assert self.lexical is not None
        cfg = self.config

        def fill(tmp: Path) -> None:
            pq.write_table(
                pa.table({"product_id": [str(i) for i in self.catalog.ids],
                          "title": list(self.catalog.titles)}),
                tmp / "products.parquet",
            )
            self.lexical.save(tmp)  # type: ignore[union-attr]
            if self.spell is not None:
                (tmp / "spell.json").write_text(json.dumps(self.spell.to_json()))
            saved = cfg
            if self.vectors is not None:
                _require("faiss", "faiss-cpu").write_index(self._flat(), str(tmp / "dense.faiss"))
            if cfg.model is not None:
                import shutil

                shutil.copytree(cfg.model, tmp / "model")
                saved = replace(cfg, model="model")
            meta = {"format": FORMAT, "config": asdict(saved), "products": len(self.catalog),
                    "catalog": self.catalog.source, "timings": self.timings_, **(record or {})}
            (tmp / "index.json").write_text(json.dumps(meta, indent=2))
            if extra is not None:
                extra(tmp)

        return write_dir_atomic(out, fill)

    @classmethod
    def load(cls, folder: str | Path) -> SearchIndex:
        """Read an index folder written by :meth:`save`."""
        import pyarrow.parquet as pq

        folder = Path(folder)
        meta_path = folder / "index.json"
        if not meta_path.is_file():
            raise ShopaugError(f"{folder}: not a search index (no index.json); build one with "
                               "shopaug search index --catalog FILE --out DIR")
        meta = json.loads(meta_path.read_text())
        if meta.get("format") != FORMAT:
            raise ShopaugError(f"{meta_path}: index format {meta.get('format')} is not "
                               f"supported (expected {FORMAT}); rebuild the index")
        cfg_d = dict(meta["config"])
        if cfg_d.get("model") is not None:
            cfg_d["model"] = str(folder / cfg_d["model"])
        cfg = IndexConfig(**cfg_d)
        t = pq.read_table(folder / "products.parquet")
        catalog = Catalog(
            ids=np.array(t.column("product_id").to_pylist(), dtype=object),
            titles=t.column("title").to_pylist(), descriptions=None, brands=None,
            categories=None, source=meta.get("catalog", str(folder)),
        )
        index = cls(catalog, cfg)
        index.folder = folder
        index.lexical = LexicalIndex.load(folder)
        if (folder / "spell.json").is_file():
            index.spell = SpellCorrector.from_json(json.loads((folder / "spell.json").read_text()))
        if (folder / "dense.faiss").is_file():
            faiss = _require("faiss", "faiss-cpu")
            index._faiss = faiss.read_index(str(folder / "dense.faiss"))
            index.vectors = index._faiss.reconstruct_n(0, index._faiss.ntotal)
        return index


def _encoder(model: str | None, progress: bool) -> Any:
    from shopaug.lm import TextEncoder

    return TextEncoder(model=model, progress=progress)
