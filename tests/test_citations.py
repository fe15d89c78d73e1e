import random

from qa.citations import CITATION, StreamFilter, cited_numbers, keep_valid


def test_parse_and_validate():
    assert cited_numbers("") == []
    assert cited_numbers("No markers [x] [] [12a].") == []
    assert cited_numbers("A [3]. B [1,2]. C [2; 3].") == [3, 1, 2]
    assert keep_valid("A [0]. B [4]. C [1][2].", 2) == "A. B. C [1][2]."
    assert keep_valid("Lists [1, 3, 1] stay clean.", 2) == "Lists [1] stay clean."


def test_stream_filter_never_shows_invalid_markers():
    text = "Lavrov [1] said no [7]. NATO [2, 9] expands [3] [12]. Arrays like a[i] and [ stay."
    rng = random.Random(4)
    for _ in range(200):
        cuts = sorted(rng.sample(range(1, len(text)), rng.randint(1, 15)))
        chunks = [text[a:b] for a, b in zip([0] + cuts, cuts + [len(text)])]
        f = StreamFilter(2)
        shown = [f.feed(c) for c in chunks] + [f.flush()]
        joined = "".join(shown)
        assert all(1 <= n <= 2 for n in cited_numbers(joined)), joined
        assert "Lavrov [1] said no" in joined and "a[i] and [ stay." in joined
        assert len(CITATION.findall(joined)) == 2


def test_stream_filter_releases_unclosed_brackets():
    f = StreamFilter(3)
    assert f.feed("see [") == "see "
    assert f.feed("the appendix for more") == "[the appendix for more"
    assert f.flush() == ""
