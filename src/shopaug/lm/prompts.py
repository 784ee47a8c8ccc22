"""Few-shot prompts for Gemma 3 270M (a base model) and parsers for what it writes.

Two uses, both LLMRec-style side information:

* item enrichment: short or empty product titles carry little signal for text encoders, so
  Gemma adds keywords, a category and a use to titles of fewer than ``min_words`` words;
* user profiles: a short line of interests summarising each user's purchase history.

``PROMPT_VERSION`` is mixed into the generator's cache key: bump it when a prompt or parser
changes meaning, so no stale cached output is reused.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from shopaug.lm.generator import Generator

PROMPT_VERSION = "1"
FIELDS = ("keywords", "category", "use")

_ENRICH_EXAMPLES = [
    ("hydrating facial serum hyaluronic acid 30ml",
     "keywords: serum, hyaluronic acid, hydrating, face | category: skin care | "
     "use: moisturize dry skin"),
    ("matte liquid lipstick",
     "keywords: lipstick, liquid, matte, lips | category: makeup | use: long lasting lip color"),
    ("bamboo bath mat",
     "keywords: bath mat, bamboo, bathroom, non slip | category: home bath | "
     "use: dry feet after shower"),
    ("argan oil shampoo",
     "keywords: shampoo, argan oil, hair, cleansing | category: hair care | "
     "use: wash and soften hair"),
]

_PROFILE_EXAMPLES = [
    (["nail polish top coat", "cuticle oil pen", "gel nail polish remover"],
     "nail care, nail polish, manicure at home"),
    (["vitamin c serum", "spf 50 sunscreen", "gentle foaming cleanser", "retinol night cream"],
     "skin care routine, anti aging, sun protection"),
    (["beard oil", "beard trimmer", "shaving cream sensitive skin"],
     "men's grooming, beard care, shaving"),
]


def _clean(text: str, max_words: int = 16) -> str:
    """One line, at most ``max_words`` words: keeps prompts short and the format intact."""
    return " ".join(str(text).split()[:max_words])


def enrichment_prompt(title: str) -> str:
    """A few-shot prompt whose continuation is ``keywords: ... | category: ... | use: ...``.

    The prompt ends in ``keywords:``, so the model writes the rest of that one line.
    """
    shots = "".join(f"Title: {t}\n{line}\n\n" for t, line in _ENRICH_EXAMPLES)
    return f"{shots}Title: {_clean(title) or '(none)'}\nkeywords:"


def parse_enrichment(text: str) -> dict[str, str]:
    """The ``keywords``, ``category`` and ``use`` fields found in ``text`` (missing ones left out).

    Robust to partial or garbled output: only the first line counts, fields are split on
    ``|``, labels are matched case-insensitively, a first unlabelled segment is taken as the
    keywords (the prompt ends in ``keywords:``), unknown labels and empty values are dropped.
    """
    line = text.strip().split("\n", 1)[0] if text else ""
    out: dict[str, str] = {}
    for i, segment in enumerate(line.split("|")):
        name, sep, value = segment.partition(":")
        name = name.strip().lower()
        if not sep or name not in FIELDS:
            if i > 0:
                continue
            name, value = "keywords", segment
        value = _unique_phrases(re.sub(r"[^\w\s,'&-]", " ", value))
        if value and name not in out:
            out[name] = value
    return out


def _unique_phrases(text: str) -> str:
    """Comma-separated phrases, whitespace-normalised, empty and repeated ones dropped.

    Small base models loop ("nail polish, nail polish, ..."); repeats add no information.
    """
    seen: dict[str, str] = {}
    for phrase in text.split(","):
        phrase = " ".join(phrase.split())
        if phrase and phrase.lower() not in seen:
            seen[phrase.lower()] = phrase
    return ", ".join(seen.values())


def _new_words(title: str, fields: dict[str, str]) -> str:
    """The words of the fields, in order, without repeats or words already in the title."""
    seen = {w.lower() for w in title.split()}
    words = []
    for w in " ".join(fields[f] for f in FIELDS if f in fields).replace(",", " ").split():
        if w.lower() not in seen:
            seen.add(w.lower())
            words.append(w)
    return " ".join(words)


def enrich_items(
    texts: list[str] | np.ndarray,
    generator: Generator,
    *,
    min_words: int = 4,
    max_new_tokens: int = 32,
    time_budget: float | None = None,
) -> list[str]:
    """Item texts, those of fewer than ``min_words`` words extended with Gemma's keywords.

    A short text becomes ``text + " " + keywords category use`` as plain words, each word
    once and not repeating the title (repeats would only inflate term weights). Longer texts
    are returned unchanged, and so are empty ones: with no title there is nothing to ground
    the output on, so Gemma would only invent a plausible product, which is noise that looks
    like signal. Texts not done within ``time_budget`` also stay unchanged.
    """
    texts = ["" if t is None else str(t) for t in texts]
    short = [i for i, t in enumerate(texts) if 0 < len(t.split()) < min_words]
    results = generator.generate(
        [enrichment_prompt(texts[i]) for i in short], max_new_tokens=max_new_tokens,
        stop="\n", time_budget=time_budget, tag=f"enrich/v{PROMPT_VERSION}",
    )
    out = list(texts)
    for i, result in zip(short, results, strict=True):
        if result is not None:
            extra = _new_words(texts[i], parse_enrichment(result))
            if extra:
                out[i] = f"{texts[i]} {extra}"
    return out


def profile_prompt(titles: list[str]) -> str:
    """A few-shot prompt ``Purchased: t1; t2; ...\\nInterests:`` for one user's history."""
    def line(ts: list[str]) -> str:
        return "; ".join(_clean(t, 10).replace(";", ",") for t in ts if str(t).strip())

    shots = "".join(f"Purchased: {line(ts)}\nInterests: {s}\n\n" for ts, s in _PROFILE_EXAMPLES)
    return f"{shots}Purchased: {line(titles)}\nInterests:"


def summarize_users(
    histories: list[list[str]],
    generator: Generator,
    *,
    max_items: int = 10,
    max_new_tokens: int = 24,
    time_budget: float | None = None,
) -> list[str]:
    """A short interest summary per user from the last ``max_items`` titles of the history.

    Users with no non-empty title, and users not done within ``time_budget``, get ``""``.
    """
    recent = [[str(t) for t in h if t is not None and str(t).strip()][-max_items:]
              for h in histories]
    asked = [i for i, h in enumerate(recent) if h]
    results = generator.generate(
        [profile_prompt(recent[i]) for i in asked], max_new_tokens=max_new_tokens,
        stop="\n", time_budget=time_budget, tag=f"profile/v{PROMPT_VERSION}",
    )
    out = [""] * len(histories)
    for i, result in zip(asked, results, strict=True):
        out[i] = _unique_phrases(result or "")
    return out
