"""Pure prompt building: numbered passages, the grounding rules and the fixed abstention."""
from __future__ import annotations

import re
from typing import Sequence

from index import Passage

ABSTAIN = "The documents do not say."
SYSTEM = (
    "You answer questions using only the numbered passages given by the user. "
    "Write a short answer. After each sentence, cite the passage it comes from with its number "
    "in square brackets, for example [1] or [2][3]. Use no knowledge from outside the passages. "
    f"If the passages do not contain the answer, reply with exactly: {ABSTAIN}"
)


def passage_block(n: int, passage: Passage) -> str:
    """One numbered passage as the model sees it.

    >>> passage_block(2, Passage("a.txt", "News", 3, "It rained."))
    '[2] (a.txt ¶3, "News") It rained.'
    """
    return f'[{n}] ({passage.ref}, "{passage.title}") {passage.text}'


def build_messages(question: str, passages: Sequence[Passage]) -> list[dict]:
    """The chat messages for one question over numbered passages (1-based, in rank order).

    >>> build_messages("Q?", [])[1]["content"]
    'Passages:\\n(none)\\n\\nQuestion: Q?'
    """
    blocks = "\n\n".join(passage_block(i, p) for i, p in enumerate(passages, start=1)) or "(none)"
    return [{"role": "system", "content": SYSTEM},
            {"role": "user", "content": f"Passages:\n{blocks}\n\nQuestion: {question.strip()}"}]


def is_abstention(text: str) -> bool:
    """True when a reply opens with the fixed sentence (give or take case and punctuation).

    >>> is_abstention("The documents do not say [2]."), is_abstention("Lavrov [1].")
    (True, False)
    """
    words = re.sub(r"\[\d+\]|[^\w\s]", " ", text.lower()).split()
    return words[:5] == ["the", "documents", "do", "not", "say"]
