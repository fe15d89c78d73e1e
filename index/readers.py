"""Read a file into text: .txt, .md, .html and .pdf, with encoding detection.

Every failure is an `UnreadableDocument` whose message is a one-line reason, so a batch can skip
the file and go on.
"""
from __future__ import annotations

import codecs
from pathlib import Path

from .errors import UnreadableDocument

SUPPORTED = (".txt", ".md", ".markdown", ".html", ".htm", ".pdf")
MAX_BYTES = 50 * 1024 * 1024
# Characters that make cp1252 the likely reading of non-UTF-8 bytes (Western European text)
_WESTERN = set("ÀÁÂÃÄÅÆÇÈÉÊËÌÍÎÏÐÑÒÓÔÕÖØÙÚÛÜÝÞßàáâãäåæçèéêëìíîïðñòóôõöøùúûüýþÿ"
               "€‚„…†‡‰‹›‘’“”•–—™šœžŸŠŒŽ¡¢£¤¥¦§¨©ª«¬®¯°±²³´µ¶·¸¹º»¼½¾¿×÷\u00a0")


def read_document(path: Path) -> str:
    """Return the text of `path`; headings of HTML and Markdown become lines starting with '#'."""
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED:
        raise UnreadableDocument(f"unsupported file type {suffix or '(none)'}")
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise UnreadableDocument(f"larger than {MAX_BYTES // 2**20} MB")
        data = path.read_bytes()
    except OSError as exc:
        raise UnreadableDocument(f"cannot read: {exc.strerror or exc}") from exc
    if not data.strip():
        raise UnreadableDocument("empty file")
    if suffix == ".pdf":
        text = pdf_to_text(data)
    else:
        text = decode(data)
        if suffix in (".html", ".htm"):
            text = html_to_text(text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise UnreadableDocument("no text found")
    return text


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


def html_to_text(html: str) -> str:
    """Visible text of an HTML page, one block per paragraph, headings marked with '#'.

    >>> html_to_text("<h2>Hi</h2><p>One <b>two</b>.</p><script>x()</script>")
    '# Hi\\n\\nOne two.'
    """
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    for tag in soup(["script", "style", "noscript", "template", "head", "nav", "footer"]):
        tag.decompose()
    blocks = []
    for el in soup.find_all(["h1", "h2", "h3", "h4", "h5", "h6", "p", "li", "pre", "blockquote", "td"]):
        if el.find_parent(["p", "li", "pre", "blockquote", "td"]):
            continue
        text = " ".join(el.get_text().split())
        if text:
            blocks.append(("# " + text) if el.name[0] == "h" and el.name[1:].isdigit() else text)
    if not blocks:  # a page without block tags: fall back to its lines
        blocks = [line.strip() for line in soup.get_text("\n").split("\n") if line.strip()]
    return "\n\n".join(blocks)


def pdf_to_text(data: bytes) -> str:
    """Text of every page of a PDF, pages separated by blank lines."""
    import io

    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise UnreadableDocument("encrypted PDF")
        pages = [page.extract_text() or "" for page in reader.pages]
    except UnreadableDocument:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        raise UnreadableDocument(f"damaged PDF: {exc}") from exc
    return "\n\n".join(p.strip() for p in pages if p.strip())
