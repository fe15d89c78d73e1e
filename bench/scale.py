"""The stores at scale: build, disk, open, memory, search latency, recall and single-document
updates at 100k or 1M passages, for each store and index kind. Results go in docs/scale.md.

    .venv/bin/python bench/scale.py --passages 100000 --stores local,local-exact,milvus-lite
    .venv/bin/python bench/scale.py --passages 1000000 --stores local

The passages are synthetic news-like text (Zipf-distributed pseudo-words with capitalised names,
25–70 words a paragraph, 200 paragraphs a document) and they are embedded by a cheap hashing
embedder (signed bag of words, 384-d like MiniLM) that stands in for the real model, so that only
the store is timed (MiniLM embeds ≈ 90 passages/s on 2 cores: 3 hours for 1M). Issue 12 measured
today's store the same way. Recall@10 is against exact inner-product search over the same vectors.

Each store is built in one process (the corpus is added in updates of `--batch` passages, as
`qa index` of a large folder does) and measured in a fresh one: open time, the first hybrid
search, dense and hybrid p50/p95 over `--queries` queries (one at a time, through `Index.search`),
recall@10 of dense search, resident memory, and adding then removing one 20-paragraph document
through `Index.add`/`Index.remove` (median of 3).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from index import Index, Passage  # noqa: E402
from index.index import counts  # noqa: E402
from index.store import open_store  # noqa: E402

DIM = 384
PER_DOC = 200


class HashingEmbedder:
    """Signed hashed bag of words, 384-d: stands in for MiniLM so that only the store is timed."""

    name = "bench/hashing-384"
    dim = DIM
    max_tokens = 512

    def __init__(self):
        self._buckets: dict[str, tuple[int, float]] = {}

    def count_tokens(self, text: str) -> int:
        return len(text.split()) + 2

    def _bucket(self, word: str) -> tuple[int, float]:
        found = self._buckets.get(word)
        if found is None:
            h = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "little")
            found = self._buckets[word] = (h % DIM, 1.0 if (h >> 32) & 1 else -1.0)
        return found

    def embed(self, texts) -> np.ndarray:
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in text.lower().replace(".", " ").split():
                col, sign = self._bucket(word)
                out[row, col] += sign
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms == 0, 1, norms)


def vocabulary(rng, words: int = 40_000, names: int = 6_000) -> tuple[np.ndarray, np.ndarray]:
    """Pseudo-words (and capitalised names) with Zipf weights, like the words of news text."""
    syllables = [c + v for c in "bcdfghjklmnprstvwz" for v in "aeiou"] + ["an", "er", "in", "on", "st", "th"]
    made = set()
    while len(made) < words + names:
        made.add("".join(rng.choice(syllables, size=rng.integers(1, 4))))
    made = sorted(made)
    rng.shuffle(made)
    vocab = np.array(made[:words] + [w.capitalize() for w in made[words:]], dtype=object)
    weights = 1.0 / np.arange(1, len(vocab) + 1) ** 1.07
    return vocab, weights / weights.sum()


def paragraphs(n: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    vocab, p = vocabulary(rng)
    lengths = rng.integers(25, 71, size=n)
    words = vocab[rng.choice(len(vocab), size=int(lengths.sum()), p=p)]
    out, at = [], 0
    for length in lengths:
        chunk = list(words[at:at + length])
        at += length
        for i in range(14, length, 15):
            chunk[i] += "."
        chunk[0] = chunk[0].capitalize()
        out.append(" ".join(chunk) + ".")
    return out


def folder_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def rss_mb() -> tuple[float, float]:
    """(current, peak) resident memory of this process, MB."""
    status = Path("/proc/self/status").read_text()
    get = {line.split(":")[0]: line.split()[1] for line in status.splitlines() if line.startswith("Vm")}
    return int(get["VmRSS"]) / 1024, int(get["VmHWM"]) / 1024


def uri_for(store: str, folder: Path) -> str:
    return str(folder / "milvus.db") if store == "milvus-lite" else ""


def configure(store: str) -> None:
    if store == "local-exact":
        import index.vectors as vectors

        vectors.EXACT_BELOW = 10**12


# -- build (one process) ------------------------------------------------------------------------
def build(args) -> dict:
    configure(args.store)
    folder, embedder = Path(args.folder), HashingEmbedder()
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    started = time.perf_counter()
    texts = paragraphs(args.passages, args.seed)
    made = time.perf_counter() - started
    started = time.perf_counter()
    vectors = np.vstack([embedder.embed(texts[i:i + 10_000]) for i in range(0, len(texts), 10_000)])
    embedded = time.perf_counter() - started
    store = open_store(uri_for(args.store, folder), folder / "index")
    meta = {"chunking": "paragraphs-v1", "embedder": {"name": embedder.name, "dim": DIM}}
    started, step = time.perf_counter(), args.batch
    for lo in range(0, len(texts), step):
        passages = [Passage(f"news/{i // PER_DOC:05d}.txt", "News", i % PER_DOC + 1, texts[i], 0.0, 0, len(texts[i]))
                    for i in range(lo, min(lo + step, len(texts)))]
        docs = {}
        for p in passages:
            docs.setdefault(p.doc, []).append(p)
        store.update([], passages, vectors[lo:lo + step],
                     {d: {"sha256": d, "title": "News", "source": f"/bench/{d}", **counts(ps)} for d, ps in docs.items()},
                     meta)
    built = time.perf_counter() - started
    store.close()
    # queries: 8 words of a random passage; exact top 10 by brute force over every vector
    rng = np.random.default_rng(args.seed + 1)
    queries = []
    for row in rng.choice(len(texts), size=args.queries, replace=False):
        words = texts[row].replace(".", "").split()
        queries.append(" ".join(rng.choice(words, size=min(8, len(words)), replace=False)))
    q = embedder.embed(queries)
    exact = []
    started = time.perf_counter()
    for i in range(len(q)):
        scores = vectors @ q[i]
        top = np.argpartition(-scores, 10)[:10]
        exact.append([[f"news/{r // PER_DOC:05d}.txt", int(r % PER_DOC + 1)] for r in top[np.argsort(-scores[top])]])
    brute_ms = (time.perf_counter() - started) / len(q) * 1000
    disk = folder_size(folder)
    (folder / "queries.json").write_text(json.dumps({"queries": queries, "exact": exact}))
    return {"passages": len(texts), "make_text_s": round(made, 1), "embed_s": round(embedded, 1),
            "embedded_per_s": round(len(texts) / embedded), "build_s": round(built, 1), "disk_mb": round(disk / 1e6),
            "numpy_exact_ms": round(brute_ms, 1), "build_peak_rss_mb": round(rss_mb()[1])}


# -- measure (a fresh process) ------------------------------------------------------------------
def percentiles(times: list[float]) -> tuple[float, float]:
    return round(float(np.percentile(times, 50)) * 1000, 2), round(float(np.percentile(times, 95)) * 1000, 2)


def measure(args) -> dict:
    configure(args.store)
    folder, embedder = Path(args.folder), HashingEmbedder()
    data = json.loads((folder / "queries.json").read_text())
    embedder.embed(data["queries"])  # warm the word cache: the embedder is not what is timed
    started = time.perf_counter()
    index = Index.open(folder / "index", embedder, store=uri_for(args.store, folder))
    opened = time.perf_counter() - started
    rss_open = rss_mb()[0]
    started = time.perf_counter()
    index.search(data["queries"][0], 10, "hybrid")
    first = time.perf_counter() - started
    result = {"open_s": round(opened, 3), "rss_after_open_mb": round(rss_open), "first_hybrid_s": round(first, 3)}
    for mode in ("dense", "hybrid", "lexical"):
        times, hits = [], []
        for query, exact in zip(data["queries"], data["exact"]):
            started = time.perf_counter()
            found = index.search(query, 10, mode)
            times.append(time.perf_counter() - started)
            if mode == "dense":
                hits.append(len({(p.doc, p.paragraph) for p in found} & {tuple(e) for e in exact}) / 10)
        result[f"{mode}_p50_ms"], result[f"{mode}_p95_ms"] = percentiles(times)
        if hits:
            result["recall_at_10"] = round(float(np.mean(hits)), 3)
    adds, removes = [], []
    for n in range(3):
        doc = folder / f"extra-{n}.txt"
        doc.write_text("\n\n".join(paragraphs(20, seed=100 + n)))
        started = time.perf_counter()
        index.add([doc])
        adds.append(time.perf_counter() - started)
        started = time.perf_counter()
        index.remove([doc.name])
        removes.append(time.perf_counter() - started)
    result["add_doc_s"], result["remove_doc_s"] = round(float(np.median(adds)), 3), round(float(np.median(removes)), 3)
    current, peak = rss_mb()
    result["rss_after_search_mb"], result["peak_rss_mb"] = round(current), round(peak)
    index.close()
    return result


COLUMNS = [("build_s", "build s"), ("disk_mb", "disk MB"), ("open_s", "open s"),
           ("first_hybrid_s", "first hybrid s"), ("dense_p50_ms", "dense p50 ms"), ("dense_p95_ms", "dense p95 ms"),
           ("recall_at_10", "recall@10"), ("hybrid_p50_ms", "hybrid p50 ms"), ("hybrid_p95_ms", "hybrid p95 ms"),
           ("lexical_p50_ms", "keyword p50 ms"), ("add_doc_s", "add doc s"), ("remove_doc_s", "remove doc s"),
           ("rss_after_open_mb", "RSS open MB"), ("rss_after_search_mb", "RSS after MB")]


def table(rows: list[dict]) -> str:
    """The rows of a run (one JSON object a line) as a Markdown table, a store per column."""
    head = "| | " + " | ".join(f"{r['store']} {r['passages'] // 1000}k" for r in rows) + " |"
    lines = [head, "|---" * (len(rows) + 1) + "|"]
    for key, label in COLUMNS:
        lines.append(f"| {label} | " + " | ".join(str(r.get(key, "–")) for r in rows) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--passages", type=int, default=100_000)
    parser.add_argument("--stores", default="local,local-exact,milvus-lite")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--batch", type=int, default=100_000, help="passages per store update while building")
    parser.add_argument("--work", default="/tmp/qa-scale", help="where the stores are built (deleted after)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--phase", choices=["build", "measure"], help=argparse.SUPPRESS)
    parser.add_argument("--store", help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    parser.add_argument("--keep", action="store_true", help="keep the built stores")
    parser.add_argument("--table", nargs="+", type=Path, help="print the rows of earlier runs as a table")
    args = parser.parse_args()
    if args.table:
        print(table([json.loads(line) for path in args.table for line in path.read_text().splitlines() if line]))
        return
    if args.phase:
        print(json.dumps(build(args) if args.phase == "build" else measure(args)))
        return
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    for store in args.stores.split(","):
        folder = Path(args.work) / f"{store}-{args.passages}"
        row = {"store": store, "passages": args.passages}
        for phase in ("build", "measure"):
            out = subprocess.run([sys.executable, __file__, "--phase", phase, "--store", store, "--folder", str(folder),
                                  "--passages", str(args.passages), "--queries", str(args.queries),
                                  "--batch", str(args.batch), "--seed", str(args.seed)],
                                 capture_output=True, text=True, env={**os.environ, "TQDM_DISABLE": "1"})
            if out.returncode:
                row[f"{phase}_error"] = out.stderr.strip().splitlines()[-1:]
                break
            row.update(json.loads(out.stdout.strip().splitlines()[-1]))
        print(json.dumps(row), flush=True)
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
