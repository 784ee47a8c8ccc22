"""On-disk caches for language-model outputs: what was computed once is never recomputed.

Keys are SHA-256 digests of everything that determines the output (model id, settings,
text or prompt), so a changed model or setting can never return a stale value.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from shopaug._fs import write_file_atomic


def default_dir() -> Path:
    """``$SHOPAUG_CACHE`` or ``~/.cache/shopaug``."""
    env = os.environ.get("SHOPAUG_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "shopaug"


def digest(*parts: Any) -> str:
    """A stable hex key for JSON-serialisable parts."""
    blob = json.dumps(parts, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def text_keys(texts: list[str]) -> np.ndarray:
    """SHA-256 of each text as 32 raw bytes (a fixed-width numpy bytes array)."""
    return np.array([hashlib.sha256(t.encode("utf-8")).digest() for t in texts], dtype="S32")


class VectorCache:
    """Vectors keyed by text hash, for one model and setting, in ``folder/NAME.npz``.

    ``get`` returns what is cached; ``put`` merges new rows and rewrites the file atomically
    (a crash leaves the previous file, never a torn one).
    """

    def __init__(self, folder: str | Path, name: str) -> None:
        self.path = Path(folder) / f"{name}.npz"
        self.keys = np.empty(0, dtype="S32")
        self.vectors: np.ndarray | None = None
        if self.path.exists():
            with np.load(self.path, allow_pickle=False) as z:
                self.keys, self.vectors = z["keys"], z["vectors"]
        self._order = np.argsort(self.keys)

    def __len__(self) -> int:
        return len(self.keys)

    def get(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """``(found, rows)``: a mask over ``keys`` and the cached vectors of the found ones."""
        if not len(self.keys):
            return np.zeros(len(keys), dtype=bool), None
        sorted_keys = self.keys[self._order]
        pos = np.searchsorted(sorted_keys, keys).clip(max=len(sorted_keys) - 1)
        found = sorted_keys[pos] == keys
        return found, self.vectors[self._order[pos[found]]]

    def put(self, keys: np.ndarray, vectors: np.ndarray) -> None:
        keys, first = np.unique(keys, return_index=True)
        vectors = vectors[first]
        if self.vectors is not None:
            new = ~np.isin(keys, self.keys)
            keys = np.concatenate([self.keys, keys[new]])
            vectors = np.concatenate([self.vectors, vectors[new]])
        self.keys, self.vectors = keys, vectors
        self._order = np.argsort(self.keys)

        def fill(tmp: Path) -> None:
            with open(tmp, "wb") as f:
                np.savez(f, keys=self.keys, vectors=self.vectors)

        write_file_atomic(self.path, fill)


class TextCache:
    """Generated texts keyed by a digest, appended one JSON line per result.

    Appending (with flush and fsync) makes long generation jobs resumable: whatever finished
    before an interruption is kept. A torn last line from a crash is ignored on reading.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.values: dict[str, str] = {}
        if self.path.exists():
            for line in self.path.read_text(encoding="utf-8").splitlines():
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line cut by a crash
                self.values[row["key"]] = row["text"]

    def __contains__(self, key: str) -> bool:
        return key in self.values

    def __getitem__(self, key: str) -> str:
        return self.values[key]

    def __len__(self) -> int:
        return len(self.values)

    def add(self, rows: dict[str, str]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        torn = self.path.exists() and self.path.stat().st_size > 0 and not self._ends_clean()
        with open(self.path, "a", encoding="utf-8") as f:
            if torn:
                f.write("\n")  # end a line cut by a crash so the next row stands alone
            for key, text in rows.items():
                f.write(json.dumps({"key": key, "text": text}, ensure_ascii=False) + "\n")
            f.flush()
            os.fsync(f.fileno())
        self.values.update(rows)

    def _ends_clean(self) -> bool:
        with open(self.path, "rb") as f:
            f.seek(-1, os.SEEK_END)
            return f.read(1) == b"\n"
