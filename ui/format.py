"""Pure formatting for the web page: answer and sources → safe HTML/Markdown. Tested without Gradio.

Everything that comes from documents or from the model is untrusted: it is HTML-escaped, and in
the chat (which renders Markdown) every character that could start a link, an image or HTML is
escaped too, so no document or answer can make the page run code or fetch anything.
"""
from __future__ import annotations

import html
import re
from pathlib import PurePosixPath
from typing import Callable, Sequence
from urllib.parse import quote

from index import Passage
from index.clean import sentences
from qa.answer import Answer

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~:])")


def chat_text(text: str) -> str:
    """Model text made inert for a Markdown renderer: no link, image, HTML or autolink survives.

    >>> chat_text("![x](http://h/leak) <img src=x> a & b")
    '\\\\!\\\\[x\\\\]\\\\(http\\\\://h/leak\\\\) &lt;img src=x&gt; a &amp; b'
    >>> chat_text("")
    ''
    """
    return _MD_SPECIAL.sub(r"\\\1", html.escape(text, quote=False))


DOCUMENT_ROUTE = "documents"  # ui/app.py serves the indexed originals under /documents/<doc>


def doc_label(passage: Passage, titles: dict[str, str]) -> str:
    """'report.pdf — p. 12' where the format has locations (page, slide, row, e-mail, chapter,
    heading), else 'Document title — ¶4' (the document's own title, else its file name).

    >>> doc_label(Passage("a.txt", "Sec", 4, "x"), {"a.txt": "News"})
    'News — ¶4'
    >>> doc_label(Passage("in/report.pdf", "Sec", 9, "x", location="p. 12", page=12), {})
    'report.pdf — p. 12'
    """
    if passage.location:
        return f"{PurePosixPath(passage.doc).name} — {passage.location}"
    return f"{titles.get(passage.doc) or passage.doc} — ¶{passage.paragraph}"


def open_href(passage: Passage) -> str:
    """Where the chat opens the original at the passage: a PDF at its page, any other document as
    its indexed text at the paragraph (relative, so it works under any root path).

    >>> open_href(Passage("in/report 1.pdf", "T", 9, "x", location="p. 12", page=12))
    'documents/in/report%201.pdf#page=12'
    >>> open_href(Passage("deck.pptx", "T", 5, "x", location="slide 4", page=4))
    'documents/deck.pptx?view=text#p5'
    """
    path = f"{DOCUMENT_ROUTE}/{quote(passage.doc)}"
    if passage.doc.lower().endswith(".pdf"):
        return f"{path}#page={passage.page or 1}"
    return f"{path}?view=text#p{passage.paragraph}"


def open_link(passage: Passage) -> str:
    return (f' <a class="qa-open" href="{html.escape(open_href(passage))}" target="_blank" '
            f'rel="noopener noreferrer">open ↗</a>')


def highlight(text: str, evidence: Sequence[str]) -> str:
    """Escaped paragraph text with each sentence the citation check rested on in <mark>.

    >>> highlight("A cat sat. Lavrov said no.", ["Lavrov said no."])
    'A cat sat. <mark>Lavrov said no.</mark>'
    >>> highlight("<b>", [])
    '&lt;b&gt;'
    """
    parts = sentences(text)
    wanted = {" ".join(e.split()) for e in evidence}
    marked = {i for i, s in enumerate(parts) if " ".join(s.split()) in wanted}
    if not marked:
        return html.escape(text)
    return " ".join(f"<mark>{html.escape(s)}</mark>" if i in marked else html.escape(s)
                    for i, s in enumerate(parts))


def found_html(passages: Sequence[Passage], titles: dict[str, str]) -> str:
    """The passages found for a question, shown while the model reads them."""
    if not passages:
        return '<div class="qa-sources"><p>No passages found.</p></div>'
    items = "".join(f"<li>{html.escape(doc_label(p, titles))} <small>(similarity {p.score:.2f})</small></li>"
                    for p in passages)
    return (f'<div class="qa-sources"><p><b>Found {len(passages)} passages</b> — reading them…</p>'
            f"<ol>{items}</ol></div>")


def sources_html(answer: Answer, titles: dict[str, str],
                 neighbours: Callable[[Passage], tuple[Passage | None, Passage | None]],
                 retrieved: Sequence[Passage] = ()) -> str:
    """Cited paragraphs (cited sentence highlighted, neighbours expandable), then the passages
    that were retrieved but not cited, collapsed."""
    out = ['<div class="qa-sources">']
    if answer.abstained:
        out.append("<p><b>The documents do not answer this.</b> Nothing is cited.</p>")
    for c in answer.citations:
        evidence = [s.evidence for s in answer.support if c.n in s.cited and s.evidence]
        before, after = neighbours(c.passage)
        context = "".join(f'<p class="qa-neighbour"><small>{html.escape(p.where)}</small> {html.escape(p.text)}</p>'
                          for p in (before, after) if p is not None)
        shown = c.passage.title == titles.get(c.passage.doc) or c.passage.location == f"§ {c.passage.title}"
        section = "" if shown else f" · {html.escape(c.passage.title)}"
        out.append(
            f'<div class="qa-source" id="source-{c.n}"><div class="qa-source-head">[{c.n}] '
            f"{html.escape(doc_label(c.passage, titles))}<small>{section}</small>{open_link(c.passage)}</div>"
            f'<p class="qa-source-text">{highlight(c.passage.text, evidence)}</p>'
            + (f"<details><summary>Neighbouring paragraphs</summary>{context}</details>" if context else "")
            + "</div>")
    cited = {c.passage for c in answer.citations}
    # everything the search found, not only what the model was sent (lean prompts send fewer)
    others = [p for p in (retrieved or answer.passages) if p not in cited]
    if others:
        label = "Related passages, but not an answer" if answer.abstained else "Retrieved but not cited"
        items = "".join(f"<li><b>{html.escape(doc_label(p, titles))}</b> "
                        f"<small>(similarity {p.score:.2f})</small><br>{html.escape(p.text)}</li>"
                        for p in others)
        out.append(f'<details class="qa-uncited"><summary>{label} ({len(others)})</summary><ul>{items}</ul></details>')
    out.append(support_html(answer))
    out.append("</div>")
    return "".join(out)


def support_html(answer: Answer) -> str:
    """How each sentence of the answer was checked against the passage it cites."""
    if answer.abstained or not answer.support:
        return ""
    rows = []
    for s in answer.support:
        where = ", ".join(f"[{n}] {answer.passages[n - 1].where}" for n in s.cited
                          if 1 <= n <= len(answer.passages))
        similarity = f", similarity {s.similarity:.2f}" if s.similarity is not None else ""
        verdict = (f"✓ supported by {html.escape(where)}" if s.supported else "✗ not supported by any passage shown")
        rows.append(f'<li class="{"qa-ok" if s.supported else "qa-warning"}">{html.escape(s.sentence)} '
                    f"<small>— {verdict} ({s.score:.0%} of its words found{similarity})</small></li>")
    ok = sum(s.supported for s in answer.support)
    return (f'<details class="qa-support"{"" if ok == len(answer.support) else " open"}><summary>Checked '
            f"sentences: {ok} of {len(answer.support)} supported</summary><ol>{''.join(rows)}</ol></details>")


DRAFT_NOTE = "Draft: each sentence is checked against the passage it cites once the answer is complete."


def draft_chat(text: str) -> str:
    """The answer while the model writes it: inert text, marked as not yet checked (the check can
    still withhold it)."""
    return f"{chat_text(text)}\n\n_{DRAFT_NOTE}_"


def confidence_words(confidence: float | None, abstained: bool) -> str:
    """The calibrated confidence said in words (the number follows in brackets). Answers below
    `confidence_floor` (0.45) are withheld, so "low" covers the band just above it.

    >>> confidence_words(0.93, False)
    'Confidence: high (0.93) — the checks agree that the passages answer this question.'
    >>> confidence_words(0.1, True)
    'The checks found no answer in the passages (confidence 0.10 that they hold one).'
    >>> confidence_words(None, False)
    ''
    """
    if confidence is None:
        return ""
    if abstained:
        return f"The checks found no answer in the passages (confidence {confidence:.2f} that they hold one)."
    if confidence >= 0.8:
        return f"Confidence: high ({confidence:.2f}) — the checks agree that the passages answer this question."
    if confidence >= 0.6:
        return f"Confidence: fair ({confidence:.2f}) — the passages probably answer this question; check the source."
    return f"Confidence: low ({confidence:.2f}) — the passages may not answer this question; read the source."


def answer_chat(answer: Answer) -> str:
    """The final answer as the chat shows it: inert text, with the confidence and notes in italics."""
    text = chat_text(answer.text)
    said = confidence_words(answer.confidence, answer.abstained)
    notes = "".join(f"\n\n_{chat_text(n)}_" for n in ((said,) if said else ()) + answer.notes)
    return text + notes
