"""Pure splitting of a document's text into paragraphs as a reader sees them.

Paragraphs are separated by blank lines; inside a block, lines that are whole paragraphs (long
lines, as in the seed article) are paragraphs of their own, while short hard-wrapped lines are
joined. Short lines without final punctuation followed by text are section headings: they title
the paragraphs below them and are not passages themselves.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

from .clean import clean_paragraph, normalize_space, sentences

LONG_LINE = 150  # a block with a line this long holds one paragraph per line
_MD_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+")


@dataclass(frozen=True)
class Paragraph:
    number: int  # 1-based among the paragraphs of the document
    title: str
    text: str
    start: int
    end: int


@dataclass(frozen=True)
class _Unit:
    start: int
    end: int
    text: str
    heading: bool = False


def is_heading_line(line: str) -> bool:
    """A short line with no sentence-final punctuation, or a Markdown heading.

    >>> is_heading_line("More drums of war"), is_heading_line("He left.")
    (True, False)
    """
    if _MD_HEADING.match(line):
        return True
    line = normalize_space(line)
    words = line.split()
    return 0 < len(words) <= 12 and len(line) <= 100 and line[-1] not in ".!?,;:…\"'”’»)]"


def split_paragraphs(text: str, default_title: str = "", marked: bool = False) -> tuple[str, list[Paragraph]]:
    """Return (document title, paragraphs). The title is the leading heading, else `default_title`.
    `marked`: the headings are exactly the '#' lines (as the Office, e-book and web readers write
    them) and every other block is a paragraph; otherwise short lines are guessed to be headings.

    >>> title, paras = split_paragraphs("Big news\\n\\nIt rained. A lot.\\n\\nMore drums\\nIt stopped.")
    >>> title, [(p.number, p.title, p.text) for p in paras]
    ('Big news', [(1, 'Big news', 'It rained. A lot.'), (2, 'More drums', 'It stopped.')])
    """
    units = _marked_units(text) if marked else _units(text)
    title = default_title
    if len(units) > 1 and units[0].heading:
        title = units[0].text
    section, number, out = title, 0, []
    for i, unit in enumerate(units):
        if unit.heading:
            if i > 0 or unit.text != title:
                section = unit.text
            continue
        body = clean_paragraph(unit.text)
        if body:
            number += 1
            out.append(Paragraph(number, section, body, unit.start, unit.end))
    return title, out


def _marked_units(text: str) -> list[_Unit]:
    """Blocks as units, each '#' line a heading.

    >>> [(u.text, u.heading) for u in _marked_units("# Sales\\n\\nUp 5%\\n\\nShort line")]
    [('Sales', True), ('Up 5%', False), ('Short line', False)]
    """
    units = []
    for block in _blocks(text):
        for start, end, line in block:
            heading = bool(_MD_HEADING.match(line))
            body = normalize_space(_MD_HEADING.sub("", line)) if heading else line
            units.append(_Unit(start, end, body, heading))
    return units


def _units(text: str) -> list[_Unit]:
    """Blocks of text with their spans; a heading is marked only if body text follows it."""
    raw: list[_Unit] = []
    for block in _blocks(text):
        lines = block
        while len(lines) > 1 and _heading_before(lines[0][2], lines[1][2]):
            raw.append(_Unit(*lines[0], heading=True))
            lines = lines[1:]
        if len(lines) == 1 or any(len(line) > LONG_LINE for _, _, line in lines):
            raw.extend(_Unit(s, e, line, heading=is_heading_line(line)) for s, e, line in lines)
        else:
            raw.append(_Unit(lines[0][0], lines[-1][1], " ".join(line for _, _, line in lines)))
    units = []
    for i, unit in enumerate(raw):
        followed_by_text = any(not u.heading and _heading_before(unit.text, u.text) for u in raw[i + 1:i + 2])
        heading = unit.heading and (followed_by_text or bool(_MD_HEADING.match(unit.text)))
        body = _MD_HEADING.sub("", unit.text) if heading else unit.text
        units.append(_Unit(unit.start, unit.end, normalize_space(body) if heading else body, heading))
    return units


_DANGLING = frozenset("a an the of and or to in on at for with by from as but".split())


def _heading_before(line: str, following: str) -> bool:
    """A heading line is complete (it does not end on a dangling word) and the next line opens a
    new sentence; otherwise the two lines are one hard-wrapped paragraph.

    >>> _heading_before("First line of a", "wrapped text."), _heading_before("News", "It rained.")
    (False, True)
    """
    if _MD_HEADING.match(line):
        return True
    words = line.split()
    first = following.lstrip()[:1]
    return (is_heading_line(line) and words[-1].lower() not in _DANGLING
            and (first.isupper() or first.isdigit() or first in "\"'“‘«("))


def _blocks(text: str) -> list[list[tuple[int, int, str]]]:
    """Runs of non-blank lines as (start, end, line) with character offsets into `text`."""
    blocks, current, pos = [], [], 0
    for line in text.split("\n"):
        start, end = pos, pos + len(line)
        pos = end + 1
        if line.strip():
            current.append((start, end, line))
        elif current:
            blocks.append(current)
            current = []
    if current:
        blocks.append(current)
    return blocks


def split_long(text: str, count_tokens: Callable[[str], int], max_tokens: int) -> list[str]:
    """Cut a paragraph into parts of at most `max_tokens`, at sentence boundaries where possible.

    >>> split_long("One two. Three four. Five.", lambda s: len(s.split()), 4)
    ['One two. Three four.', 'Five.']
    """
    if count_tokens(text) <= max_tokens:
        return [text]
    pieces: list[str] = []
    for sentence in sentences(text):
        pieces.extend(_split_words(sentence, count_tokens, max_tokens))
    parts, current = [], ""
    for piece in pieces:
        candidate = f"{current} {piece}".strip()
        if current and count_tokens(candidate) > max_tokens:
            parts.append(current)
            candidate = piece
        current = candidate
    if current:
        parts.append(current)
    return parts


def _split_words(sentence: str, count_tokens: Callable[[str], int], max_tokens: int) -> list[str]:
    """A sentence over the limit on its own is cut between words."""
    if count_tokens(sentence) <= max_tokens:
        return [sentence]
    parts, current = [], []
    for word in sentence.split():
        if current and count_tokens(" ".join(current + [word])) > max_tokens:
            parts.append(" ".join(current))
            current = []
        current.append(word)
    if current:
        parts.append(" ".join(current))
    return parts
