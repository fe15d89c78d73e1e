import pytest

from index.errors import UnreadableDocument
from index.readers import decode, html_to_text, read_document

from .formats import tiny_pdf

TEXT = "Café in Kyiv — “quoted” text.\nSecond line."


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be"])
def test_unicode_encodings(tmp_path, encoding):
    path = tmp_path / "doc.txt"
    path.write_bytes(TEXT.encode(encoding))
    assert read_document(path) == TEXT


def test_latin1_and_cp1252(tmp_path):
    path = tmp_path / "old.txt"
    path.write_bytes("Le café était fermé; à demain. Prix: 5 €.".encode("cp1252"))
    assert read_document(path) == "Le café était fermé; à demain. Prix: 5 €."
    assert decode("Señor Muñoz está aquí.".encode("latin-1")) == "Señor Muñoz está aquí."


@pytest.mark.parametrize("name,data,reason", [
    ("empty.txt", b"", "empty"),
    ("blank.md", b"  \n\n ", "empty"),
    ("bin.txt", bytes(range(256)) * 20, "binary"),
    ("image.png", b"\x89PNG....", "unsupported"),
    ("broken.pdf", b"%PDF-1.4 garbage", "PDF"),
])
def test_bad_files_raise_one_line_reasons(tmp_path, name, data, reason):
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(UnreadableDocument, match=reason) as info:
        read_document(path)
    assert "\n" not in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(UnreadableDocument, match="cannot read"):
        read_document(tmp_path / "gone.txt")


def test_html_visible_text_only():
    html = ("<html><head><title>T</title><style>p{}</style></head><body><h1>News</h1>"
            "<p>First <a href='x'>para</a>.</p><script>alert(1)</script><ul><li>Item</li></ul></body></html>")
    assert html_to_text(html) == "# News\n\nFirst para.\n\nItem"


def test_pdf_text(tmp_path):
    path = tmp_path / "doc.pdf"
    path.write_bytes(tiny_pdf(["Sevastopol harbour report"]))
    assert "Sevastopol harbour report" in read_document(path)


def test_a_pdf_that_breaks_the_parser_in_any_way_is_skipped_with_a_reason(monkeypatch):
    """pypdf raises AttributeError, IndexError, ZeroDivisionError ... on some damaged files: one such
    PDF must be skipped with a reason, not stop the batch."""
    import pypdf

    from index.errors import UnreadableDocument
    from index.readers import pdf_pages

    class Broken:
        def __init__(self, stream):
            raise AttributeError("'NullObject' object has no attribute 'get_object'")

    monkeypatch.setattr(pypdf, "PdfReader", Broken)
    with pytest.raises(UnreadableDocument, match="damaged PDF: 'NullObject'"):
        pdf_pages(b"%PDF-1.4 ...")
