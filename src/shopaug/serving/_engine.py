"""What the service does, without HTTP: recommend, search, similar items, explain, feedback.

The engine holds one :class:`Bundle` (a model and its version). A model update builds a new
bundle beside the old one and swaps a single reference, so requests in flight finish on the
old model and none waits (no downtime). User sequences live in the knowledge store; the engine
keeps them in memory too, updated under a lock after the store has committed an event, so the
next recommendation reads the grown sequence.

Top items per user are cached with a per-user generation number: an event bumps the user's
generation, and a result computed from an older sequence is never stored or served.
"""

from __future__ import annotations

import gc
import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from shopaug.data import Sequences
from shopaug.exceptions import ShopaugError
from shopaug.serving._settings import Settings

K_MAX = 100  # the cache keeps this many items per user; requests ask for k <= K_MAX
EVENT_TYPES = ("view", "click", "cart", "purchase")
_VERSION_DIR = re.compile(r"^v(\d{4,})$")


class NotFound(ShopaugError):
    """A user or item the service does not know (HTTP 404)."""


class BadInput(ShopaugError):
    """Input that names a field and says what was expected (HTTP 422)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


@dataclass
class Bundle:
    """A loaded model with everything derived from it, swapped as one reference."""

    model: Any
    name: str
    version: str
    path: Path
    item_vecs: np.ndarray | None = None  # unit rows, for similar items
    item_raw: np.ndarray | None = None  # score = query_vector @ item_raw.T (exact fast path)
    ann: Any = None  # faiss index over item vectors for top-k retrieval, when large
    loaded: float = field(default_factory=time.time)


def versions(run: Path) -> list[tuple[int, Path]]:
    """Model updates of a run, oldest first: ``RUN/updates/vNNNN/model``."""
    root = Path(run) / "updates"
    if not root.is_dir():
        return []
    out = []
    for d in root.iterdir():
        m = _VERSION_DIR.match(d.name)
        if m and (d / "model" / "config.json").is_file():
            out.append((int(m.group(1)), d / "model"))
    return sorted(out)


class Engine:
    """Loads a run, its store and its model; answers requests. Thread-safe."""

    def __init__(self, settings: Settings, *, progress: bool = False) -> None:
        import torch

        from shopaug.experiment import load_run, read_run
        from shopaug.knowledge import Store

        self.settings = settings
        torch.set_num_threads(max(1, settings.threads))
        self.meta = read_run(settings.run)
        self.ds, _, _, self.model_name = load_run(settings.run, settings.model)
        path = settings.store_path
        if not path.exists():
            Store.from_dataset(path, self.ds).close()
        # shown-logs are flushed by a background thread once a second, never by a request
        self.store = Store(path, flush_every=1 << 30)
        self.titles: dict[str, str | None] = self.store.titles()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._warmer: threading.Thread | None = None
        self._flusher = threading.Thread(target=self._flush_logs, daemon=True,
                                         name="shopaug-log-flush")
        self._gen: dict[str, int] = {}
        self._cache: OrderedDict[str, tuple[int, str, np.ndarray, np.ndarray]] = OrderedDict()
        self.cache_hits = self.cache_misses = 0
        self.seqs: dict[str, np.ndarray] = {}
        items = self.ds.items
        for user, seq in self.store.sequences().items():
            known = [i for i in seq if i in items]
            self.seqs[user] = items.to_internal(np.array(known, dtype=object)) if known else \
                np.zeros(0, np.int64)
        self.popular = np.argsort(-np.bincount(self.ds.item, minlength=self.ds.n_items + 1)[1:],
                                  kind="stable") + 1
        self.bundle = self._load_bundle()
        self.search = self._search_index()
        self._catalog_items: np.ndarray | None = None  # internal item id per search product
        if self.search is not None:
            from shopaug.search._personal import catalog_positions

            self._catalog_items = catalog_positions(self.ds, self.search.catalog)
        gc.freeze()
        self._flusher.start()

    def _flush_logs(self) -> None:
        while not self._stop.wait(1.0):
            self.store.flush()

    # -- models ------------------------------------------------------------------------------
    def _load_bundle(self) -> Bundle:
        from shopaug.models import load_model

        ups = versions(self.settings.run)
        if ups:
            n, path = ups[-1]
        else:
            n, path = 0, Path(self.settings.run) / self.meta["models"][self.model_name]
        model = load_model(path)
        if model.name != self.model_name:
            raise ShopaugError(f"{path}: holds a {model.name!r} model, the run serves "
                               f"{self.model_name!r}")
        version = f"{model.name}@v{n}"
        vectors = getattr(model, "item_vectors", None)
        if vectors is None or not getattr(model, "vector_scoring", True):
            if self.settings.quantize != "none":
                raise ShopaugError(f"{path}: quantize={self.settings.quantize!r} needs a "
                                   "model with item vectors (sasrec without text or "
                                   "co-occurrence blend)")
            return Bundle(model=model, name=model.name, version=version, path=path)
        import faiss

        vecs = np.ascontiguousarray(vectors(), dtype=np.float32)
        unit = vecs / np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)
        unit[0] = 0.0
        b = Bundle(model=model, name=model.name, version=version, path=path, item_vecs=unit,
                   item_raw=vecs)
        if self.settings.quantize == "int8":
            from shopaug.serving._quantize import Int8Recommender

            b.model = Int8Recommender(model)
            b.ann, b.item_raw, b.version = b.model.index, None, version + "-int8"
        elif self.ds.n_items > self.settings.ann_threshold:
            # inner-product HNSW over the raw vectors: SASRec scores are h . e_i
            ann = faiss.IndexHNSWFlat(vecs.shape[1], 32, faiss.METRIC_INNER_PRODUCT)
            # a fixed search breadth above any k asked for: HNSW then returns the same
            # ranking prefix whatever k (a request's and the batch warm-up's agree)
            ann.hnsw.efSearch = 512
            ann.add(vecs[1:])
            b.ann, b.item_raw = ann, None
        return b

    def reload(self) -> dict[str, Any]:
        """Load the newest model version of the run and swap it in (no downtime); the
        cache is refilled for the new version in the background."""
        old = self.bundle.version
        new = self._load_bundle()
        with self._lock:
            self.bundle = new
            self._cache.clear()  # entries also carry the version; clearing frees memory
        self.warm_in_background()
        return {"previous": old, "version": new.version, "swapped": new.version != old}

    def warm_in_background(self) -> threading.Thread | None:
        if not self.settings.warm_cache:
            return None
        t = threading.Thread(target=self.warm, kwargs={"stop": self._stop}, daemon=True,
                             name="shopaug-warm")
        t.start()
        self._warmer = t
        return t

    # -- helpers -----------------------------------------------------------------------------
    def item_internal(self, item_id: str, field: str = "item_id", *, body: bool = False) -> int:
        """Internal id of a catalogue item; unknown ids are 404 in a path, 422 in a body."""
        i = self.ds.items.get(item_id)
        if i is None:
            if body:
                raise BadInput(field, f"unknown item {item_id!r} (not in the catalogue)")
            raise NotFound(f"{field}: unknown item {item_id!r}")
        return int(i)

    def _items(self, internal: np.ndarray, scores: np.ndarray) -> list[dict[str, Any]]:
        ext = self.ds.items.to_external(internal)
        return [{"item_id": str(e), "title": self.titles.get(str(e)), "score": float(s)}
                for e, s in zip(ext, scores, strict=True)]

    def history(self, user_id: str) -> np.ndarray:
        return self.seqs.get(user_id, np.zeros(0, np.int64))

    def _user_row(self, user_id: str | None, model: Any) -> int:
        if user_id is None:
            return -1
        u = self.ds.users.get(user_id)
        return int(u) if u is not None and u < getattr(model, "n_users_", 0) else -1

    def _top(self, user_id: str | None, hist: np.ndarray, k: int, b: Bundle):
        """Top-k internal ids and scores for one history, history items excluded."""
        if not len(hist):
            top = self.popular[:k]
            return top, np.zeros(len(top), np.float32), "popularity"
        if b.item_raw is None and b.ann is None:
            seqs = Sequences.from_lists([hist])
            ids, val = b.model.recommend(np.array([self._user_row(user_id, b.model)]), seqs, k)
            return ids[0], val[0], "model"
        ids, val = self._top_batch([hist], k, b)
        return ids[0], val[0], "ann" if b.ann is not None else "model"

    @staticmethod
    def _top_batch(hists: list[np.ndarray], k: int, b: Bundle):
        """Top-k per history from the bundle's item vectors: by faiss (``b.ann``: HNSW or
        int8 codes) or one exact matrix product. Rows are (ids, scores), best first."""
        seqs = Sequences.from_lists(hists)
        q = b.model.query_vectors(seqs)
        if b.ann is not None:
            extra = int(max(len(np.unique(h)) for h in hists))
            val, idx = b.ann.search(q, k + extra)
            out_i, out_v = [], []
            for h, i, v in zip(hists, idx, val, strict=True):
                keep = (i >= 0) & ~np.isin(i + 1, h)
                out_i.append(i[keep][:k] + 1)
                out_v.append(v[keep][:k])
            return out_i, out_v
        # the same scores as model.score, without its (n_users, n_items) bookkeeping
        s = q @ b.item_raw.T
        s[:, 0] = -np.inf
        s[np.repeat(np.arange(len(hists)), seqs.lengths), seqs.items] = -np.inf
        k = min(k, s.shape[1] - 1)
        top = np.argpartition(-s, k - 1, axis=1)[:, :k]
        val = np.take_along_axis(s, top, axis=1)
        order = np.lexsort((top, -val), axis=1)
        return np.take_along_axis(top, order, 1), np.take_along_axis(val, order, 1)

    def warm(self, batch: int = 512, stop: threading.Event | None = None) -> int:
        """Fill the cache with every known user's top items, scored in batches (a model
        call per batch instead of per request). Runs in the background after start-up;
        an entry is only stored if the user's sequence did not change meanwhile. Returns
        the number of users cached."""
        b = self.bundle
        if (b.item_raw is None and b.ann is None) or self.settings.cache_size <= 0:
            return 0
        users = [u for u, h in self.seqs.items() if len(h)][: self.settings.cache_size]
        done = 0
        for start in range(0, len(users), batch):
            if (stop is not None and stop.is_set()) or self.bundle is not b:
                break
            part = users[start : start + batch]
            with self._lock:
                gens = [self._gen.get(u, 0) for u in part]
                hists = [self.history(u) for u in part]
            top, val = self._top_batch(hists, K_MAX, b)
            with self._lock:
                for j, u in enumerate(part):
                    if self._gen.get(u, 0) == gens[j] and u not in self._cache:
                        self._cache[u] = (gens[j], b.version, top[j], val[j])
                        done += 1
        # long-lived objects (the dataset, the cache) out of the collector's sight: a full
        # collection that walks them all would stall requests for tens of milliseconds
        gc.freeze()
        return done

    # -- requests ----------------------------------------------------------------------------
    def recommend(self, user_id: str, k: int = 10) -> dict[str, Any]:
        b = self.bundle
        with self._lock:
            gen = self._gen.get(user_id, 0)
            hit = self._cache.get(user_id)
            if hit is not None and hit[0] == gen and hit[1] == b.version:
                self._cache.move_to_end(user_id)
                self.cache_hits += 1
                ids, scores, path = hit[2][:k], hit[3][:k], "cache"
            else:
                hit = None
                self.cache_misses += 1
            hist = self.history(user_id)
        if hit is None:
            ids, scores, path = self._top(user_id, hist, K_MAX, b)
            with self._lock:
                if self._gen.get(user_id, 0) == gen and self.settings.cache_size > 0:
                    self._cache[user_id] = (gen, b.version, ids, scores)
                    while len(self._cache) > self.settings.cache_size:
                        self._cache.popitem(last=False)
            ids, scores = ids[:k], scores[:k]
        items = self._items(ids, scores)
        self._log("recommend", user_id, items, b)
        return {"user_id": user_id, "model": b.name, "version": b.version,
                "source": path, "history_length": len(hist), "items": items}

    def recommend_history(self, history: list[str], k: int = 10) -> dict[str, Any]:
        hist = np.array([self.item_internal(h, f"history[{i}]", body=True)
                         for i, h in enumerate(history)], dtype=np.int64)
        b = self.bundle
        ids, scores, path = self._top(None, hist, k, b)
        items = self._items(ids, scores)
        self._log("recommend", None, items, b)
        return {"user_id": None, "model": b.name, "version": b.version, "source": path,
                "history_length": len(hist), "items": items}

    def similar(self, item_id: str, k: int = 10) -> dict[str, Any]:
        i = self.item_internal(item_id)
        b = self.bundle
        if b.item_vecs is not None:
            s = b.item_vecs @ b.item_vecs[i]
            s[[0, i]] = -np.inf
            top = np.argpartition(-s, k)[:k]
            top = top[np.lexsort((top, -s[top]))]
            ids, scores, how = top, s[top], "item vectors (cosine)"
        else:
            # models without item vectors: what the model predicts after this item alone
            ids, scores, _ = self._top(None, np.array([i], np.int64), k, b)
            ids, scores, how = ids, scores, "next-item scores"
        items = self._items(np.asarray(ids), np.asarray(scores))
        self._log("similar", None, items, b)
        return {"item_id": item_id, "title": self.titles.get(item_id), "model": b.name,
                "version": b.version, "method": how, "items": items}

    def explain(self, user_id: str, item_id: str, top: int = 3) -> dict[str, Any]:
        """Which history items make the model recommend ``item_id``: the target's score
        after each of the user's last 20 items alone, the strongest first."""
        i = self.item_internal(item_id)
        hist = self.history(user_id)
        if user_id not in self.seqs:
            raise NotFound(f"user_id: unknown user {user_id!r}")
        b = self.bundle
        if not len(hist):
            return {"user_id": user_id, "item_id": item_id, "because": [],
                    "text": "Popular with other shoppers (no history yet)."}
        recent = np.unique(hist[-20:])
        seqs = Sequences.from_lists([np.array([h]) for h in recent])
        s = b.model.score(np.full(len(recent), -1), seqs)[:, i].astype(np.float64)
        order = np.argsort(-s, kind="stable")[:top]
        w = explain_weights(s, getattr(b.model, "probability_scores", False))
        ext = self.ds.items.to_external(recent[order])
        because = [{"item_id": str(e), "title": self.titles.get(str(e)), "weight": float(w[j])}
                   for e, j in zip(ext, order, strict=True)]
        names = [c["title"] or c["item_id"] for c in because[:2]]
        return {"user_id": user_id, "item_id": item_id, "title": self.titles.get(item_id),
                "model": b.name, "version": b.version, "because": because,
                "text": "Because you bought " + " and ".join(f"“{n}”" for n in names) + "."}

    def _search_index(self):
        from shopaug.search import IndexConfig, SearchIndex
        from shopaug.search._personal import catalog_from_dataset

        if self.settings.search_index is not None:
            return SearchIndex.load(self.settings.search_index)
        if self.ds.item_text is None:
            return None
        return SearchIndex.build(catalog_from_dataset(self.ds),
                                 IndexConfig(method="bm25", b=0.5, spell=True))

    def _boost(self, user_id: str | None, hist: np.ndarray, b: Bundle) -> np.ndarray:
        """The model's score of every search-catalogue product for this user (see
        ``align_scores``), from the vector fast path when the bundle has one."""
        from shopaug.search._personal import align_scores

        seqs = Sequences.from_lists([hist])
        if b.item_raw is not None:
            scores = b.item_raw @ b.model.query_vectors(seqs)[0]
        else:
            scores = b.model.score(np.array([self._user_row(user_id, b.model)]), seqs)[0]
        return align_scores(scores, self._catalog_items)

    def search_items(self, q: str, k: int = 10, user_id: str | None = None) -> dict[str, Any]:
        if self.search is None:
            raise NotFound("search: this run's dataset has no item text to search")
        b = self.bundle
        boost = None
        hist = self.history(user_id) if user_id is not None else np.zeros(0, np.int64)
        if len(hist):
            boost = self._boost(user_id, hist, b)
        weight = self.settings.boost_weight if boost is not None else 0.0
        top, val = self.search.search([q], k, boost=boost, boost_weight=weight)
        ids = self.search.catalog.ids
        items = [{"item_id": str(ids[p]), "title": self.search.catalog.titles[p],
                  "score": float(s)} for p, s in zip(top[0], val[0], strict=True) if p >= 0]
        self._log("search", user_id, items, b, query=q)
        return {"query": q, "user_id": user_id, "personalised": boost is not None,
                "version": b.version, "items": items}

    def add_event(self, user_id: str, item_id: str, type: str, *, timestamp: float | None,
                  event_id: str | None) -> dict[str, Any]:
        """Store the event (committed before this returns), then grow the user's sequence
        and invalidate their cached recommendations."""
        if type not in EVENT_TYPES:
            raise BadInput("type", f"expected one of {', '.join(EVENT_TYPES)}, got {type!r}")
        i = self.item_internal(item_id, body=True)
        eid, created = self.store.add_event(user_id, item_id, type, timestamp=timestamp,
                                            event_id=event_id)
        if created:
            with self._lock:
                self.seqs[user_id] = np.append(self.history(user_id), np.int64(i))
                self._gen[user_id] = self._gen.get(user_id, 0) + 1
                self._cache.pop(user_id, None)
        return {"event_id": eid, "created": created, "user_id": user_id,
                "history_length": len(self.history(user_id))}

    def _log(self, kind: str, user_id: str | None, items: list[dict], b: Bundle,
             query: str | None = None) -> None:
        if self.settings.log_shown:
            self.store.log_shown(kind, user_id=user_id, items=[it["item_id"] for it in items],
                                 model=b.name, version=b.version, query=query)

    def health(self) -> dict[str, Any]:
        b = self.bundle
        return {"status": "ok", "model": b.name, "version": b.version,
                "items": int(self.ds.n_items), "users": len(self.seqs),
                "events": self.store.count_events(source="api"),
                "run": str(self.settings.run), "store": str(self.store.path),
                "search": self.search is not None, "ann": b.ann is not None,
                "cached_users": len(self._cache)}

    def close(self) -> None:
        self._stop.set()
        for t in (self._warmer, self._flusher):
            if t is not None and t.is_alive():
                t.join(60)
        self.store.close()
        gc.unfreeze()  # frozen objects are never finalised: the exit would report them leaked


def explain_weights(scores: np.ndarray, probabilities: bool) -> np.ndarray:
    """Shares of the reasons in an explanation: the scores themselves, normalised, when the
    model scores with probabilities (a softmax would flatten values in [0, 1] to about
    uniform), else their softmax (logits)."""
    w = np.clip(scores, 0.0, None) if probabilities else np.exp(scores - scores.max())
    total = w.sum()
    return w / total if total > 0 else np.full(len(w), 1.0 / len(w))
