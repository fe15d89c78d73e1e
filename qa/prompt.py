"""Pure prompt building: numbered passages, the grounding rules and the fixed abstention."""
from __future__ import annotations

import re
from typing import Sequence

from index import Passage

ABSTAIN = "The documents do not say."
# Fixed, so that llama.cpp reuses its key/value cache from one question to the next. Chosen among
# five wordings on development samples (`bench/prompt_variants.py`, seed 1: 80 RealTimeQA and 60
# SQuAD questions, 100 answerable and 40 not): asking for a bare "name, number or phrase" made the
# 1.5B model reply "[1]" alone or miss the answer; a full sentence in the passages' own words
# answered 66 of 100 (the first wording: 61); abstaining "if no passage is about" the question
# rather than "if the passages do not answer" gained one more answer but lost 3 of 13 correct
# abstentions. See docs/evaluation.md.
SYSTEM = (
    "Answer the question from the numbered passages only. Give a short, direct answer in a full "
    "sentence using the passages' own words, and end each sentence with the number of the passage it "
    f"comes from, like [1]. If the passages do not answer the question, write only: {ABSTAIN}"
)


def passage_block(n: int, text: str) -> str:
    """One numbered passage as the model sees it: its number and text, nothing else to pay for.

    >>> passage_block(2, "It rained.")
    '[2] It rained.'
    """
    return f"[{n}] {text}"


def build_messages(question: str, passages: Sequence[Passage | str]) -> list[dict]:
    """The chat messages for one question over numbered passages (1-based, in rank order), given
    as `Passage`s or as the text of each to show.

    >>> build_messages("Q?", [])[1]["content"]
    'Passages:\\n(none)\\n\\nQuestion: Q?'
    """
    texts = [p if isinstance(p, str) else p.text for p in passages]
    blocks = "\n\n".join(passage_block(i, t) for i, t in enumerate(texts, start=1)) or "(none)"
    return [{"role": "system", "content": SYSTEM},
            {"role": "user", "content": f"Passages:\n{blocks}\n\nQuestion: {question.strip()}"}]


def is_abstention(text: str) -> bool:
    """True when a reply opens with the fixed sentence (give or take case and punctuation).

    >>> is_abstention("The documents do not say [2]."), is_abstention("Lavrov [1].")
    (True, False)
    """
    words = re.sub(r"\[\d+\]|[^\w\s]", " ", text.lower()).split()
    return words[:5] == ["the", "documents", "do", "not", "say"]
