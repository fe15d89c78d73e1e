"""Fitting a question and passages into the model's context window (pure; tokens are counted by a
callable, the LLM's own tokenizer in production)."""
from __future__ import annotations

from typing import Callable, Sequence, TypeVar

T = TypeVar("T")


def trim_to_tokens(text: str, count: Callable[[str], int], limit: int) -> str:
    """The longest prefix of whole words of `text` that counts at most `limit` tokens.

    >>> trim_to_tokens("a b c d e", lambda s: len(s.split()), 3)
    'a b c'
    >>> trim_to_tokens("", lambda s: 0, 3)
    ''
    """
    if count(text) <= limit:
        return text
    words = text.split()
    lo, hi = 0, len(words)
    while lo < hi:  # largest n with count(words[:n]) <= limit
        mid = (lo + hi + 1) // 2
        if count(" ".join(words[:mid])) <= limit:
            lo = mid
        else:
            hi = mid - 1
    return " ".join(words[:lo])


def fit(items: Sequence[T], cost: Callable[[Sequence[T]], int], limit: int) -> list[T]:
    """Drop items from the end (the lowest-ranked) until `cost(items) <= limit`.

    >>> fit(["aa", "bbb", "c"], lambda xs: sum(map(len, xs)), 5)
    ['aa', 'bbb']
    """
    kept = list(items)
    while kept and cost(kept) > limit:
        kept.pop()
    return kept
