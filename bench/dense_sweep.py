"""Where a dense query's time goes, and recall against latency for the IVF settings, on a store
kept by `bench/scale.py --keep` (results in docs/scale.md).

    .venv/bin/python bench/scale.py --passages 1000000 --stores local --keep --work /tmp/qa-scale
    .venv/bin/python bench/dense_sweep.py /tmp/qa-scale/local-1000000 --probe 0.08,0.12 --shortlist 1000,3000

Opens the store once (the bench's hashing embedder, queries and exact top 10 from the build), times
the parts of one dense `Index.search` one call at a time over the queries (FAISS search, the store's
dense search with its exact re-ranking, reading passages and vectors from SQLite), then for every
share of inverted lists probed (`NPROBE_SHARE`) and shortlist length (`SHORTLIST`) the whole dense
`Index.search` (k = 10): p50/p95 and recall@10 against exact search.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import index.vectors as vectors  # noqa: E402
from bench.scale import HashingEmbedder, percentiles  # noqa: E402
from index import Index  # noqa: E402


def timed(calls) -> tuple[float, float]:
    times = []
    for call in calls:
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return percentiles(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("folder", type=Path, help="a store kept by bench/scale.py --keep")
    parser.add_argument("--probe", default=str(vectors.NPROBE_SHARE), help="shares of inverted lists probed")
    parser.add_argument("--shortlist", default=str(vectors.SHORTLIST), help="fast-scan candidates re-scored")
    args = parser.parse_args()
    embedder = HashingEmbedder()
    data = json.loads((args.folder / "queries.json").read_text())
    questions, exact = data["queries"], [{tuple(e) for e in found} for found in data["exact"]]
    queries = embedder.embed(questions)
    index = Index.open(args.folder / "index", embedder)
    store = index.store
    top = [store.dense(q, 50) for q in queries]
    parts = {"embed one question": [lambda t=t: embedder.embed([t]) for t in questions],
             "FAISS search, 50 candidates": [lambda q=q: store._vectors.search(q, 50) for q in queries],
             "store dense search of 50 (+ their exact re-ranking)": [lambda q=q: store.dense(q, 50) for q in queries],
             "read 10 passages": [lambda ids=ids: store.passages(ids[:10]) for ids in top],
             "read 50 passages": [lambda ids=ids: store.passages(ids) for ids in top],
             "read 10 vectors": [lambda ids=ids: store.vectors(ids[:10]) for ids in top]}
    for name, calls in parts.items():
        p50, p95 = timed(calls)
        print(json.dumps({"part": name, "p50_ms": p50, "p95_ms": p95}), flush=True)
    for share in [float(s) for s in args.probe.split(",")]:
        for shortlist in [int(s) for s in args.shortlist.split(",")]:
            vectors.NPROBE_SHARE, vectors.SHORTLIST = share, shortlist
            found = []
            p50, p95 = timed([lambda t=t: found.append(index.search(t, 10, "dense")) for t in questions])
            recall = np.mean([len({(p.doc, p.paragraph) for p in f} & e) / 10 for f, e in zip(found, exact)])
            print(json.dumps({"probe": share, "shortlist": shortlist, "dense_p50_ms": p50, "dense_p95_ms": p95,
                              "recall_at_10": round(float(recall), 3)}), flush=True)


if __name__ == "__main__":
    main()
