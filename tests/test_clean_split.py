from index.clean import clean_paragraph, drop_repeated_sentences, normalize_space, sentences
from index.split import is_heading_line, split_long, split_paragraphs

from .conftest import SEED

REPEATED = "The Kremlin immediately came out to deny the Kremlin's refusal to deploy Western soldiers on Ukrainian soil."


def seed_paragraphs():
    return split_paragraphs(SEED.read_text(encoding="utf-8"), "fallback")


def test_empty_inputs():
    assert normalize_space("") == ""
    assert sentences("") == []
    assert drop_repeated_sentences("") == ""
    assert clean_paragraph("   ") == ""
    assert split_paragraphs("", "t") == ("t", [])
    assert split_long("", lambda s: len(s.split()), 5) == [""]


def test_sentences_keep_initials_and_abbreviations():
    assert sentences("George W. Bush met Mr. Putin. Then he left.") == [
        "George W. Bush met Mr. Putin.", "Then he left."]
    assert sentences('He said "no." She agreed.') == ['He said "no."', "She agreed."]


def test_repeated_sentence_kept_once_but_not_distant_repeats():
    assert drop_repeated_sentences("A dog ran. A dog ran. A cat sat. A dog ran.") == (
        "A dog ran. A cat sat. A dog ran.")


def test_seed_title_heading_and_paragraph_count():
    title, paras = seed_paragraphs()
    assert title == "Putin doesn't want to hear about European soldiers in Ukraine"
    assert [p.number for p in paras] == list(range(1, 10))
    assert all(p.text != "More drums of war" for p in paras)  # the heading is not a passage
    assert [p.title for p in paras[5:]] == ["More drums of war"] * 4
    assert paras[4].title == title


def test_seed_repeated_sentence_appears_once():
    _, paras = seed_paragraphs()
    original = SEED.read_text(encoding="utf-8")
    assert original.count(REPEATED) == 4
    assert sum(p.text.count(REPEATED) for p in paras) == 1
    assert "Doctor No" in paras[2].text


def test_seed_flaws_are_kept_as_written():
    _, paras = seed_paragraphs()
    assert paras[1].text.startswith("MoscowRussia has made it clear")
    assert paras[1].text.endswith("it was a matter of")  # the truncated paragraph stays


def test_spans_point_at_the_source():
    text = SEED.read_text(encoding="utf-8")
    _, paras = seed_paragraphs()
    for p in paras:
        assert text[p.start:p.end].startswith(p.text[:40])


def test_blank_line_paragraphs_and_wrapped_lines():
    text = "# Report\n\nFirst line of a\nwrapped paragraph.\n\nSecond paragraph.\n"
    title, paras = split_paragraphs(text, "x")
    assert title == "Report"
    assert [(p.number, p.text) for p in paras] == [
        (1, "First line of a wrapped paragraph."), (2, "Second paragraph.")]


def test_heading_needs_text_after_it():
    assert is_heading_line("More drums of war")
    assert not is_heading_line("It ended.")
    assert not is_heading_line("")
    body = " ".join(f"Sentence {i} is long enough to make this a paragraph on one line." for i in range(3))
    _, paras = split_paragraphs(f"{body}\nClosing words", "t")
    assert [p.text for p in paras] == [body.strip(), "Closing words"]  # last line: no text follows


def test_split_long_respects_limit_and_sentences():
    count = lambda s: len(s.split())  # noqa: E731
    text = "One two three. Four five six. Seven eight nine ten eleven twelve thirteen."
    parts = split_long(text, count, 6)
    assert all(count(p) <= 6 for p in parts)
    assert " ".join(parts).split() == text.split()
    assert parts[0] == "One two three. Four five six."
