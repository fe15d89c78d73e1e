"""Citations are numeric `[n]` markers, parsed by one regex and checked against the passages shown."""
from __future__ import annotations

import re

# "[3]" or "[1, 2]"; one regex for every place that reads citations.
CITATION = re.compile(r"\[(\d{1,3}(?:\s*[,;]\s*\d{1,3})*)\]")
_MAX_PENDING = 16  # a "[" not closed within this many characters is ordinary text


def cited_numbers(text: str) -> list[int]:
    """Numbers cited in `text`, in order of first appearance.

    >>> cited_numbers("A [2]. B [1, 2]. C [2][3].")
    [2, 1, 3]
    """
    seen: list[int] = []
    for m in CITATION.finditer(text):
        for n in re.findall(r"\d+", m.group(1)):
            if int(n) not in seen:
                seen.append(int(n))
    return seen


def keep_valid(text: str, count: int) -> str:
    """Drop citation numbers outside 1..count; write lists as adjacent markers.

    >>> keep_valid("A [1, 7]. B [9]. C [2].", 2)
    'A [1]. B. C [2].'
    >>> keep_valid("", 3)
    ''
    """
    def fix(m: re.Match) -> str:
        numbers = [int(n) for n in re.findall(r"\d+", m.group(1))]
        return "".join(f"[{n}]" for n in dict.fromkeys(numbers) if 1 <= n <= count)

    cleaned = CITATION.sub(fix, text)
    return re.sub(r"[ \t]+([.,;:!?])", r"\1", cleaned) if cleaned != text else cleaned


class StreamFilter:
    """Applies `keep_valid` to a stream of chunks, holding back text only while a "[" is open,
    so that a marker pointing at no passage is never shown, not even for a moment.

    >>> f = StreamFilter(2); f.feed("A [") + f.feed("5] b [") + f.feed("2].") + f.flush()
    'A  b [2].'
    """

    def __init__(self, count: int):
        self.count = count
        self._pending = ""

    def feed(self, chunk: str) -> str:
        text = self._pending + chunk
        cut = text.rfind("[")
        if cut != -1 and "]" not in text[cut:] and len(text) - cut <= _MAX_PENDING:
            self._pending, text = text[cut:], text[:cut]
        else:
            self._pending = ""
        return self._clean(text)

    def flush(self) -> str:
        text, self._pending = self._pending, ""
        return self._clean(text)

    def _clean(self, text: str) -> str:
        return CITATION.sub(lambda m: keep_valid(m.group(0), self.count), text)
