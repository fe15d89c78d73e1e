"""The value the assistant returns: the answer text, what the model saw, what it really cites."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

from index import Passage

from .citations import cited_numbers
from .support import Support


@dataclass(frozen=True)
class Citation:
    n: int  # the [n] marker in the text
    passage: Passage

    def to_dict(self) -> dict:
        p = self.passage
        return {"n": self.n, "doc": p.doc, "title": p.title, "paragraph": p.paragraph, "location": p.location,
                "page": p.page, "text": p.text}


@dataclass(frozen=True)
class Timings:
    retrieve_s: float = 0.0  # embedding the question and searching
    first_token_s: float | None = None  # from the question to the first generated text
    total_s: float = 0.0
    prompt_tokens: int = 0
    generated_tokens: int = 0


@dataclass(frozen=True)
class Answer:
    question: str
    text: str  # with [n] markers that point into `passages`
    passages: tuple[Passage, ...]  # what the model saw, numbered from 1
    citations: tuple[Citation, ...]  # the passages the text cites, in order of first citation
    abstained: bool
    timings: Timings = field(default_factory=Timings)
    notes: tuple[str, ...] = ()  # e.g. "the question was trimmed to 200 tokens"
    support: tuple[Support, ...] = ()  # per sentence: the passages that support it, checked
    signals: dict = field(default_factory=dict)  # figures for calibrating abstention (see Assistant.stream)
    confidence: float | None = None  # calibrated probability that the passages answer (qa/abstain.py)

    @classmethod
    def from_reply(cls, question: str, text: str, passages: tuple[Passage, ...], abstained: bool,
                   timings: Timings, notes: tuple[str, ...] = (), support: tuple[Support, ...] = (),
                   signals: dict | None = None, confidence: float | None = None) -> "Answer":
        citations = () if abstained else tuple(
            Citation(n, passages[n - 1]) for n in cited_numbers(text) if 1 <= n <= len(passages))
        return cls(question, text, passages, citations, abstained, timings, notes, () if abstained else support,
                   dict(signals or {}), confidence)

    def to_json(self) -> dict:
        """The `--json` shape: answer, citations [{n, doc, paragraph, text, title}], abstained, timings."""
        return {"question": self.question, "answer": self.text,
                "citations": [c.to_dict() for c in self.citations], "abstained": self.abstained,
                "timings": asdict(self.timings), "notes": list(self.notes),
                "support": [asdict(s) for s in self.support], "signals": self.signals,
                "confidence": self.confidence}
