"""Documents as people have them: one file of each format, written by the tests with the same
libraries the readers use, indexed (fake embedder), each fact found with the right location; a saved
news page yields its article only; bad files are refused with a reason and the rest is indexed."""
import pytest

from index import Index
from index.errors import UnreadableDocument
from index.readers import Limits, SUPPORTED, read_sections

from .formats import ARTICLE, BAD_FILES, FACTS, NEWS_PAGE, email_bytes, tiny_pdf, write_all, write_bad, write_pptx


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return write_all(tmp_path_factory.mktemp("formats"))


@pytest.fixture(scope="module")
def index(folder, tmp_path_factory):
    from .fakes import HashEmbedder

    index = Index.open(tmp_path_factory.mktemp("data"), HashEmbedder(), create=True)
    report = index.sync([folder])
    assert report.skipped == [] and sorted(report.added) == sorted(FACTS)
    return index


def test_every_format_is_supported():
    assert {name.rsplit(".", 1)[1] for name in FACTS} | {"txt", "md"} <= {s[1:] for s in SUPPORTED}


@pytest.mark.parametrize("name", list(FACTS))
def test_each_fact_is_found_at_its_location(index, name):
    _write, query, fact, location, page = FACTS[name]
    hits = [p for p in index.search(query, k=5) if p.doc == name]
    assert hits, f"nothing from {name} for {query!r}"
    best = hits[0]
    assert fact in best.text, (name, [p.text for p in hits])
    assert (best.location, best.page) == (location, page)


def test_located_passages_survive_a_reopen(index):
    from .fakes import HashEmbedder

    again = Index.open(index.data_dir, HashEmbedder())
    assert {(p.doc, p.location, p.page) for p in again.passages} == {(p.doc, p.location, p.page) for p in index.passages}


def test_old_index_rows_without_location_still_load():
    from index import Passage

    old = {"doc": "a.txt", "title": "T", "paragraph": 3, "text": "x", "score": 0.0, "start": 0, "end": 1, "part": 0}
    assert Passage.from_dict(old).where == "¶3"
    assert Passage.from_dict({**old, "location": "p. 2", "page": 2, "added_later": 1}).where == "p. 2"


def test_headings_become_titles_and_tables_rows(index):
    docx = [p for p in index.passages if p.doc == "report.docx"]
    assert index.document("report.docx")["title"] == "Annual harbour report"
    assert [(p.title, p.text) for p in docx][1:] == [
        ("Dredging", "The dredging of the north basin was led by the contractor Halvard Osk."),
        ("Dredging", "Berth: Berth seven; Depth: fourteen metres.")]
    slide2 = [p.text for p in index.passages if p.doc == "deck.pptx" and p.location == "slide 2"]
    assert slide2 == ["The ferry Saga Blue was retired in March.", "Vessel: Saga Blue; Built: 1987."]
    assert {p.title for p in index.passages if p.doc == "figures.xlsx" and p.location.startswith("Tonnage")} == {"Tonnage"}
    assert index.document("tales.epub")["title"] == "Harbour tales"


def test_comments_and_speaker_notes_stay_out_of_the_body(index):
    texts = " ".join(p.text for p in index.passages)
    assert "Reviewer comment" not in texts  # the .docx comment
    assert "ask the curator" not in texts  # the .odt annotation
    notes = [p for p in index.passages if p.doc == "deck.pptx" and "pilots' log" in p.text]
    assert [(p.location, p.title) for p in notes] == [("slide 3, speaker notes", "Weather (speaker notes)")]
    body = [p.text for p in index.passages if p.doc == "deck.pptx" and p.location == "slide 3"]
    assert body == ["Fog closed the harbour for eleven days."]


def test_news_page_yields_only_its_article(tmp_path):
    page = tmp_path / "news.html"
    page.write_text(NEWS_PAGE)
    [section] = read_sections(page)
    lines = section.text.split("\n\n")
    assert lines[0] == "# New lighthouse opens at Cape Vella" and "# A light seen for thirty miles" in lines
    body = [line for line in lines if not line.startswith("# ")]
    assert len(body) == len(ARTICLE) and all(b.startswith(a) for b, a in zip(body, ARTICLE))
    for junk in ("cookies", "Subscribe", "World news", "All rights reserved", "recipes", "pink", "example.com"):
        assert junk not in section.text


@pytest.mark.parametrize("html", [
    '<p>Shown.</p><p style="DISPLAY: none">Planted order.</p>',
    "<p>Shown.</p><div hidden><p>Planted order.</p></div>",
    '<p>Shown.</p><span aria-hidden="true">Planted order.</span>',
    '<p>Shown.</p><p style="visibility:hidden">Planted order.</p>',
])
def test_hidden_html_text_is_dropped(tmp_path, html):
    page = tmp_path / "p.html"
    page.write_text(f"<html><body>{html}</body></html>")
    text = "\n".join(s.text for s in read_sections(page))
    assert "Shown." in text and "Planted" not in text


def test_pdf_pages_are_locations(tmp_path):
    pdf = tmp_path / "three.pdf"
    pdf.write_bytes(tiny_pdf(["One page.", "", "Third page."]))
    assert [(s.location, s.page) for s in read_sections(pdf)] == [("p. 1", 1), ("p. 3", 3)]


@pytest.fixture(scope="module")
def bad_folder(tmp_path_factory):
    return write_bad(tmp_path_factory.mktemp("bad-files"))


@pytest.mark.parametrize("name", list(BAD_FILES))
def test_bad_files_are_refused_with_a_reason(bad_folder, name):
    with pytest.raises(UnreadableDocument, match=BAD_FILES[name][1]) as info:
        read_sections(bad_folder / name)
    assert "\n" not in str(info.value)


def test_limits_are_settings(tmp_path):
    from qa import Settings

    deck = tmp_path / "deck.pptx"
    write_pptx(deck)
    with pytest.raises(UnreadableDocument, match="3 slides, over the limit of 2"):
        read_sections(deck, Limits(pages=2))
    sheet = tmp_path / "rows.csv"
    sheet.write_text("a,b\n" + "".join(f"{i},{i}\n" for i in range(10)))
    with pytest.raises(UnreadableDocument, match="more than 5 rows"):
        read_sections(sheet, Limits(rows=5))
    assert Settings.from_env({"QA_MAX_ROWS": "5", "QA_MAX_UNPACKED_MB": "7"}).limits == Limits(50, 7, 2000, 5)


def test_email_with_a_big_attachment_is_read_without_it(tmp_path):
    mail = tmp_path / "scan.eml"
    mail.write_bytes(email_bytes("Survey scan", "The scan of the survey is attached.", attachment=b"\x89" * 20 * 2**20))
    [section] = read_sections(mail)
    assert "The scan of the survey is attached." in section.text and len(section.text) < 500
    with pytest.raises(UnreadableDocument, match="larger than 20 MB"):
        read_sections(mail, Limits(file_mb=20))


def test_cli_index_reports_each_bad_file_and_indexes_the_rest(tmp_path, monkeypatch, capsys):
    from ui.cli import main

    from .fakes import HashEmbedder

    folder = write_all(tmp_path / "docs")
    write_bad(folder / "bad")
    import json

    import qa.assistant

    monkeypatch.setattr(qa.assistant, "make_embedder", lambda *args, **kwargs: HashEmbedder())
    data = ["--data-dir", str(tmp_path / "data")]
    assert main(["index", str(folder), *data]) == 0
    out, err = capsys.readouterr()
    for name, (_write, reason) in BAD_FILES.items():
        [line] = [line for line in err.splitlines() if line.endswith(name) or f"/{name}:" in line]
        assert reason in line, line
    assert f"{len(FACTS)} documents" in out
    assert main(["search", "How much was the breakwater lengthened?", "-k", "1", *data]) == 0
    assert capsys.readouterr().out.startswith("[1] survey.pdf — p. 3  score")
    assert main(["search", "When was the ferry Saga Blue retired?", "-k", "1", "--json", *data]) == 0
    [hit] = json.loads(capsys.readouterr().out)
    assert (hit["doc"], hit["location"], hit["page"]) == ("deck.pptx", "slide 2", 2)


def test_chat_upload_accepts_the_new_types_and_refuses_bad_files(settings, seed_index, generator, bad_folder, folder):
    from ui.app import ALLOWED, ChatApp

    assert set(SUPPORTED) == set(ALLOWED)
    app = ChatApp(settings, seed_index, generator)
    good = [folder / name for name in ("deck.pptx", "figures.xlsx", "tales.epub")]
    message, rows, _choices = app.upload([str(p) for p in good] + [str(bad_folder / n) for n in BAD_FILES])
    lines = message.splitlines()
    for path in good:
        assert f"- ✓ {path.name.replace('.', chr(92) + '.')}: indexed" in lines
    for name, (_write, reason) in BAD_FILES.items():
        [line] = [line for line in lines if line.startswith(f"- ✗ {name.replace('.', chr(92) + '.')}:")]
        assert reason.split()[0] in line.replace("\\", ""), line
    assert {f"uploads/{p.name}" for p in good} <= {row[1] for row in rows}
    assert not any((app.uploads / n).exists() for n in BAD_FILES)  # refused uploads are not kept


def test_document_route_serves_only_indexed_originals(settings, seed_index, generator, folder, tmp_path):
    from ui.app import ChatApp, NotServed

    seed_index.sync([folder])
    app = ChatApp(settings, seed_index, generator)
    assert app.original("survey.pdf") == (folder / "survey.pdf").resolve()
    page = app.text_view("deck.pptx")
    assert 'id="p3"' in page and "slide 2" in page and "<script" not in page
    for doc in ("passages.sqlite", "../data/passages.sqlite", str(seed_index.data_dir / "passages.sqlite"),
                "manifest.json", "nope.pdf"):
        with pytest.raises(NotServed):
            app.original(doc)
    (folder / "survey.pdf").write_bytes(tiny_pdf(["Replaced after indexing."]))
    with pytest.raises(NotServed, match="changed"):
        app.original("survey.pdf")
    # a document indexed from inside the data folder (not an upload) is in the index, yet not served
    inside = seed_index.data_dir / "notes.txt"
    inside.write_text("The harbour master counted the ships.\n")
    seed_index.add([inside])
    assert seed_index.document("notes.txt") is not None
    with pytest.raises(NotServed, match="not an indexed document"):
        app.original("notes.txt")


def test_an_index_from_before_locations_loads_and_gains_them_on_update(tmp_path):
    from index.build import file_hash

    from .fakes import HashEmbedder, write_v1_index

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "survey.pdf").write_bytes(tiny_pdf(["Cover page.", "The breakwater was lengthened by ninety metres."]))
    embedder = HashEmbedder()
    texts = ["Cover page.", "The breakwater was lengthened by ninety metres."]
    rows = [{"doc": "survey.pdf", "title": "survey", "paragraph": i, "text": t, "score": 0.0, "start": 0,
             "end": len(t), "part": 0} for i, t in enumerate(texts, 1)]  # as the version before locations wrote them
    data = tmp_path / "data"
    data.mkdir()
    write_v1_index(data, None, embedder.embed(texts), {"survey.pdf": {
        "sha256": file_hash(docs / "survey.pdf"), "title": "survey", "source": str((docs / "survey.pdf").resolve())}},
        embedder, rows=rows)
    old = Index.open(data, embedder)  # moved into the store once
    assert [p.where for p in old.passages] == ["¶1", "¶2"]
    report = old.sync([docs])
    assert report.updated == ["survey.pdf"]  # re-read: the chunking changed
    assert [(p.location, p.page) for p in old.passages] == [("p. 1", 1), ("p. 2", 2)]
    assert [(p.location, p.page) for p in Index.open(data, embedder).passages] == [("p. 1", 1), ("p. 2", 2)]
