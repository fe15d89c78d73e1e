"""Is the 1.5B model a better judge of one passage than of five? Two yes/no checks asked of the cited
passage alone, measured as abstention signals on the development record runs (`bench/likelihood.py`
or `bench/develop.py` reports).

    PYTHONPATH=bench .venv/bin/python bench/judge.py eval-reports/dev-lp/*/report.json --out eval-reports/dev-lp/judge.jsonl
    PYTHONPATH=bench .venv/bin/python bench/judge.py eval-reports/dev-lp/*/report.json --analyse eval-reports/dev-lp/judge.jsonl

For each answered row, the first passage its answer cites (whole, as indexed) is shown alone with
the question, and the model is asked
- `alone_yes`: "Does the passage state the answer to this question?"
- `alone_answer_yes`: the answer (markers removed) too: "Does the passage say that this is the
  answer to exactly this question?"
each as P(yes) / (P(yes) + P(no)) of the reply's first token. Rows whose answer cites nothing are
left out. `--analyse` prints each check's ROC AUC alone and the 5-fold cross-validated AUC of the
`AFTER` model with it added (`bench/calibrate.py`'s fit), on the rows both have.
"""
from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import numpy as np

import calibrate
from qa import abstain
from qa.abstain import features as shipped_features, logit

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "eval"
ALONE = "Passage:\n{passage}\n\nQuestion: {question}\n\nDoes the passage state the answer to this question? Reply yes or no."
ALONE_ANSWER = ("Passage:\n{passage}\n\nQuestion: {question}\nAnswer: {answer}\n\nDoes the passage say that this is the "
                "answer to exactly this question? Reply yes or no.")
CHECKS = {"alone_yes": ALONE, "alone_answer_yes": ALONE_ANSWER}


def bare(text: str) -> str:
    """
    >>> bare("Lavrov said no [1][2]. He left [3].")
    'Lavrov said no. He left.'
    """
    return re.sub(r"\s+([.,;:!?])", r"\1", re.sub(r"\s*\[\d+\]", "", text)).strip()


def judge(paths: list[str], out: Path, sets_dir: Path) -> None:
    from tqdm import tqdm

    from index.build import CHUNKING
    from qa.assistant import Assistant, embedder_for
    from qa.eval import load_set
    from qa.eval.runs import eval_index
    from qa.settings import Settings

    settings = Settings.from_env()
    embedder = embedder_for(settings)
    done = {json.loads(line)["id"] for line in out.read_text().splitlines()} if out.exists() else set()
    generator = None
    for path in paths:
        report = json.loads(Path(path).read_text())
        corpus, _ = load_set(sets_dir / report["set"])
        index, _ = eval_index(corpus, settings, embedder, CHUNKING, False)
        generator = generator or Assistant(settings, index).generator
        texts = {p.ref: p.text for p in index.passages}
        rows = [r for r in report["ours"]["rows"] if calibrate.has_answer(r) and r["citations"] and r["id"] not in done]
        with out.open("a") as sink:
            for r in tqdm(rows, desc=report["set"], unit="q"):
                filled = {"passage": texts[r["citations"][0]], "question": r["question"].strip(),
                          "answer": bare(r["signals"].get("retry") or r["signals"]["draft"])}
                probs = {name: round(generator.yes_probability([{"role": "user", "content": check.format(**filled)}]), 4)
                         for name, check in CHECKS.items()}
                sink.write(json.dumps({"id": r["id"], "set": report["set"], **probs}) + "\n")
                sink.flush()


def analyse(paths: list[str], judged: Path) -> None:
    from qa.eval.metrics import roc_auc

    extra = {(j["set"], j["id"]): j for j in map(json.loads, judged.read_text().splitlines())}

    def features(signals: dict) -> dict[str, float]:
        return {**shipped_features(signals), **{k: logit(signals[k]) for k in CHECKS if k in signals}}

    calibrate.features = abstain.features = features  # the fits (calibrate) and the scoring (Logistic) read them
    rows = []
    for r in calibrate.load(paths):
        j = extra.get((r["set"], r["id"]))
        if j and calibrate.has_answer(r):
            rows.append({**r, "signals": {**r["signals"], **{k: j[k] for k in CHECKS}}})
    sets = sorted({r["set"] for r in rows})
    print(f"{len(rows)} answered rows with a cited passage judged alone; sets {sets}")
    groups = [rows] + [[r for r in rows if r["set"] == s] for s in sets]
    for label in ("answerable", "correct"):
        print(f"\n| signal | ROC AUC alone, label {label}: all | " + " | ".join(sets) + " |\n|---|---|" + "---|" * len(sets))
        for name in (*CHECKS, *calibrate.AFTER_INPUTS):
            cells = [roc_auc([features(r["signals"])[name] for r in g], [bool(r[label]) for r in g]) for g in groups]
            print(f"| {name} | " + " | ".join(f"{c:.3f}" if c is not None else "–" for c in cells) + " |")
    base = calibrate.AFTER_INPUTS
    models = {"shipped": base, "shipped + alone_yes": base + ("alone_yes",),
              "shipped + both": base + tuple(CHECKS), "passages_yes, top_score, alone_yes": SMALL}
    print("\n| AFTER model inputs | 5-fold CV ROC AUC (answerable): all | " + " | ".join(sets)
          + " | paired difference from shipped, all: 95 % bootstrap |\n|---|---|" + "---|" * (len(sets) + 1))
    scores = {name: cv_scores(rows, inputs) for name, inputs in models.items()}
    labels = np.array([r["answerable"] for r in rows])
    for name in models:
        cells = [roc_auc(list(scores[name][m]), list(labels[m])) for m in masks(rows, sets)]
        low, high = paired_interval(scores[name], scores["shipped"], labels)
        print(f"| {name} | " + " | ".join(f"{c:.3f}" for c in cells) + f" | {low:+.3f} to {high:+.3f} |")
    replay_points(paths, extra, rows)


SMALL = ("passages_yes", "top_score", "alone_yes")


def masks(rows: list[dict], sets: list[str]) -> list[np.ndarray]:
    names = np.array([r["set"] for r in rows])
    return [np.ones(len(rows), bool)] + [names == s for s in sets]


def cv_scores(rows: list[dict], inputs: tuple[str, ...], folds: int = 5) -> np.ndarray:
    """Each row scored by a model fit without its fold (the folds of `calibrate.cv_auc`)."""
    order = np.random.default_rng(0).permutation(len(rows))
    scores = np.zeros(len(rows))
    for f in range(folds):
        test = set(order[f::folds].tolist())
        model = calibrate.fit([rows[i] for i in range(len(rows)) if i not in test], inputs)
        for i in test:
            scores[i] = model(rows[i]["signals"])
    return scores


def paired_interval(a: np.ndarray, b: np.ndarray, labels: np.ndarray, draws: int = 1000) -> tuple[float, float]:
    """95 % bootstrap interval of AUC(a) − AUC(b) over the same resampled rows."""
    from qa.eval.metrics import roc_auc

    rng, diffs = np.random.default_rng(1), []
    for _ in range(draws):
        idx = rng.integers(0, len(labels), len(labels))
        if labels[idx].all() or not labels[idx].any():
            continue
        diffs.append(roc_auc(list(a[idx]), list(labels[idx])) - roc_auc(list(b[idx]), list(labels[idx])))
    low, high = np.percentile(diffs, [2.5, 97.5])
    return float(low), float(high)


def replay_points(paths: list[str], extra: dict, answered: list[dict]) -> None:
    """The outcomes (`calibrate.replay`) of the shipped models at the shipped floors, and of the small
    model (fit on all judged rows) at a range of answer floors; rows without a judged passage keep
    their signals (the check then counts as P 0.5)."""
    from qa.abstain import AFTER, BEFORE

    small = calibrate.fit(answered, SMALL)
    print(f"\nsmall model fit on the judged rows: {small}\n")
    rows = [{**r, "signals": {**r["signals"], **{k: extra[(r["set"], r["id"])][k] for k in CHECKS
                                                 if (r["set"], r["id"]) in extra}}} for r in calibrate.load(paths)]
    sets = sorted({r["set"] for r in rows})
    print("| model | confidence_floor | " + " | ".join(f"{s}: acc / false abst / correct abst" for s in sets)
          + " | pooled false / correct abst |\n|---|---|" + "---|" * (len(sets) + 1))
    for name, after, floor in [("shipped", AFTER, 0.45)] + [("small", small, f) for f in (0.4, 0.45, 0.5, 0.55, 0.6)]:
        played = calibrate.replay(rows, BEFORE, after, 0.6, floor)
        cells = []
        for s in sets:
            o = calibrate.outcome([r for r in played if r["set"] == s])
            cells.append(" / ".join(f"{o[k]['value']:.3f}" for k in ("accuracy", "false_abstention", "correct_abstention")))
        o = calibrate.outcome(played)
        print(f"| {name} | {floor} | " + " | ".join(cells)
              + f" | {o['false_abstention']['value']:.3f} / {o['correct_abstention']['value']:.3f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("reports", nargs="+")
    ap.add_argument("--out", type=Path, help="append one JSON line per judged row (resumable)")
    ap.add_argument("--analyse", type=Path, metavar="JUDGED", help="the JSON lines written by --out")
    ap.add_argument("--sets", type=Path, default=SHARED, help="where the evaluation sets are")
    args = ap.parse_args()
    if args.analyse:
        analyse(args.reports, args.analyse)
    elif args.out:
        judge(args.reports, args.out, args.sets)
    else:
        ap.error("give --out to judge or --analyse to measure")


if __name__ == "__main__":
    main()
