"""Pure evaluation metrics. Each figure is reported with its counts: {"value", "n", "of"}.

A row is one question's outcome (see `Row`); the functions below turn rows into figures.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence


@dataclass
class Row:
    id: str
    question: str
    answerable: bool
    answers: list  # groups of acceptable strings (the RGB rule)
    ranks: list[bool] = field(default_factory=list)  # retrieval: is the passage at rank i gold?
    gold_total: int = 0  # gold items of the question
    gold_found_at: list[int] = field(default_factory=list)  # per gold item: first rank found (0 = not)
    reply: str = ""
    abstained: bool = False
    cited_gold: list[bool] = field(default_factory=list)  # per cited passage: is it gold?
    ttft: float | None = None
    total: float = 0.0
    prompt_tokens: int = 0
    generated_tokens: int = 0
    confidence: float | None = None  # the calibrated score, where the pipeline gives one
    # per cited passage: is it gold, or does it hold an accepted answer (news repeats: another
    # passage than the gold one often states the same fact)
    cited_answer: list[bool] = field(default_factory=list)


def correct(reply: str, answers: Sequence[Sequence[str]]) -> bool:
    """RGB rule: every group has one of its strings in the reply (case-insensitive).

    >>> correct("Sergei Lavrov said no", [["lavrov"]]), correct("Brazil", [["Brazil"], ["China"]])
    (True, False)
    >>> correct("anything", [])
    False
    """
    low = reply.lower()
    return bool(answers) and all(any(a.lower() in low for a in group) for group in answers)


def figure(n: int, of: int) -> dict:
    """A share with its counts and its 95 % Wilson interval.

    >>> figure(1, 4)
    {'value': 0.25, 'n': 1, 'of': 4, 'low': 0.0456, 'high': 0.6994}
    >>> figure(0, 0)
    {'value': None, 'n': 0, 'of': 0}
    """
    if not of:
        return {"value": None, "n": n, "of": of}
    low, high = wilson(n, of)
    return {"value": round(n / of, 4), "n": n, "of": of, "low": round(low, 4), "high": round(high, 4)}


def wilson(n: int, of: int, z: float = 1.96) -> tuple[float, float]:
    """The 95 % Wilson score interval of the share n/of.

    >>> [round(x, 3) for x in wilson(50, 100)]
    [0.404, 0.596]
    """
    p = n / of
    centre = (p + z * z / (2 * of)) / (1 + z * z / of)
    half = z * math.sqrt(p * (1 - p) / of + z * z / (4 * of * of)) / (1 + z * z / of)
    return max(0.0, centre - half), min(1.0, centre + half)


def paired_difference(ours: Sequence[bool], theirs: Sequence[bool], z: float = 1.96) -> dict:
    """The difference of two shares measured on the same items, with its 95 % interval (Wald, for
    paired proportions: only the items where the two disagree carry information).

    >>> paired_difference([True, True, True, False], [True, False, False, False])
    {'value': 0.5, 'low': 0.01, 'high': 0.99, 'of': 4}
    """
    n = len(ours)
    if not n:
        return {"value": None, "low": None, "high": None, "of": 0}
    b = sum(1 for x, y in zip(ours, theirs) if x and not y)
    c = sum(1 for x, y in zip(ours, theirs) if y and not x)
    d = (b - c) / n
    half = z * math.sqrt(max(b + c - (b - c) ** 2 / n, 0.0)) / n
    return {"value": round(d, 4), "low": round(d - half, 2), "high": round(d + half, 2), "of": n}


def roc_auc(scores: Sequence[float], labels: Sequence[bool]) -> float | None:
    """Area under the ROC curve: the chance that a random positive scores above a random negative
    (ties count half). None without both classes.

    >>> roc_auc([0.9, 0.8, 0.3, 0.1], [True, False, True, False]), roc_auc([1], [True])
    (0.75, None)
    """
    pos = [s for s, y in zip(scores, labels) if y]
    neg = [s for s, y in zip(scores, labels) if not y]
    if not pos or not neg:
        return None
    wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile.

    >>> percentile([1, 2, 3, 4], 50), percentile([], 50)
    (2, None)
    """
    values = sorted(v for v in values if v is not None)
    if not values:
        return None
    return values[max(0, math.ceil(q / 100 * len(values)) - 1)]


def retrieval(rows: Sequence[Row], k: int) -> dict:
    """hit@1, hit@k, recall@k (share of gold items found in the top k) and MRR@10, on answerable rows."""
    rows = [r for r in rows if r.answerable and r.gold_total]
    hit1 = sum(bool(r.ranks[:1]) and r.ranks[0] for r in rows)
    hitk = sum(any(r.ranks[:k]) for r in rows)
    found = sum(sum(1 for f in r.gold_found_at if 0 < f <= k) for r in rows)
    total = sum(r.gold_total for r in rows)
    rr = [next((1 / (i + 1) for i, g in enumerate(r.ranks[:10]) if g), 0.0) for r in rows]
    return {"hit@1": figure(hit1, len(rows)), f"hit@{k}": figure(hitk, len(rows)),
            f"recall@{k}": figure(found, total),
            "mrr@10": {"value": round(sum(rr) / len(rr), 4) if rr else None, "n": len(rr), "of": len(rr)}}


def hit_curve(rows: Sequence[Row], max_k: int = 10) -> list[float | None]:
    """hit@1 … hit@max_k on answerable rows (for the plot)."""
    rows = [r for r in rows if r.answerable and r.gold_total]
    return [figure(sum(any(r.ranks[:k]) for r in rows), len(rows))["value"] for k in range(1, max_k + 1)]


def answers(rows: Sequence[Row]) -> dict:
    answerable = [r for r in rows if r.answerable]
    unanswerable = [r for r in rows if not r.answerable]
    right = [r for r in answerable if not r.abstained and correct(r.reply, r.answers)]
    replied = [r for r in rows if not r.abstained]
    cited = [g for r in answerable if not r.abstained for g in r.cited_gold]
    bearing = [g for r in answerable if not r.abstained for g in r.cited_answer]
    return {
        "accuracy": figure(len(right), len(answerable)),
        "false_abstention": figure(sum(r.abstained for r in answerable), len(answerable)),
        "correct_abstention": figure(sum(r.abstained for r in unanswerable), len(unanswerable)),
        "citation_precision": figure(sum(cited), len(cited)),
        "citation_precision_answer": figure(sum(bearing), len(bearing)),
        "citation_recall": figure(sum(any(r.cited_gold) for r in right), len(right)),
        "no_citation": figure(sum(not r.cited_gold for r in replied), len(replied)),
    }


def speed(rows: Sequence[Row]) -> dict:
    asked = [r for r in rows if r.prompt_tokens]
    gen_s = [r.total - r.ttft for r in asked if r.ttft is not None and r.total > r.ttft]
    gen_tokens = [r.generated_tokens for r in asked if r.ttft is not None and r.total > r.ttft]

    def rounded(x):
        return None if x is None else round(x, 3)

    return {
        "ttft_p50": rounded(percentile([r.ttft for r in asked], 50)),
        "ttft_p95": rounded(percentile([r.ttft for r in asked], 95)),
        "total_p50": rounded(percentile([r.total for r in rows], 50)),
        "total_p95": rounded(percentile([r.total for r in rows], 95)),
        "prompt_tokens_mean": round(sum(r.prompt_tokens for r in asked) / len(asked), 1) if asked else None,
        "generated_tokens_mean": round(sum(r.generated_tokens for r in asked) / len(asked), 1) if asked else None,
        "generation_tokens_per_s": round(sum(gen_tokens) / sum(gen_s), 2) if gen_s else None,
        "llm_called": figure(len(asked), len(rows)),
    }


def calibration(rows: Sequence[Row]) -> dict:
    """ROC AUC of the confidence score, answerable against unanswerable questions (where scored)."""
    scored = [r for r in rows if r.confidence is not None]
    auc = roc_auc([r.confidence for r in scored], [r.answerable for r in scored])
    return {"confidence_auc": round(auc, 4) if auc is not None else None} if scored else {}


def summary(rows: Sequence[Row], k: int) -> dict:
    return {**retrieval(rows, k), **answers(rows), **speed(rows), **calibration(rows)}
