"""Evaluation sets on disk (`corpus/` + `questions.jsonl`, see ../shared/eval/README.md), seeded
samples of them, and which passages are gold."""
from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass
from pathlib import Path

from index import Passage

from ..errors import QAError


class EvalError(QAError):
    """The evaluation set is missing or not in the expected format."""


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    answers: list
    gold: list
    answerable: bool


def load_set(set_dir: Path) -> tuple[Path, list[Question]]:
    corpus, path = Path(set_dir) / "corpus", Path(set_dir) / "questions.jsonl"
    if not corpus.is_dir() or not path.is_file():
        raise EvalError(f"{set_dir} is not an evaluation set: it needs corpus/ and questions.jsonl")
    questions = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            questions.append(Question(str(row["id"]), row["question"], row.get("answers", []),
                                      row.get("gold", []), bool(row.get("answerable", True))))
        except (ValueError, KeyError, TypeError) as exc:
            raise EvalError(f"{path}:{n}: not a question line ({exc})") from exc
    return corpus, questions


def sample(questions: list[Question], limit: int | None, seed: int = 0,
           exclude: frozenset[str] = frozenset()) -> list[Question]:
    """A fixed, seeded sample in file order, so that runs with the same limit are comparable;
    `exclude` names questions (ids) that must not be drawn (e.g. a reported sample, when drawing a
    development one).

    >>> qs = [Question(str(i), "", [], [], True) for i in range(5)]
    >>> [q.id for q in sample(qs, 2)], [q.id for q in sample(qs, 2, exclude=frozenset({"3"}))]
    (['3', '4'], ['1', '4'])
    """
    pool = [q for q in questions if q.id not in exclude]
    if not limit or limit >= len(pool):
        return pool
    keep = set(random.Random(seed).sample(range(len(pool)), limit))
    return [q for i, q in enumerate(pool) if i in keep]


def part_bounds(size: int, i: int, n: int) -> tuple[int, int]:
    """Part `i` of `n` of a sample of `size` questions, as (offset, count): consecutive, in sample
    order, as even as they can be; the first of two parts is the sample's first half, as `first` gives.

    >>> [part_bounds(10, i, 3) for i in (1, 2, 3)], part_bounds(300, 2, 2)
    ([(0, 3), (3, 3), (6, 4)], (150, 150))
    """
    if not 1 <= i <= n:
        raise EvalError(f"part {i}/{n}: the part must be from 1 to {n}")
    start, end = (i - 1) * size // n, i * size // n
    if start == end:
        raise EvalError(f"part {i}/{n} of a {size}-question sample holds no question: run fewer parts")
    return start, end - start


def sample_digest(ids: list[str]) -> str:
    """A short fingerprint of a sample: its question ids in order (parts of one sample share it).

    >>> sample_digest(["a", "b"]) == sample_digest(["a", "b"]) != sample_digest(["b", "a"])
    True
    """
    return hashlib.sha256("\n".join(ids).encode()).hexdigest()[:16]


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


def is_gold(passage: Passage, gold: list) -> list[bool]:
    """For each gold item: does the passage come from its document and contain its quote?"""
    text = _norm(passage.text)
    return [passage.doc == g["doc"] and _norm(g["quote"]) in text for g in gold]
