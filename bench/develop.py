"""Development samples: seeded draws (seed ≠ 0) that leave out the reported seed-0 sample, so that
no constant is tuned on the questions whose figures we report.

    .venv/bin/python bench/develop.py ../shared/eval/realtimeqa-2020-2024 --limit 300 --out eval-reports/dev/realtimeqa
    .venv/bin/python bench/develop.py ../shared/eval/squad2-sample --limit 150 --out eval-reports/dev/squad2

By default it runs in *record* mode (`--record`): the model's abstention is always overruled (the
answer is decoded with it forbidden) and no answer is withheld by its score, so that every signal
and every answer is recorded; `bench/calibrate.py` then fits the abstention models on these rows
and replays any operating point exactly (decoding is greedy).
"""
from __future__ import annotations

import argparse
from pathlib import Path

from qa.eval import evaluate, load_set, sample, write
from qa.settings import Settings

REPORTED = 300  # the reported samples are `qa eval SET --limit 300` (seed 0)


def reported_ids(set_dir: Path, limit: int = REPORTED) -> frozenset[str]:
    _, questions = load_set(set_dir)
    return frozenset(q.id for q in sample(questions, limit, 0))


def development_sample(set_dir: Path, questions: list, limit: int, seed: int) -> list:
    """The answerable questions of a seeded sample that leaves the reported one out (for the
    retrieval-only benches: bench/fusion.py, bench/lean.py)."""
    return [q for q in sample(questions, limit, seed, reported_ids(set_dir)) if q.answerable]


def development_bench(description: str, limit: int = 600, k: int | None = None):
    """The shared set-up of the retrieval-only benches: their arguments (set, --limit, --seed and,
    when `k` is given, -k), the settings, the embedder, the answerable questions of the development
    sample and the set's evaluation index."""
    from index.build import CHUNKING
    from qa.assistant import embedder_for
    from qa.eval.runs import eval_index

    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("set_dir", type=Path)
    parser.add_argument("--limit", type=int, default=limit)
    parser.add_argument("--seed", type=int, default=1)
    if k is not None:
        parser.add_argument("-k", type=int, default=k)
    args = parser.parse_args()
    settings = Settings.from_env()
    embedder = embedder_for(settings)
    corpus, questions = load_set(args.set_dir)
    chosen = development_sample(args.set_dir, questions, args.limit, args.seed)
    index, _ = eval_index(corpus, settings, embedder, CHUNKING, False)
    return args, settings, embedder, chosen, index


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("set_dir", type=Path)
    ap.add_argument("--limit", type=int, default=300)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--live", action="store_true", help="use the settings' operating points instead of recording")
    ap.add_argument("--yardstick", action="store_true")
    args = ap.parse_args()
    settings = Settings.from_env()
    if not args.live:
        settings = settings.but(retry_floor=0.0, confidence_floor=0.0)
    report = evaluate(args.set_dir, settings, args.limit, seed=args.seed, exclude=reported_ids(args.set_dir),
                      yardstick=args.yardstick)
    print(write(report, args.out).read_text())


if __name__ == "__main__":
    main()
