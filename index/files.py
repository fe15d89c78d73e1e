"""On-disk layout of an index: manifest.json names the vector and passage files it goes with.

Every file is written to a temporary name, flushed to the disk (`fsync`) and renamed into place,
and the folder is flushed after each rename (`commit`); the manifest is written last, so a crash
or a power loss at any point leaves the previous index whole. Nothing is pickled.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Iterable

from .errors import CorruptIndex, DataDirUnusable
from .passage import Passage

MANIFEST = "manifest.json"
FORMAT = 1


def default_data_dir() -> Path:
    """`$QA_DATA_DIR`, else `.qa` in the working directory."""
    return Path(os.environ.get("QA_DATA_DIR") or ".qa")


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
    rename, and the folder (which holds the rename) is flushed after it. Every save goes through
    here, so when the manifest names a file, that file is whole even after a power loss."""
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


def write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
    commit(tmp, path)


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
    write_atomic(path, "".join(to_json(p.to_dict()) + "\n" for p in passages))


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
