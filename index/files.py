"""On-disk layout of an index: manifest.json names the vector and passage files it goes with.

Every file is written to a temporary name and renamed into place; the manifest is written last,
so a crash at any point leaves the previous index whole. Nothing is pickled.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Iterable

from .errors import CorruptIndex
from .passage import Passage

MANIFEST = "manifest.json"
FORMAT = 1


def default_data_dir() -> Path:
    """`$QA_DATA_DIR`, else `.qa` in the working directory."""
    return Path(os.environ.get("QA_DATA_DIR") or ".qa")


def default_cache_dir() -> Path:
    """Where derived model files live (assembled GGUFs, the int8 embedder export):
    `$QA_CACHE_DIR`, else `$XDG_CACHE_HOME/qa`, else `~/.cache/qa`."""
    return Path(os.environ.get("QA_CACHE_DIR") or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "qa")


def write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def read_manifest(data_dir: Path) -> dict | None:
    path = data_dir / MANIFEST
    if not path.exists():
        return None
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CorruptIndex(f"cannot read {path}: {exc}") from exc
    if manifest.get("format") != FORMAT:
        raise CorruptIndex(f"{path} has format {manifest.get('format')!r}; this version reads {FORMAT}. "
                           "Rebuild with `qa index --rebuild`.")
    return manifest


def write_passages(path: Path, passages: Iterable[Passage]) -> None:
    write_atomic(path, "".join(json.dumps(p.to_dict(), ensure_ascii=False) + "\n" for p in passages))


def read_passages(path: Path) -> list[Passage]:
    try:
        with open(path, encoding="utf-8") as fh:
            return [Passage.from_dict(json.loads(line)) for line in fh if line.strip()]
    except (OSError, ValueError, TypeError) as exc:
        raise CorruptIndex(f"cannot read {path}: {exc}") from exc


def remove_stale(data_dir: Path, keep: set[str]) -> None:
    """Delete vector/passage files of earlier generations that the manifest no longer names."""
    for path in data_dir.glob("*-*.*"):
        if path.name not in keep and path.name.split("-")[0] in ("vectors", "passages"):
            path.unlink(missing_ok=True)
