"""Do the stores retrieve the same passages? hit@5 through the `Index` API on an evaluation set,
for the store before issue 12 (flat FAISS + bm25s in memory, emulated here from the same files),
the new default store and Milvus Lite — all on the same passages and the same MiniLM vectors.

    .venv/bin/python bench/store_eval.py ../shared/eval/squad2-sample .qa/eval/6a1ac34b573c01fb --limit 100

The second argument is an evaluation index in the old format (as `qa eval` cached it before issue
12: manifest.json, vectors-N.faiss, passages-N.jsonl); it is copied, never changed.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from index import Index, SentenceTransformerEmbedder  # noqa: E402
from index.files import read_v1  # noqa: E402
from index.index import counts  # noqa: E402
from index.lexical import WEIGHTS, LexicalIndex, fuse  # noqa: E402
from qa.eval.sets import is_gold, load_set, sample  # noqa: E402


class OldSearch:
    """`Index.search` as it was: exact inner product over every vector, bm25s over every passage,
    weighted reciprocal rank fusion, identical texts once, depth max(50, 4k)."""

    def __init__(self, passages, vectors, embedder):
        import faiss

        self.passages, self.embedder = passages, embedder
        self.flat = faiss.IndexFlatIP(vectors.shape[1])
        self.flat.add(vectors)
        self.bm25 = LexicalIndex([p.text for p in passages])

    def search(self, question: str, k: int, mode: str):
        query = self.embedder.embed([question])
        depth = min(len(self.passages), max(50, k * 4))
        rankings = []
        if mode != "lexical":
            rankings.append([int(r) for r in self.flat.search(query, depth)[1][0] if r >= 0])
        if mode != "dense":
            rankings.append(self.bm25.search(question, depth))
        rows = rankings[0] if len(rankings) == 1 else fuse(rankings, WEIGHTS)
        kept, seen = [], set()
        for row in rows:
            if self.passages[row].text not in seen:
                seen.add(self.passages[row].text)
                kept.append(self.passages[row])
        return kept[:k]


def hit_at(searcher, questions, mode: str, k: int = 5) -> float:
    return float(np.mean([any(any(is_gold(p, q.gold)) for p in searcher.search(q.question, k, mode))
                          for q in questions]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("set_dir", type=Path)
    parser.add_argument("old_index", type=Path)
    parser.add_argument("--limit", type=int, default=100)
    args = parser.parse_args()
    _, questions = load_set(args.set_dir)
    questions = [q for q in sample(questions, args.limit) if q.answerable]
    embedder = SentenceTransformerEmbedder()
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "local"
        shutil.copytree(args.old_index, copy)
        manifest, passages, vectors = read_v1(copy)
        searchers = {"before (flat + bm25s)": OldSearch(passages, vectors, embedder),
                     "local (SQLite FTS5 + FAISS)": Index.open(copy, embedder)}
        lite = Index.open(Path(tmp) / "lite", embedder, create=True, store=str(Path(tmp) / "milvus" / "qa.db"))
        docs = {d: {**info, **counts([p for p in passages if p.doc == d])} for d, info in manifest["documents"].items()}
        lite.store.update([], passages, vectors, docs, {"chunking": manifest["chunking"], "embedder": manifest["embedder"]})
        searchers["Milvus Lite (BM25 + RRF in Milvus)"] = Index.open(Path(tmp) / "lite", embedder,
                                                                     store=str(Path(tmp) / "milvus" / "qa.db"))
        print(f"{args.set_dir.name}: {len(questions)} answerable questions of --limit {args.limit}, "
              f"{len(passages)} passages")
        for name, searcher in searchers.items():
            cells = "  ".join(f"{mode} {hit_at(searcher, questions, mode):.3f}" for mode in ("hybrid", "dense", "lexical"))
            print(f"  {name:36s} hit@5  {cells}")


if __name__ == "__main__":
    main()
