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
