"""The value that crosses from `index/` to `qa/` and `ui/`: one searchable paragraph."""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace


@dataclass(frozen=True)
class Passage:
    """A paragraph (or a sentence-aligned part of a long one) of a document.

    >>> Passage("seed.txt", "Title", 4, "Text.").ref
    'seed.txt ¶4'
    """

    doc: str  # path relative to the corpus root, "/"-separated
    title: str  # the section heading above the paragraph, else the document title
    paragraph: int  # 1-based, as a reader counts paragraphs (headings are not counted)
    text: str
    score: float = 0.0
    start: int = 0  # character span of the paragraph in the decoded source text
    end: int = 0
    part: int = 0  # 0 for a whole paragraph; 1, 2, ... for the parts of a split long one
    # Where a reader finds it, in the format's own terms: "p. 12", "slide 4", "Facts, row 3",
    # "“Subject”, 2 Jan 2026", "ch. 2: Title", "§ Heading"; "" when the format has none (plain text).
    # Optional, so indexes written before it load; `page` is the PDF page or slide to open at.
    location: str = ""
    page: int = 0

    @property
    def ref(self) -> str:
        return f"{self.doc} ¶{self.paragraph}"

    @property
    def where(self) -> str:
        """The location a reader looks for, else the paragraph number.

        >>> Passage("r.pdf", "T", 9, "x", location="p. 12").where, Passage("a.txt", "T", 4, "x").where
        ('p. 12', '¶4')
        """
        return self.location or f"¶{self.paragraph}"

    @property
    def place(self) -> str:
        """Document and location, as the CLI shows a citation.

        >>> Passage("decks/q3.pptx", "T", 5, "x", location="slide 4").place
        'decks/q3.pptx — slide 4'
        """
        return f"{self.doc} — {self.where}"

    def with_score(self, score: float) -> "Passage":
        return replace(self, score=float(score))

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, row: dict) -> "Passage":
        return cls(**{k: row[k] for k in cls.__dataclass_fields__ if k in row})
