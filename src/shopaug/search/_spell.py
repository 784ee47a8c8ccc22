"""Query spelling correction against the catalogue's own vocabulary (SymSpell-style).

Shoppers mistype ("rheum water heater", "lawn sprkinler") and run words together
("deckover"). A query word that never occurs in the catalogue is replaced by the most frequent
catalogue word within Damerau-Levenshtein distance 1 (2 for words of 8+ letters), or split
into two catalogue words. Lookups go through a table of single-letter deletions of every
vocabulary word, so each correction is a few dictionary probes, not a vocabulary scan.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence

_WORD = re.compile(r"[a-z]+")


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()


def _deletes(word: str) -> set[str]:
    return {word[:i] + word[i + 1:] for i in range(len(word))}


def _distance(a: str, b: str) -> int:
    """Optimal-string-alignment distance (edits and adjacent transpositions)."""
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        prev2, prev = prev, cur
    return prev[-1]


class SpellCorrector:
    """Correct query words to words of the catalogue.

    Args:
        min_length: shorter words are left alone (too ambiguous).
        min_count: vocabulary words seen fewer times are not used as corrections.
    """

    def __init__(self, *, min_length: int = 4, min_count: int = 2) -> None:
        self.min_length = min_length
        self.min_count = min_count
        self.counts_: Counter[str] = Counter()
        self._del: dict[str, list[str]] = {}

    def fit(self, texts: Iterable[str]) -> SpellCorrector:
        counts: Counter[str] = Counter()
        for t in texts:
            counts.update(_WORD.findall(_fold(str(t))))
            # "DeckOver" also yields "deckover", so run-together queries find it whole
            counts.update(w.lower() for w in re.findall(r"\b[A-Z][a-z]+[A-Z][a-z]+\b", str(t)))
        self._index(counts)
        return self

    def _index(self, counts: Counter[str]) -> None:
        self.counts_ = counts
        table: dict[str, list[str]] = {}
        for w, c in counts.items():
            if c >= self.min_count and len(w) >= self.min_length - 1:
                for d in _deletes(w) | {w}:
                    table.setdefault(d, []).append(w)
        self._del = table

    def word(self, w: str) -> str:
        """The correction of one lowercase word (itself if known or nothing is close)."""
        if len(w) < self.min_length or w in self.counts_ or not w.isalpha():
            return w
        best, best_key = w, (99, 0)
        limit = 2 if len(w) >= 8 else 1
        probes = {w} | _deletes(w)
        for p in probes:
            for cand in self._del.get(p, ()):
                d = _distance(w, cand)
                if d <= limit:
                    key = (d, -self.counts_[cand])
                    if key < best_key:
                        best, best_key = cand, key
        if best != w:
            return best
        # run-together words: the split whose rarer half is most frequent
        split, score = w, 0
        for i in range(2, len(w) - 1):
            a, b = w[:i], w[i:]
            s = min(self.counts_.get(a, 0), self.counts_.get(b, 0))
            if s >= self.min_count and s > score and len(a) > 1 and len(b) > 1:
                split, score = f"{a} {b}", s
        return split

    def __call__(self, queries: Sequence[str]) -> list[str]:
        """Each query with its unknown words corrected (other characters kept as typed)."""
        out = []
        for q in queries:
            folded = _fold(str(q))
            out.append(_WORD.sub(lambda m: self.word(m.group(0)), folded))
        return out

    def to_json(self) -> dict:
        return {"min_length": self.min_length, "min_count": self.min_count,
                "counts": dict(self.counts_)}

    @classmethod
    def from_json(cls, data: dict) -> SpellCorrector:
        sc = cls(min_length=data["min_length"], min_count=data["min_count"])
        sc._index(Counter(data["counts"]))
        return sc
