from index import Passage
from qa.answer import Answer, Citation, Timings
from qa.support import Support
from ui.format import answer_chat, chat_text, found_html, highlight, sources_html

XSS = '<img src=x onerror=alert(1)> ![](http://127.0.0.1:9/leak) [a](http://x) <script>alert(2)</script>'
P1 = Passage("a.txt", "News", 3, "Sergei Lavrov is known as Doctor No. He rejects ideas.", 0.5)
P2 = Passage("a.txt", "News", 4, "NATO met in Bucharest. " + XSS, 0.3)
TITLES = {"a.txt": "News"}


def no_neighbours(p):
    return None, None


def answer(text="Lavrov is Doctor No [1].", abstained=False, passages=(P1, P2)):
    citations = () if abstained else (Citation(1, P1),)
    support = () if abstained else (Support("Lavrov is Doctor No.", (1,), 1.0, True, 0.8,
                                            "Sergei Lavrov is known as Doctor No."),)
    return Answer("Who is Doctor No?", text, passages, citations, abstained, Timings(), (), support)


def test_chat_text_is_inert_markdown():
    out = chat_text(XSS)
    for dangerous in ("<img", "<script", "](", "![", "http://"):
        assert dangerous not in out
    assert chat_text("") == ""


def test_sources_show_cited_paragraph_with_highlight_and_uncited_apart():
    html = sources_html(answer(), TITLES, no_neighbours)
    assert "[1] News — ¶3" in html
    assert "<mark>Sergei Lavrov is known as Doctor No.</mark>" in html
    cited_part, uncited_part = html.split("<details", 1)
    assert "Bucharest" not in cited_part and "Retrieved but not cited (1)" in uncited_part


def test_document_text_is_escaped_in_sources():
    html = sources_html(answer(), TITLES, no_neighbours)
    assert "<img" not in html and "<script" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    # markdown links stay text (the panel is HTML, not Markdown); the one link per source is ours
    import re

    links = re.findall(r"<a [^>]*>", html)
    assert links and all(re.fullmatch(r'<a class="qa-open" href="documents/[^"<>]+" target="_blank" '
                                      r'rel="noopener noreferrer">', a) for a in links)


def test_abstention_cites_nothing_and_shows_related_passages():
    html = sources_html(answer("The documents do not say.", abstained=True, passages=()), TITLES, no_neighbours,
                        retrieved=(P1,))
    assert "do not answer" in html and "qa-source-head" not in html
    assert "Related passages, but not an answer (1)" in html


def test_neighbours_are_expandable():
    before = Passage("a.txt", "News", 2, "Earlier paragraph.")
    html = sources_html(answer(), TITLES, lambda p: (before, None))
    assert "<summary>Neighbouring paragraphs</summary>" in html and "Earlier paragraph." in html


def test_found_and_highlight_edge_cases():
    assert "No passages" in found_html([], TITLES)
    assert "Found 2 passages" in found_html([P1, P2], TITLES)
    assert highlight("", ["x"]) == ""
    assert "&lt;script&gt;" in answer_chat(answer(text="<script>x</script>"))


def test_each_sentence_shows_how_it_was_checked():
    checked = (Support("Lavrov is Doctor No.", (1,), 1.0, True, 0.81),
               Support("He likes <b>tea</b>.", (), 0.0, False, 0.12))
    a = Answer("Q?", "Lavrov is Doctor No [1]. He likes tea.", (P1, P2), (Citation(1, P1),), False,
               Timings(), (), checked)
    html = sources_html(a, TITLES, no_neighbours)
    assert "Checked sentences: 1 of 2 supported" in html and " open>" in html  # a failure is shown open
    assert "✓ supported by [1] ¶3 (100% of its words found, similarity 0.81)" in html
    assert "He likes &lt;b&gt;tea&lt;/b&gt;. <small>— ✗ not supported by any passage shown (0%" in html
    quiet = sources_html(answer(), TITLES, no_neighbours)
    assert "Checked sentences: 1 of 1 supported" in quiet and " open>" not in quiet
    assert "Checked sentences" not in sources_html(answer("The documents do not say.", abstained=True),
                                                   TITLES, no_neighbours)


def test_uncited_list_holds_everything_found_not_only_what_was_sent():
    p3 = Passage("b.txt", "Other", 1, "Not sent to the model.", 0.1)
    html = sources_html(answer(passages=(P1,)), TITLES, no_neighbours, retrieved=(P1, P2, p3))
    assert "Retrieved but not cited (2)" in html and "Not sent to the model." in html


def test_confidence_is_said_in_words_under_the_answer():
    from dataclasses import replace

    sure = answer_chat(replace(answer(), confidence=0.91))
    assert "Confidence\\: high \\(0\\.91\\)" in sure  # inert Markdown, the number kept
    unsure = answer_chat(replace(answer(), confidence=0.55))
    assert "Confidence\\: low" in unsure and "read the source" in unsure
    declined = answer_chat(replace(answer("The documents do not say.", abstained=True), confidence=0.08))
    assert "found no answer in the passages" in declined
    assert "Confidence" not in answer_chat(answer())  # no score (a generator without probabilities): nothing said


def test_locations_from_documents_are_escaped():
    hostile = Passage("mail.eml", "S", 2, "Doctor No is Lavrov.", location="“<img src=x onerror=alert(1)>”, 2 Mar 2026")
    html = sources_html(answer(passages=(hostile,)), TITLES, lambda p: (hostile, None))
    assert "<img" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
