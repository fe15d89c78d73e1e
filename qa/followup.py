"""Follow-up questions: make them self-contained from the conversation before searching (pure)."""
from __future__ import annotations

import re
from typing import Sequence

_DEPENDENT = frozenset("it its this that these those they them their he him his she her there such "
                       "also too then".split())
_OPENERS = ("and ", "but ", "so ", "what about", "how about", "why not", "what else")


def is_follow_up(question: str) -> bool:
    """A question that leans on an earlier one: a pronoun, a connective opener, or very short.

    >>> is_follow_up("And what did Lavrov say about it?"), is_follow_up("Who is Lavrov?")
    (True, False)
    """
    q = question.lower().strip()
    words = re.findall(r"[a-z']+", q)
    return bool(words) and (q.startswith(_OPENERS) or len(words) <= 2 or any(w in _DEPENDENT for w in words))


def standalone(question: str, history: Sequence[str]) -> str:
    """The question to search and answer with: a follow-up carries the previous question along.

    >>> standalone("And what did Lavrov say about it?", ["Why does Russia reject European troops?"])
    'And what did Lavrov say about it? (Follow-up to: Why does Russia reject European troops?)'
    >>> standalone("Who is Lavrov?", ["Why?"])
    'Who is Lavrov?'
    """
    earlier = [h.strip() for h in history if h and h.strip()]
    if not earlier or not is_follow_up(question):
        return question
    return f"{question} (Follow-up to: {earlier[-1]})"
