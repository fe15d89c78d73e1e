"""Calibrated abstention: a logistic model over the signals the model and the checks give, fit on
development questions only (`bench/calibrate.py`), turns them into `confidence`, the probability
that the passages answer the question and the answer is about it.

Two models, because the decision is taken at two moments:
- `BEFORE`: the model's draft was the abstention sentence. Should we decode the answer it would give
  without that sentence (its first token forbidden)? Signals: the yes/no "do the passages state the
  answer?", the probability of the abstention sentence, the best retrieval score.
- `AFTER`: there is an answer. Show it or abstain? The same signals plus the answer-conditioned
  yes/no ("does your answer answer exactly this question?"), the share of its sentences the citation
  check supports, and whether it was decoded with the abstention forbidden.

Pure: the signals come in a dict (recorded per answer as `Answer.signals`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

EPS = 1e-4


def logit(p: float) -> float:
    """Log-odds, clipped so that a probability of 0 or 1 stays finite.

    >>> round(logit(0.5), 3), round(logit(1.0), 2)
    (0.0, 9.21)
    """
    p = min(max(float(p), EPS), 1 - EPS)
    return math.log(p / (1 - p))


def features(signals: dict) -> dict[str, float]:
    """The model's inputs from an answer's raw signals (probabilities become log-odds).

    >>> features({"passages_yes": 0.5, "top_score": 0.6})
    {'passages_yes': 0.0, 'top_score': 0.6}
    """
    out = {}
    for name in ("passages_yes", "answer_yes", "abstain_p"):
        if signals.get(name) is not None:
            out[name] = logit(signals[name])
    for name in ("top_score", "supported", "retried"):
        if signals.get(name) is not None:
            out[name] = float(signals[name])
    return out


@dataclass(frozen=True)
class Logistic:
    intercept: float
    weights: tuple[tuple[str, float], ...]

    @property
    def inputs(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.weights)

    def __call__(self, signals: dict) -> float:
        """The probability for these raw signals (a missing input counts as 0 on its scale).

        >>> round(Logistic(0.0, (("passages_yes", 1.0),))({"passages_yes": 0.9}), 3)
        0.9
        """
        x = features(signals)
        z = self.intercept + sum(w * x.get(name, 0.0) for name, w in self.weights)
        return 1 / (1 + math.exp(-max(min(z, 50.0), -50.0)))


# Fit 2026-11-26 by
#   .venv/bin/python bench/calibrate.py eval-reports/dev/realtimeqa/report.json eval-reports/dev/squad2/report.json
# on the record-mode development runs of bench/develop.py: realtimeqa-2020-2024 --limit 300 --seed 1 and
# squad2-sample --limit 150 --seed 1, both drawn without the reported seed-0 --limit 300 samples
# (450 questions: 350 answerable, 100 not). 5-fold cross-validated ROC AUC (answerable vs not):
# BEFORE 0.755, AFTER 0.730; the signals alone and what each adds: docs/evaluation.md.
BEFORE = Logistic(-0.7338, (("passages_yes", 1.018), ("abstain_p", -0.0552), ("top_score", 2.6618)))
AFTER = Logistic(-0.0333, (("passages_yes", 1.0725), ("answer_yes", -0.1811), ("abstain_p", -0.051),
                           ("top_score", 2.7249), ("supported", -0.3517), ("retried", -0.1462)))
