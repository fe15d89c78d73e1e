"""`Assistant`: retrieve, budget, prompt, stream, check citations, decide abstention."""
from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Iterator, Sequence

import numpy as np

from index import Embedder, Index, IndexMissing, Passage, make_embedder
from index.clean import sentences, valid_text

from .answer import Answer, Timings
from .budget import fit, trim_to_tokens
from .citations import CITATION, StreamFilter, cited_numbers, keep_valid
from .abstain import AFTER, BEFORE
from .generator import Generator, LlamaGenerator, Prober
from .lean import gives_cause, sentence_scorer, within_budget
from .prompt import (ABSTAIN, ABSTAIN_START, MORE_REASONS, RETRY_AVOID, answer_check, asks_reasons, build_messages,
                     is_abstention, passages_check, reason_from, says_unknown)
from .settings import Settings
from .followup import standalone
from .support import check, content_words, coverage, score, split_answer, with_markers


@dataclass(frozen=True)
class Retrieval:
    question: str  # as asked, whitespace normalised
    query: str  # what was searched: the question made self-contained from the conversation
    passages: tuple[Passage, ...]  # best first, with scores
    seconds: float
    keyword: tuple[str, ...] = ()  # texts of the passages keyword search ranks first (sent even
    #                                outside the score margin when among `passages`)


class Assistant:
    """Answers questions from an index. `Assistant().ask(q)` → `Answer`;
    `Assistant().stream(q)` yields text chunks as they are generated, then the `Answer`.

    Everything heavy (index, embedder, LLM) is opened on first use; pass fakes to test.
    """

    def __init__(self, settings: Settings | None = None, index: Index | None = None,
                 generator: Generator | None = None, embedder: Embedder | None = None):
        self.settings = settings or Settings.from_env()
        self._embedder = embedder
        self._index = index
        self._generator = generator

    @property
    def index(self) -> Index:
        if self._index is None:
            self._index = open_index(self.settings, self._embedder)
        return self._index

    @property
    def generator(self) -> Generator:
        if self._generator is None:
            from .catalogue import resolve_gguf

            s = self.settings
            if s.llm_url:
                from .remote import RemoteGenerator

                self._generator = RemoteGenerator(s.llm_url, s.llm_model, s.n_ctx, s.max_tokens, s.temperature,
                                                  s.llm_timeout, s.llm_retries)
                return self._generator
            self._generator = LlamaGenerator(resolve_gguf(s.model_path, s.profile, s.cache_dir),
                                             s.n_ctx, s.n_threads, s.max_tokens, s.temperature)
        return self._generator

    def ask(self, question: str, k: int | None = None, history: Sequence[str] = ()) -> Answer:
        for item in self.stream(question, k, history):
            if isinstance(item, Answer):
                return item
        raise AssertionError("stream ended without an Answer")

    def retrieve(self, question: str, k: int | None = None, history: Sequence[str] = (),
                 search: str | None = None) -> Retrieval:
        """Search for a question (made self-contained from `history`, the earlier questions).
        `search` overrides the settings' search mode ("hybrid", "dense" or "lexical") for this call."""
        started = time.perf_counter()
        question = " ".join(valid_text(question).split())
        history = [valid_text(h) for h in history]
        if not question:
            raise ValueError("the question is empty")
        query = standalone(question, history)
        mode = search or self.settings.search
        passages = tuple(self.index.search(query, k or self.settings.k, mode))
        keep = self.settings.keyword_keep
        keyword = tuple(self.index.keyword_first(query, keep)) if keep and mode != "dense" and passages else ()
        return Retrieval(question, query, passages, time.perf_counter() - started, keyword)

    def stream(self, question: str, k: int | None = None, history: Sequence[str] = (),
               retrieval: Retrieval | None = None) -> Iterator[str | Answer]:
        """Yield the answer's text as it is generated, then the final `Answer`. Pass the result of
        `retrieve` as `retrieval` to show the passages found before the model starts.

        The model's own abstention sentence is held back until the decision is taken: when the
        calibrated score says the passages do answer, the answer is decoded again with that
        sentence's first token forbidden and checked like any other; an answer whose confidence
        falls below `confidence_floor` is withheld."""
        retrieval = retrieval or self.retrieve(question, k, history)
        started = time.perf_counter()
        question = retrieval.question
        vectors = _SentenceVectors(self.index.embedder)
        relevant = self._lean(retrieval, vectors)
        retrieve_s = retrieval.seconds

        def elapsed() -> float:  # from the question: retrieval, then this call
            return retrieve_s + time.perf_counter() - started

        notes: list[str] = []
        prompt_question, lean = self._fit(retrieval.query, relevant, notes) if relevant else ("", ())
        passages = tuple(p for p, _ in lean)
        signals = {"top_score": round(max((p.score for p in retrieval.passages), default=0.0), 4),
                   "coverage": round(coverage(retrieval.query, [p.text for p in passages]), 4)}
        if not passages:  # abstain without calling the model
            yield ABSTAIN
            yield Answer.from_reply(question, ABSTAIN, (), True, Timings(retrieve_s, None, elapsed()),
                                    tuple(notes) or ("no passage was relevant enough to send to the model",),
                                    signals=signals, confidence=0.0)
            return
        s, gen = self.settings, self.generator
        messages = build_messages(prompt_question, [text for _, text in lean])
        prompt_tokens = self.generator.count_tokens(messages)
        # a server that returns no log-probabilities gives no confidence: then the model's own
        # abstention and the citation check decide alone
        probe = gen if isinstance(gen, Prober) and getattr(gen, "has_probabilities", True) else None
        first: list[float] = []  # when the first text was shown
        counter = [0]

        text = yield from self._decode(messages, (), len(passages), elapsed, first, counter)
        model_abstained = is_abstention(text) or not text
        signals.update(draft=text, model_abstained=model_abstained, retried=0)
        confidence = None
        if model_abstained and probe is not None:
            self._probe_before(probe, messages, signals)
            signals["retry_confidence"] = round(BEFORE(signals), 4)
            if signals["retry_confidence"] >= s.retry_floor and getattr(gen, "can_avoid", True):
                signals["retried"] = 1
                text = yield from self._decode(messages, RETRY_AVOID, len(passages), elapsed, first, counter)
                signals["retry"] = text
                model_abstained = says_unknown(text) or not text
        texts = [p.text for p in passages]

        def checked(answer: str):  # the sentences' vectors are embedded once (`vectors`)
            similarity = self._similarity(texts, retrieval.query, vectors)
            return check(answer, texts, retrieval.query, similarity, s.supported_share, s.related)

        def probe_answer(answer: str) -> None:  # every probe reads the main prompt, `messages`
            signals["answer_yes"] = round(probe.yes_probability(answer_check(messages, answer, prompt_question)), 4)
            self._probe_before(probe, messages, signals)

        reasons = not model_abstained and asks_reasons(question) and content_words(question)
        if reasons:
            # the probes run while the main prompt is still cached, before the further reasons show the
            # model other prompts: the answer check judges the answer the passages gave first; each
            # further reason is checked against its own passage (`_reason`) and by `check` below
            if probe is not None:
                probe_answer(checked(text)[0])
            text = yield from self._more_reasons(prompt_question, lean, text, elapsed, first, counter)
        abstained = model_abstained
        support: list = []
        if abstained:
            confidence = signals.get("retry_confidence")
        else:
            text, support = checked(text)
            signals["supported"] = round(sum(x.supported for x in support) / len(support), 4) if support else 0.0
            if probe is not None:
                if not reasons:  # a why answer was probed before its further reasons
                    probe_answer(text)
                confidence = round(AFTER(signals), 4)
            if support and not any(x.supported for x in support):
                abstained = True
                notes.append("the model's answer was not supported by the passages, so it was withheld")
            elif not support:  # nothing but citation markers, or no sentence with content
                abstained = True
                notes.append("the model gave no answer, only pointers to passages")
            elif confidence is not None and confidence < s.confidence_floor:
                abstained = True
                notes.append(f"the answer was withheld: the checks give it a confidence of {confidence:.2f}, "
                             f"below {s.confidence_floor:.2f}, that the passages answer this question")
        if abstained and not first:  # the held-back abstention is shown now
            first.append(elapsed())
            yield ABSTAIN
        timings = Timings(retrieve_s, first[0] if first else None, elapsed(), prompt_tokens, counter[0])
        yield Answer.from_reply(question, ABSTAIN if abstained else text, passages, abstained,
                                timings, tuple(notes), tuple(support), signals, confidence)

    def _decode(self, messages, avoid, count: int, elapsed, first: list, counter: list):
        """Stream one reply (yielding what may be shown) and return its text, markers checked.
        Text that could still become the abstention sentence is held back until it cannot."""
        reply, held, started = [], "", False
        shown = StreamFilter(count)
        for chunk in self.generator.stream(messages, avoid) if avoid else self.generator.stream(messages):
            counter[0] += 1
            reply.append(chunk)
            held += chunk
            if not started and _may_become_abstention(held):  # only the reply's start is held back
                continue
            visible, held, started = shown.feed(held), "", True
            if visible:
                if not first:
                    first.append(elapsed())
                yield visible
        if held and not is_abstention(held):
            tail = shown.feed(held)
            if tail and not first:
                first.append(elapsed())
            if tail:
                yield tail
        tail = shown.flush()
        if tail:
            yield tail
        return keep_valid("".join(reply).strip(), count)

    def _more_reasons(self, question: str, lean, text: str, elapsed, first: list, counter: list):
        """A "why" answer grows by the reason each other passage gives: the passages it does not rest
        on whose sent text reads as giving a cause (`gives_cause`) are asked one at a time, best
        scored first, each shown to the model alone (among all five, the 1.5B model answers from the
        passage it already used, or declines), and each adds what `_reason` takes from its reply
        (a passage that gives no reason adds nothing). Returns the whole answer; each addition is
        shown once taken, then checked with the rest."""
        texts = [t for _, t in lean]
        cited = set(cited_numbers(text)) or {_rests_on(text, texts, question)}
        order = sorted((n for n in range(1, len(texts) + 1) if n not in cited and gives_cause(texts[n - 1])),
                       key=lambda n: -lean[n - 1][0].score)
        said = set(split_answer(text))
        for n in order[:MORE_REASONS]:
            # held back: only what is taken from the reply is shown; "" for each word decoded, so that
            # a reader who stops (the chat's Stop, a client that leaves) stops it too
            extra = yield from _silently(self._decode(build_messages(reason_from(question, 1), [texts[n - 1]]), (),
                                                      1, elapsed, [], counter))
            if not extra or says_unknown(extra):
                continue
            taken = [_renumber(x, n) for x in
                     _reason(extra, 1, texts[n - 1], question, said, self.settings.supported_share)]
            if taken:
                said.update(taken)
                text = " ".join([text, *taken])
                if not first:
                    first.append(elapsed())
                yield " " + " ".join(taken)
        return text

    @staticmethod
    def _probe_before(probe: Prober, messages, signals: dict) -> None:
        """The answer-independent signals, computed once."""
        if "abstain_p" not in signals:
            signals["abstain_p"] = round(probe.reply_probability(messages, ABSTAIN_START), 6)
            signals["passages_yes"] = round(probe.yes_probability(passages_check(messages)), 4)

    def _similarity(self, texts: list[str], question: str, vectors: "_SentenceVectors"):
        """sentence → for each text, the cosine similarity of question + sentence to its closest
        sentence, and that sentence (a bare "Iraq." means little to an embedder; with its question
        it is a claim)."""
        embedder = self.index.embedder
        split = [sentences(t) or [t] for t in texts]
        flat = [s for parts in split for s in parts]
        matrix = vectors(flat)
        bounds = np.cumsum([0] + [len(parts) for parts in split])

        def similarity(sentence: str) -> list[tuple[float, str]]:
            sims = matrix @ embedder.embed([f"{question} {sentence}"])[0]
            best = [a + int(np.argmax(sims[a:b])) for a, b in zip(bounds[:-1], bounds[1:])]
            return [(float(sims[i]), flat[i]) for i in best]
        return similarity

    def _lean(self, retrieval: Retrieval, vectors: "_SentenceVectors") -> tuple[tuple[Passage, str], ...]:
        """The passages worth sending, each with the text to show: those over the `min_score` floor
        and either within `margin` of the best score or ranked first by keyword search (a passage
        holding the question's rare words, whose embedding says less: measured in
        `bench/passages_sent.py`), cut to their best sentences within `budget` tokens."""
        s = self.settings
        floor = max((p.score for p in retrieval.passages), default=0.0) - s.margin
        kept = [p for p in retrieval.passages
                if p.score >= s.min_score and (p.score >= floor or p.text in retrieval.keyword)]
        if not kept:
            return ()
        embedder = self.index.embedder
        query = self.index.query_vector(retrieval.query)
        reasons = asks_reasons(retrieval.question)
        texts = within_budget([p.text for p in kept], retrieval.query, s.reasons_budget if reasons else s.budget,
                              embedder.count_tokens, sentence_scorer(vectors, query, reasons))
        return tuple((p, t) for p, t in zip(kept, texts) if t)

    def _fit(self, question: str, passages: tuple[tuple[Passage, str], ...], notes: list[str]):
        """Trim an over-long question and drop the lowest-ranked passages until the prompt leaves
        `max_tokens` for the answer; nothing over the window ever reaches the model."""
        gen, s = self.generator, self.settings
        empty = gen.count_tokens(build_messages("", ()))

        def question_tokens(text: str) -> int:
            return gen.count_tokens(build_messages(text, ())) - empty

        trimmed = trim_to_tokens(question, question_tokens, s.max_question_tokens)
        if trimmed != question:
            notes.append(f"the question was trimmed to its first {s.max_question_tokens} tokens")
        limit = gen.n_ctx - s.max_tokens
        kept = fit(passages, lambda ps: gen.count_tokens(build_messages(trimmed, [t for _, t in ps])), limit)
        if len(kept) < len(passages):
            notes.append(f"{len(passages) - len(kept)} of {len(passages)} passages did not fit "
                         f"in the context window of {gen.n_ctx} tokens and were left out")
        return trimmed, tuple(kept)


def _silently(stream):
    """Run a generator, yielding "" for each item it yields; return what it returns."""
    while True:
        try:
            next(stream)
        except StopIteration as done:
            return done.value
        yield ""


def _reason(reply: str, n: int, passage: str, question: str, said: set[str], supported: float) -> list[str]:
    """The sentences of a reply asked for passage [n]'s reason that the answer gains: those up to the
    first one citing [n] (the 1.5B model often cites once, after its last sentence; uncited ones
    get [n]), none when the reply cites [n] nowhere or another passage first. Each must hold up
    against the sentences of passage [n] that give a cause (`supported` of its new content words
    there: the model, shown one passage, readily pins the question's subject on whatever that
    passage says), be about the question (name one of its proper nouns, or share a content word
    when it has none: a passage about another story gives a reason for something else), and not
    repeat what the answer says (`_repeats`).

    >>> q = "Why does Russia reject troops?"
    >>> _reason("Russia fears NATO. Russia fears war. [3]", 3, "Russia fears war.", q, {"russia fears nato"}, 0.5)
    ['Russia fears war [3].']
    >>> _reason("Russia fears war. Russia fears war [3].", 3, "Russia fears war.", q, set(), 0.5)
    ['Russia fears war [3].']
    >>> _reason("Russia fears war [1].", 3, "Russia fears war.", q, set(), 0.5)
    []
    >>> _reason("Russia fears NATO ships [3].", 3, "Russia fears war.", q, set(), 0.5)
    []
    >>> _reason("Greece blames human error [3].", 3, "Greece blames human error.", q, set(), 0.5)
    []
    >>> _reason("Russia rejects troops because rock samples come from drill cores [3].", 3,
    ...         "Rock samples come from drill cores. Fear of war grows.", q, set(), 0.5)  # not a cause there
    []
    """
    causes = " ".join(x for x in sentences(passage) if gives_cause(x))
    taken = []
    for sentence in split_answer(reply):
        numbers = cited_numbers(sentence)
        if numbers and n not in numbers:
            return []
        if (score(CITATION.sub("", sentence), causes, question) >= supported and _about(sentence, question)
                and not _repeats(sentence, [*said, *taken], question)):
            taken.append(sentence if numbers else with_markers(sentence, (n,)))
        if numbers:
            return taken
    return []


def _repeats(sentence: str, known, question: str) -> bool:
    """Whether a sentence says again what one of `known` says: one holds the other, or 80 % of the
    shorter one's words beyond the question's are the same (the same reason, slightly reworded).

    >>> q = "Why does unemployment harm growth?"
    >>> _repeats("Unemployment harms growth as it wastes resources and drives poverty [2].",
    ...          ["Unemployment harms growth because it wastes resources, drives poverty [1]."], q)
    True
    >>> _repeats("Unemployment harms growth as it erodes self-esteem [2].",
    ...          ["Unemployment harms growth because it wastes resources [1]."], q)
    False
    """
    plain, asked = _plain(sentence), content_words(question)
    words = content_words(sentence) - asked
    for other in known:
        x = _plain(other)
        if plain in x or x in plain:
            return True
        theirs = content_words(x) - asked
        if words and theirs and len(words & theirs) >= 0.8 * min(len(words), len(theirs)):
            return True
    return False


def _renumber(sentence: str, n: int) -> str:
    """A sentence from a reply about one passage shown alone as [1], cited as passage [n] of the answer.

    >>> _renumber("Trenin warns of war [1].", 5)
    'Trenin warns of war [5].'
    """
    return CITATION.sub(f"[{n}]", sentence)


def _rests_on(text: str, texts: Sequence[str], question: str) -> int:
    """The passage an uncited answer rests on: the one holding most of its new words (the 1.5B
    model often leaves a one-sentence answer uncited; the citation check adds the marker later).

    >>> _rests_on("Russia fears NATO expansion.", ["Troops are unwanted.", "Fear of NATO expansion."], "Why?")
    2
    """
    scores = [score(text, t, question) for t in texts]
    return scores.index(max(scores)) + 1


def _about(sentence: str, question: str) -> bool:
    """Whether a sentence names one of the question's proper nouns (capitalised words after its
    first), or, when it has none, shares a content word with it.

    >>> _about("Moscow fears NATO.", "Why does Russia fear NATO?"), _about("Greece blamed error.", "Why did Russia act?")
    (True, False)
    """
    names = content_words(" ".join(re.findall(r"(?<!^)\b[A-Z][\w-]*", question.strip())))
    return bool(content_words(sentence) & (names or content_words(question)))


def _plain(sentence: str) -> str:
    """A sentence without its citation markers, case or punctuation (to tell a repeat).

    >>> _plain("Fear of NATO [3].") == _plain("fear of NATO. [2]")
    True
    """
    return " ".join(re.sub(r"\[[\d,\s]+\]|[^\w\s]", " ", sentence.lower()).split())


def _may_become_abstention(text: str) -> bool:
    """Whether `text` (the start of a reply) could still turn into the abstention sentence.

    >>> _may_become_abstention("The doc"), _may_become_abstention("The leader"), _may_become_abstention(" ")
    (True, False, True)
    """
    return ABSTAIN.lower().startswith(" ".join(text.split()).lower()) or is_abstention(text)


class _SentenceVectors:
    """Embeds each distinct sentence once per question (the lean cut and the citation check both
    need the passages' sentences)."""

    def __init__(self, embedder: Embedder):
        self.embedder = embedder
        self._known: dict[str, np.ndarray] = {}

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        new = [t for t in dict.fromkeys(texts) if t not in self._known]
        if new:
            self._known.update(zip(new, self.embedder.embed(new)))
        if not texts:
            return np.zeros((0, self.embedder.dim), dtype=np.float32)
        return np.vstack([self._known[t] for t in texts])


def embedder_for(settings: Settings) -> Embedder:
    """The settings' embedder run by their backend (`QA_EMBEDDER`, `QA_EMBED_BACKEND`)."""
    return make_embedder(settings.embedder, settings.embed_backend, settings.cache_dir)


def open_index(settings: Settings, embedder: Embedder | None = None, progress: bool = True) -> Index:
    """The index in `settings.data_dir`; when there is none yet, build it from `settings.seeds`."""
    embedder = embedder or embedder_for(settings)
    try:
        return Index.open(settings.data_dir, embedder, store=settings.store, limits=settings.limits)
    except IndexMissing:
        index = Index.open(settings.data_dir, embedder, create=True, store=settings.store, limits=settings.limits)
        index.sync([settings.seeds], progress=progress)
        return index
