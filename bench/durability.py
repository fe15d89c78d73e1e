"""What the durability checks of issue 14 cost: an update of one document with SQLite's
`synchronous=FULL` (the store's setting: the write-ahead log flushed on every commit) against
`NORMAL`; a FAISS snapshot with and without the `fsync`s of `index/files.py: commit`; and the model
stamp's re-hash of the first and last MiB on every load.

    .venv/bin/python bench/durability.py

Uses the fake embedder of the tests (no model is loaded) for an index of 200 documents × 10
paragraphs, 384-d vectors; the stamp is timed on the default profile's GGUF when it is assembled.
"""
from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from index import Index  # noqa: E402
from qa.catalogue import PROFILES, _edges_hash  # noqa: E402
from qa.settings import Settings  # noqa: E402
from tests.fakes import HashEmbedder  # noqa: E402


def median_ms(fn, runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return round(statistics.median(times) * 1000, 1)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus"
        corpus.mkdir()
        for i in range(200):
            (corpus / f"d{i}.txt").write_text("\n\n".join(
                f"Paragraph {j} of document {i} about harbours and ships." for j in range(10)))
        index = Index.open(Path(tmp) / "data", HashEmbedder(dim=384), create=True)
        index.sync([corpus])
        edited = corpus / "d0.txt"
        rounds = iter(range(10**6))

        def update():  # one document changed: its 10 passages replaced in one transaction
            n = next(rounds)
            edited.write_text("\n\n".join(f"Paragraph {j} of edit {n} about harbours." for j in range(10)))
            index.add([edited])

        db = index.store._db
        full = median_ms(update)
        db.execute("PRAGMA synchronous=NORMAL")
        normal = median_ms(update)
        db.execute("PRAGMA synchronous=FULL")
        print(f"update of 1 document (10 passages) in an index of {len(index)}: {full} ms with "
              f"synchronous=FULL, {normal} ms with NORMAL (median of 5)")
        durable = median_ms(index.store._snapshot)
        fsync, os.fsync = os.fsync, lambda fd: None
        try:
            plain = median_ms(index.store._snapshot)
        finally:
            os.fsync = fsync
        print(f"FAISS snapshot of {len(index)} vectors: {durable} ms with fsync, {plain} ms without (median of 5)")
    gguf = Settings.from_env().cache_dir / PROFILES["default"].filename
    if gguf.is_file():
        print(f"stamp re-hash of {gguf.name} ({gguf.stat().st_size:,} bytes): "
              f"{median_ms(lambda: _edges_hash(gguf))} ms (median of 5)")


if __name__ == "__main__":
    main()
