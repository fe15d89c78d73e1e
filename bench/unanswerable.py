"""RealTimeQA's "unanswerable" labels are noisy: about 10% of the evidence was removed, but news
repeats, and another week's paragraph may still answer the question. This lists, for each
"unanswerable" question of a report, the corpus passages that hold an accepted answer (every answer
group, the RGB rule) and share most of the question's content words, for a person to read and
judge; with `--verdicts FILE` (lines `question-id yes|no`, written after reading) it prints correct
abstention raw and on the questions that are truly unanswerable.

    .venv/bin/python bench/unanswerable.py ../shared/eval/realtimeqa-2020-2024 eval-reports/realtimeqa/report.json \
        [--verdicts docs/realtimeqa-unanswerable-verdicts.txt]
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from index.build import CHUNKING, chunk, collect
from index.readers import read_document
from qa.eval.metrics import correct, figure
from qa.eval.sets import load_set, sample
from qa.support import content_words


def passages(corpus: Path) -> list:
    out = []
    for source in collect([corpus])[0]:
        out.extend(chunk(read_document(source.path), source.doc, lambda s: len(s.split()), 10**6)[1])
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("set_dir", type=Path)
    ap.add_argument("report", help="a report.json, or a number N: the unanswerable questions of `--limit N` (seed 0)")
    ap.add_argument("--verdicts", type=Path, help="lines 'question-id yes|no': does another passage answer it?")
    ap.add_argument("--show", type=int, default=2, help="candidate passages shown per question")
    args = ap.parse_args()
    corpus, questions = load_set(args.set_dir)
    by_id = {q.id: q for q in questions}
    if args.report.isdigit():
        rows = [{"id": q.id, "answerable": q.answerable, "abstained": False, "reply": ""}
                for q in sample(questions, int(args.report), 0) if not q.answerable]
    else:
        rows = [r for r in json.loads(Path(args.report).read_text())["ours"]["rows"] if not r["answerable"]]
    texts = passages(corpus)
    print(f"{len(rows)} 'unanswerable' questions in {args.report} ({CHUNKING} passages of {corpus})\n")
    for r in rows:
        q = by_id[r["id"]]
        wanted = content_words(q.question)
        hits = sorted((p for p in texts if correct(p.text, q.answers)),
                      key=lambda p: -len(wanted & content_words(p.text)))
        print(f"## {q.id}: {q.question}\n   accepted: {q.answers}; ours {'abstained' if r['abstained'] else 'answered'}: "
              f"{r['reply'][:160]!r}")
        for p in hits[:args.show]:
            share = len(wanted & content_words(p.text)) / (len(wanted) or 1)
            print(f"   - {p.ref} (question words {share:.0%}): {p.text[:400]}")
        print()
    if args.verdicts:
        answered_elsewhere = {line.split()[0] for line in args.verdicts.read_text().splitlines()
                              if line.strip() and not line.startswith("#") and line.split()[1] == "yes"}
        truly = [r for r in rows if r["id"] not in answered_elsewhere]
        print(f"answered by another passage (read and judged): {len(rows) - len(truly)} of {len(rows)}")
        print(f"correct abstention, raw: {figure(sum(r['abstained'] for r in rows), len(rows))}")
        print(f"correct abstention, truly unanswerable: {figure(sum(r['abstained'] for r in truly), len(truly))}")


if __name__ == "__main__":
    main()
