"""Pure prompt building: numbered passages, the grounding rules and the fixed abstention."""
from __future__ import annotations

import re
from typing import Sequence

from index import Passage

SEED_QUESTION = "Why does Russia reject European troops in Ukraine?"  # the question the seed article raises
ABSTAIN = "The documents do not say."
ABSTAIN_START = "The documents"  # its probability as the reply's start is a signal for abstaining
# When the model's abstention is overruled, its answer is decoded again with these first tokens
# forbidden: the abstention sentence, and a bare marker or "Passage [1]", which the 1.5B model
# otherwise writes instead (8 of 24 withheld answers on the RealTimeQA development sample).
RETRY_AVOID = (ABSTAIN, "[", "Passage")
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


# A question that asks for reasons gets every reason the passages give, not only the first one the
# model finds: after its answer, each other passage sent is asked for its own reason (the 1.5B model
# ignores "give every reason" but answers "from passage [n] only" well; same prefix, so each costs
# only its own tokens and answer).
MORE_REASONS = 3  # passages asked for a further reason, at most


_BE = r"(?:is|was|are|were|be|been)"
_REASON = r"(?:reasons?|causes?|motives?|motivations?)"
_ASKS_REASONS = re.compile(
    r"\bwhy\b|\bfor what (?:reasons?|purposes?)\b"
    rf"|\b(?:what|which)\b(?: \w+){{0,4}} {_BE}(?: \w+){{0,4}} {_REASON}\b"  # what was the main reason …
    rf"|\b(?:what|which)(?: \w+){{0,3}} {_REASON}(?: (?:for|of|behind|why|that)\b|\s*\?)"  # which of the causes of …
    r"|\bwhich reasons?\b"
    r"|\bwhat (?:caused|causes|led to|leads to|motivated|motivates|prompted|prompts|drove)\b"
    r"|\bwhat (?:will|would|could|might|may|can|did|does|do) (?:cause|lead to|motivate|prompt|drive)\b")


def asks_reasons(question: str) -> bool:
    """A question whose answer is a reason or cause: one asking "why", what the reasons, causes or
    motives are, or what caused, led to or motivated something. A question that only mentions
    reasons while asking for something else is not one.

    >>> [asks_reasons(q) for q in ("Why does Russia reject European troops?", "What are the reasons for the war?",
    ...  "What caused the crash?", "What will cause the lake to silt up?", "What motivated him?",
    ...  "What was the reason the court gave?", "What are some of the reasons for it?",
    ...  "What could possibly be the reason?", "Which reasons did he give?", "What is the cause of the fire?")]
    [True, True, True, True, True, True, True, True, True, True]
    >>> [asks_reasons(q) for q in ("Who is Doctor No?", "Citing a range of reasons, which airline canceled flights?",
    ...  "A chef banned which diners “for mental health reasons”?", "What cause did the charity support?",
    ...  "Who caused the crash?", "What year did consolidation cause Jacksonville to join Duval County?")]
    [False, False, False, False, False, False]
    """
    return bool(_ASKS_REASONS.search(" ".join(question.lower().split())))


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


def reason_from(question: str, n: int) -> str:
    """The question put to one passage, for a further reason.

    >>> reason_from("Why?", 2)
    'Why? Answer from passage [2] only, in one sentence ending with [2]; if passage [2] gives no reason, write only: The documents do not say.'
    """
    return (f"{question.strip()} Answer from passage [{n}] only, in one sentence ending with [{n}]; "
            f"if passage [{n}] gives no reason, write only: {ABSTAIN}")


# The yes/no checks behind calibrated abstention. Each is asked on the same cached prefix as the
# answer (same system prompt, same passages), so it costs only its own few tokens.
PASSAGES_CHECK = "Do the passages state the answer to this question? Reply yes or no."
ANSWER_CHECK = ("Is your answer stated in the passages, and does it answer exactly this question: "
                "\"{question}\"? Reply yes or no.")


def passages_check(messages: Sequence[dict]) -> list[dict]:
    """The answer prompt turned into "do the passages answer this?" (the same prefix, a new ending).

    >>> passages_check(build_messages("Q?", ["A."]))[1]["content"].endswith("Reply yes or no.")
    True
    """
    *head, user = messages
    return [*head, {"role": "user", "content": f"{user['content']}\n\n{PASSAGES_CHECK}"}]


def answer_check(messages: Sequence[dict], answer: str, question: str) -> list[dict]:
    """After the answer: "does it answer exactly this question?" (catches a right-sounding answer
    about another story, which the citation check cannot)."""
    return [*messages, {"role": "assistant", "content": answer},
            {"role": "user", "content": ANSWER_CHECK.format(question=question.strip())}]


_UNKNOWN = re.compile(
    r"\b(?:(?:do|does|did|can|could)(?:n['’]t| not)|cannot|unable to|no information|not (?:mentioned|"
    r"stated|specified|provided|given|say|contain|include)|there is no (?:mention|information|answer))\b")


def says_unknown(text: str) -> bool:
    """A lenient reading of "I don't know" (used for the yardstick's replies and for answers decoded
    with the abstention forbidden): the first sentence says the passages or the model do not know,
    say, contain or mention it. Documented in docs/evaluation.md.

    >>> [says_unknown(t) for t in ("I don't know.", "The passages do not contain the answer.",
    ...  "The documents do not say.", "Lavrov [1]. The passages do not say more.", "It did not rain [2].")]
    [True, True, True, False, False]
    """
    first = re.split(r"(?<=[.!?])\s", text.strip(), maxsplit=1)[0].lower()
    if is_abstention(first):
        return True
    return bool(_UNKNOWN.search(first)) and bool(re.search(
        r"\b(?:know|passages?|documents?|text|context|information|answer|mention|say|stated|specified|provided|"
        r"contain)", first))


def is_abstention(text: str) -> bool:
    """True when a reply opens with the fixed sentence (give or take case and punctuation).

    >>> is_abstention("The documents do not say [2]."), is_abstention("Lavrov [1].")
    (True, False)
    """
    words = re.sub(r"\[\d+\]|[^\w\s]", " ", text.lower()).split()
    return words[:5] == ["the", "documents", "do", "not", "say"]
