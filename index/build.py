"""From files to passages: collecting documents and chunking them (pure apart from reading)."""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Sequence

from .clean import normalize_space
from .passage import Passage
from .readers import SUPPORTED, Section
from .split import split_long, split_paragraphs

# bump when reading, splitting or cleaning changes: every document is re-read
# (v2: locations — page, slide, row, e-mail, chapter — and web pages read as articles)
CHUNKING = "paragraphs-v2"
NAIVE_CHUNKING = "naive-v1"  # the evaluation yardstick's chunking (`naive_chunk`)


@dataclass(frozen=True)
class Source:
    """A file to index and the name it has in the index."""

    doc: str
    path: Path


def collect(paths: Iterable[Path]) -> tuple[list[Source], list[tuple[str, str]]]:
    """Files under `paths` with their document names, and (path, reason) for what is not indexed.

    A single folder's files are named relative to it; with several paths, each name starts with
    the folder's (or file's parent's) own name so that names cannot collide.
    """
    paths = [Path(p) for p in paths]
    sources, skipped = [], []
    for root in paths:
        if not root.exists():
            skipped.append((str(root), "no such file or folder"))
            continue
        files = [root] if root.is_file() else sorted(
            f for f in root.rglob("*") if f.is_file() and not any(
                part.startswith(".") for part in f.relative_to(root).parts))
        base = root.parent if root.is_file() else root
        for f in files:
            if f.suffix.lower() not in SUPPORTED:
                skipped.append((str(f), f"unsupported file type {f.suffix or '(none)'}"))
                continue
            name = f.relative_to(base).as_posix()
            if len(paths) > 1 and root.is_dir():
                name = f"{root.resolve().name}/{name}"
            sources.append(Source(name, f.resolve()))
    return sources, skipped


def file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def title_from_name(doc: str) -> str:
    """A readable fallback title.

    >>> title_from_name("news/russia-rejects_troops.txt")
    'russia rejects troops'
    """
    return normalize_space(Path(doc).stem.replace("_", " ").replace("-", " "))


def _sections(text: str | Sequence[Section]) -> list[Section]:
    return [Section(text)] if isinstance(text, str) else list(text)


def naive_chunk(text: str | Sequence[Section], doc: str, count_tokens: Callable[[str], int],
                max_tokens: int) -> tuple[str, list[Passage]]:
    """The yardstick's chunking, as most RAG tools ship it: blank-line blocks (or lines, in a file
    without blank lines) exactly as written; no headings, no cleaning, no dedupe, no window check.

    >>> [p.text for p in naive_chunk("A\\n\\nB  b\\n\\nA", "a.txt", len, 9)[1]]
    ['A', 'B  b', 'A']
    """
    text = "\n\n".join(s.text for s in _sections(text))
    blocks = [b for b in re.split(r"\n\s*\n", text) if b.strip()]
    if len(blocks) < 3:
        blocks = [line for line in text.split("\n") if line.strip()]
    title = title_from_name(doc)
    return title, [Passage(doc, title, i, b.strip()) for i, b in enumerate(blocks, start=1)]


def chunk(text: str | Sequence[Section], doc: str, count_tokens: Callable[[str], int],
          max_tokens: int) -> tuple[str, list[Passage]]:
    """(document title, passages): paragraphs, identical ones once, long ones cut to fit the window.
    `text` is a document's text or its sections (`index.readers.Section`): paragraphs are numbered
    through the document and each keeps its section's location.

    >>> title, ps = chunk("Title\\n\\nSame text.\\n\\nSame text.\\n\\nOther.", "a.txt", len, 100)
    >>> title, [(p.paragraph, p.text) for p in ps]
    ('Title', [(1, 'Same text.'), (3, 'Other.')])
    >>> title, ps = chunk([Section("Deck\\n\\nHello all.", "slide 1", 1), Section("Bye.", "slide 2", 2)], "d.pptx", len, 99)
    >>> title, [(p.paragraph, p.title, p.location, p.page) for p in ps]
    ('Deck', [(1, 'Deck', 'slide 1', 1), (2, 'Deck', 'slide 2', 2)])
    """
    title, current, number, offset = None, title_from_name(doc), 0, 0
    seen: set[str] = set()
    passages = []
    for section in _sections(text):
        leading, paragraphs = split_paragraphs(section.text, "", section.marked)
        if title is None:
            title = leading or title_from_name(doc)
        for para in paragraphs:
            number += 1
            heading = para.title or section.title or current
            current = heading if not section.title else current
            key = " ".join(para.text.lower().split())
            if key in seen:
                continue
            seen.add(key)
            location = section.location or (f"§ {heading}" if section.marked and heading != title else "")
            parts = split_long(para.text, count_tokens, max_tokens)
            for i, part in enumerate(parts, start=1):
                passages.append(Passage(doc, heading, number, part, 0.0, offset + para.start, offset + para.end,
                                        i if len(parts) > 1 else 0, location, section.page))
        offset += len(section.text) + 2
    return title or title_from_name(doc), passages


CHUNKERS = {CHUNKING: chunk, NAIVE_CHUNKING: naive_chunk}
