"""Fit the abstention models of qa/abstain.py on development reports, measure what each signal
adds, and replay operating points.

    .venv/bin/python bench/calibrate.py eval-reports/dev/realtimeqa/report.json eval-reports/dev/squad2/report.json \
        [--roc docs/roc.png] [--apply]

The reports come from `bench/develop.py` in record mode (the model's abstention always overruled,
nothing withheld by score), so every row holds every signal and the answer the pipeline would
show if it did not abstain; decoding is greedy, so replaying a pair of floors here gives what the
pipeline does with them. The label is "answerable" (what false and correct abstention count).
Uses scikit-learn (installed with sentence-transformers) for the logistic fits.

Prints: each signal's ROC AUC alone; each model's 5-fold cross-validated AUC with and without each
signal; the coefficients to paste into qa/abstain.py; and the outcome (accuracy, false and correct
abstention per set, with 95 % intervals) over a grid of (retry_floor, confidence_floor).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from qa.abstain import Logistic, features
from qa.eval.metrics import figure, roc_auc

BEFORE_INPUTS = ("passages_yes", "abstain_p", "top_score")
AFTER_INPUTS = ("passages_yes", "answer_yes", "abstain_p", "top_score", "supported", "retried")


def load(paths: list[str]) -> list[dict]:
    rows = []
    for path in paths:
        report = json.loads(Path(path).read_text())
        for r in report["ours"]["rows"]:
            if r["prompt_tokens"]:  # the model was asked (else the floor abstained, whatever the score)
                rows.append({**r, "set": report["set"]})
    return rows


def matrix(rows: list[dict], inputs: tuple[str, ...]) -> np.ndarray:
    return np.array([[features(r["signals"]).get(name, 0.0) for name in inputs] for r in rows])


def fit(rows: list[dict], inputs: tuple[str, ...], c: float = 1.0) -> Logistic:
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=c, max_iter=1000).fit(matrix(rows, inputs), [r["answerable"] for r in rows])
    return Logistic(round(float(model.intercept_[0]), 4),
                    tuple((name, round(float(w), 4)) for name, w in zip(inputs, model.coef_[0])))


def cv_auc(rows: list[dict], inputs: tuple[str, ...], folds: int = 5) -> float:
    """Cross-validated AUC: each row scored by a model fit without its fold."""
    order = np.random.default_rng(0).permutation(len(rows))
    scores = np.zeros(len(rows))
    for f in range(folds):
        test = order[f::folds]
        train = [rows[i] for i in order if i not in set(test)]
        model = fit(train, inputs)
        for i in test:
            scores[i] = model(rows[i]["signals"])
    return roc_auc(list(scores), [r["answerable"] for r in rows])


def has_answer(r: dict) -> bool:
    return "supported" in r["signals"]


def replay(rows: list[dict], before: Logistic, after: Logistic, retry_floor: float, floor: float) -> list[dict]:
    """What the pipeline shows with these floors: per row, abstained and correct."""
    out = []
    for r in rows:
        s = r["signals"]
        abstained = r["abstained"]  # the hard rules: the retry said "don't know", or nothing was supported
        if s.get("model_abstained") and before(s) < retry_floor:
            abstained = True
        elif not abstained and has_answer(r) and after(s) < floor:
            abstained = True
        out.append({**r, "abstained": abstained, "correct": r["correct"] and not abstained})
    return out


def outcome(rows: list[dict]) -> dict:
    ans = [r for r in rows if r["answerable"]]
    una = [r for r in rows if not r["answerable"]]
    return {"accuracy": figure(sum(r["correct"] for r in ans), len(ans)),
            "false_abstention": figure(sum(r["abstained"] for r in ans), len(ans)),
            "correct_abstention": figure(sum(r["abstained"] for r in una), len(una))}


def confidence(r: dict, before: Logistic, after: Logistic) -> float:
    """The score the pipeline reports: after the answer when there is one, else before."""
    s = r["signals"]
    return after(s) if has_answer(r) and not r["abstained"] else before(s)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("reports", nargs="+")
    ap.add_argument("--roc", type=Path, help="write the ROC curve of the confidence here (PNG)")
    ap.add_argument("--retry-floor", type=float)
    ap.add_argument("--floor", type=float)
    args = ap.parse_args()
    rows = load(args.reports)
    sets = sorted({r["set"] for r in rows})
    labels = [r["answerable"] for r in rows]
    print(f"{len(rows)} rows: {sum(labels)} answerable, {len(labels) - sum(labels)} not; sets {sets}\n")

    print("| signal | ROC AUC alone (all rows) | " + " | ".join(sets) + " |\n|---|---|" + "---|" * len(sets))
    for name in AFTER_INPUTS:
        line = []
        for subset in [rows] + [[r for r in rows if r["set"] == s] for s in sets]:
            pairs = [(features(r["signals"])[name], r["answerable"]) for r in subset if name in features(r["signals"])]
            auc = roc_auc([p for p, _ in pairs], [y for _, y in pairs])
            line.append(f"{auc:.3f} ({len(pairs)})" if auc is not None else "–")
        print(f"| {name} | " + " | ".join(line) + " |")

    answered = [r for r in rows if has_answer(r)]
    print("\n| model | inputs | 5-fold CV ROC AUC |\n|---|---|---|")
    for label, subset, inputs in (("before", rows, BEFORE_INPUTS), ("after", answered, AFTER_INPUTS)):
        print(f"| {label} | all | {cv_auc(subset, inputs):.3f} |")
        for drop in inputs:
            kept = tuple(i for i in inputs if i != drop)
            print(f"| {label} | without {drop} | {cv_auc(subset, kept):.3f} |")
    before, after = fit(rows, BEFORE_INPUTS), fit(answered, AFTER_INPUTS)
    print(f"\nBEFORE = {before}\nAFTER = {after}\n")

    scores = [confidence(r, before, after) for r in rows]
    print(f"confidence ROC AUC (in-sample, all rows): {roc_auc(scores, labels):.3f}")
    for s in sets:
        sub = [(c, r["answerable"]) for c, r in zip(scores, rows) if r["set"] == s]
        print(f"  {s}: {roc_auc([c for c, _ in sub], [y for _, y in sub]):.3f}")

    grid = [round(x, 2) for x in np.arange(0.0, 1.0, 0.05)]
    pairs = [(args.retry_floor, args.floor)] if args.floor is not None else [(a, b) for a in grid for b in grid]
    print("\n| retry_floor | floor | " + " | ".join(f"{s}: acc / false abst / correct abst" for s in sets)
          + " |\n|---|---|" + "---|" * len(sets))
    for a, b in pairs:
        played = replay(rows, before, after, a, b)
        cells = []
        for s in sets:
            o = outcome([r for r in played if r["set"] == s])
            cells.append(" / ".join(f"{o[k]['value']:.3f}" for k in ("accuracy", "false_abstention",
                                                                      "correct_abstention")))
        print(f"| {a} | {b} | " + " | ".join(cells) + " |")
    if args.roc:
        plot_roc(rows, scores, sets, args.roc)


def plot_roc(rows: list[dict], scores: list[float], sets: list[str], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    for name, subset in [("all", list(range(len(rows))))] + [(s, [i for i, r in enumerate(rows) if r["set"] == s])
                                                            for s in sets]:
        ys = np.array([rows[i]["answerable"] for i in subset])
        xs = np.array([scores[i] for i in subset])
        order = np.argsort(-xs)
        tpr = np.concatenate([[0], np.cumsum(ys[order]) / ys.sum()])
        fpr = np.concatenate([[0], np.cumsum(~ys[order]) / (~ys).sum()])
        ax.plot(fpr, tpr, label=f"{name} (AUC {roc_auc(list(xs), list(ys)):.2f})")
    ax.plot([0, 1], [0, 1], ":", color="grey")
    ax.set_xlabel("unanswerable questions answered (false positive rate)")
    ax.set_ylabel("answerable questions answered (true positive rate)")
    ax.set_title("confidence: answerable vs not")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(f"ROC curve: {path}")


if __name__ == "__main__":
    main()
