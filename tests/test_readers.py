import pytest

from index.errors import UnreadableDocument
from index.readers import decode, html_to_text, read_document

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
    path.write_bytes(_tiny_pdf("Sevastopol harbour report"))
    assert "Sevastopol harbour report" in read_document(path)


def _tiny_pdf(text: str) -> bytes:
    """A one-page PDF with `text`, built by hand with a correct cross-reference table."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>",
               b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
               b"/Resources << /Font << /F1 5 0 R >> >> >>",
               b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for i, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)
