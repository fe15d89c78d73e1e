"""Read a file into sections of text with their locations, within limits.

A `Section` is a run of text that has one location in the reader's terms: a PDF page, a slide, a
spreadsheet row, an e-mail, an e-book chapter. Headings are lines starting with '#'. Plain text,
Markdown, HTML and PDF are read here; Office files, e-books, mail and RTF in `index/formats.py`.

Every failure is an `UnreadableDocument` whose message is a one-line reason, so a batch can skip
the file and go on.
"""
from __future__ import annotations

import codecs
from dataclasses import dataclass
from pathlib import Path

from .clean import valid_text
from .errors import UnreadableDocument

TEXT_TYPES = (".txt", ".md", ".markdown")
HTML_TYPES = (".html", ".htm")
# Characters that make cp1252 the likely reading of non-UTF-8 bytes (Western European text)
_WESTERN = set("ÀÁÂÃÄÅÆÇÈÉÊËÌÍÎÏÐÑÒÓÔÕÖØÙÚÛÜÝÞßàáâãäåæçèéêëìíîïðñòóôõöøùúûüýþÿ"
               "€‚„…†‡‰‹›‘’“”•–—™šœžŸŠŒŽ¡¢£¤¥¦§¨©ª«¬®¯°±²³´µ¶·¸¹º»¼½¾¿×÷\u00a0")


@dataclass(frozen=True)
class Section:
    """Text with one location. `marked`: headings are exactly the lines starting with '#' (the
    format says which lines are headings); otherwise they are guessed from short lines."""

    text: str
    location: str = ""  # "p. 12", "slide 4", "Facts, row 3", "“Subject”, 2 Jan 2026", "ch. 2"
    page: int = 0  # the page (PDF) or slide a viewer can open at; 0 when the format has none
    title: str = ""  # the heading above this section's text, when the format names one
    marked: bool = False


@dataclass(frozen=True)
class Limits:
    """What one file may cost to read. Over a limit, the file is refused with the reason. The
    settings `max_file_mb`, `max_unpacked_mb`, `max_pages` and `max_rows` (`QA_MAX_FILE_MB`, …)
    set them (qa/settings.py)."""

    file_mb: int = 50  # size on disk
    unpacked_mb: int = 200  # the decompressed size of a .docx/.pptx/.xlsx/.odt/.epub (zip bombs)
    pages: int = 2000  # PDF pages, slides, e-book chapters, e-mails in an mbox
    rows: int = 100_000  # spreadsheet and CSV rows


def _readers():
    from . import formats

    return {**{s: _text for s in TEXT_TYPES}, **{s: _html for s in HTML_TYPES}, ".pdf": _pdf,
            **formats.READERS}


def _supported() -> tuple[str, ...]:
    from .formats import READERS

    return TEXT_TYPES + HTML_TYPES + (".pdf",) + tuple(READERS)


def read_sections(path: Path, limits: Limits = Limits()) -> list[Section]:
    """The sections of `path` in reading order (at least one, each with text)."""
    suffix = path.suffix.lower()
    readers = _readers()
    if suffix not in readers:
        raise UnreadableDocument(f"unsupported file type {suffix or '(none)'}")
    try:
        size = path.stat().st_size
        if size > limits.file_mb * 2**20:
            raise UnreadableDocument(f"larger than {limits.file_mb} MB (QA_MAX_FILE_MB)")
        data = path.read_bytes()
    except OSError as exc:
        raise UnreadableDocument(f"cannot read: {exc.strerror or exc}") from exc
    if not data.strip():
        raise UnreadableDocument("empty file")
    sections = []
    for s in readers[suffix](data, limits):
        text = valid_text(s.text.replace("\r\n", "\n").replace("\r", "\n"))
        if text.strip():
            sections.append(Section(text, s.location, s.page, s.title, s.marked))
    if not sections:
        raise UnreadableDocument("no text found")
    return sections


def read_document(path: Path, limits: Limits = Limits()) -> str:
    """The text of `path`, sections separated by blank lines; headings start with '#'."""
    return "\n\n".join(s.text for s in read_sections(path, limits))


def _text(data: bytes, limits: Limits) -> list[Section]:
    return [Section(decode(data))]


def _html(data: bytes, limits: Limits) -> list[Section]:
    return [Section(article_text(decode(data)), marked=True)]


def _pdf(data: bytes, limits: Limits) -> list[Section]:
    return [Section(text, f"p. {n}", page=n) for n, text in enumerate(pdf_pages(data, limits.pages), start=1)]


def decode(data: bytes) -> str:
    """Decode bytes: BOMs first, then UTF-8, then a detected charset; binary data is refused.

    >>> decode("café".encode("cp1252"))
    'café'
    """
    for bom, encoding in ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"),
                          (codecs.BOM_UTF16_BE, "utf-16")):
        if data.startswith(bom):
            return data.decode(encoding)
    if _looks_utf16(data):
        return data.decode("utf-16-le" if data[1::2].count(0) > data[0::2].count(0) else "utf-16-be")
    if b"\x00" in data[:8192]:
        raise UnreadableDocument("binary file, not text")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    western = data.decode("cp1252", errors="replace")
    if "\ufffd" not in western and all(c.isascii() or c in _WESTERN for c in western):
        return western
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None:
        raise UnreadableDocument("binary file or unknown text encoding")
    text = str(best)
    if sum(not (c.isprintable() or c.isspace()) for c in text) > len(text) // 100 + 1:
        raise UnreadableDocument("binary file, not text")
    return text


def _looks_utf16(data: bytes) -> bool:
    """UTF-16 without a BOM: every other byte of ASCII-range text is zero."""
    head = data[:4096]
    if len(head) < 4 or len(head) % 2:
        return False
    zeros_even, zeros_odd = head[0::2].count(0), head[1::2].count(0)
    half = len(head) // 2
    return max(zeros_even, zeros_odd) > 0.4 * half and min(zeros_even, zeros_odd) < 0.05 * half


_HIDDEN_STYLE = ("display:none", "visibility:hidden")


def visible_soup(html: str):
    """The page parsed, without scripts, styles and text a browser would not show (`hidden`,
    `aria-hidden="true"`, `display: none`, `visibility: hidden`): such text is the usual carrier
    of instructions planted for a language model."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    for tag in soup(["script", "style", "noscript", "template"]):
        tag.decompose()
    for tag in soup.find_all(True):
        if tag.decomposed:
            continue
        style = "".join((tag.get("style") or "").split()).lower()
        if (tag.has_attr("hidden") or str(tag.get("aria-hidden", "")).lower() == "true"
                or any(rule in style for rule in _HIDDEN_STYLE)):
            tag.decompose()
    return soup


def html_to_text(html: str) -> str:
    """Visible text of an HTML page, one block per paragraph, headings marked with '#'.

    >>> html_to_text("<h2>Hi</h2><p>One <b>two</b>.</p><script>x()</script><p hidden>Psst.</p>")
    '# Hi\\n\\nOne two.'
    >>> html_to_text("<table><tr><th>Year</th><th>Keeper</th></tr><tr><td>1901</td><td>Ana</td></tr></table><tr><td>Stray row</td></tr>")
    'Year: 1901; Keeper: Ana.\\n\\nStray row'
    """
    soup = visible_soup(html)
    for tag in soup(["head", "nav", "footer"]):
        tag.decompose()
    blocks = []
    for el in soup.find_all(["h1", "h2", "h3", "h4", "h5", "h6", "p", "li", "pre", "blockquote", "tr"]):
        if el.find_parent(["p", "li", "pre", "blockquote", "tr"]):
            continue
        table = el.find_parent("table") if el.name == "tr" else None
        if table is not None:  # a table is read once, at its first row, as "column: value" rows
            blocks.extend(_table_rows(table) if table.tr is el else [])
            continue
        text = " ".join(el.get_text().split())
        if text:
            blocks.append(("# " + text) if el.name[0] == "h" and el.name[1:].isdigit() else text)
    if not blocks:  # a page without block tags: fall back to its lines
        blocks = [line.strip() for line in soup.get_text("\n").split("\n") if line.strip()]
    return "\n\n".join(blocks)


def _table_rows(table) -> list[str]:
    rows = [[" ".join(c.get_text(" ").split()) for c in tr.find_all(["td", "th"])] for tr in table.find_all("tr")]
    return table_text(rows)


def table_text(rows: list[list[str]]) -> list[str]:
    """Table rows as readable lines, "column: value; column: value.", the first row naming the
    columns (a one-row or one-column table is read as it is).

    >>> table_text([["Year", "Keeper"], ["1901", "Ana Rell"], ["1920", ""]])
    ['Year: 1901; Keeper: Ana Rell.', 'Year: 1920.']
    """
    rows = [r for r in rows if any(c.strip() for c in r)]
    if not rows:
        return []
    header, body = rows[0], rows[1:]
    if not body or len(header) < 2:
        return [end_sentence("; ".join(c for c in r if c.strip())) for r in rows]
    return [line for line in (row_text(header, r) for r in body) if line]


def row_text(header: list[str], row: list[str]) -> str:
    """One row as "column: value; ..." (unnamed columns by their values), ending a sentence."""
    cells = [(f"{h.strip()}: {v.strip()}" if h and h.strip() else v.strip())
             for h, v in zip(list(header) + [""] * len(row), row) if v and v.strip()]
    return end_sentence("; ".join(cells)) if cells else ""


def end_sentence(text: str) -> str:
    """A line that reads as a sentence (so it is never taken for a heading)."""
    text = " ".join(text.split())
    return text if not text or text[-1] in ".!?…" else text + "."


def article_text(html: str) -> str:
    """The article of a web page (menus, banners, footers and hidden text left out) by main-content
    extraction (trafilatura), its title and headings as '#' lines and tables as rows; a page that
    yields no article is read whole (`html_to_text`)."""
    import trafilatura
    from lxml import etree

    soup = visible_soup(html)
    page_title = " ".join(soup.title.get_text().split()) if soup.title else ""
    xml = trafilatura.extract(str(soup), output_format="xml", include_tables=True, include_comments=False,
                              include_formatting=False, include_links=False, include_images=False,
                              favor_precision=True, with_metadata=True)
    if not xml:
        text = html_to_text(str(soup))
        return (f"# {page_title}\n\n{text}" if page_title and not text.startswith("# ") else text)
    root = etree.fromstring(xml.encode())
    title = root.get("title") or page_title
    blocks = [f"# {title}"] if title else []
    main = root.find("main")
    for el in (main if main is not None else root).iterchildren():
        if el.tag == "head":
            line = " ".join("".join(el.itertext()).split())
            if line and line != title:
                blocks.append(f"# {line}")
        elif el.tag == "table":
            blocks.extend(table_text([[" ".join("".join(c.itertext()).split()) for c in row.iter("cell")]
                                      for row in el.iter("row")]))
        elif el.tag == "list":
            blocks.extend(" ".join("".join(item.itertext()).split()) for item in el.iter("item"))
        else:
            blocks.append(" ".join("".join(el.itertext()).split()))
    return "\n\n".join(b for b in blocks if b)


def pdf_pages(data: bytes, max_pages: int = 2000) -> list[str]:
    """The text of each page of a PDF (empty for a page without text)."""
    import io

    from pypdf import PdfReader

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise UnreadableDocument("encrypted or password-protected PDF")
        if len(reader.pages) > max_pages:
            raise UnreadableDocument(f"{len(reader.pages)} pages, over the limit of {max_pages} (QA_MAX_PAGES)")
        return [(page.extract_text() or "").strip() for page in reader.pages]
    except UnreadableDocument:
        raise
    except Exception as exc:  # pypdf also raises AttributeError, IndexError, ... on damaged files
        raise UnreadableDocument(f"damaged PDF: {' '.join(str(exc).split()) or type(exc).__name__}") from exc


SUPPORTED = _supported()
