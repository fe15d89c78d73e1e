"""Does the answer's own likelihood tell answerable from unanswerable questions? A candidate input for
the abstention models of qa/abstain.py, measured on the development samples (it was not added: see
docs/evaluation.md, "Answer likelihood").

    .venv/bin/python bench/likelihood.py ../shared/eval/squad2-sample --limit 150 --out eval-reports/dev-lp/squad2-sample
    .venv/bin/python bench/likelihood.py ../shared/eval/realtimeqa-2020-2024 --limit 300 \
        --out eval-reports/dev-lp/realtimeqa-2020-2024
    .venv/bin/python bench/likelihood.py --analyse eval-reports/dev-lp/*/report.json

The first form is `bench/develop.py` in record mode (same sample, same settings) with one addition:
each report row's signals carry `token_p`, the probability the model gave each token of the answer
it would show (the draft, or the retry decoded with the abstention forbidden; greedy, so each is the
most likely token once the ban is applied), recorded by wrapping the llama.cpp generator's token
choice. `--analyse` prints each likelihood feature's ROC AUC alone (labels: answerable, and answered
correctly) beside the signals already used, and the 5-fold cross-validated AUC of the `AFTER` model
with each feature added (`bench/calibrate.py`'s fit).
"""
from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np

import calibrate
from qa import abstain
from qa.abstain import features as shipped_features

LIKELIHOOD = ("lp_mean", "lp_body", "lp_min", "lp_first", "lp_sum", "lp_end", "lp_head", "p_low")


def likelihood_features(probabilities: list[float]) -> dict[str, float]:
    """From the answer's token probabilities (the last is the end-of-turn token's, when it ended so):
    mean, sum and minimum log-probability, the first token's, the last's, the mean without the first
    and last (`lp_body`), the first 8 tokens' mean, and the share of tokens below 0.5.

    >>> {k: round(v, 3) for k, v in likelihood_features([0.5, 1.0, 1.0, 0.25]).items()}["lp_body"]
    0.0
    """
    if not probabilities:
        return {}
    lp = np.log(np.clip(np.asarray(probabilities, dtype=float), 1e-6, 1.0))
    body = lp[1:-1] if len(lp) > 2 else lp
    return {"lp_mean": float(lp.mean()), "lp_body": float(body.mean()), "lp_min": float(lp.min()),
            "lp_first": float(lp[0]), "lp_sum": float(lp.sum()), "lp_end": float(lp[-1]),
            "lp_head": float(lp[:8].mean()), "p_low": float((lp < math.log(0.5)).mean())}


def features(signals: dict) -> dict[str, float]:
    return {**shipped_features(signals), **likelihood_features(signals.get("token_p") or [])}


def record(set_dir: Path, limit: int, seed: int, out: Path, first: int | None = None) -> None:
    """bench/develop.py's record run, each row's signals holding `token_p`."""
    import qa.eval.runs as runs
    from develop import reported_ids
    from qa.eval import evaluate, write
    from qa.generator import LlamaGenerator, softmax
    from qa.settings import Settings

    pick, stream = LlamaGenerator._pick, LlamaGenerator.stream
    decoded: list[tuple[list[dict], list[float]]] = []  # each reply of the question: its prompt, its probabilities

    def recording_pick(self, logits):
        token = pick(self, logits)
        decoded[-1][1].append(float(softmax(logits)[token]))
        return token

    def recording_stream(self, messages, avoid=()):
        decoded.append((list(messages), []))
        yield from stream(self, messages, avoid)

    run_ours = runs.run_ours

    def recording_run_ours(assistant, q, k, row):
        decoded.clear()
        extra = run_ours(assistant, q, k, row)
        if decoded:  # the answer is the last reply to the main prompt (further reasons use others)
            main = decoded[0][0]
            last = [probabilities for messages, probabilities in decoded if messages == main][-1]
            extra["signals"]["token_p"] = [round(p, 5) for p in last]
        return extra

    LlamaGenerator._pick, LlamaGenerator.stream, runs.run_ours = recording_pick, recording_stream, recording_run_ours
    settings = Settings.from_env().but(retry_floor=0.0, confidence_floor=0.0)
    report = evaluate(set_dir, settings, limit, seed=seed, exclude=reported_ids(set_dir), first=first)
    print(write(report, out).read_text())


def analyse(paths: list[str]) -> None:
    from qa.eval.metrics import roc_auc

    calibrate.features = abstain.features = features  # the fits (calibrate) and the scoring (Logistic) read them
    rows = [r for r in calibrate.load(paths) if calibrate.has_answer(r) and r["signals"].get("token_p")]
    sets = sorted({r["set"] for r in rows})
    print(f"{len(rows)} answered rows with token probabilities; sets {sets}")
    for label in ("answerable", "correct"):
        print(f"\n| feature | ROC AUC alone, label {label}: all | " + " | ".join(sets) + " |\n|---|---|"
              + "---|" * len(sets))
        for name in LIKELIHOOD + calibrate.AFTER_INPUTS:
            cells = []
            for subset in [rows] + [[r for r in rows if r["set"] == s] for s in sets]:
                auc = roc_auc([features(r["signals"])[name] for r in subset], [bool(r[label]) for r in subset])
                cells.append(f"{auc:.3f}" if auc is not None else "–")
            print(f"| {name} | " + " | ".join(cells) + " |")
    base = calibrate.AFTER_INPUTS
    print("\n| AFTER model inputs | 5-fold CV ROC AUC (answerable): all | " + " | ".join(sets) + " |\n|---|---|"
          + "---|" * len(sets))
    for added in [()] + [(name,) for name in LIKELIHOOD]:
        cells = [calibrate.cv_auc(subset, base + added)
                 for subset in [rows] + [[r for r in rows if r["set"] == s] for s in sets]]
        print(f"| shipped{' + ' + added[0] if added else ''} | " + " | ".join(f"{c:.3f}" for c in cells) + " |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("set_dir", type=Path, nargs="?")
    ap.add_argument("--limit", type=int, default=300)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", type=Path)
    ap.add_argument("--first", type=int, help="only the sample's first questions (a quick check)")
    ap.add_argument("--analyse", nargs="+", metavar="REPORT")
    args = ap.parse_args()
    if args.analyse:
        analyse(args.analyse)
    elif args.set_dir and args.out:
        record(args.set_dir, args.limit, args.seed, args.out, args.first)
    else:
        ap.error("give a set and --out to record, or --analyse REPORT...")


if __name__ == "__main__":
    main()
