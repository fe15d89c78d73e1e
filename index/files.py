"""The data folder — checked before any work (`check_data_dir`), written durably (`commit`: fsync
the file, rename, fsync the folder), JSON that stays valid UTF-8 (`to_json`) — and the index
format before the store of index/store.py (format 1: a manifest.json naming one flat FAISS file
and a passages JSONL file, all rewritten on every update), read once to move an old index into
the new store without embedding anything again. Nothing is pickled."""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from .errors import CorruptIndex, DataDirUnusable
from .passage import Passage

MANIFEST = "manifest.json"  # format 1 only


def default_data_dir() -> Path:
    """`$QA_DATA_DIR`, else `.qa` in the working directory."""
    return Path(os.environ.get("QA_DATA_DIR") or ".qa")


def default_cache_dir() -> Path:
    """Where derived model files live (assembled GGUFs, the int8 embedder export):
    `$QA_CACHE_DIR`, else `$XDG_CACHE_HOME/qa`, else `~/.cache/qa`."""
    return Path(os.environ.get("QA_CACHE_DIR") or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "qa")


def check_data_dir(data_dir: Path) -> None:
    """Refuse, before any work, a data folder that is a file, lies below a file, or cannot be
    written: `DataDirUnusable` with a one-line reason."""
    data_dir = Path(data_dir)
    existing = next(p for p in (data_dir, *data_dir.absolute().parents) if p.exists() or p == p.parent)
    if not existing.is_dir():
        where = "is a file" if existing == data_dir else f"lies below the file {existing}"
        raise DataDirUnusable(f"the data folder {data_dir} {where}, not a folder: choose another --data-dir")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise DataDirUnusable(f"the data folder {existing} cannot be written: choose another --data-dir")


def commit(tmp: Path, path: Path) -> None:
    """Rename the finished file `tmp` to `path` durably: the file's bytes reach the disk before the
    rename, and the folder (which holds the rename) is flushed after it. Every file written by
    rename goes through here (the FAISS snapshot of index/vectors.py), so when the store names a
    file, that file is whole even after a power loss."""
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def to_json(value, **options) -> str:
    """JSON whose text is valid UTF-8 even when a string holds a lone surrogate (a file name byte
    that is not UTF-8, as `os.fsdecode` carries it): that character is written as its `\\udcXX`
    escape, which `json.loads` reads back as the same character.

    >>> to_json({"source": "caf\\udce9.txt", "title": "café"})
    '{"source": "caf\\\\udce9.txt", "title": "café"}'
    >>> json.loads(to_json("caf\\udce9")) == "caf\\udce9"
    True
    """
    text = json.dumps(value, ensure_ascii=False, **options)
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


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
