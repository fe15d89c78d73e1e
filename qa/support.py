"""Checking citations: does the passage a sentence cites contain what the sentence claims?

Pure and lexical: a sentence's *new* content words (those not already in the question) are looked
up in each passage shown; numbers must all be found. A citation survives only if its passage
supports the sentence; otherwise the sentence is re-attributed to the passage that does, or left
without a citation and marked unsupported.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Sequence

from index.clean import sentences

from .citations import CITATION, cited_numbers

SUPPORTED = 0.5  # share of a sentence's new content words that its passage must contain
# ... and, when an embedder is at hand, the least cosine similarity between question + sentence and
# the passage's closest sentence. A guard against citing an unrelated passage, not a truth test: on
# development samples (seed 1) right answers scored p10 0.40 (SQuAD) and 0.58 (RealTimeQA), and
# wrong answers lifted from the passages scored just as high.
RELATED = 0.3
_WORD = re.compile(r"[^\W_]+(?:[.,'’][^\W_]+)*")
_STOP = frozenset("""
a about above after again against all also am an and any are as at be because been before being
below between both but by can could did do does doing down during each few for from further had has
have having he her here hers him his how i if in into is it its itself just me more most my no nor
not now of off on once only or other our out over own same she should so some such than that the
their them then there these they this those through to too under until up very was we were what
when where which while who whom why will with would you your according said says say stated states
passage passages document documents text mentioned mention given answer question also however thus
stated found seen see refer refers reference source sources information provided shown show shows
""".split())


@dataclass(frozen=True)
class Support:
    sentence: str  # without citation markers
    cited: tuple[int, ...]  # after checking: the passages that support it
    score: float  # share of new content words found in the best cited passage (0..1)
    supported: bool
    similarity: float | None = None  # question + sentence vs the closest sentence of that passage
    evidence: str = ""  # the sentence of that passage the check matched (the chat highlights it)


def content_words(text: str) -> set[str]:
    """Lower-cased words that carry content, crudely stemmed.

    >>> sorted(content_words("The ships would have docked in Sevastopol's harbours, 2,000 of them."))
    ['2,000', 'docked', 'harbour', 'sevastopol', 'ship']
    """
    words = set()
    for w in _WORD.findall(text.lower().replace("’", "'")):
        w = re.sub(r"'s$", "", w)
        if w in _STOP or (len(w) < 3 and not w.isdigit()):
            continue
        words.add(_stem(w))
    return words


def _stem(word: str) -> str:
    if word.isalpha() and len(word) > 4 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def score(sentence: str, passage: str, question: str = "") -> float:
    """Share of the sentence's new content words found in the passage; 0 if a number is missing.

    >>> score("The population is 100,000.", "Sevastopol is a port.", "What is the population of Sevastopol?")
    0.0
    >>> score("Sergei Lavrov is Doctor No.", "Sergei Lavrov, known as Doctor No", "Who is Doctor No?")
    1.0
    """
    words = content_words(sentence)
    new = words - content_words(question) or words
    if not new:
        return 0.0
    found = content_words(passage)
    if any(w[0].isdigit() and w not in found for w in new):
        return 0.0
    return len(new & found) / len(new)


def missing(question: str, texts: Sequence[str]) -> list[str]:
    """The question's content words that none of `texts` contains (crudely stemmed).

    >>> missing("What is the population of Sevastopol?", ["Sevastopol is a port."])
    ['population']
    """
    found = set().union(*(content_words(t) for t in texts)) if texts else set()
    return sorted(content_words(question) - found)


def coverage(question: str, texts: Sequence[str]) -> float:
    """Share of the question's content words found in `texts` (1.0 for a question with none).

    >>> coverage("Who is Doctor No?", ["Lavrov, known as Doctor No"]), coverage("Who?", [])
    (1.0, 1.0)
    """
    words = content_words(question)
    return 1.0 - len(missing(question, texts)) / len(words) if words else 1.0


def split_answer(text: str) -> list[str]:
    """Sentences of an answer, with citation markers kept on the sentence they follow.

    >>> split_answer("Lavrov said no. [3] NATO grows [1].")
    ['Lavrov said no [3].', 'NATO grows [1].']
    """
    text = re.sub(r"([.!?])((?:\s*\[[\d,; ]+\])+)", lambda m: m.group(2) + m.group(1), text)
    out: list[str] = []
    for s in sentences(text):
        if out and not CITATION.sub("", s).strip(" .,;"):
            out[-1] = f"{out[-1]} {s}"
        else:
            out.append(s)
    return out


def best_sentence(claim: str, passage: str) -> str:
    """The sentence of `passage` that holds most of the claim's content words.

    >>> best_sentence("Lavrov refused", "A cat sat. Lavrov said no.")
    'Lavrov said no.'
    """
    parts = sentences(passage) or [passage]
    return max(parts, key=lambda s: score(claim, s))


def check(text: str, passages: Sequence[str], question: str = "",
          similarity: Callable[[str], Sequence[tuple[float, str]]] | None = None, supported: float = SUPPORTED,
          related: float = RELATED) -> tuple[str, list[Support]]:
    """(the answer with checked citations, the support of each sentence).

    A passage supports a sentence when it holds at least `supported` of the sentence's new content
    words (all of its numbers), and, given `similarity` (sentence → for each passage, the cosine
    similarity to its closest sentence and that sentence; the caller decides what the sentence is
    embedded with) when that similarity is at least `related`. (The defaults are `Settings`'.)
    Each `Support` names the passage sentence it rests on (`evidence`).

    >>> check("Lavrov is Doctor No [2].", ["Lavrov, known as Doctor No.", "Rain."], "Who is Doctor No?")[0]
    'Lavrov is Doctor No [1].'
    """
    rebuilt, report = [], []
    for raw in split_answer(text):
        bare = " ".join(CITATION.sub("", raw).split())
        bare = re.sub(r"\s+([.,;:!?])", r"\1", bare)
        if not content_words(bare):  # "Yes." is kept; "This is stated in [1]." is only a pointer
            if not CITATION.search(raw):
                rebuilt.append(bare)
            continue
        scores = [score(bare, p, question) for p in passages]
        sims = list(similarity(bare)) if similarity is not None and passages else None
        ok = [s >= supported and (sims is None or sims[i][0] >= related) for i, s in enumerate(scores)]
        claimed = [n for n in cited_numbers(raw) if 1 <= n <= len(passages)]
        kept = tuple(n for n in claimed if ok[n - 1])
        if not kept and scores:
            best = max(range(len(scores)), key=lambda i: (ok[i], scores[i]))
            kept = (best + 1,) if ok[best] else ()
        at = kept[0] - 1 if kept else max(range(len(scores)), key=scores.__getitem__, default=None)
        evidence = "" if at is None else sims[at][1] if sims is not None else best_sentence(bare, passages[at])
        report.append(Support(bare, kept, round(scores[at], 3) if at is not None else 0.0, bool(kept),
                              round(float(sims[at][0]), 3) if sims is not None and at is not None else None,
                              evidence))
        rebuilt.append(with_markers(bare, kept))
    return " ".join(s for s in rebuilt if s), report


def with_markers(sentence: str, numbers: tuple[int, ...]) -> str:
    """Put markers before the sentence's final punctuation.

    >>> with_markers('He said "no."', (2,))
    'He said "no." [2]'
    >>> with_markers("Lavrov.", (1, 3))
    'Lavrov [1][3].'
    """
    if not numbers:
        return sentence
    markers = "".join(f"[{n}]" for n in numbers)
    m = re.search(r"[.!?]$", sentence)
    return f"{sentence[:m.start()]} {markers}{m.group(0)}" if m else f"{sentence} {markers}"
