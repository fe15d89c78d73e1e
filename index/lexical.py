"""Keyword-search terms (tokenised, stop words dropped and stemmed by PyStemmer exactly as `bm25s`
does), and the rank fusion that joins keyword and dense results. The stores score the terms with
BM25 themselves (SQLite FTS5 in the local store, Milvus's BM25 function); `LexicalIndex`, the
in-memory `bm25s` index the project used before, stays as the reference `bench/store_eval.py`
compares them with. News questions are full of names, dates and numbers that embeddings blur;
BM25 matches them exactly."""
from __future__ import annotations

import re
from functools import lru_cache
from typing import Sequence

import numpy as np

MODES = ("hybrid", "dense", "lexical")
# Weighted reciprocal rank fusion (Cormack et al., 2009, with weights): measured on a development
# sample of RealTimeQA (600 questions drawn with seed 1, minus the 200 of the test sample;
# `bench/fusion.py`), c=10 with dense counted twice beat c=60 unweighted by 4.7 points of hit@5 (0.889 vs 0.842).
RRF_C = 10
WEIGHTS = (2.0, 1.0)  # dense, lexical


def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english").stemWords


_WORD = re.compile(r"(?u)\b\w\w+\b")  # as bm25s tokenises


# bm25s's English stop words (`bm25s.stopwords.STOPWORDS_EN`, checked equal by a test), copied so
# that a search does not import bm25s and scipy (2 s on this machine) before its first answer
STOPWORDS_EN = frozenset("a an and are as at be but by for if in into is it no not of on or such that the their "
                         "then there these they this to was will with".split())


@lru_cache(maxsize=1)
def _terms_setup():
    return STOPWORDS_EN, _stemmer()


def terms(text: str) -> list[str]:
    """The words BM25 counts, as `bm25s` makes them: lower case, English stop words out, stemmed.

    >>> terms("The ships were sailing to Sevastopol")
    ['ship', 'were', 'sail', 'sevastopol']
    """
    stop, stem = _terms_setup()
    return stem([w for w in _WORD.findall(text.lower()) if w not in stop])


class LexicalIndex:
    """BM25 over a fixed list of texts; rows are numbered as the texts were given."""

    def __init__(self, texts: Sequence[str]):
        import bm25s

        self._stem = _stemmer()
        self.size = len(texts)
        self._bm25 = bm25s.BM25()
        if texts:
            tokens = bm25s.tokenize(list(texts), stopwords="en", stemmer=self._stem, show_progress=False)
            self._bm25.index(tokens, show_progress=False)
            self._vocab = tokens.vocab

    def scores(self, query: str) -> np.ndarray:
        """The BM25 score of every text for `query` (zeros when no query word is in the texts)."""
        import bm25s

        if not self.size:
            return np.zeros(0, dtype=np.float32)
        words = bm25s.tokenize([query], stopwords="en", stemmer=self._stem, return_ids=False,
                               show_progress=False)[0]
        known = [w for w in words if w in self._vocab]
        if not known:
            return np.zeros(self.size, dtype=np.float32)
        return np.asarray(self._bm25.get_scores(known), dtype=np.float32)

    def search(self, query: str, n: int) -> list[int]:
        """Rows of the `n` best-scoring texts that match at least one query word, best first."""
        scores = self.scores(query)
        order = np.argsort(-scores, kind="stable")[:n]
        return [int(r) for r in order if scores[r] > 0]


def fuse(rankings: Sequence[Sequence[int]], weights: Sequence[float] = (), c: int = RRF_C) -> list[int]:
    """Reciprocal rank fusion: rows ordered by the sum of weight / (c + rank) over the rankings
    (weights default to 1).

    >>> fuse([[1, 2, 3], [3, 1]])
    [1, 3, 2]
    >>> fuse([[1, 2], [2, 1]], weights=(2, 1))
    [1, 2]
    >>> fuse([])
    []
    """
    totals: dict[int, float] = {}
    for i, ranking in enumerate(rankings):
        weight = weights[i] if i < len(weights) else 1.0
        for rank, row in enumerate(ranking, start=1):
            totals[row] = totals.get(row, 0.0) + weight / (c + rank)
    return sorted(totals, key=lambda r: -totals[r])
