"""Deterministic fakes that satisfy the project's seams (no mocks of model internals)."""
from __future__ import annotations

import hashlib
import re
from typing import Iterator, Sequence

import numpy as np


class HashEmbedder:
    """Hashed bag of words: texts sharing words get similar unit vectors. Counts its calls."""

    def __init__(self, dim: int = 256, max_tokens: int = 256, name: str = "fake/hash-bow"):
        self.dim, self.max_tokens, self.name = dim, max_tokens, name
        self.embedded: list[str] = []

    def count_tokens(self, text: str) -> int:
        return len(text.split()) + 2

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.embedded.extend(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                if len(word) > 2:
                    out[row, int(hashlib.md5(word.encode()).hexdigest(), 16) % self.dim] += 1
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms == 0, 1, norms)


class ScriptedGenerator:
    """Replies with scripted text (a string, or a function of the messages), word by word, and
    records every prompt it was given. Tokens are words plus 4 per message."""

    def __init__(self, reply="The answer [1].", n_ctx: int = 4096):
        self.reply, self.n_ctx = reply, n_ctx
        self.prompts: list[list[dict]] = []

    def count_tokens(self, messages: Sequence[dict]) -> int:
        return sum(len(m["content"].split()) + 4 for m in messages)

    def stream(self, messages: Sequence[dict]) -> Iterator[str]:
        assert self.count_tokens(messages) <= self.n_ctx, "prompt over the context window"
        self.prompts.append(list(messages))
        text = self.reply(messages) if callable(self.reply) else self.reply
        for i, word in enumerate(re.split(r"(?<= )", text)):
            yield word
