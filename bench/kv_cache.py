"""Does llama.cpp reuse the key/value cache of a shared prompt prefix (our fixed system prompt)?
Times prompt evaluation of n new tokens cold, and of 100 new tokens after a 100-token prefix that
the previous call already evaluated.

    .venv/bin/python bench/kv_cache.py
"""
from __future__ import annotations

import random
import time

from qa.catalogue import resolve_gguf
from qa.generator import LlamaGenerator
from qa.settings import Settings


def main() -> None:
    s = Settings.from_env()
    llm = LlamaGenerator(resolve_gguf(s.model_path, s.profile, s.cache_dir), s.n_ctx, s.n_threads, 1).llm
    vocab = [llm.tokenize(f" {w}".encode(), add_bos=False)[0]
             for w in "the of market president war company said report new year people city state".split()]
    rng = random.Random(0)

    def evaluate(tokens: list[int]) -> float:
        started = time.perf_counter()
        list(llm.create_completion(tokens, max_tokens=1, stream=True, temperature=0))
        return time.perf_counter() - started

    evaluate([rng.choice(vocab) for _ in range(50)])  # warm-up
    for n in (50, 100, 200, 400, 800):
        print(f"{n} new tokens, cold: {evaluate([rng.choice(vocab) for _ in range(n)]):.2f} s")
    prefix = [rng.choice(vocab) for _ in range(100)]
    evaluate(prefix + [rng.choice(vocab)])
    print(f"100 cached + 100 new tokens: {evaluate(prefix + [rng.choice(vocab) for _ in range(100)]):.2f} s")


if __name__ == "__main__":
    main()
