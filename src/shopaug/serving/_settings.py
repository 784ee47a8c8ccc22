"""Service settings: one frozen object built by the CLI or a test, read by ``create_app``."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal


@dataclass(frozen=True)
class Settings:
    """How the service runs.

    Attributes:
        run: a run folder written by ``shopaug train`` or ``shopaug demo``.
        store: the knowledge store file; default ``RUN/store.duckdb``, created from the
            run's dataset when missing.
        model: which of the run's models to serve (default its primary model).
        api_key: the key writes must send in ``X-API-Key``; default ``$SHOPAUG_API_KEY``.
            With no key configured every write is refused.
        cache_size: users whose top items are kept in memory (LRU).
        ann_threshold: catalogues with more items than this retrieve top items from an HNSW
            index over the model's item vectors instead of scoring every item.
        search_index: a folder written by ``shopaug search index`` (default: BM25 over the
            run's item texts, built at start-up).
        boost_weight: how much a user's recommendation scores re-rank their search results.
        threads: torch CPU threads per request; 1 lets concurrent requests use both cores.
        log_shown: keep what was shown (recommendation and search logs) in the store.
        quantize: ``int8`` serves the model with int8 encoder weights and int8 item codes
            (see ``shopaug.serving._quantize``; quality loss in docs/benchmarks.md).
        warm_cache: after start-up (and each model swap), fill the cache with every known
            user's top items in batches, in a background thread.
    """

    run: Path
    store: Path | None = None
    model: str | None = None
    api_key: str | None = None
    cache_size: int = 100_000
    ann_threshold: int = 100_000
    search_index: Path | None = None
    boost_weight: float = 0.3
    threads: int = 1
    log_shown: bool = True
    warm_cache: bool = True
    quantize: Literal["none", "int8"] = "none"

    @classmethod
    def from_env(cls, run: str | Path, **overrides) -> Settings:
        """Settings with the API key from ``SHOPAUG_API_KEY`` unless given."""
        overrides.setdefault("api_key", os.environ.get("SHOPAUG_API_KEY") or None)
        return cls(run=Path(run), **overrides)

    @property
    def store_path(self) -> Path:
        return Path(self.store) if self.store is not None else Path(self.run) / "store.duckdb"
