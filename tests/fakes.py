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
        for text in texts:  # like a real tokenizer, refuse text that is not valid Unicode
            try:
                text.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise TypeError(f"TextEncodeInput must be valid text: {exc}") from exc
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
    records every prompt it was given. Tokens are words plus 4 per message.

    Asked with `avoid` (a reply must not start with these), it replies `retry` instead. As a
    `Prober`, `yes` (a number, or a function of the messages) is P(yes) of every yes/no check and
    `start` the probability of any reply start."""

    def __init__(self, reply="The answer [1].", n_ctx: int = 4096, retry="", yes=0.9, start=0.1):
        self.reply, self.n_ctx, self.retry, self.yes, self.start = reply, n_ctx, retry, yes, start
        self.prompts: list[list[dict]] = []
        self.avoided: list[tuple[str, ...]] = []
        self.checks: list[list[dict]] = []

    def yes_probability(self, messages: Sequence[dict]) -> float:
        self.checks.append(list(messages))
        return self.yes(messages) if callable(self.yes) else self.yes

    def reply_probability(self, messages: Sequence[dict], start: str) -> float:
        return self.start

    def count_tokens(self, messages: Sequence[dict]) -> int:
        return sum(len(m["content"].split()) + 4 for m in messages)

    def stream(self, messages: Sequence[dict], avoid: Sequence[str] = ()) -> Iterator[str]:
        assert self.count_tokens(messages) <= self.n_ctx, "prompt over the context window"
        self.prompts.append(list(messages))
        self.avoided.append(tuple(avoid))
        reply = self.retry if avoid else self.reply
        text = reply(messages) if callable(reply) else reply
        for i, word in enumerate(re.split(r"(?<= )", text)):
            yield word


def write_v1_index(folder, passages, vectors, documents: dict, embedder, chunking: str = "paragraphs-v1",
                   rows: list[dict] | None = None) -> None:
    """An index as format 1 wrote it (manifest.json, one flat FAISS file, passages JSONL), for the
    tests of moving it into the store. `rows` replaces the passage lines (fields an older version
    did not write left out)."""
    import json

    import faiss

    flat = faiss.IndexFlatIP(vectors.shape[1])
    flat.add(np.ascontiguousarray(vectors, dtype=np.float32))
    faiss.write_index(flat, str(folder / "vectors-3.faiss"))
    rows = rows if rows is not None else [p.to_dict() for p in passages]
    (folder / "passages-3.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (folder / "manifest.json").write_text(json.dumps({
        "format": 1, "generation": 3, "chunking": chunking, "vectors": "vectors-3.faiss",
        "passages": "passages-3.jsonl", "count": len(rows), "embedder": {"name": embedder.name, "dim": embedder.dim},
        "documents": documents}))
