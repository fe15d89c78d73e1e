"""The data folder, and the index format before the store of index/store.py (format 1: a
manifest.json naming one flat FAISS file and a passages JSONL file, all rewritten on every update),
read once to move an old index into the new store without embedding anything again.
Nothing is pickled."""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from .errors import CorruptIndex
from .passage import Passage

MANIFEST = "manifest.json"  # format 1 only


def default_data_dir() -> Path:
    """`$QA_DATA_DIR`, else `.qa` in the working directory."""
    return Path(os.environ.get("QA_DATA_DIR") or ".qa")


def read_v1(data_dir: Path) -> tuple[dict, list[Passage], np.ndarray] | None:
    """(manifest, passages, vectors) of a format-1 index in `data_dir`, None when there is none."""
    import faiss

    path = data_dir / MANIFEST
    if not path.exists():
        return None
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        if manifest.get("format") != 1:
            raise ValueError(f"format {manifest.get('format')!r}, not 1")
        with open(data_dir / manifest["passages"], encoding="utf-8") as fh:
            passages = [Passage.from_dict(json.loads(line)) for line in fh if line.strip()]
        flat = faiss.read_index(str(data_dir / manifest["vectors"]))
        vectors = flat.reconstruct_n(0, flat.ntotal) if flat.ntotal else np.zeros((0, flat.d), np.float32)
    except (OSError, ValueError, TypeError, KeyError, RuntimeError) as exc:
        raise CorruptIndex(f"cannot read the old index in {data_dir}/ ({exc}): "
                           "rebuild it with `qa index --rebuild`") from exc
    if len(vectors) != len(passages):
        raise CorruptIndex(f"{data_dir}/ holds {len(vectors)} vectors for {len(passages)} passages: "
                           "rebuild it with `qa index --rebuild`")
    return manifest, passages, np.asarray(vectors, dtype=np.float32)


def remove_v1(data_dir: Path, manifest: dict) -> None:
    """Delete a format-1 index once its contents are safely in the new store (manifest first, so
    that a crash in between leaves nothing half-read)."""
    (data_dir / MANIFEST).unlink(missing_ok=True)
    for name in (manifest.get("vectors"), manifest.get("passages")):
        if name:
            (data_dir / name).unlink(missing_ok=True)
