"""Which fusion of dense and BM25 rankings finds gold passages best? Retrieval only, no LLM.

    .venv/bin/python bench/fusion.py ../shared/eval/realtimeqa-2020-2024 --limit 600 --seed 1

Runs on the answerable questions of a seeded sample; for RealTimeQA the 200 questions of the
test sample (`qa eval --limit 200`, seed 0) are left out, so that the constants chosen here are
not tuned on the figures reported in docs/evaluation.md.
"""
from __future__ import annotations

import numpy as np

from develop import development_bench
from index.lexical import fuse
from qa.eval.sets import is_gold


def gold_rank(passages, rows, question, depth=10) -> int:
    """1-based rank of the first gold passage among distinct texts, 0 if not in the first `depth`."""
    seen, rank = set(), 0
    for row in rows:
        if passages[row].text in seen:
            continue
        seen.add(passages[row].text)
        rank += 1
        if any(is_gold(passages[row], question.gold)):
            return rank
        if rank >= depth:
            break
    return 0


def main() -> None:
    args, settings, embedder, chosen, index = development_bench(__doc__.split("\n")[0])
    store = index.store
    passages = dict(zip(store.ids(), index.passages))  # passage id → passage
    ranks: dict[str, list[int]] = {}
    for q in chosen:
        dense = store.dense(embedder.embed([q.question])[0], 100)
        words = store.lexical(q.question, 100)
        variants = {"dense": dense, "lexical": words}
        for c in (2, 5, 10, 60):
            variants[f"rrf c={c}"] = fuse([dense, words], c=c)
            variants[f"rrf c={c} dense×2"] = fuse([dense, words], (2, 1), c=c)
        for name, rows in variants.items():
            ranks.setdefault(name, []).append(gold_rank(passages, rows, q))
    print(f"{len(chosen)} answerable questions")
    for name, found in ranks.items():
        r = np.array(found)
        cells = "  ".join(f"hit@{k} {np.mean((r >= 1) & (r <= k)):.3f}" for k in (1, 4, 5, 10))
        print(f"{name:20s} {cells}")


if __name__ == "__main__":
    main()
