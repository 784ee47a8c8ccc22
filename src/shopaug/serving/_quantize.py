"""int8 serving: a model's query encoder with int8 weights and its item vectors as int8 codes.

``Int8Recommender`` wraps a model that has ``query_vectors`` and ``item_vectors`` (SASRec):

* the encoder's ``nn.Linear`` layers are quantised dynamically (int8 weights, activations
  quantised per batch at run time: ``torch.ao.quantization.quantize_dynamic``);
* the item vectors go into a faiss ``IndexScalarQuantizer`` with 8-bit codes: a quarter of
  the memory of float32, scanned exactly (no graph) with inner products on decoded values.

``score`` gives the scores the served int8 path ranks by (query vectors of the int8 encoder
against the decoded codes), so the usual evaluation measures its quality loss against the
float32 model (``benchmarks/serving.py``). The quantised model is built at load time from the
saved float32 weights; nothing quantised is written to disk.
"""

from __future__ import annotations

import copy
import warnings
from typing import Any

import numpy as np

from shopaug.data import Sequences
from shopaug.models._base import top_items


class Int8Recommender:
    """A float32 model served with int8 weights and int8 item codes (see the module doc)."""

    def __init__(self, model: Any) -> None:
        import faiss
        import torch

        if not hasattr(model, "query_vectors") or not getattr(model, "vector_scoring", True):
            raise ValueError(f"int8 serving needs a model with query and item vectors and no "
                             f"text or co-occurrence blend; {model.name!r} has none")
        self.model = copy.copy(model)
        with warnings.catch_warnings():
            # torch marks torch.ao.quantization deprecated in favour of torchao, a package
            # we do not depend on; the API is present and tested in this torch version
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.simplefilter("ignore", UserWarning)
            self.model.net_ = torch.ao.quantization.quantize_dynamic(
                copy.deepcopy(model.net_).eval(), {torch.nn.Linear}, dtype=torch.qint8)
        self.name, self.n_items_ = model.name, model.n_items_
        self.n_users_ = getattr(model, "n_users_", 0)
        vecs = np.ascontiguousarray(model.item_vectors()[1:], dtype=np.float32)
        self.index = faiss.IndexScalarQuantizer(
            vecs.shape[1], faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT)
        self.index.train(vecs)
        self.index.add(vecs)
        self.decoded = self.index.sa_decode(self.index.sa_encode(vecs))

    def query_vectors(self, histories: Sequences) -> np.ndarray:
        return self.model.query_vectors(histories)

    def score(self, users: np.ndarray, histories: Sequences) -> np.ndarray:
        q = self.query_vectors(histories)
        out = np.zeros((len(histories), self.n_items_ + 1), dtype=np.float32)
        out[:, 1:] = q @ self.decoded.T
        return out

    def recommend(self, users: np.ndarray, histories: Sequences, k: int = 10, *,
                  exclude_history: bool = True) -> tuple[np.ndarray, np.ndarray]:
        return top_items(self.score(users, histories), histories, k,
                         exclude_history=exclude_history)

    def memory_bytes(self) -> dict[str, int]:
        """Item-vector memory: int8 codes versus the float32 table they replace."""
        return {"int8_codes": int(self.index.sa_code_size() * self.index.ntotal),
                "float32": int(self.decoded.nbytes)}
