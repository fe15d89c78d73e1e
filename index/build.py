"""From files to passages: collecting documents and chunking them (pure apart from reading)."""
from __future__ import annotations

import errno
import hashlib
import os
import re
import stat
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


def collect(paths: Iterable[Path], follow_links: bool = False) -> tuple[list[Source], list[tuple[str, str]]]:
    """Files under `paths` with their document names, and (path, reason) for what is not indexed.

    A single folder's files are named relative to it; with several paths, each name starts with
    the folder's (or file's parent's) own name so that names cannot collide. A path given that
    cannot be reached (missing, a symlink loop: `root_problem`) is reported as skipped; `Index.sync`
    refuses such paths before calling this unless told to prune. Inside a folder, hidden files are left out, and a symbolic link is followed only
    when it points inside that folder (or anywhere, with `follow_links`); a link that is broken,
    loops or points outside is skipped with its reason. Names are always valid text (`shown`); the
    source path is the exact one, whatever bytes its name holds.
    """
    paths = [Path(p) for p in paths]
    sources, skipped = [], []
    for root in paths:
        problem = root_problem(root)
        if problem:
            skipped.append((shown(root), problem))
            continue
        top = real(root)
        if top.is_file():
            files, base = [top], top.parent
        else:
            files, base = _walk(top, follow_links, skipped), top
        for f in files:
            if f.suffix.lower() not in SUPPORTED:
                skipped.append((shown(f), f"unsupported file type {shown(f.suffix) or '(none)'}"))
                continue
            name = f.relative_to(base).as_posix()
            if len(paths) > 1 and top.is_dir():
                name = f"{top.name}/{name}"
            sources.append(Source(shown(name), f))
    return sources, skipped


def shown(path: Path | str) -> str:
    """A file name as valid text for the index, the screen and JSON: bytes that are not UTF-8 (an
    old Latin-1 name such as b"caf\\xe9.txt") are written as backslash escapes, so two such names
    stay distinct and every byte can be read off.

    >>> shown(os.fsdecode(b"caf\\xe9.txt")), shown("café.txt")
    ('caf\\\\xe9.txt', 'café.txt')
    """
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def real(path: Path) -> Path:
    """`path` with every symlink resolved; never raises on a loop (it is left unresolved)."""
    return Path(os.path.realpath(path))


def root_problem(path: Path) -> str | None:
    """Why a path given to index cannot be read as a file or folder, or None when it can."""
    try:
        st = os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "symlink loop: the link leads back to itself, not to a file or folder"
        if exc.errno == errno.ENOENT:
            return "broken symlink: its target does not exist" if os.path.islink(path) else "no such file or folder"
        return f"cannot open: {exc.strerror}"
    if not (stat.S_ISDIR(st.st_mode) or stat.S_ISREG(st.st_mode)):
        return "not a regular file or folder"
    return None


def _walk(top: Path, follow_links: bool, skipped: list[tuple[str, str]]) -> list[Path]:
    """The files below the folder `top` (symlinks resolved), hidden ones left out, in path order."""
    files: list[Path] = []
    entered = {top}

    def visit(folder: Path) -> None:
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            skipped.append((shown(folder), f"cannot list: {exc.strerror}"))
            return
        for entry in entries:
            path = folder / entry.name
            if entry.name.startswith("."):
                continue
            if entry.is_symlink():
                problem = root_problem(path)
                target = real(path)
                if problem is None and not follow_links and target != top and top not in target.parents:
                    problem = (f"symlink to {shown(target)}, outside the folder: not followed "
                               "(`qa index --follow-links` follows it)")
                if problem:
                    skipped.append((shown(path), problem))
                    continue
            try:
                is_dir = entry.is_dir()
            except OSError as exc:
                skipped.append((shown(path), f"cannot open: {exc.strerror}"))
                continue
            if is_dir:
                target = real(path)
                if target in entered:  # reached a second time: only links lead there
                    here = real(folder)
                    why = ("symlink loop: leads back to" if target == here or target in here.parents
                           else "already indexed by another path:")
                    skipped.append((shown(path), f"{why} {shown(target)}"))
                    continue
                entered.add(target)
                visit(path)
            elif entry.is_file():
                files.append(path)

    visit(top)
    return files


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
