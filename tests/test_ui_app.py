"""The chat app's event functions with fakes (no browser, no models)."""
import pytest

from ui.app import ChatApp
from ui.format import DRAFT_NOTE


@pytest.fixture
def app(settings, seed_index, generator):
    generator.reply = "Sergei Lavrov is colloquially known as Doctor No [1]."
    return ChatApp(settings, seed_index, generator)


def test_respond_streams_found_passages_then_answer_and_sources(app):
    steps = list(app.respond("Who is the foreign minister known as Doctor No?", [], 3, "default"))
    chats, panels = zip(*steps)
    assert chats[0][-1]["content"].startswith("_Searching")
    assert any("Found" in p and "reading them" in p for p in panels)
    assert "Lavrov" in chats[-1][-1]["content"] and "qa-source" in panels[-1]
    assert chats[-1][0] == {"role": "user", "content": "Who is the foreign minister known as Doctor No?"}


def test_streamed_text_is_a_draft_until_checked(app, generator):
    chats = [c for c, _ in app.respond("Who is the foreign minister known as Doctor No?", [], 3, "default")]
    drafts = [c[-1]["content"] for c in chats if DRAFT_NOTE in c[-1]["content"]]
    assert drafts and "Lavrov" in drafts[-1]
    assert DRAFT_NOTE not in chats[-1][-1]["content"] and "Lavrov" in chats[-1][-1]["content"]

    generator.reply = "Bananas grow on tall plants in Ecuador [1]."  # not in any passage: withheld
    chats = [c for c, _ in app.respond("Who is the foreign minister known as Doctor No?", [], 3, "default")]
    assert any("Bananas" in c[-1]["content"] and DRAFT_NOTE in c[-1]["content"] for c in chats)
    final = chats[-1][-1]["content"]
    assert "Bananas" not in final and DRAFT_NOTE not in final and "withheld" in final


def test_search_mode_choice_reaches_the_index(app, monkeypatch):
    modes = []
    search = app.index.search
    monkeypatch.setattr(app.index, "search", lambda q, k=5, mode="hybrid": modes.append(mode) or search(q, k, mode))
    list(app.respond("Who is the foreign minister known as Doctor No?", [], 3, "default", "lexical"))
    list(app.respond("Who is the foreign minister known as Doctor No?", [], 3, "default"))
    assert modes == ["lexical", app.settings.search]


def test_unknown_search_mode_is_an_error(app):
    import gradio as gr

    with pytest.raises(gr.Error, match="unknown search mode"):
        list(app.respond("Who is Doctor No?", [], 3, "default", "fuzzy"))


def test_follow_up_uses_the_conversation(app, generator):
    history = list(app.respond("Who is the foreign minister known as Doctor No?", [], 3, "default"))[-1][0]
    list(app.respond("And what did he say about it?", history, 3, "default"))
    assert "Follow-up to: Who is the foreign minister known as Doctor No?" in generator.prompts[-1][-1]["content"]


def test_empty_question_is_an_error(app):
    import gradio as gr

    with pytest.raises(gr.Error):
        list(app.respond("  ", [], 3, "default"))


def test_upload_checks_type_and_size_and_indexes_the_rest(app, tmp_path):
    good = tmp_path / "notes.md"
    good.write_text("# Notes\n\nThe lighthouse keeper counted ships.")
    exe = tmp_path / "tool.exe"
    exe.write_bytes(b"MZ")
    big = tmp_path / "big.txt"
    big.write_bytes(b"a" * (app.max_upload + 1))
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    status, rows, choices = app.upload([str(good), str(exe), str(big), str(empty)])
    assert "✓ notes\\.md: indexed" in status
    assert "tool\\.exe: unsupported file type \\.exe; only" in status and "big\\.txt: larger than 50 MB" in status
    assert "empty\\.txt: empty file" in status
    assert ["Notes", "uploads/notes.md", 1] in rows
    assert not (app.uploads / "empty.txt").exists() and not (app.uploads / "tool.exe").exists()
    assert app.index.search("lighthouse keeper ships", 1)[0].doc == "uploads/notes.md"


def test_remove_document(app, tmp_path):
    good = tmp_path / "notes.md"
    good.write_text("The lighthouse keeper counted ships.")
    app.upload([str(good)])
    status, rows, _ = app.remove("uploads/notes.md")
    assert "removed" in status and all(r[1] != "uploads/notes.md" for r in rows)
    assert not (app.uploads / "notes.md").exists()
