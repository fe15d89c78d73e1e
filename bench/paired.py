"""A change to which passages are sent, measured with the model on the development samples, paired:
every question of the sample is retrieved once; where the two settings send the same text the
model's reply is the same (greedy decoding), so only the questions whose prompts differ are asked,
once under each setting, and scored by the same rule (answerable: right answer; unanswerable:
abstained). Live operating points, as `qa ask` runs.

    .venv/bin/python bench/paired.py ../shared/eval/realtimeqa-2020-2024 --limit 300 --other keyword_keep=0
    .venv/bin/python bench/paired.py ../shared/eval/squad2-sample --limit 150 --other keyword_keep=0
"""
from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

from develop import reported_ids
from index.build import CHUNKING
from qa.assistant import Assistant, _SentenceVectors, embedder_for
from qa.eval.metrics import correct
from qa.eval.runs import eval_index
from qa.eval.sets import load_set, sample
from qa.settings import Settings


def outcome(assistant: Assistant, q, retrieval) -> dict:
    answer = assistant.ask(q.question) if retrieval is None else \
        next(x for x in assistant.stream(q.question, retrieval=retrieval) if not isinstance(x, str))
    good = (not answer.abstained and correct(answer.text, q.answers)) if q.answerable else answer.abstained
    return {"good": bool(good), "abstained": answer.abstained, "reply": answer.text,
            "confidence": answer.confidence}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("set_dir", type=Path)
    ap.add_argument("--limit", type=int, default=300)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--other", required=True, help="name=value: the setting to compare with the default")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    name, value = args.other.split("=", 1)
    base = Settings.from_env()
    other = Settings.from_env({**{f"QA_{name.upper()}": value}})
    embedder = embedder_for(base)
    corpus, questions = load_set(args.set_dir)
    chosen = sample(questions, args.limit, args.seed, reported_ids(args.set_dir))
    index, _ = eval_index(corpus, base, embedder, CHUNKING, False)
    ours = Assistant(base, index=index, embedder=embedder)
    theirs = Assistant(other, index=index, embedder=embedder, generator=ours.generator)
    rows = []
    for q in chosen:
        mine, alt = ours.retrieve(q.question), theirs.retrieve(q.question)
        texts = [[t for _, t in a._lean(r, _SentenceVectors(embedder))] for a, r in ((ours, mine), (theirs, alt))]
        if texts[0] == texts[1]:
            continue
        rows.append({"id": q.id, "question": q.question, "answerable": q.answerable,
                     "default": outcome(ours, q, mine), "other": outcome(theirs, q, alt)})
        print(json.dumps(rows[-1])[:300], flush=True)
    better = sum(r["default"]["good"] and not r["other"]["good"] for r in rows)
    worse = sum(r["other"]["good"] and not r["default"]["good"] for r in rows)
    answerable = [r for r in rows if r["answerable"]]
    print(f"{args.set_dir.name}: {len(chosen)} questions (seed {args.seed}), {len(rows)} sent other text "
          f"({len(answerable)} answerable); default better on {better}, {args.other} better on {worse}")
    for key in ("default", "other"):
        rs = [r[key] for r in answerable]
        print(f"  {key}: of the {len(rs)} answerable that differ: right {sum(r['good'] for r in rs)}, "
              f"abstained {sum(r['abstained'] for r in rs)}; of the {len(rows) - len(rs)} unanswerable: "
              f"abstained {sum(r[key]['abstained'] for r in rows if not r['answerable'])}")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"settings": dataclasses.asdict(base), "other": args.other, "rows": rows},
                                       default=str, indent=1))


if __name__ == "__main__":
    main()
