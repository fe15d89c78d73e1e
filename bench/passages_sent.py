"""Which retrieved passages to send: the dense-score margin alone, or with a keyword-side guard?
No LLM: for the answerable questions of a development sample, does an accepted answer survive in
the text sent (the lean cut, production budget), and how many tokens is that.

    .venv/bin/python bench/passages_sent.py ../shared/eval/realtimeqa-2020-2024 --limit 600 --seed 1
"""
from __future__ import annotations

import numpy as np

from develop import development_bench
from qa.eval.metrics import correct, wilson
from qa.lean import sentence_scorer, within_budget
from qa.prompt import asks_reasons


def main() -> None:
    args, s, embedder, chosen, index = development_bench(__doc__.split("\n")[0])
    found: dict[str, list[bool]] = {}
    tokens: dict[str, list[int]] = {}
    count: dict[str, list[int]] = {}
    known: dict[str, np.ndarray] = {}

    def vectors(parts: list[str]) -> np.ndarray:
        new = [t for t in dict.fromkeys(parts) if t not in known]
        if new:
            known.update(zip(new, embedder.embed(new)))
        return np.vstack([known[t] for t in parts])

    for q in chosen:
        passages = index.search(q.question, s.k, s.search)
        if not passages:
            continue
        qv = embedder.embed([q.question])[0]
        lexical = {p.text for p in index.search(q.question, 1, "lexical")}
        best = max(p.score for p in passages)
        ok = [p for p in passages if p.score >= s.min_score]

        def margin(m):
            return {id(p) for p in ok if p.score >= best - m}

        rules = {
            "margin 0.10 (now)": margin(0.10),
            "margin 0.15": margin(0.15),
            "margin 0.20": margin(0.20),
            "margin 0.10 + fused top 2": margin(0.10) | {id(p) for p in ok[:2]},
            "margin 0.10 + keyword top 1": margin(0.10) | {id(p) for p in ok if p.text in lexical},
            "margin 0.05 + keyword top 1": margin(0.05) | {id(p) for p in ok if p.text in lexical},
            "all k": {id(p) for p in ok},
        }
        reasons = asks_reasons(q.question)
        budget = s.reasons_budget if reasons else s.budget
        similarity = sentence_scorer(vectors, qv, reasons)  # as `Assistant._lean` scores sentences
        for name, keep in rules.items():
            kept = [p for p in passages if id(p) in keep]
            texts = within_budget([p.text for p in kept], q.question, budget, embedder.count_tokens,
                                  similarity) if kept else []
            found.setdefault(name, []).append(correct(" ".join(texts), q.answers))
            tokens.setdefault(name, []).append(sum(embedder.count_tokens(t) for t in texts))
            count.setdefault(name, []).append(sum(1 for t in texts if t))
    if not found:
        raise SystemExit(f"{args.set_dir.name}: no answerable question outside the reported sample")
    n = len(found["all k"])
    print(f"{args.set_dir.name}: {n} answerable questions (seed {args.seed}), k={s.k}, search={s.search}")
    base = np.array(found["margin 0.10 (now)"])
    for name in found:
        hits = int(np.sum(found[name]))
        lo, hi = wilson(hits, n)
        gained = int(np.sum(np.array(found[name]) & ~base))
        lost = int(np.sum(base & ~np.array(found[name])))
        print(f"{name:30s} answer in prompt {hits / n:.3f} ({hits}/{n}; {lo:.3f}-{hi:.3f}) "
              f"+{gained}/-{lost} vs now  tokens p50 {np.median(tokens[name]):.0f} mean {np.mean(tokens[name]):.0f}"
              f"  passages mean {np.mean(count[name]):.2f}")


if __name__ == "__main__":
    main()
