"""Synthetic training queries for products (InPars-style) and their filtering.

Two generators write queries a shopper might type for a product:

* :class:`TemplateQueries`, the cheap baseline: key phrases cut from the title (the product
  type at the end of the title's main segment, brand + type, size + type, a random span);
* :func:`gemma_queries`: Gemma 3 270M continues a few-shot ``Product: ... / Query: ...``
  prompt, batched and cached (greedy for the first query, seeded sampling for more).

:class:`QueryFilter` keeps a (query, product) pair only when it looks like a query (length,
mostly latin letters, no prompt residue, not the whole title) and the product ranks in the
top ``k`` for its own query under the current retriever (InPars' consistency filter), and
drops duplicates. :func:`expand_texts` appends kept queries to product texts (doc2query).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from shopaug.lm.generator import Generator

PROMPT_VERSION = "1"

# the title's main segment ends where colour, finish, pack size or notes begin
_CUT = re.compile(r"\s(?:in|with|for|featuring|by)\s(?=[A-Za-z])|\s[-(,|/]\s?|\(|,|\s-\s")
_SIZE = re.compile(
    r"\b\d+(?:[-/.]\d+)*\s?(?:in|ft|gal|oz|lb|watt|volt|amp|mm|cm|qt|sq|cu|btu|v|w|a)\b\.?",
    re.IGNORECASE,
)
_WORD = re.compile(r"[A-Za-z][A-Za-z'&-]*")
_JUNK = re.compile(r"(?i)\b(product|query|title)\s*:")


def _type_words(title: str) -> list[str]:
    """Words of the title's main segment that name the product (letters only)."""
    main = _CUT.split(title, maxsplit=1)[0]
    return [w for w in _WORD.findall(main) if len(w) > 1]


@dataclass(frozen=True)
class TemplateQueries:
    """Key-phrase queries cut from titles: the cheap baseline generator.

    Per title, candidates are the product type (last 2 and 3 words of the main segment),
    brand + type, size + type and a random 2-4 word span; ``per_product`` of them are drawn.

    Args:
        per_product: queries per title (fewer when a title offers fewer distinct ones).
        lowercase: shoppers mostly type lowercase.
    """

    per_product: int = 2
    lowercase: bool = True

    def candidates(self, title: str, rng: np.random.Generator) -> list[str]:
        words = _type_words(title)
        out = []
        if words:
            out += [" ".join(words[-2:]), " ".join(words[-3:])]
            first = title.split()[0] if title.split() else ""
            if first and first not in words[-2:] and _WORD.fullmatch(first):
                out.append(f"{first} {' '.join(words[-2:])}")
            size = _SIZE.search(title)
            if size:
                out.append(f"{size.group(0).rstrip('.')} {words[-1]}")
        all_words = title.split()
        if len(all_words) >= 3:
            n = int(rng.integers(2, min(4, len(all_words)) + 1))
            start = int(rng.integers(0, len(all_words) - n + 1))
            out.append(re.sub(r"[()\[\],#|]", " ", " ".join(all_words[start : start + n])))
        if self.lowercase:
            out = [q.lower() for q in out]
        out = [" ".join(q.split()).strip(" .,-") for q in out]
        return list(dict.fromkeys(q for q in out if q))

    def __call__(self, titles: Sequence[str], rng: np.random.Generator) -> list[list[str]]:
        out = []
        for t in titles:
            c = self.candidates(str(t), rng)
            if len(c) > self.per_product:
                c = [c[i] for i in sorted(rng.choice(len(c), self.per_product, replace=False))]
            out.append(c)
        return out


# Hand-written in the style of real shop queries (short, lowercase, product type first, often
# a brand or size, sometimes casual): generic enough for other catalogues.
_SHOTS = [
    ("Samsung 55-Inch Class Crystal UHD 4K Smart TV (2023)", "samsung 55 inch smart tv"),
    ("Everbilt 3/8 in. x 2 in. Zinc-Plated Steel Hex Bolt (10-Pack)", "3/8 hex bolts"),
    ("Glacier Bay Modern 8 in. Widespread 2-Handle Bathroom Faucet in Brushed Nickel",
     "brushed nickel bathroom faucet"),
    ("Scotts Turf Builder 15 lb. Lawn Food for All Grass Types", "lawn fertilizer"),
    ("DEWALT 20-Volt MAX Cordless Drill/Driver Kit with Battery and Charger",
     "dewalt cordless drill"),
]


def inpars_prompt(title: str) -> str:
    """A few-shot prompt whose continuation is one shopper query for ``title``."""
    shots = "".join(f"Product: {t}\nQuery: {q}\n\n" for t, q in _SHOTS)
    return f"{shots}Product: {' '.join(str(title).split()[:24])}\nQuery:"


def gemma_queries(
    titles: Sequence[str],
    generator: Generator,
    *,
    per_product: int = 1,
    temperature: float = 0.7,
    seed: int = 0,
    max_new_tokens: int = 12,
    time_budget: float | None = None,
) -> list[list[str]]:
    """Up to ``per_product`` Gemma-written queries per title (cached; see ``Generator``).

    The first query is greedy, the others sampled at ``temperature`` with seeds
    ``seed + 1, ...``; repeats are dropped. Titles not reached within ``time_budget``
    (seconds) get no queries.
    """
    prompts = [inpars_prompt(t) for t in titles]
    out: list[list[str]] = [[] for _ in titles]
    t0 = time.perf_counter()
    for j in range(per_product):
        left = None if time_budget is None else max(0.0, time_budget - (time.perf_counter() - t0))
        res = generator.generate(
            prompts, max_new_tokens=max_new_tokens, stop="\n",
            temperature=0.0 if j == 0 else temperature, seed=seed + j,
            time_budget=left, tag=f"inpars/v{PROMPT_VERSION}",
        )
        for i, r in enumerate(res):
            q = " ".join((r or "").split())
            if q and q not in out[i]:
                out[i].append(q)
    return out


@dataclass(frozen=True)
class QueryFilter:
    """Which generated (query, product) pairs to keep.

    Args:
        top_k: the product must rank in the top ``top_k`` for its own query under the
            retriever given to :meth:`__call__` (``0`` disables this check).
        min_words: shortest query kept.
        max_words: longest query kept.
        min_letters: least share of the query's characters that are latin letters.
    """

    top_k: int = 20
    min_words: int = 1
    max_words: int = 8
    min_letters: float = 0.5

    def text_ok(self, query: str, title: str) -> str | None:
        """Why a query is rejected on its text alone (``None`` if it passes)."""
        words = query.split()
        if not self.min_words <= len(words) <= self.max_words:
            return "length"
        letters = sum(c.isascii() and c.isalpha() for c in query)
        if letters / max(1, len(query.replace(" ", ""))) < self.min_letters:
            return "language"
        if _JUNK.search(query):
            return "prompt residue"
        if query.lower() == str(title).strip().lower():
            return "copies the title"
        return None

    def __call__(
        self,
        queries: Sequence[str],
        products: np.ndarray,
        titles: Sequence[str],
        rank: Callable[[list[str], int], np.ndarray] | None = None,
    ) -> tuple[np.ndarray, dict[str, int]]:
        """A keep mask over the pairs and how many each check rejected.

        ``rank(queries, k)`` returns ``(n, k)`` product positions (the current retriever).
        """
        n = len(queries)
        keep = np.ones(n, dtype=bool)
        why: dict[str, int] = {}
        for i, (q, p) in enumerate(zip(queries, products, strict=True)):
            reason = self.text_ok(q, titles[p])
            if reason:
                keep[i] = False
                why[reason] = why.get(reason, 0) + 1
        seen: set[tuple[str, int]] = set()
        for i in np.flatnonzero(keep):
            key = (" ".join(queries[i].lower().split()), int(products[i]))
            if key in seen:
                keep[i] = False
                why["duplicate"] = why.get("duplicate", 0) + 1
            seen.add(key)
        if self.top_k and rank is not None and keep.any():
            idx = np.flatnonzero(keep)
            top = rank([queries[i] for i in idx], self.top_k)
            hit = (top == products[idx][:, None]).any(axis=1)
            keep[idx[~hit]] = False
            why[f"not in top {self.top_k}"] = int((~hit).sum())
        return keep, why


@dataclass
class QueryPairs:
    """Generated (query, product position) pairs with the generator that wrote each."""

    queries: list[str] = field(default_factory=list)
    products: list[int] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)

    def add(self, per_product: list[list[str]], positions: Sequence[int], source: str) -> None:
        for p, qs in zip(positions, per_product, strict=True):
            for q in qs:
                self.queries.append(q)
                self.products.append(int(p))
                self.sources.append(source)

    def __len__(self) -> int:
        return len(self.queries)

    def select(self, mask: np.ndarray) -> QueryPairs:
        idx = np.flatnonzero(mask)
        return QueryPairs([self.queries[i] for i in idx], [self.products[i] for i in idx],
                          [self.sources[i] for i in idx])

    def sample(self, n: int, rng: np.random.Generator) -> QueryPairs:
        """At most ``n`` pairs drawn without replacement, in their original order."""
        if len(self) <= n:
            return self
        pick = np.zeros(len(self), dtype=bool)
        pick[rng.choice(len(self), n, replace=False)] = True
        return self.select(pick)

    def counts(self) -> dict[str, int]:
        """Pairs per source (generator), sorted by source name."""
        return {s: self.sources.count(s) for s in sorted(set(self.sources))}


def expand_texts(texts: Sequence[str], pairs: QueryPairs, *, max_queries: int = 3) -> list[str]:
    """doc2query: each product text followed by up to ``max_queries`` of its kept queries."""
    extra: dict[int, list[str]] = {}
    for q, p in zip(pairs.queries, pairs.products, strict=True):
        lst = extra.setdefault(p, [])
        if len(lst) < max_queries and q not in lst:
            lst.append(q)
    return [f"{t} | {' | '.join(extra[i])}" if i in extra else str(t)
            for i, t in enumerate(texts)]
