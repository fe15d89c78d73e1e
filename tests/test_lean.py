from qa.lean import GAP, within_budget


def words(text):
    return len(text.split())


def test_within_budget_keeps_best_sentences_in_reading_order():
    texts = ["Rain fell on Monday. Lavrov is called Doctor No. Markets rose.",
             "Doctor No is a film. Snow came late."]
    out = within_budget(texts, "Who is called Doctor No?", 11, words)
    assert out[0] == f"{GAP.strip()} Lavrov is called Doctor No. {GAP.strip()}"
    assert out[1] == "Doctor No is a film. …"
    assert sum(words(t.replace("…", "")) for t in out) <= 11


def test_within_budget_edges():
    assert within_budget([], "Q?", 10, words) == []
    assert within_budget(["", ""], "Q?", 10, words) == ["", ""]
    # a first sentence longer than the budget is still sent: the model needs something to read
    long = "Lavrov " + "word " * 50 + "ends."
    assert within_budget([long], "Lavrov?", 5, words) == [long]
    # everything fits: texts come back whole, no gap marks
    assert within_budget(["One. Two.", "Three."], "Q?", 100, words) == ["One. Two.", "Three."]



def test_a_why_question_keeps_the_sentence_giving_a_cause():
    """The cause often shares no word with the question; with equal similarity, the bonus a "why"
    question gives it decides which sentence a tight budget keeps."""
    from qa.lean import cause_bonus

    text = "Moscow said so on Monday. Fear of NATO expansion drives policy."
    question = "Why does Russia reject European troops?"
    same = lambda parts: [0.5] * len(parts)  # noqa: E731
    assert within_budget([text], question, 6, words, same) == ["Moscow said so on Monday. …"]
    kept = within_budget([text], question, 6, words, lambda parts: same(parts) + cause_bonus(parts))
    assert kept == ["… Fear of NATO expansion drives policy."]
