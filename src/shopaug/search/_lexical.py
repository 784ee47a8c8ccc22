"""Lexical retrieval: BM25 (bm25s) over analyzed product text, batch-scored as sparse products.

bm25s stores each term's precomputed BM25 contribution per document (a term x document CSR
matrix). A batch of queries is a query x term count matrix, so scoring every document for a
whole batch is one sparse product; top-k and exact scores of given candidates come from it.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from shopaug.lm.encoder import _require

# words that carry no product meaning in queries or titles
STOPWORDS = frozenset(
    "a an and are as at be by for from has in is it its of on or the to with".split()
)
_TOKEN = re.compile(r"\d+(?:[./]\d+)*|[a-z]+")


@dataclass(frozen=True)
class Analyzer:
    """Text -> terms: accents folded, lowercase, letters and numbers (``1/2`` and ``2.5`` kept
    whole, since sizes matter in shop queries), stopwords dropped, Snowball-stemmed.

    Args:
        stem: apply the English Snowball stemmer (PyStemmer).
        stopwords: drop :data:`STOPWORDS`.
    """

    stem: bool = True
    stopwords: bool = True

    def __call__(self, texts: Sequence[str]) -> list[list[str]]:
        stemmer = _stemmer() if self.stem else None
        out = []
        for text in texts:
            folded = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode()
            terms = _TOKEN.findall(folded.lower())
            if self.stopwords:
                terms = [t for t in terms if t not in STOPWORDS]
            if stemmer is not None:
                terms = stemmer.stemWords(terms)
            out.append(terms)
        return out


_STEMMER: list[Any] = []


def _stemmer() -> Any:
    if not _STEMMER:
        _STEMMER.append(_require("Stemmer", "PyStemmer").Stemmer("english"))
    return _STEMMER[0]


class LexicalIndex:
    """BM25 over a catalogue's texts.

    Args:
        k1: term-frequency saturation.
        b: length normalisation.
        analyzer: how texts and queries become terms.
    """

    def __init__(self, *, k1: float = 1.2, b: float = 0.75, analyzer: Analyzer | None = None):
        self.k1 = k1
        self.b = b
        self.analyzer = analyzer or Analyzer()
        self.vocab_: dict[str, int] = {}
        self.matrix_: sp.csr_matrix | None = None  # terms x documents, BM25 contributions

    def fit(self, texts: Sequence[str]) -> LexicalIndex:
        bm25s = _require("bm25s", "bm25s")
        terms = self.analyzer(texts)
        model = bm25s.BM25(k1=self.k1, b=self.b, method="lucene")
        model.index(terms, show_progress=False)
        s = model.scores
        rows = len(s["indptr"]) - 1
        self.vocab_ = {t: i for t, i in model.vocab_dict.items() if t and i < rows}
        self.matrix_ = sp.csr_matrix(
            (s["data"].astype(np.float32), s["indices"], s["indptr"]),
            shape=(rows, s["num_docs"]),
        )
        return self

    @property
    def n_docs(self) -> int:
        return 0 if self.matrix_ is None else self.matrix_.shape[1]

    def _queries(self, queries: Sequence[str]) -> sp.csr_matrix:
        rows, cols = [], []
        for i, terms in enumerate(self.analyzer(queries)):
            for t in terms:
                j = self.vocab_.get(t)
                if j is not None:
                    rows.append(i)
                    cols.append(j)
        data = np.ones(len(rows), dtype=np.float32)
        q = sp.csr_matrix((data, (rows, cols)), shape=(len(queries), self.matrix_.shape[0]))
        q.sum_duplicates()  # a repeated query term counts twice, as in bm25s
        return q

    def scores(self, queries: Sequence[str]) -> sp.csr_matrix:
        """BM25 of every document for each query: a sparse ``(n_queries, n_docs)`` matrix."""
        if self.matrix_ is None:
            raise RuntimeError("LexicalIndex is not fitted")
        return (self._queries(queries) @ self.matrix_).tocsr()

    def search(
        self, queries: Sequence[str], k: int, *, batch_size: int = 256
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` document positions and scores per query, best first; ``-1`` / ``-inf`` pad
        when fewer than ``k`` documents share a term with the query."""
        n = len(queries)
        idx = np.full((n, k), -1, dtype=np.int64)
        val = np.full((n, k), -np.inf, dtype=np.float32)
        for lo in range(0, n, batch_size):
            block = self.scores(queries[lo : lo + batch_size])
            # Lucene idf is positive, so a zero means no shared term: not a match
            dense = block.toarray()
            dense[dense == 0] = -np.inf
            kk = min(k, dense.shape[1])
            top = np.argpartition(-dense, kk - 1, axis=1)[:, :kk]
            s = np.take_along_axis(dense, top, axis=1)
            order = np.argsort(-s, axis=1, kind="stable")
            top = np.take_along_axis(top, order, axis=1)
            s = np.take_along_axis(s, order, axis=1)
            top[~np.isfinite(s)] = -1
            idx[lo : lo + len(top), :kk] = top
            val[lo : lo + len(top), :kk] = s
        return idx, val

    def score(
        self, queries: Sequence[str], candidates: np.ndarray, *, batch_size: int = 256
    ) -> np.ndarray:
        """Exact BM25 of given documents: ``candidates`` is ``(n_queries, c)`` positions
        (``-1`` gives 0). Batched like :meth:`search`, so memory stays bounded."""
        out = np.zeros(candidates.shape, dtype=np.float32)
        safe = np.where(candidates < 0, 0, candidates)
        for lo in range(0, len(queries), batch_size):
            block = self.scores(queries[lo : lo + batch_size])
            c = safe[lo : lo + block.shape[0]]
            rows = np.repeat(np.arange(block.shape[0]), c.shape[1])
            out[lo : lo + block.shape[0]] = np.asarray(block[rows, c.ravel()]).reshape(c.shape)
        out[candidates < 0] = 0.0
        return out

    def config(self) -> dict[str, Any]:
        return {"k1": self.k1, "b": self.b, "analyzer": asdict(self.analyzer)}

    def save(self, folder: str | Path) -> None:
        """Write ``lexical.json`` (config and vocabulary) and ``lexical.npz`` (the matrix)."""
        if self.matrix_ is None:
            raise RuntimeError("LexicalIndex is not fitted")
        folder = Path(folder)
        m = self.matrix_
        np.savez(folder / "lexical.npz", data=m.data, indices=m.indices, indptr=m.indptr,
                 shape=np.array(m.shape))
        terms = sorted(self.vocab_, key=self.vocab_.__getitem__)
        (folder / "lexical.json").write_text(json.dumps({**self.config(), "terms": terms}))

    @classmethod
    def load(cls, folder: str | Path) -> LexicalIndex:
        folder = Path(folder)
        meta = json.loads((folder / "lexical.json").read_text())
        index = cls(k1=meta["k1"], b=meta["b"], analyzer=Analyzer(**meta["analyzer"]))
        with np.load(folder / "lexical.npz", allow_pickle=False) as z:
            index.matrix_ = sp.csr_matrix(
                (z["data"], z["indices"], z["indptr"]), shape=tuple(z["shape"])
            )
        index.vocab_ = {t: i for i, t in enumerate(meta["terms"])}
        return index
