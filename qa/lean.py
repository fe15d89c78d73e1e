"""Lean prompts: send the model the sentences of each passage that bear on the question, and only
as many passages as the scores call for. Prompt tokens are what a CPU pays for before the first
word appears, so every sentence left out is time saved.

Pure: similarity comes from a callable (the embedder in production)."""
from __future__ import annotations

import re
from typing import Callable, Sequence

import numpy as np

from index.clean import sentences

from .support import content_words

GAP = " … "
# A "why" question's answer is the sentence that gives a cause, and it often shares few words with
# the question ("Fear of NATO expansion eastwards has been a recurring argument …" for "Why does
# Russia reject European troops?"); such a sentence gets this much added to its score
# (`bench/why.py` measures it).
CAUSE_BONUS = 0.3
_CAUSE = re.compile(
    r"\b(?:because|due to|owing to|thanks to|as a result|reasons?|caus(?:e|es|ed|ing)|fears?|feared|afraid|"
    r"argu(?:e|es|ed|ment|ments)|justif(?:y|ies|ied|ication)|threat(?:s|en|ens|ened)?|concerns?|concerned|"
    r"in order to|so as to|so that|lead to|leads to|led to|result(?:s|ed)? in|to (?:avoid|prevent|protect|reduce|"
    r"decrease|ensure)|motiv\w+|blam\w+|sparked|triggered|risks?)\b", re.IGNORECASE)


def gives_cause(sentence: str) -> bool:
    """Whether a sentence reads as giving a reason or cause.

    >>> gives_cause("Fear of NATO expansion eastwards has been a recurring argument."), gives_cause("It rained.")
    (True, False)
    >>> gives_cause("He has lived there since 2014.")  # "since" is mostly a time word in news
    False
    """
    return bool(_CAUSE.search(sentence))


def cause_bonus(parts: Sequence[str]) -> np.ndarray:
    """`CAUSE_BONUS` for each sentence that gives a cause, else 0 (added to a "why" question's scores)."""
    return np.array([CAUSE_BONUS * gives_cause(p) for p in parts], dtype=np.float32)


def sentence_scorer(vectors: Callable[[list[str]], np.ndarray], query: np.ndarray, reasons: bool):
    """The similarity `within_budget` ranks sentences by: cosine to the question, plus `CAUSE_BONUS`
    for a sentence giving a cause when the question asks for reasons."""
    def similarity(parts: list[str]) -> np.ndarray:
        return vectors(parts) @ query + (cause_bonus(parts) if reasons else 0.0)
    return similarity


def within_budget(texts: Sequence[str], question: str, budget: int, count: Callable[[str], int],
                  similarity: Callable[[list[str]], np.ndarray] | None = None) -> list[str]:
    """The best sentences across all `texts` (passages, best first) that fit in `budget` tokens,
    each passage's kept sentences in reading order with gaps marked; a passage left with nothing
    becomes "". The best sentence of the first passage is always kept.

    >>> within_budget(["Rain fell. Lavrov is Doctor No.", "Markets rose."], "Who is Doctor No?", 5,
    ...               lambda s: len(s.split()))
    ['… Lavrov is Doctor No.', '']
    """
    split = [sentences(t) for t in texts]
    flat = [(i, j, s) for i, parts in enumerate(split) for j, s in enumerate(parts)]
    if not flat:
        return ["" for _ in texts]
    wanted = content_words(question)
    scores = np.array([len(wanted & content_words(s)) / (len(wanted) or 1) for _, _, s in flat], dtype=np.float32)
    if similarity is not None:
        scores = scores + np.asarray(similarity([s for _, _, s in flat]), dtype=np.float32)
    scores -= 0.02 * np.array([i for i, _, _ in flat], dtype=np.float32)  # ties go to the better passage
    chosen: set[tuple[int, int]] = set()
    used = 0
    for n in np.argsort(-scores, kind="stable"):
        i, j, s = flat[n]
        cost = count(s)
        if chosen and used + cost > budget:
            continue
        chosen.add((i, j))
        used += cost
    out = []
    for i, parts in enumerate(split):
        keep = [j for j in range(len(parts)) if (i, j) in chosen]
        text, last = "", -1
        for j in keep:
            text += (GAP if j != last + 1 else " ") + parts[j]
            last = j
        if keep and last != len(parts) - 1:
            text += GAP
        out.append(text.strip())
    return out
