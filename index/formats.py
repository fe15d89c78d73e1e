"""Readers for documents as people have them: Word (.docx), PowerPoint (.pptx), Excel (.xlsx),
CSV, OpenDocument text (.odt), EPUB, e-mail (.eml, .mbox) and RTF, each through the library made
for its format. Headings become '#' lines, table rows "column: value" lines; speaker notes are a
section of their own and comments are left out of the body.

Zip-based files (.docx, .pptx, .xlsx, .odt, .epub) are checked before any parser opens them: a
password-protected file, a macro-enabled one, or one that would unpack to more than the limit (a
zip bomb) is refused with the reason. Python's zipfile never inflates a member past its declared
size, so checking the declared sizes bounds the work.
"""
from __future__ import annotations

import csv
import datetime
import io
import zipfile
from typing import Callable, Iterator

from .errors import UnreadableDocument
from .readers import Limits, Section, decode, end_sentence, html_to_text, row_text, table_text

_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # the compound-file container of encrypted Office files
_MACROS = ("vbaproject.bin", "basic/", "macros/")


def check_zip(data: bytes, kind: str, limits: Limits) -> None:
    """Refuse what a zip-based parser should not open, with the reason."""
    if data.startswith(_OLE):
        raise UnreadableDocument(f"password-protected {kind} (or the old binary format): not readable")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            infos = z.infolist()
            if len(infos) > 10_000:
                raise UnreadableDocument(f"{len(infos)} parts inside the {kind}: too many to be a document")
            unpacked = sum(i.file_size for i in infos)
            if unpacked > limits.unpacked_mb * 2**20:
                raise UnreadableDocument(f"unpacks to {unpacked / 2**20:,.0f} MB, over the limit of "
                                         f"{limits.unpacked_mb} MB (QA_MAX_UNPACKED_MB): a zip bomb?")
            if any(i.flag_bits & 0x1 for i in infos):
                raise UnreadableDocument(f"password-protected {kind}: not readable")
            names = [i.filename.lower() for i in infos]
            if any(n.endswith(_MACROS[0]) or n.startswith(_MACROS[1:]) for n in names):
                raise UnreadableDocument(f"{kind} with macros: not indexed")
            if "meta-inf/manifest.xml" in names and b"encryption-data" in z.read(
                    next(i for i in infos if i.filename.lower() == "meta-inf/manifest.xml")):
                raise UnreadableDocument(f"password-protected {kind}: not readable")
    except zipfile.BadZipFile as exc:
        raise UnreadableDocument(f"damaged {kind}: not a zip package ({exc})") from exc


def _guarded(kind: str, read: Callable[[bytes, Limits], list[Section]], zipped: bool = True):
    """A reader whose parser failures become one-line reasons; a zip-based one is checked first."""
    def reader(data: bytes, limits: Limits) -> list[Section]:
        if zipped:
            check_zip(data, kind, limits)
        try:
            return read(data, limits)
        except UnreadableDocument:
            raise
        except Exception as exc:  # noqa: BLE001 -- third-party parsers raise anything on bad input
            raise UnreadableDocument(f"damaged {kind}: {' '.join(str(exc).split())[:160] or type(exc).__name__}") from exc
    return reader


# -- Word ----------------------------------------------------------------------------------------
def _docx(data: bytes, limits: Limits) -> list[Section]:
    import docx
    from docx.table import Table

    document = docx.Document(io.BytesIO(data))
    blocks: list[str] = []
    for item in document.iter_inner_content():  # paragraphs and tables in reading order; no comments
        if isinstance(item, Table):
            blocks.extend(table_text([[c.text for c in row.cells] for row in item.rows]))
            continue
        text = " ".join(item.text.split())
        style = (item.style.name if item.style is not None else "").lower()
        if text:
            blocks.append(f"# {text}" if style == "title" or style.startswith("heading") else text)
    return [Section("\n\n".join(blocks), marked=True)]


# -- PowerPoint ----------------------------------------------------------------------------------
def _pptx(data: bytes, limits: Limits) -> list[Section]:
    from pptx import Presentation

    deck = Presentation(io.BytesIO(data))
    if len(deck.slides) > limits.pages:
        raise UnreadableDocument(f"{len(deck.slides)} slides, over the limit of {limits.pages} (QA_MAX_PAGES)")
    sections = []
    for n, slide in enumerate(deck.slides, start=1):
        title_shape = slide.shapes.title
        title = " ".join(title_shape.text_frame.text.split()) if title_shape is not None and title_shape.has_text_frame else ""
        blocks = []
        for shape in _shapes(slide.shapes):
            if shape == title_shape:
                continue
            if shape.has_text_frame:
                blocks.extend(end_sentence(p) for p in (" ".join(par.text.split()) for par in shape.text_frame.paragraphs) if p)
            elif getattr(shape, "has_table", False) and shape.has_table:
                blocks.extend(table_text([[c.text for c in row.cells] for row in shape.table.rows]))
        body = "\n\n".join(blocks)
        sections.append(Section(f"# {title}\n\n{body}" if title else body, f"slide {n}", n, title, True))
        if slide.has_notes_slide:
            notes = slide.notes_slide.notes_text_frame.text if slide.notes_slide.notes_text_frame else ""
            if notes.strip():
                sections.append(Section("\n\n".join(end_sentence(line) for line in notes.splitlines() if line.strip()),
                                        f"slide {n}, speaker notes", n, f"{title or f'Slide {n}'} (speaker notes)", True))
    return sections


def _shapes(shapes):
    """Shapes in order, those inside groups included."""
    for shape in shapes:
        if hasattr(shape, "shapes"):  # a group
            yield from _shapes(shape.shapes)
        else:
            yield shape


# -- spreadsheets --------------------------------------------------------------------------------
def _rows(rows: Iterator[list[str]], sheet: str, where: str, limits: Limits, counted: list[int]) -> list[Section]:
    """One section per row, "column: value" with the first non-empty row naming the columns."""
    header, header_number, sections = None, 0, []
    for number, row in rows:
        counted[0] += 1
        if counted[0] > limits.rows:
            raise UnreadableDocument(f"more than {limits.rows:,} rows (QA_MAX_ROWS)")
        if not any(c.strip() for c in row):
            continue
        if header is None:
            header, header_number = row, number
            continue
        text = row_text(header, row) if len(header) > 1 else end_sentence("; ".join(c for c in row if c.strip()))
        if text:
            sections.append(Section(text, f"{where}row {number}", title=sheet, marked=True))
    if header is not None and not sections:  # a single row: the header is the content
        sections.append(Section(end_sentence("; ".join(c for c in header if c.strip())), f"{where}row {header_number}",
                                title=sheet, marked=True))
    return sections


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, datetime.datetime) and value.time() == datetime.time():
        value = value.date()
    return " ".join(str(value).split())


def _xlsx(data: bytes, limits: Limits) -> list[Section]:
    import openpyxl

    book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    sections, counted = [], [0]
    try:
        for sheet in book.worksheets:
            rows = ((n, [_cell(v) for v in row]) for n, row in enumerate(sheet.iter_rows(values_only=True), start=1))
            sections.extend(_rows(rows, sheet.title, f"{sheet.title}, ", limits, counted))
    finally:
        book.close()
    return sections


def _csv(data: bytes, limits: Limits) -> list[Section]:
    text = decode(data)
    try:
        dialect = csv.Sniffer().sniff(text[:8192], delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    rows = ((n, [" ".join(c.split()) for c in row]) for n, row in enumerate(reader, start=1))
    return _rows(rows, "", "", limits, [0])


# -- OpenDocument text ---------------------------------------------------------------------------
def _odt(data: bytes, limits: Limits) -> list[Section]:
    from odf import teletype
    from odf.namespaces import OFFICENS, TABLENS, TEXTNS
    from odf.opendocument import load

    document = load(io.BytesIO(data))
    blocks: list[str] = []

    def text_of(node) -> str:
        for note in [n for n in _walk(node) if getattr(n, "qname", None) in ((OFFICENS, "annotation"), (TEXTNS, "note"))]:
            note.parentNode.removeChild(note)  # comments and footnotes are not part of the body
        return " ".join(teletype.extractText(node).split())

    def visit(node) -> None:
        for child in node.childNodes:
            name = getattr(child, "qname", None)
            if name == (TEXTNS, "h"):
                line = text_of(child)
                if line:
                    blocks.append(f"# {line}")
            elif name == (TEXTNS, "p"):
                line = text_of(child)
                if line:
                    blocks.append(line)
            elif name == (TABLENS, "table"):
                rows = [[text_of(c) for c in r.childNodes if getattr(c, "qname", None) == (TABLENS, "table-cell")]
                        for r in _walk(child) if getattr(r, "qname", None) == (TABLENS, "table-row")]
                blocks.extend(table_text(rows))
            elif name is not None:
                visit(child)

    visit(document.text)
    return [Section("\n\n".join(blocks), marked=True)]


def _walk(node):
    yield node
    for child in getattr(node, "childNodes", []):
        yield from _walk(child)


# -- EPUB ----------------------------------------------------------------------------------------
def _epub(data: bytes, limits: Limits) -> list[Section]:
    import ebooklib
    from ebooklib import epub

    book = epub.read_epub(io.BytesIO(data), {"ignore_ncx": True})
    sections, chapter = [], 0
    for item_id, _linear in book.spine:
        item = book.get_item_with_id(item_id)
        if item is None or item.get_type() != ebooklib.ITEM_DOCUMENT or isinstance(item, epub.EpubNav):
            continue
        text = html_to_text(item.get_content().decode("utf-8", errors="replace"))
        if not text.strip():
            continue
        chapter += 1
        if chapter > limits.pages:
            raise UnreadableDocument(f"more than {limits.pages} chapters (QA_MAX_PAGES)")
        heading = next((line[2:] for line in text.split("\n") if line.startswith("# ")), "")
        sections.append(Section(text, f"ch. {chapter}" + (f": {heading}" if heading else ""), marked=True))
    titles = book.get_metadata("DC", "title")
    if sections and titles and titles[0][0].strip():  # the book's title is the document's
        first = sections[0]
        sections[0] = Section(f"# {' '.join(titles[0][0].split())}\n\n{first.text}", first.location, marked=True)
    return sections


# -- e-mail --------------------------------------------------------------------------------------
def _message_section(message) -> Section | None:
    """The text of one e-mail (its plain body, else its HTML body); attachments are not read."""
    from email.utils import parsedate_to_datetime

    subject = " ".join(str(message.get("subject", "") or "").split()) or "(no subject)"
    sender = " ".join(str(message.get("from", "") or "").split())
    raw_date = str(message.get("date", "") or "")
    try:
        when = parsedate_to_datetime(raw_date) if raw_date else None
        date = f"{when.day} {when:%b %Y}" if when else ""
    except (TypeError, ValueError):
        date = raw_date
    body = message.get_body(preferencelist=("plain", "html"))
    if body is None:
        return None
    try:
        content = body.get_content()
    except (LookupError, ValueError, AssertionError):  # unknown charset or broken transfer encoding
        content = body.get_payload(decode=True).decode("utf-8", errors="replace")
    if body.get_content_type() == "text/html":
        content = html_to_text(content)
    if not content.strip():
        return None
    head = f"# {subject}\n\n" + (f"From {sender}, {date}.\n\n" if sender or date else "")
    return Section(head + content, f"“{subject}”" + (f", {date}" if date else ""), title=subject)


def _eml(data: bytes, limits: Limits) -> list[Section]:
    from email import policy
    from email.parser import BytesParser

    section = _message_section(BytesParser(policy=policy.default).parsebytes(data))
    return [section] if section else []


def _mbox(data: bytes, limits: Limits) -> list[Section]:
    import email
    from email import policy

    sections, count = [], 0
    for raw in _split_mbox(data):
        count += 1
        if count > limits.pages:
            raise UnreadableDocument(f"more than {limits.pages} e-mails (QA_MAX_PAGES)")
        section = _message_section(email.message_from_bytes(raw, policy=policy.default))
        if section:
            sections.append(section)
    if not count:
        raise UnreadableDocument("not an mbox file: no 'From ' line starts a message")
    return sections


def _split_mbox(data: bytes) -> list[bytes]:
    """Messages of an mbox: each starts with a line 'From ...' (the stdlib `mailbox` wants a path
    it may lock and write; this reads the bytes already checked for size)."""
    lines = data.split(b"\n")
    messages, current = [], None
    for line in lines:
        if line.startswith(b"From "):
            if current is not None:
                messages.append(b"\n".join(current))
            current = []
        elif current is not None:
            current.append(line[1:] if line.startswith(b">From ") else line)
    if current is not None:
        messages.append(b"\n".join(current))
    return messages


# -- RTF -----------------------------------------------------------------------------------------
def _rtf(data: bytes, limits: Limits) -> list[Section]:
    from striprtf.striprtf import rtf_to_text

    text = decode(data)
    if not text.lstrip().startswith("{\\rtf"):
        raise UnreadableDocument("damaged RTF: no {\\rtf header")
    return [Section(rtf_to_text(text, errors="replace"))]


READERS: dict[str, Callable[[bytes, Limits], list[Section]]] = {
    ".docx": _guarded("Word document", _docx),
    ".pptx": _guarded("PowerPoint deck", _pptx),
    ".xlsx": _guarded("Excel workbook", _xlsx),
    ".odt": _guarded("OpenDocument text", _odt),
    ".epub": _guarded("EPUB book", _epub),
    ".csv": _guarded("CSV file", _csv, zipped=False),
    ".eml": _guarded("e-mail", _eml, zipped=False),
    ".mbox": _guarded("mbox file", _mbox, zipped=False),
    ".rtf": _guarded("RTF document", _rtf, zipped=False),
}
