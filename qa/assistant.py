"""`Assistant`: retrieve, budget, prompt, stream, check citations, decide abstention."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Iterator, Sequence

import numpy as np

from index import Embedder, Index, IndexMissing, Passage, SentenceTransformerEmbedder
from index.clean import sentences

from .answer import Answer, Timings
from .budget import fit, trim_to_tokens
from .citations import StreamFilter, keep_valid
from .generator import Generator, LlamaGenerator
from .lean import within_budget
from .prompt import ABSTAIN, build_messages, is_abstention
from .settings import Settings
from .followup import standalone
from .support import check, coverage


@dataclass(frozen=True)
class Retrieval:
    question: str  # as asked, whitespace normalised
    query: str  # what was searched: the question made self-contained from the conversation
    passages: tuple[Passage, ...]  # best first, with scores
    seconds: float


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
        question = " ".join(question.split())
        if not question:
            raise ValueError("the question is empty")
        query = standalone(question, history)
        passages = tuple(self.index.search(query, k or self.settings.k, search or self.settings.search))
        return Retrieval(question, query, passages, time.perf_counter() - started)

    def stream(self, question: str, k: int | None = None, history: Sequence[str] = (),
               retrieval: Retrieval | None = None) -> Iterator[str | Answer]:
        """Yield the answer's text as it is generated, then the final `Answer`. Pass the result of
        `retrieve` as `retrieval` to show the passages found before the model starts."""
        retrieval = retrieval or self.retrieve(question, k, history)
        started = time.perf_counter()
        question = retrieval.question
        relevant = self._lean(retrieval)
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
                                    signals=signals)
            return
        messages = build_messages(prompt_question, [text for _, text in lean])
        prompt_tokens = self.generator.count_tokens(messages)

        reply, first, generated = [], None, 0
        shown = StreamFilter(len(passages))
        for chunk in self.generator.stream(messages):
            generated += 1
            reply.append(chunk)
            visible = shown.feed(chunk)
            if visible:
                first = first if first is not None else elapsed()
                yield visible
        tail = shown.flush()
        if tail:
            yield tail
        text = keep_valid("".join(reply).strip(), len(passages))
        abstained = is_abstention(text) or not text
        signals.update(draft=text, model_abstained=abstained)
        support: list = []
        if not abstained:
            text, support = check(text, [p.text for p in passages], retrieval.query,
                                  self._similarity([p.text for p in passages], retrieval.query))
            if support and not any(s.supported for s in support):
                abstained = True
                notes.append("the model's answer was not supported by the passages, so it was withheld")
            elif not support:  # nothing but citation markers, or no sentence with content
                abstained = True
                notes.append("the model gave no answer, only pointers to passages")
        timings = Timings(retrieve_s, first, elapsed(), prompt_tokens, generated)
        yield Answer.from_reply(question, ABSTAIN if abstained else text, passages, abstained,
                                timings, tuple(notes), tuple(support), signals)

    def _similarity(self, texts: list[str], question: str):
        """sentence → cosine similarity of question + sentence to the closest sentence of each text
        (a bare "Iraq." means little to an embedder; with its question it is a claim)."""
        embedder = self.index.embedder
        split = [sentences(t) or [t] for t in texts]
        vectors = embedder.embed([s for parts in split for s in parts])
        bounds = np.cumsum([0] + [len(parts) for parts in split])

        def similarity(sentence: str) -> list[float]:
            sims = vectors @ embedder.embed([f"{question} {sentence}"])[0]
            return [float(sims[a:b].max()) for a, b in zip(bounds[:-1], bounds[1:])]
        return similarity

    def _lean(self, retrieval: Retrieval) -> tuple[tuple[Passage, str], ...]:
        """The passages worth sending, each with the text to show: those over the `min_score` floor
        and within `margin` of the best score, cut to their best sentences within `budget` tokens."""
        s = self.settings
        floor = max((p.score for p in retrieval.passages), default=0.0) - s.margin
        kept = [p for p in retrieval.passages if p.score >= s.min_score and p.score >= floor]
        if not kept:
            return ()
        embedder = self.index.embedder
        query = embedder.embed([retrieval.query])[0]
        texts = within_budget([p.text for p in kept], retrieval.query, s.budget, embedder.count_tokens,
                              lambda parts: embedder.embed(parts) @ query)
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


def open_index(settings: Settings, embedder: Embedder | None = None, progress: bool = True) -> Index:
    """The index in `settings.data_dir`; when there is none yet, build it from `settings.seeds`."""
    embedder = embedder or SentenceTransformerEmbedder(settings.embedder)
    try:
        return Index.open(settings.data_dir, embedder)
    except IndexMissing:
        index = Index.open(settings.data_dir, embedder, create=True)
        index.sync([settings.seeds], progress=progress)
        return index
