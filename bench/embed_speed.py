"""Embedding speed and its cost in retrieval: torch against the int8 ONNX Runtime export.

    .venv/bin/python bench/embed_speed.py speed --sample 1000          # passages/s by backend, batch, threads
    .venv/bin/python bench/embed_speed.py retrieval                    # index each shared set with each backend
    .venv/bin/python bench/embed_speed.py retrieval --sets seed-article --limit 50   # a quick look

`speed` embeds a fixed sample of the shared sets' passages (chunked as `Index` chunks them) through
each backend's `embed`, per batch size and thread count, warm (a first batch is run untimed).
`retrieval` builds a fresh index of every set's corpus with each backend through `Index.sync`
(passages/s end to end: reading, chunking, embedding, saving) and scores hit@5 of dense and hybrid
search on the answerable questions. Every figure is printed with the load average beside it: the
machine has 2 cores shared with other work, so repeat a figure taken under load.
Results and the machine: docs/embedding.md.
"""
from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

from index import Index, make_embedder
from index.build import chunk, collect
from index.readers import read_document
from qa.eval.sets import is_gold, load_set
from qa.settings import Settings

SETS = Path(__file__).resolve().parent.parent.parent / "shared" / "eval"
BACKENDS = ("torch", "onnx-int8")


def load() -> str:
    return "load %.2f %.2f %.2f" % os.getloadavg()


def embedder(backend: str, settings: Settings, threads: int, batch: int):
    if backend == "torch":
        import torch

        torch.set_num_threads(threads)
        made = make_embedder(settings.embedder, "torch")
    else:
        from index.onnx_embed import OnnxEmbedder

        made = OnnxEmbedder(settings.embedder, settings.cache_dir, threads=threads)
    made.batch_size = batch
    return made


def passages(set_dirs: list[Path], counter) -> list[str]:
    texts = []
    for set_dir in set_dirs:
        sources, _ = collect([set_dir / "corpus"])
        for s in sources:
            texts += [p.text for p in chunk(read_document(s.path), s.doc, counter.count_tokens, counter.max_tokens)[1]]
    return texts


def speed(args, settings: Settings) -> None:
    reference = embedder("onnx-int8", settings, 1, 32)  # tokenizer only, for chunking
    texts = passages(args.set_dirs, reference)
    chosen = random.Random(0).sample(texts, min(args.sample, len(texts)))
    print(f"{len(texts)} passages in {', '.join(d.name for d in args.set_dirs)}; timing {len(chosen)} of them "
          f"(seed 0), {sum(map(len, chosen)) / len(chosen):.0f} characters on average; best of {args.rounds} "
          "rounds, the backends taking turns")
    print("| threads | batch | backend | passages/s | passages per CPU-second | load before → after |\n"
          "|---|---|---|---|---|---|")
    for threads in args.threads:
        for batch in args.batches:
            models = {b: embedder(b, settings, threads, batch) for b in args.backends}
            best: dict[str, tuple[float, float, str]] = {}
            for _ in range(args.rounds):
                for backend, model in models.items():
                    model.embed(chosen[:batch])  # warm: load, first run
                    before, wall, cpu = load(), time.perf_counter(), time.process_time()
                    for i in range(0, len(chosen), 64):  # as Index._embed hands them over
                        model.embed(chosen[i:i + 64])
                    rate = len(chosen) / (time.perf_counter() - wall)
                    if rate > best.get(backend, (0.0,))[0]:
                        best[backend] = (rate, len(chosen) / (time.process_time() - cpu),
                                         f"{before[5:]} → {load()[5:]}")
            for backend, (rate, per_cpu, loads) in best.items():
                print(f"| {threads} | {batch} | {backend} | {rate:.1f} | {per_cpu:.1f} | {loads} |", flush=True)


def retrieval(args, settings: Settings) -> None:
    print("| set | backend | passages | indexing passages/s | questions | hit@5 dense | hit@5 hybrid | load after |\n"
          "|---|---|---|---|---|---|---|---|")
    for set_dir in args.set_dirs:
        corpus, questions = load_set(set_dir)
        asked = [q for q in questions if q.answerable and q.gold][:args.limit]
        for backend in args.backends:
            model = embedder(backend, settings, os.cpu_count() or 1, 32 if backend == "torch" else 1)
            model.embed(["warm up"])
            with tempfile.TemporaryDirectory() as folder:
                index = Index.open(folder, model, create=True)
                report = index.sync([corpus])
                hits = {mode: sum(any(any(is_gold(p, q.gold)) for p in index.search(q.question, 5, mode))
                                  for q in asked) for mode in ("dense", "hybrid")}
            print(f"| {set_dir.name} | {backend} | {len(index)} | {len(index) / report.seconds:.1f} | {len(asked)} | "
                  f"{hits['dense'] / len(asked):.4f} | {hits['hybrid'] / len(asked):.4f} | {load()[5:]} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("part", choices=("speed", "retrieval"))
    parser.add_argument("--sets", nargs="*", default=["seed-article", "squad2-sample", "realtimeqa-2020-2024"])
    parser.add_argument("--root", type=Path, default=SETS, help="folder of the shared sets")
    parser.add_argument("--backends", nargs="*", default=list(BACKENDS), choices=BACKENDS)
    parser.add_argument("--sample", type=int, default=1000, help="speed: passages timed")
    parser.add_argument("--batches", nargs="*", type=int, default=[1, 8, 32, 64])
    parser.add_argument("--threads", nargs="*", type=int, default=[1, 2])
    parser.add_argument("--rounds", type=int, default=2, help="speed: rounds per setting; the best is kept")
    parser.add_argument("--limit", type=int, default=None, help="retrieval: first N answerable questions per set")
    args = parser.parse_args()
    args.set_dirs = [args.root / name for name in args.sets]
    settings = Settings.from_env()
    print(f"# {' '.join(sys.argv)}\n# {os.cpu_count()} cores, {load()}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    (speed if args.part == "speed" else retrieval)(args, settings)


if __name__ == "__main__":
    main()
