"""Questions that ask for a reason, run with the model: every such question of the given sets (there
are few: 79 of the shared sets' 2,844 mention one, 29 of them match `asks_reasons`, so all are run;
those in a reported seed-0 sample are marked),
each through the `Assistant` the chat uses, scored by the same rule as `qa eval`. Writes one JSON
line per question, so that two versions of the code can be compared question by question.

    .venv/bin/python bench/why.py ../shared/eval/realtimeqa-2020-2024 ../shared/eval/squad2-sample \
        ../shared/eval/seed-article --out eval-reports/why/now.jsonl
    .venv/bin/python bench/why.py --compare eval-reports/why/before.jsonl eval-reports/why/now.jsonl

A question is taken when it mentions why, a reason, cause or motive at all (a superset of
`asks_reasons`, so that a change to that rule is measured on the questions it stops matching too);
`--asks-reasons` keeps only those `asks_reasons` matches (a change to the further reasons alone).
"""
from __future__ import annotations

import argparse
import json
import re
from dataclasses import asdict
from pathlib import Path

from develop import reported_ids

WORDS = re.compile(r"\b(?:why|reasons?|caus\w*|motiv\w*|led to|prompt\w*|drove)\b", re.IGNORECASE)


def run(set_dirs: list[Path], out: Path, only_asks: bool = False) -> None:
    from index.build import CHUNKING
    from qa.assistant import Assistant, embedder_for
    from qa.eval.metrics import correct
    from qa.eval.runs import _row, eval_index, run_ours
    from qa.eval.sets import load_set
    from qa.prompt import asks_reasons
    from qa.settings import Settings

    settings = Settings.from_env()
    embedder = embedder_for(settings)
    generator = None
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w") as f:
        for set_dir in set_dirs:
            corpus, questions = load_set(set_dir)
            reported = reported_ids(set_dir)
            index, _ = eval_index(corpus, settings, embedder, CHUNKING, False)
            assistant = Assistant(settings, index=index, embedder=embedder, generator=generator)
            for q in (q for q in questions if WORDS.search(q.question) and (asks_reasons(q.question) or not only_asks)):
                row = _row(q, index, settings.search)
                extra = run_ours(assistant, q, settings.k, row)
                generator = assistant.generator
                good = (not row.abstained and correct(row.reply, q.answers)) if q.answerable else row.abstained
                line = {"set": set_dir.name, "reported": q.id in reported, "asks_reasons": asks_reasons(q.question),
                        "good": bool(good), "sentences": len(extra["support"]),
                        "all_supported": all(s["supported"] for s in extra["support"]),
                        **{k: v for k, v in asdict(row).items() if k in (
                            "id", "question", "answerable", "reply", "abstained", "confidence", "cited_gold",
                            "cited_answer", "ttft", "total", "prompt_tokens")}}
                f.write(json.dumps(line, ensure_ascii=False) + "\n")
                f.flush()
                print(json.dumps({k: line[k] for k in ("id", "good", "sentences", "reply")})[:240], flush=True)


def compare(before: Path, now: Path) -> None:
    from qa.eval.metrics import wilson

    a = {r["id"]: r for r in map(json.loads, before.open())}
    b = {r["id"]: r for r in map(json.loads, now.open())}
    ids = [i for i in a if i in b]
    for name, rows in (("before", a), ("now", b)):
        sel = [rows[i] for i in ids]
        good = sum(r["good"] for r in sel)
        lo, hi = wilson(good, len(sel))
        cited = [g for r in sel for g in r["cited_gold"]]
        answered = [r for r in sel if not r["abstained"]]
        print(f"{name:6s} right {good}/{len(sel)} ({lo:.2f}-{hi:.2f}); citation precision "
              f"{sum(cited) / max(len(cited), 1):.3f} of {len(cited)}; sentences per answer "
              f"{sum(r['sentences'] for r in answered) / max(len(answered), 1):.2f}; all supported "
              f"{sum(r['all_supported'] for r in answered)}/{len(answered)}; total time p50 "
              f"{sorted(r['total'] for r in sel)[len(sel) // 2]:.1f} s")
    print(f"better now: {sum(b[i]['good'] and not a[i]['good'] for i in ids)}, "
          f"worse now: {sum(a[i]['good'] and not b[i]['good'] for i in ids)}, of {len(ids)}")
    for i in ids:
        if a[i]["reply"] != b[i]["reply"]:
            print(f"\n{i} ({'reported' if b[i]['reported'] else 'development'}) {b[i]['question'][:100]}\n"
                  f"  before {'+' if a[i]['good'] else '-'} {a[i]['reply'][:300]}\n"
                  f"  now    {'+' if b[i]['good'] else '-'} {b[i]['reply'][:300]}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("set_dirs", type=Path, nargs="*")
    ap.add_argument("--out", type=Path)
    ap.add_argument("--compare", type=Path, nargs=2, metavar=("BEFORE", "NOW"))
    ap.add_argument("--asks-reasons", action="store_true",
                    help="only the questions `asks_reasons` matches (the only ones a change to the further "
                         "reasons can affect)")
    args = ap.parse_args()
    if args.compare:
        compare(*args.compare)
    elif args.set_dirs and args.out:
        run(args.set_dirs, args.out, args.asks_reasons)
    else:
        ap.error("give set folders and --out, or --compare BEFORE NOW")


if __name__ == "__main__":
    main()
