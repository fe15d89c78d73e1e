"""Pure text cleaning: whitespace, sentence splitting, repeated sentences."""
from __future__ import annotations

import re

_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"))
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
# A boundary: sentence-final punctuation, optional closing quotes/brackets, whitespace, and an
# opening that can start a sentence (capital, digit, quote, bracket).
_BOUNDARY = re.compile(r"""[.!?…]+["'”’»)\]]*\s+(?=["'“‘«(\[]?[A-Z0-9À-Þ])""")
_SURROGATES = re.compile("[\ud800-\udfff]")
_ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof st gen sen rep gov lt col capt sgt jr sr vs etc fig inc ltd co corp "
    "jan feb mar apr jun jul aug sep sept oct nov dec u.s u.k e.g i.e a.m p.m approx dept est".split()
)


def valid_text(text: str | bytes) -> str:
    """Text any tokenizer and any JSON writer accepts. Bytes that are not UTF-8 (as a shell passes
    them in `sys.argv`, carried as surrogate escapes) and any other lone surrogate become U+FFFD;
    bytes are decoded as UTF-8 with the same replacement.

    >>> valid_text("Who is \\udcff\\udcfe nicknamed?"), valid_text(b"caf\\xe9")
    ('Who is \ufffd\ufffd nicknamed?', 'caf\ufffd')
    """
    if isinstance(text, (bytes, bytearray)):
        return bytes(text).decode("utf-8", "replace")
    return _SURROGATES.sub("\ufffd", text)


def normalize_space(text: str) -> str:
    """Collapse runs of spaces (including exotic ones) and drop invisible characters.

    >>> normalize_space("  a\\u00a0 b\\u200b c ")
    'a b c'
    """
    return _SPACES.sub(" ", text.translate(_INVISIBLE)).strip()


def sentences(text: str) -> list[str]:
    """Split a paragraph into sentences, keeping initials and common abbreviations intact.

    >>> sentences("George W. Bush came. Dr. No left! Room No. 5 is his. He said No. Why?")
    ['George W. Bush came.', 'Dr. No left!', 'Room No. 5 is his.', 'He said No.', 'Why?']
    """
    text = normalize_space(text.replace("\n", " "))
    out, start = [], 0
    for m in _BOUNDARY.finditer(text):
        before = text[start:m.start()].rsplit(" ", 1)[-1].lower()
        numbered = before in ("no", "nos") and text[m.end():m.end() + 1].isdigit()  # "No. 5"
        if text[m.start()] == "." and (len(before) == 1 and before.isalpha() or before in _ABBREVIATIONS
                                       or numbered):
            continue
        out.append(text[start:m.end()].strip())
        start = m.end()
    tail = text[start:].strip()
    if tail:
        out.append(tail)
    return out


def drop_repeated_sentences(text: str) -> str:
    """Keep a sentence repeated back to back only once.

    >>> drop_repeated_sentences("It rained. It rained. It  rained. It stopped.")
    'It rained. It stopped.'
    """
    kept: list[str] = []
    for sentence in sentences(text):
        if not kept or _key(sentence) != _key(kept[-1]):
            kept.append(sentence)
    return " ".join(kept)


def clean_paragraph(text: str) -> str:
    """The text of a paragraph as it is stored and embedded.

    >>> clean_paragraph(" One.  One. Two ")
    'One. Two'
    """
    return drop_repeated_sentences(normalize_space(text))


def _key(sentence: str) -> str:
    return " ".join(sentence.lower().split())
