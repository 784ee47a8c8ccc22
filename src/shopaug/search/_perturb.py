"""Seeded perturbations of search queries: typos, dropped words, synonyms, shuffled order.

Used twice: as training augmentation (a model that saw "leathr couch" matches it later) and
to build robustness test sets (:func:`perturbed_set`: how much does retrieval lose when the
query is misspelt?).

Every op is a pure function ``op(text, rng) -> str`` with the random stream passed in (same
text and seed, same output) that returns ``text`` unchanged when it cannot apply, and changes
it whenever it can:

========== =============================================================================
op         edit
========== =============================================================================
typo       one letter -> a neighbouring key on a QWERTY keyboard (case kept)
swap       two adjacent, different letters of a word trade places
drop_char  one letter of a word of 4 letters or more is deleted
synonym    one word -> a WordNet synonym from its most frequent senses (nouns, adjectives)
drop_word  one word is removed, in queries of 3 words or more
reorder    the words are shuffled (2 different words or more)
========== =============================================================================

Character ops touch letters only, never digits or punctuation ("1/2 in" keeps its
"1/2"); words are whitespace-separated tokens and the spacing between them is kept.

Example:
    >>> import numpy as np
    >>> p = Perturber(ops=("typo", "swap", "drop_char"), n_edits=1)
    >>> p(["wireless mouse", "usb c cable"], np.random.default_rng(0))  # doctest: +SKIP
    ['wireless mluse', 'usb c cabel']

References:
    Wei and Zou, "EDA: Easy Data Augmentation Techniques for Boosting Performance on Text
    Classification Tasks" (EMNLP 2019): synonym replacement, random swap and deletion.
    Sidiropoulos and Kanoulas, "Analysing the Robustness of Dual Encoders for Dense Retrieval
    Against Misspellings" (SIGIR 2022): keyboard typos, swaps and drops as query noise.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from shopaug.exceptions import ConfigError

__all__ = [
    "OPS",
    "Perturber",
    "drop_char",
    "drop_word",
    "perturbed_set",
    "reorder",
    "swap",
    "synonym",
    "typo",
]

# --- keyboard ---------------------------------------------------------------------------------

_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")


def _keyboard_neighbours() -> dict[str, str]:
    # Rows are staggered: each row sits half a key right of the one above, so key c of row r
    # touches keys c and c+1 above it and c-1 and c below it.
    out = {}
    for r, row in enumerate(_ROWS):
        for c, key in enumerate(row):
            near = [(r, c - 1), (r, c + 1), (r - 1, c), (r - 1, c + 1), (r + 1, c - 1), (r + 1, c)]
            out[key] = "".join(
                _ROWS[i][j] for i, j in near if 0 <= i < len(_ROWS) and 0 <= j < len(_ROWS[i])
            )
    return out


KEYBOARD_NEIGHBOURS: dict[str, str] = _keyboard_neighbours()
"""Letters next to each lowercase letter on a QWERTY keyboard (``"s"`` -> ``"adwezx"``)."""

# Words the synonym op leaves alone: function words (WordNet reads "in" as inch or indium,
# "it" as information technology) and units, which must not drift ("oz" -> ?).
_KEEP = frozenset(
    """a an the and or nor but if of in on at to by for from with without into onto per via
    vs as is are be it its this that these those i me my we us our you your he she they them
    his her their no not so up out off over under than all any each more most very de la
    inch inches ft feet yd mm cm m km mi g kg mg lb lbs oz fl ml l gal qt pt w kw v mah
    ah hz khz mhz ghz kb mb gb tb mp px x xs s xl xxl pc pcs ct""".split()
)
_WORD = re.compile(r"[A-Za-z]+(?:[-'][A-Za-z]+)*")  # plain English words, "t-shirt", "men's"
_TOKEN = re.compile(r"\S+")
# Synonyms are drawn among the first few only: later ones come from rare senses
# ("chair" -> "electric chair").
_TOP_SYNONYMS = 3


# --- sites and edits ------------------------------------------------------------------------
# An op is split into ``sites(text)``, every place where it can act (empty: not applicable),
# and ``edit(text, site, rng)``, which acts at one of them. The Perturber needs the first to
# choose among applicable ops only.


def _spans(text: str) -> list[tuple[int, int]]:
    return [m.span() for m in _TOKEN.finditer(text)]


def _typo_sites(text: str) -> list[int]:
    return [i for i, ch in enumerate(text) if ch.lower() in KEYBOARD_NEIGHBOURS]


def _typo_edit(text: str, i: int, rng: np.random.Generator) -> str:
    near = KEYBOARD_NEIGHBOURS[text[i].lower()]
    new = near[rng.integers(len(near))]
    return text[:i] + (new.upper() if text[i].isupper() else new) + text[i + 1 :]


def _swap_sites(text: str) -> list[int]:
    return [
        i
        for i in range(len(text) - 1)
        if text[i].isalpha() and text[i + 1].isalpha() and text[i] != text[i + 1]
    ]


def _swap_edit(text: str, i: int, rng: np.random.Generator) -> str:
    return text[:i] + text[i + 1] + text[i] + text[i + 2 :]


def _drop_char_sites(text: str) -> list[int]:
    return [
        i
        for start, end in _spans(text)
        if sum(ch.isalpha() for ch in text[start:end]) >= 4
        for i in range(start, end)
        if text[i].isalpha()
    ]


def _drop_char_edit(text: str, i: int, rng: np.random.Generator) -> str:
    return text[:i] + text[i + 1 :]


def _synonym_candidates(word: str) -> list[str]:
    from shopaug.search._wordnet import synonyms

    return synonyms(word)[:_TOP_SYNONYMS]


def _synonym_sites(text: str) -> list[int]:
    tokens = _TOKEN.findall(text)
    return [
        k
        for k, tok in enumerate(tokens)
        if len(tok) >= 2  # one letter is an initial or a size ("z" -> "zed")
        and _WORD.fullmatch(tok)
        and tok.lower() not in _KEEP
        # the word after a number is its unit or count word: "1/2 in", "6 pack", "2 seater"
        and not (k and any(ch.isdigit() for ch in tokens[k - 1]))
        and _synonym_candidates(tok)
    ]


def _synonym_edit(text: str, k: int, rng: np.random.Generator) -> str:
    start, end = _spans(text)[k]
    word = text[start:end]
    candidates = _synonym_candidates(word)
    new = candidates[rng.integers(len(candidates))]
    if len(word) > 1 and word.isupper():
        new = new.upper()
    elif word[0].isupper():
        new = new[0].upper() + new[1:]
    return text[:start] + new + text[end:]


def _drop_word_sites(text: str) -> list[int]:
    n = len(_spans(text))
    return list(range(n)) if n >= 3 else []


def _drop_word_edit(text: str, k: int, rng: np.random.Generator) -> str:
    spans = _spans(text)
    if k + 1 < len(spans):
        return text[: spans[k][0]] + text[spans[k + 1][0] :]  # the word and the space after
    return text[: spans[k - 1][1]] + text[spans[k][1] :]  # the last word and the space before


def _reorder_sites(text: str) -> list[int]:
    tokens = _TOKEN.findall(text)
    return [0] if len(set(tokens)) >= 2 else []


def _reorder_edit(text: str, site: int, rng: np.random.Generator) -> str:
    pieces = _TOKEN.split(text)  # gap, token, gap, token, ..., gap: gaps stay in place
    tokens = _TOKEN.findall(text)
    new = [tokens[j] for j in rng.permutation(len(tokens))]
    if new == tokens:
        # A shift by one equals the original only if all tokens are equal (not a site).
        new = tokens[1:] + tokens[:1]
    out = [pieces[0]]
    for tok, gap in zip(new, pieces[1:], strict=True):
        out += [tok, gap]
    return "".join(out)


class _Op(NamedTuple):
    sites: Callable[[str], list[Any]]
    edit: Callable[[str, Any, np.random.Generator], str]

    def __call__(self, text: str, rng: np.random.Generator) -> str:
        sites = self.sites(text)
        if not sites:
            return text
        return self.edit(text, sites[rng.integers(len(sites))], rng)


OPS: dict[str, _Op] = {
    "typo": _Op(_typo_sites, _typo_edit),
    "swap": _Op(_swap_sites, _swap_edit),
    "drop_char": _Op(_drop_char_sites, _drop_char_edit),
    "synonym": _Op(_synonym_sites, _synonym_edit),
    "drop_word": _Op(_drop_word_sites, _drop_word_edit),
    "reorder": _Op(_reorder_sites, _reorder_edit),
}
"""Every op by name, in the order of :attr:`Perturber.ops`' default."""


def typo(text: str, rng: np.random.Generator) -> str:
    """Replace one ASCII letter by a QWERTY neighbour, keeping its case (``"sofa"`` ->
    ``"sods"``); ``text`` itself when it has no letter."""
    return OPS["typo"](text, rng)


def swap(text: str, rng: np.random.Generator) -> str:
    """Transpose two adjacent, different letters of a word (``"sofa"`` -> ``"osfa"``);
    ``text`` itself when no such pair exists."""
    return OPS["swap"](text, rng)


def drop_char(text: str, rng: np.random.Generator) -> str:
    """Delete one letter of a word of at least 4 letters (``"sofa"`` -> ``"sfa"``);
    ``text`` itself when there is no such word."""
    return OPS["drop_char"](text, rng)


def synonym(text: str, rng: np.random.Generator) -> str:
    """Replace one word by a WordNet synonym from its most frequent senses (``"leather
    couch"`` -> ``"leather sofa"``); ``text`` itself when no word has one.

    Numbers, units, the word after a number and function words are never replaced. Needs
    WordNet (:func:`shopaug.search._wordnet.ensure_wordnet`); loads it on first use (about 6 s).
    """
    return OPS["synonym"](text, rng)


def drop_word(text: str, rng: np.random.Generator) -> str:
    """Remove one word from a query of at least 3 words; ``text`` itself otherwise."""
    return OPS["drop_word"](text, rng)


def reorder(text: str, rng: np.random.Generator) -> str:
    """Shuffle the words into a different order; ``text`` itself when it has fewer than 2
    different words."""
    return OPS["reorder"](text, rng)


# --- composition ------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Perturber:
    """Apply ``n_edits`` random applicable ops to each text.

    Each edit chooses uniformly among the configured ops that can apply to the text as it
    stands (``reorder`` is never chosen for one word), then uniformly among that op's sites.
    A text that any op can change always comes out changed, even when edits undo each other
    (a swap swapped back gets one more edit); a text no op can change comes out as it was.

    Attributes:
        ops: names of the ops to draw from (keys of :data:`OPS`); a list is accepted and
            stored as a tuple.
        n_edits: edits per text, at least 1; fewer when no op applies any more.

    Requirements:
        ``"synonym"`` needs WordNet installed (``python -m shopaug.search._wordnet``).

    Example:
        >>> import numpy as np
        >>> perturb = Perturber(ops=("reorder", "drop_word"))
        >>> perturb(["sofa", "grey sofa"], np.random.default_rng(0))
        ['sofa', 'sofa grey']
    """

    ops: tuple[str, ...] = tuple(OPS)
    n_edits: int = 1

    def __post_init__(self) -> None:
        ops = (self.ops,) if isinstance(self.ops, str) else tuple(self.ops)
        unknown = [op for op in ops if op not in OPS]
        if unknown or not ops:
            raise ConfigError(
                f"unknown perturbation op(s) {unknown}; valid: {list(OPS)}"
                if unknown
                else f"ops is empty; choose among {list(OPS)}"
            )
        if isinstance(self.n_edits, bool) or not isinstance(self.n_edits, int):
            raise ConfigError(f"n_edits must be an integer, got {self.n_edits!r}")
        if self.n_edits < 1:
            raise ConfigError(f"n_edits must be at least 1, got {self.n_edits}")
        object.__setattr__(self, "ops", tuple(dict.fromkeys(ops)))  # a list from a config file

    def __call__(self, texts: Sequence[str], rng: np.random.Generator) -> list[str]:
        """Perturb every text, in order, drawing from ``rng``.

        Args:
            texts: queries or titles (a list, not one string).
            rng: the random stream; the same stream state gives the same outputs.

        Returns:
            One text per input, in input order.
        """
        if isinstance(texts, str):
            raise TypeError("texts must be a sequence of strings, not one string")
        return [self._one(text, rng) for text in texts]

    def _one(self, text: str, rng: np.random.Generator) -> str:
        out = text
        for _ in range(self.n_edits):
            edited = self._edit(out, rng)
            if edited is None:
                break
            out = edited
        if out == text:
            # Every edit changes its input, so one more edit on `text` itself cannot give
            # `text`; None means nothing applies to it.
            out = self._edit(text, rng) or text
        return out

    def _edit(self, text: str, rng: np.random.Generator) -> str | None:
        applicable = []
        for name in self.ops:
            sites = OPS[name].sites(text)
            if sites:
                applicable.append((OPS[name], sites))
        if not applicable:
            return None
        op, sites = applicable[rng.integers(len(applicable))]
        return op.edit(text, sites[rng.integers(len(sites))], rng)


def perturbed_set(
    queries: Sequence[str],
    rng: np.random.Generator,
    *,
    ops: Sequence[str] = tuple(OPS),
    n_edits: int = 1,
) -> tuple[list[str], list[str]]:
    """A robustness test set: the queries a :class:`Perturber` changed, with their changes.

    Args:
        queries: clean queries.
        rng: the random stream.
        ops: op names to draw from.
        n_edits: edits per query.

    Returns:
        ``(original, perturbed)``, aligned lists, in input order, holding only the queries
        that changed (those no op can change are left out).

    Example:
        >>> import numpy as np
        >>> perturbed_set(["tv", "4k tv"], np.random.default_rng(0), ops=["reorder"])
        (['4k tv'], ['tv 4k'])
    """
    perturbed = Perturber(ops=tuple(ops), n_edits=n_edits)(queries, rng)
    pairs = [(q, p) for q, p in zip(queries, perturbed, strict=True) if p != q]
    return [q for q, _ in pairs], [p for _, p in pairs]
