"""What the durability checks of issue 14 cost: a save with and without `fsync`, and the model
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
        durable = median_ms(index._save)
        fsync, os.fsync = os.fsync, lambda fd: None
        try:
            plain = median_ms(index._save)
        finally:
            os.fsync = fsync
        print(f"save of {len(index)} passages: {durable} ms with fsync, {plain} ms without (median of 5)")
    gguf = Settings.from_env().cache_dir / PROFILES["default"].filename
    if gguf.is_file():
        print(f"stamp re-hash of {gguf.name} ({gguf.stat().st_size:,} bytes): "
              f"{median_ms(lambda: _edges_hash(gguf))} ms (median of 5)")


if __name__ == "__main__":
    main()
