from qa.support import check, content_words, score, split_answer

PASSAGES = ["Sergei Lavrov, the foreign minister, is known as Doctor No.",
            "At the NATO summit in Bucharest in 2008, Ukraine was promised membership."]


def test_empty_answer():
    assert check("", PASSAGES) == ("", [])
    assert content_words("") == set() and split_answer("") == []
    assert score("", PASSAGES[0]) == 0.0


def test_supported_sentence_keeps_its_citation():
    text, report = check("The summit was in Bucharest [2].", PASSAGES, "Where was the 2008 NATO summit?")
    assert text == "The summit was in Bucharest [2]." and report[0].supported


def test_sentence_without_support_loses_its_citation():
    text, report = check("Lavrov likes chess [1]. The summit was in Bucharest [2].", PASSAGES)
    assert text == "Lavrov likes chess. The summit was in Bucharest [2]."
    assert [s.supported for s in report] == [False, True]


def test_numbers_must_be_found():
    assert score("The summit was in 2009.", PASSAGES[1]) == 0.0
    assert score("The summit was in 2008.", PASSAGES[1]) == 1.0


def test_pointer_sentences_are_dropped():
    text, _ = check("The summit was in Bucharest. This is stated in [2] and [1].", PASSAGES)
    assert text == "The summit was in Bucharest [2]."


def test_embedding_guard_rejects_a_passage_that_only_shares_words():
    passages = ["Lavrov, known as Doctor No, spoke.", "Doctor No is a Bond film; Lavrov fans watch it."]
    sims = [(0.9, passages[0]), (0.1, passages[1])]  # only the first passage is about the claim
    text, [s] = check("Lavrov is Doctor No [2].", passages, "Who is Doctor No?", lambda sentence: sims)
    assert text == "Lavrov is Doctor No [1]." and s.cited == (1,) and s.similarity == 0.9
    assert s.evidence == passages[0]  # the sentence the check rested on, for the chat to highlight
    low = [(0.1, passages[0]), (0.1, passages[1])]
    text, [s] = check("Lavrov is Doctor No [1].", passages, "Who is Doctor No?", lambda sentence: low)
    assert text == "Lavrov is Doctor No." and not s.supported and s.similarity == 0.1


def test_without_an_embedder_the_evidence_is_the_sentence_with_the_claims_words():
    passages = ["The summit met. Sergei Lavrov is colloquially known as Doctor No. Rain fell."]
    _, [s] = check("Lavrov is Doctor No [1].", passages, "Who is Doctor No?")
    assert s.supported and s.evidence == "Sergei Lavrov is colloquially known as Doctor No."
