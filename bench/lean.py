"""How much can the prompt shrink before the answer falls out of it? No LLM: for answerable
questions, checks whether the passages sent still contain an accepted answer (the RGB rule) and
counts their tokens, for whole passages vs the best sentences, and fixed vs adaptive passage count.

    .venv/bin/python bench/lean.py ../shared/eval/realtimeqa-2020-2024 --limit 600 --seed 1
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from develop import development_bench
from index.clean import sentences
from qa.eval.metrics import correct
from qa.lean import GAP, within_budget
from qa.support import content_words


def pick_sentences(text: str, question: str, similarity: Callable[[list[str]], np.ndarray] | None = None,
                   keep: int = 3) -> str:
    """The `keep` sentences of `text` that best match `question`, in reading order, gaps marked
    with "…". A sentence's score is the share of the question's content words it holds, plus its
    embedding similarity to the question when `similarity` is given.

    >>> pick_sentences("Rain fell. Lavrov is Doctor No. Markets rose. Snow came.", "Who is Doctor No?", keep=1)
    '… Lavrov is Doctor No. …'
    >>> pick_sentences("One. Two.", "Q?", keep=3)
    'One. Two.'
    """
    parts = sentences(text)
    if len(parts) <= keep:
        return text
    wanted = content_words(question)
    scores = np.array([len(wanted & content_words(s)) / (len(wanted) or 1) for s in parts], dtype=np.float32)
    if similarity is not None:
        scores = scores + np.asarray(similarity(parts), dtype=np.float32)
    chosen = sorted(np.argsort(-scores, kind="stable")[:keep])
    out, last = "", -1
    for i in chosen:
        out += (GAP if i != last + 1 else " ") + parts[i]
        last = int(i)
    if last != len(parts) - 1:
        out += GAP
    return out.strip()



def main() -> None:
    args, settings, embedder, chosen, index = development_bench(__doc__.split("\n")[0], k=4)
    found: dict[str, list[bool]] = {}
    tokens: dict[str, list[int]] = {}
    for q in chosen:
        passages = index.search(q.question, args.k, settings.search)
        qv = embedder.embed([q.question])[0]

        def similarity(parts):
            return embedder.embed(parts) @ qv

        variants = {"whole": [p.text for p in passages]}
        for keep in (1, 2, 3):
            variants[f"best {keep} (words)"] = [pick_sentences(p.text, q.question, None, keep) for p in passages]
            variants[f"best {keep} (words+emb)"] = [pick_sentences(p.text, q.question, similarity, keep)
                                                    for p in passages]
        for budget in (80, 120, 160, 200):
            variants[f"budget {budget} (words+emb)"] = within_budget([p.text for p in passages], q.question,
                                                                    budget, embedder.count_tokens, similarity)
        for margin in (0.05, 0.1, 0.15):
            best = max((p.score for p in passages), default=0.0)
            top = [p for p in passages if p.score >= best - margin]
            for budget in (120, 160):
                variants[f"adaptive {margin} budget {budget}"] = within_budget([p.text for p in top], q.question,
                                                                               budget, embedder.count_tokens,
                                                                               similarity)
        for name, texts in variants.items():
            found.setdefault(name, []).append(correct(" ".join(texts), q.answers))
            tokens.setdefault(name, []).append(sum(embedder.count_tokens(t) for t in texts))
    print(f"{len(chosen)} answerable questions, k={args.k}, search={settings.search}")
    for name in found:
        print(f"{name:34s} answer in prompt {np.mean(found[name]):.3f}  tokens p50 {np.median(tokens[name]):.0f}")


if __name__ == "__main__":
    main()
